"""The seven spatial operations: ids, frames, parameters, instruction text and its parser.

Every instruction is produced from a *template* (several phrasings per operation, English and
Chinese, our own wording) and :func:`parse_instruction` maps any produced text back to the
operation and its parameters, so text and labels can always be checked against each other.

>>> p = EditParams(direction="left", distance_m=0.12)
>>> text = render_instruction("camera_relative_move", 0, "en", p, target="red mug")
>>> text
'Move the red mug 12 cm to the left.'
>>> parsed = parse_instruction(text)
>>> parsed.operation, parsed.target, parsed.params.direction, parsed.params.distance_m
('camera_relative_move', 'red mug', 'left', 0.12)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = [
    "OPERATIONS", "FRAMES", "OPERATION_FRAME", "EditParams", "ParsedInstruction",
    "render_instruction", "parse_instruction", "num_templates", "format_number", "template_index",
    "DIRECTIONS", "RELATIONS", "SENSES", "SCALE_FACTORS", "PLACEMENTS", "REFERRING",
    "CAMERA_MOTIONS",
]

#: Operation ids, in ClassLabel order.
OPERATIONS: tuple[str, ...] = (
    "camera_relative_move", "object_relative_place", "receptacle_place",
    "rotate", "scale", "remove", "perspective",
)
#: Frames of reference an instruction can be expressed in.
FRAMES: tuple[str, ...] = ("camera", "anchor", "receptacle", "object", "scene")
OPERATION_FRAME: dict[str, str] = {
    "camera_relative_move": "camera", "object_relative_place": "anchor",
    "receptacle_place": "receptacle", "rotate": "object", "scale": "object",
    "remove": "scene", "perspective": "camera",
}

DIRECTIONS = ("left", "right", "forward", "backward")
RELATIONS = ("left of", "right of", "in front of", "behind")
SENSES = ("clockwise", "counterclockwise")
SCALE_FACTORS = (0.5, 0.75, 1.5, 2.0)
PLACEMENTS = ("center", "nearest edge", "farthest edge", "leftmost", "rightmost")
REFERRING = ("leftmost", "rightmost", "nearest", "farthest", "highest", "lowest")
CAMERA_MOTIONS = ("move", "yaw", "pitch")


@dataclass
class EditParams:
    """Parameters of one edit; fields that do not apply stay empty / NaN.

    ``direction``: camera-relative direction (left, right, forward = away from the viewer,
    backward = toward it). ``distance_m``: metres. ``relation``: object_relative_place relation.
    ``angle_deg``: degrees. ``rotation_sense``: clockwise / counterclockwise (seen from above) for
    rotate; left / right (yaw) or up / down (pitch) for perspective. ``scale_factor``: ×.
    ``placement``: receptacle placement. ``camera_motion``: move / yaw / pitch.
    """

    direction: str = ""
    distance_m: float = math.nan
    relation: str = ""
    angle_deg: float = math.nan
    rotation_sense: str = ""
    scale_factor: float = math.nan
    placement: str = ""
    camera_motion: str = ""


# ----------------------------------------------------------------------------------------------
# Vocabularies: value → phrase, per language. A template names the vocabulary of each slot.
# ----------------------------------------------------------------------------------------------
_VOCAB: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "dir": {"left": "to the left", "right": "to the right",
                "forward": "away from the camera", "backward": "toward the camera"},
        "dir_adv": {"left": "leftward", "right": "rightward",
                    "forward": "farther from the viewer", "backward": "closer to the viewer"},
        "cam_dir": {"left": "to the left", "right": "to the right",
                    "forward": "forward", "backward": "backward"},
        "rel": {"left of": "to the left of", "right of": "to the right of",
                "in front of": "in front of", "behind": "behind"},
        "sense": {"clockwise": "clockwise", "counterclockwise": "counterclockwise"},
        "yaw": {"left": "left", "right": "right"},
        "pitch": {"up": "up", "down": "down"},
        "place": {"center": "center", "nearest edge": "edge nearest to the camera",
                  "farthest edge": "edge farthest from the camera",
                  "leftmost": "leftmost side", "rightmost": "rightmost side"},
    },
    "zh": {
        "dir": {"left": "向左", "right": "向右", "forward": "向远离相机的方向",
                "backward": "向靠近相机的方向"},
        "dir_adv": {"left": "往左", "right": "往右", "forward": "往远处", "backward": "往近处"},
        "cam_dir": {"left": "向左", "right": "向右", "forward": "向前", "backward": "向后"},
        "rel": {"left of": "左边", "right of": "右边", "in front of": "前面（靠近相机一侧）",
                "behind": "后面（远离相机一侧）"},
        "sense": {"clockwise": "顺时针", "counterclockwise": "逆时针"},
        "yaw": {"left": "左", "right": "右"},
        "pitch": {"up": "上", "down": "下"},
        "place": {"center": "中央", "nearest edge": "离相机最近的边缘",
                  "farthest edge": "离相机最远的边缘", "leftmost": "最左侧", "rightmost": "最右侧"},
    },
}

# Numeric slots: name → (regex, parameter, to-param conversion).
_NUMBER = r"\d+(?:\.\d+)?"

# Templates per operation and language. Slots: {obj} target noun phrase, {ref} anchor /
# receptacle noun phrase, {cm} whole centimetres, {m} metres, {deg} degrees, {x} scale factor,
# {pct} percent of the current size, and vocabulary slots {dir} {dir_adv} {cam_dir} {rel}
# {sense} {yaw} {pitch} {place}.
_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "camera_relative_move": {
        "en": ("Move the {obj} {cm} cm {dir}.",
               "Shift the {obj} {dir_adv} by {cm} centimeters, as seen from the camera.",
               "Slide the {obj} {cm} cm {dir} along the surface it rests on.",
               "From the camera's point of view, move the {obj} {dir} by {cm} cm."),
        "zh": ("把{obj}{dir}移动{cm}厘米。",
               "从相机视角看，将{obj}{dir_adv}挪动{cm}厘米。",
               "将{obj}沿支撑面{dir}平移{cm}厘米。",
               "以相机视角为准，把{obj}{dir}移{cm}厘米。"),
    },
    "object_relative_place": {
        "en": ("Place the {obj} {rel} the {ref}, {cm} cm from it (center to center).",
               "Move the {obj} so that it is {cm} cm {rel} the {ref}, measured between their centers.",
               "Put the {obj} {rel} the {ref} with their centers {cm} cm apart."),
        "zh": ("把{obj}放到{ref}的{rel}，两者中心相距{cm}厘米。",
               "移动{obj}，使它位于{ref}的{rel}，中心间距{cm}厘米。",
               "将{obj}放在{ref}{rel}{cm}厘米处（按中心计算）。"),
    },
    "receptacle_place": {
        "en": ("Put the {obj} on the {ref}, at its {place}.",
               "Move the {obj} onto the {ref} and set it at the {place}.",
               "Place the {obj} in the {ref}, at the {place}."),
        "zh": ("把{obj}放到{ref}的{place}。",
               "将{obj}移到{ref}上，放在{place}。",
               "把{obj}放进{ref}，位置在{place}。"),
    },
    "rotate": {
        "en": ("Rotate the {obj} {deg} degrees {sense}, as seen from above.",
               "Turn the {obj} {sense} by {deg} degrees about its vertical axis.",
               "Spin the {obj} {deg} degrees {sense} (viewed from above) in place."),
        "zh": ("从上方看，将{obj}{sense}旋转{deg}度。",
               "把{obj}绕竖直轴{sense}转动{deg}度。",
               "让{obj}原地{sense}旋转{deg}度（俯视）。"),
    },
    "scale": {
        "en": ("Scale the {obj} by a factor of {x}, keeping it on its support.",
               "Resize the {obj} to {pct}% of its current size.",
               "Make the {obj} {x} times its current size without lifting it."),
        "zh": ("把{obj}等比缩放为原来的{x}倍，保持放在原处。",
               "将{obj}的尺寸调整为当前的{pct}%。",
               "让{obj}变成现在的{x}倍大小，底部不离开支撑面。"),
    },
    "remove": {
        "en": ("Remove the {obj}.",
               "Take the {obj} out of the scene.",
               "Delete the {obj} and leave everything else unchanged."),
        "zh": ("移除{obj}。",
               "把{obj}从场景中拿走。",
               "删除{obj}，其余保持不变。"),
    },
    "perspective": {
        "en": ("Move the camera {cam_dir} by {m} m.",
               "Turn the camera {deg} degrees to the {yaw}.",
               "Tilt the camera {pitch} by {deg} degrees."),
        "zh": ("将相机{cam_dir}移动{m}米。",
               "把相机向{yaw}转{deg}度。",
               "将相机向{pitch}倾斜{deg}度。"),
    },
}

# perspective templates are chosen by camera motion, not at random
_PERSPECTIVE_TEMPLATE = {"move": 0, "yaw": 1, "pitch": 2}

# Referring expressions for repeated categories (prefix the category).
_REFERRING_TEXT = {
    "en": {"leftmost": "leftmost", "rightmost": "rightmost", "nearest": "nearest",
           "farthest": "farthest", "highest": "highest", "lowest": "lowest"},
    "zh": {"leftmost": "最左边的", "rightmost": "最右边的", "nearest": "离相机最近的",
           "farthest": "离相机最远的", "highest": "最高的", "lowest": "最低的"},
}


def num_templates(operation: str) -> int:
    """How many phrasings exist for ``operation`` (the same count in every language)."""
    return len(_TEMPLATES[operation]["en"])


def format_number(x: float) -> str:
    """Shortest decimal text for a stated quantity: ``12.0 → '12'``, ``0.75 → '0.75'``."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text if text else "0"


def noun_phrase(head: str, referring: str = "", language: str = "en") -> str:
    """The noun phrase naming an object in the templates (no article in English): ``head`` (a
    category or description such as "red mug") with an optional referring expression.

    >>> noun_phrase("cup", "leftmost"), noun_phrase("杯子", "leftmost", "zh")
    ('leftmost cup', '最左边的杯子')
    """
    if not referring:
        return head
    ref = _REFERRING_TEXT[language][referring]
    return f"{ref} {head}" if language == "en" else f"{ref}{head}"


def template_index(operation: str, drawn: int, params: EditParams) -> int:
    """The template actually used for a drawn phrasing index: ``drawn`` modulo the number of
    phrasings, except for perspective, whose template is fixed by the camera motion."""
    if operation == "perspective":
        return _PERSPECTIVE_TEMPLATE[params.camera_motion]
    return drawn % num_templates(operation)


def render_instruction(operation: str, template_index_: int, language: str, params: EditParams,
                       target: str = "", reference: str = "") -> str:
    """Fill phrasing ``template_index_`` of ``operation`` in ``language`` (``en`` / ``zh``); see
    :func:`template_index` for how the index is interpreted.

    ``target`` / ``reference``: noun phrases (see :func:`noun_phrase`).
    """
    if operation not in _TEMPLATES:
        raise ValueError(f"unknown operation {operation!r}")
    index = template_index(operation, template_index_, params)
    template = _TEMPLATES[operation][language][index]
    vocab = _VOCAB[language]
    values = {
        "obj": target, "ref": reference,
        "cm": format_number(round(params.distance_m * 100, 4)) if not math.isnan(params.distance_m) else "",
        "m": format_number(params.distance_m) if not math.isnan(params.distance_m) else "",
        "deg": format_number(params.angle_deg) if not math.isnan(params.angle_deg) else "",
        "x": format_number(params.scale_factor) if not math.isnan(params.scale_factor) else "",
        "pct": format_number(round(params.scale_factor * 100, 4)) if not math.isnan(params.scale_factor) else "",
    }
    for slot in ("dir", "dir_adv", "cam_dir"):
        values[slot] = vocab[slot].get(params.direction, "")
    values["rel"] = vocab["rel"].get(params.relation, "")
    values["place"] = vocab["place"].get(params.placement, "")
    values["sense"] = vocab["sense"].get(params.rotation_sense, "")
    values["yaw"] = vocab["yaw"].get(params.rotation_sense, "")
    values["pitch"] = vocab["pitch"].get(params.rotation_sense, "")
    used = set(re.findall(r"{(\w+)}", template))
    missing = sorted(s for s in used if not values.get(s))
    if missing:
        raise ValueError(f"{operation} template {index} needs {missing}, which the params lack")
    return template.format(**values)


# ----------------------------------------------------------------------------------------------
# Parser
# ----------------------------------------------------------------------------------------------
@dataclass
class ParsedInstruction:
    """What :func:`parse_instruction` recovers from a text."""

    operation: str
    template_id: str
    language: str
    target: str
    reference: str = ""
    params: EditParams = field(default_factory=EditParams)


def _compile(template: str, language: str) -> re.Pattern[str]:
    vocab = _VOCAB[language]
    out, pos = [], 0
    for m in re.finditer(r"{(\w+)}", template):
        out.append(re.escape(template[pos:m.start()]))
        slot = m.group(1)
        if slot in ("obj", "ref"):
            out.append(f"(?P<{slot}>.+?)")
        elif slot in ("cm", "m", "deg", "x", "pct"):
            out.append(f"(?P<{slot}>{_NUMBER})")
        else:
            phrases = sorted(vocab[slot].values(), key=len, reverse=True)
            out.append(f"(?P<{slot}>" + "|".join(map(re.escape, phrases)) + ")")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "$")


_PATTERNS: list[tuple[str, int, str, re.Pattern[str]]] = [
    (op, i, lang, _compile(t, lang))
    for op, by_lang in _TEMPLATES.items() for lang, ts in by_lang.items() for i, t in enumerate(ts)
]


def parse_instruction(text: str) -> ParsedInstruction:
    """Map an instruction produced by :func:`render_instruction` back to (operation, params).

    Raises ``ValueError`` when the text matches no template.
    """
    text = text.strip()
    for op, index, lang, pattern in _PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        g = m.groupdict()
        inv = {slot: {v: k for k, v in _VOCAB[lang][slot].items()} for slot in _VOCAB[lang]}
        p = EditParams()
        if g.get("cm"):
            p.distance_m = round(float(g["cm"]) / 100.0, 6)
        if g.get("m"):
            p.distance_m = float(g["m"])
        if g.get("deg"):
            p.angle_deg = float(g["deg"])
        if g.get("x"):
            p.scale_factor = float(g["x"])
        if g.get("pct"):
            p.scale_factor = round(float(g["pct"]) / 100.0, 6)
        for slot in ("dir", "dir_adv", "cam_dir"):
            if g.get(slot):
                p.direction = inv[slot][g[slot]]
        if g.get("rel"):
            p.relation = inv["rel"][g["rel"]]
        if g.get("place"):
            p.placement = inv["place"][g["place"]]
        if g.get("sense"):
            p.rotation_sense = inv["sense"][g["sense"]]
        if op == "perspective":
            p.camera_motion = {v: k for k, v in _PERSPECTIVE_TEMPLATE.items()}[index]
            if g.get("yaw"):
                p.rotation_sense = inv["yaw"][g["yaw"]]
            if g.get("pitch"):
                p.rotation_sense = inv["pitch"][g["pitch"]]
        return ParsedInstruction(op, f"{op}/{index}", lang, g.get("obj") or "", g.get("ref") or "", p)
    raise ValueError(f"instruction matches no known template: {text!r}")


def split_referring(noun: str, language: str = "en") -> tuple[str, str]:
    """Split a parsed noun phrase into (referring expression key, rest).

    >>> split_referring("leftmost cup")
    ('leftmost', 'cup')
    """
    for key, prefix in _REFERRING_TEXT[language].items():
        if language == "en" and noun.startswith(prefix + " "):
            return key, noun[len(prefix) + 1:]
        if language == "zh" and noun.startswith(prefix):
            return key, noun[len(prefix):]
    return "", noun
