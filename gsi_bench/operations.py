"""The spatial operations: one :class:`OperationSpec` per operation, instruction text and its parser.

:data:`OPERATION_SPECS` is the single table of what an operation is: its frame of reference, the
parameters a record must state, the values generators draw them from and the ranges records must
respect, the subsets that generate it, the camera-relative direction of each relation /
placement / camera motion, and its phrasings (English and Chinese, our own wording). Everything
else — the generators' proposers, the integrity rules, the consistency re-run, the scorers — looks
an operation up here (or in a registry keyed by the operation name), so a new operation is a
:func:`register_operation` call plus its proposer and scorer.

Every instruction is produced from a *template* and :func:`parse_instruction` maps any produced
text back to the operation and its parameters, so text and labels can always be checked against
each other.

>>> p = EditParams(direction="left", distance_m=0.12)
>>> text = render_instruction("camera_relative_move", 0, "en", p, target="red mug")
>>> text
'Move the red mug 12 cm to the left.'
>>> parsed = parse_instruction(text)
>>> parsed.operation, parsed.target, parsed.params.direction, parsed.params.distance_m
('camera_relative_move', 'red mug', 'left', 0.12)

Rotations that look the same clockwise and counterclockwise (180°, or half the object's symmetry
period) state no sense:

>>> q = EditParams(angle_deg=180.0)
>>> render_instruction("rotate", 0, "en", q, target="mug")
'Rotate the mug 180 degrees about its vertical axis, in either direction.'
>>> parse_instruction(_).params.rotation_sense
''
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

__all__ = [
    "OPERATIONS", "FRAMES", "OPERATION_FRAME", "EditParams", "ParsedInstruction", "OperationSpec",
    "Template", "OPERATION_SPECS", "register_operation", "unregister_operation", "operation_spec",
    "operations_for_subset", "render_instruction", "parse_instruction", "num_templates",
    "format_number", "template_index", "drawn_for_reference", "noun_phrase", "split_referring",
    "DIRECTIONS", "RELATIONS", "SENSES", "SCALE_FACTORS", "PLACEMENTS", "REFERRING",
    "CAMERA_MOTIONS", "CAMERA_MOTION_SENSES", "RELATION_DIRECTION", "PLACEMENT_DIRECTION",
    "ROTATE_ANGLES", "CAMERA_MOVE_M", "CAMERA_ANGLES_DEG", "SYMMETRY_PERIOD_DEG", "NUMERIC_PARAMS",
    "symmetry_period_deg", "rotation_angles", "rotation_is_sense_free", "signed_rotation_deg",
    "param_value", "param_is_set",
]

#: Operation ids of the benchmark, in ClassLabel order (the record's ``operation`` label).
OPERATIONS: tuple[str, ...] = (
    "camera_relative_move", "object_relative_place", "receptacle_place",
    "rotate", "scale", "remove", "perspective",
)
#: Frames of reference an instruction can be expressed in.
FRAMES: tuple[str, ...] = ("camera", "anchor", "receptacle", "object", "scene")

# ----------------------------------------------------------------------------------------------
# Parameter vocabularies, ranges and directions (DESIGN §3). Directions are camera-relative on
# the support plane: left/right = ∓ camera x, forward = away from the viewer (+ camera z).
# ----------------------------------------------------------------------------------------------
DIRECTIONS = ("left", "right", "forward", "backward")
RELATIONS = ("left of", "right of", "in front of", "behind")
SENSES = ("clockwise", "counterclockwise")
SCALE_FACTORS = (0.5, 0.75, 1.5, 2.0)
PLACEMENTS = ("center", "nearest edge", "farthest edge", "leftmost", "rightmost")
REFERRING = ("leftmost", "rightmost", "nearest", "farthest", "highest", "lowest")
CAMERA_MOTIONS = ("move", "yaw", "pitch")
#: Angles (deg) rotate draws from.
ROTATE_ANGLES = (30.0, 45.0, 60.0, 90.0, 120.0, 135.0, 150.0, 180.0)
#: Camera translation amounts (m) and turn angles (deg) of perspective.
CAMERA_MOVE_M = (0.10, 0.15, 0.20, 0.25, 0.30)
CAMERA_ANGLES_DEG = (15.0, 20.0, 25.0, 30.0)
#: Relation → camera-relative ground direction from the anchor (in front of = toward the camera).
RELATION_DIRECTION: Mapping[str, str] = MappingProxyType(
    {"left of": "left", "right of": "right", "in front of": "backward", "behind": "forward"})
#: Placement → camera-relative ground direction to slide toward on the receptacle (None = centre).
PLACEMENT_DIRECTION: Mapping[str, str | None] = MappingProxyType(
    {"center": None, "nearest edge": "backward", "farthest edge": "forward", "leftmost": "left",
     "rightmost": "right"})
#: Camera motion → the senses it takes in ``rotation_sense`` (move states a ``direction``).
CAMERA_MOTION_SENSES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"yaw": ("left", "right"), "pitch": ("up", "down")})
#: Yaw symmetry of an asset (manifest ``symmetry``) → period in degrees (0 = any angle looks the same).
SYMMETRY_PERIOD_DEG: Mapping[str, float] = MappingProxyType(
    {"none": 360.0, "2fold": 180.0, "4fold": 90.0, "rotational": 0.0})


def symmetry_period_deg(symmetry: str) -> float:
    """Yaw period (deg) of a manifest symmetry label; unknown labels count as no symmetry (360)."""
    return SYMMETRY_PERIOD_DEG.get(symmetry, 360.0)


def rotation_angles(symmetry: str = "none") -> tuple[float, ...]:
    """The :data:`ROTATE_ANGLES` that visibly change an object of the given symmetry (not a
    multiple of its period; none for a rotationally symmetric object).

    >>> rotation_angles("4fold")
    (30.0, 45.0, 60.0, 120.0, 135.0, 150.0)
    """
    period = symmetry_period_deg(symmetry)
    if period <= 0:
        return ()
    return tuple(a for a in ROTATE_ANGLES if a % period != 0)


def rotation_is_sense_free(angle_deg: float, period_deg: float = 360.0) -> bool:
    """True when turning ``angle_deg`` clockwise and counterclockwise give the same appearance:
    the two results differ by ``2·angle``, a multiple of the object's yaw period (180° for an
    object without symmetry; 90° for a 2-fold one; 45° and 135° for a 4-fold one).

    >>> rotation_is_sense_free(180.0), rotation_is_sense_free(90.0), rotation_is_sense_free(90.0, 180.0)
    (True, False, True)
    """
    if period_deg <= 0:
        return True
    r = (2.0 * angle_deg) % period_deg
    return min(r, period_deg - r) < 1e-6


def signed_rotation_deg(angle_deg: float, sense: str) -> float:
    """Signed yaw (deg, + = counterclockwise seen from above) of a rotation. A sense-free
    rotation (empty ``sense``) is realised counterclockwise; either sense looks the same."""
    return -angle_deg if sense == "clockwise" else angle_deg


@dataclass
class EditParams:
    """Parameters of one edit; fields that do not apply stay empty / NaN.

    ``direction``: camera-relative direction (left, right, forward = away from the viewer,
    backward = toward it). ``distance_m``: metres. ``relation``: object_relative_place relation.
    ``angle_deg``: degrees. ``rotation_sense``: clockwise / counterclockwise (seen from above) for
    rotate, empty when the rotation looks the same either way (:func:`rotation_is_sense_free`);
    left / right (yaw) or up / down (pitch) for perspective. ``scale_factor``: ×.
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


#: The numeric (float, NaN when unused) fields of :class:`EditParams`.
NUMERIC_PARAMS: tuple[str, ...] = tuple(f.name for f in fields(EditParams) if f.type in ("float", float))


def param_value(params: EditParams | Mapping[str, Any], name: str) -> Any:
    """Parameter ``name`` of an :class:`EditParams` or of its dict form (a record's ``params``)."""
    return params.get(name) if isinstance(params, Mapping) else getattr(params, name)


def param_is_set(params: EditParams | Mapping[str, Any], name: str) -> bool:
    """Whether parameter ``name`` is stated (non-empty string / non-NaN, non-None number)."""
    v = param_value(params, name)
    if name in NUMERIC_PARAMS:
        return v is not None and not (isinstance(v, float) and math.isnan(v))
    return bool(v)


# ----------------------------------------------------------------------------------------------
# The operation table
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    """One phrasing, in both languages. Slots: {obj} target noun phrase, {ref} anchor / receptacle
    noun phrase, {cm} whole centimetres, {m} metres, {deg} degrees, {x} scale factor, {pct} percent
    of the current size, and vocabulary slots {dir} {dir_adv} {cam_dir} {rel} {sense} {yaw}
    {pitch} {place}. ``fixed``: parameters the phrasing implies without a slot (e.g. the camera
    motion of a perspective phrasing). ``reference_kind``: the kind of reference object the
    phrasing suits (``surface`` → "on the {ref}", ``container`` → "in the {ref}"; empty: any)."""

    en: str
    zh: str
    fixed: Mapping[str, str] = field(default_factory=dict)
    reference_kind: str = ""

    def text(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class OperationSpec:
    """Everything the benchmark states about one operation.

    ``required``: :class:`EditParams` fields every record of the operation states;
    ``optional``: fields it may state (``rotate``'s sense is empty for sense-free rotations);
    ``variant_param`` / ``variants``: a parameter whose value adds further required fields
    (perspective: camera motion → its direction and amount). All other fields stay empty / NaN.
    ``choices``: the values generators draw (parameter → values; per variant in
    ``variant_choices``); string parameters of a record must take one of them, numeric ones must
    lie in ``ranges`` when given (else take one of the choices). ``sampling``: generator knobs that
    are not record fields (e.g. ``extra_gap_cm`` of object_relative_place, ``referring``
    expressions of remove). ``directions``: relation / placement → camera-relative ground
    direction. ``subsets``: where the operation is generated (``tabletop``, ``room``, ``real``).
    ``names_target``: the instruction names an object; ``needs_reference``: and an anchor /
    receptacle; ``target_present``: the object is still there after the edit; ``rigid``: Φ3D has
    an identity linear part; ``extra_checks``: ``checks`` fields measured only for this operation.
    """

    name: str
    frame: str
    templates: tuple[Template, ...]
    subsets: tuple[str, ...] = ("tabletop", "room")
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    variant_param: str = ""
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    choices: Mapping[str, tuple] = field(default_factory=dict)
    variant_choices: Mapping[str, Mapping[str, tuple]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    directions: Mapping[str, str | None] = field(default_factory=dict)
    names_target: bool = True
    needs_reference: bool = False
    target_present: bool = True
    rigid: bool = True
    extra_checks: tuple[str, ...] = ()

    def required_params(self, params: EditParams | Mapping[str, Any]) -> set[str]:
        """The fields a record with these params must state (variant included)."""
        out = set(self.required)
        if self.variant_param:
            out |= set(self.variants.get(param_value(params, self.variant_param), ()))
        return out

    def allowed_values(self, params: EditParams | Mapping[str, Any]) -> dict[str, tuple]:
        """Parameter → values it may take, for these params' variant."""
        out = dict(self.choices)
        if self.variant_param:
            out.update(self.variant_choices.get(param_value(params, self.variant_param), {}))
        return out

    def whole_cm_range(self, name: str = "distance_m") -> tuple[int, int]:
        """The inclusive range, in whole centimetres, a distance in metres is drawn from."""
        lo, hi = self.ranges[name]
        return round(lo * 100), round(hi * 100)

    def accepted_range(self, name: str, params: EditParams | Mapping[str, Any]) -> tuple[float, float] | None:
        """[lo, hi] a numeric parameter must lie in (None: no range, check the choices)."""
        if name in self.ranges:
            return self.ranges[name]
        values = self.allowed_values(params).get(name)
        if values and self.variant_param:  # variant amounts: anything within the drawn span
            return float(min(values)), float(max(values))
        return None


_MOVE_TEMPLATES = (
    Template("Move the {obj} {cm} cm {dir}.", "把{obj}{dir}移动{cm}厘米。"),
    Template("Shift the {obj} {dir_adv} by {cm} centimeters, as seen from the camera.",
             "从相机视角看，将{obj}{dir_adv}挪动{cm}厘米。"),
    Template("Slide the {obj} {cm} cm {dir} along the surface it rests on.", "将{obj}沿支撑面{dir}平移{cm}厘米。"),
    Template("From the camera's point of view, move the {obj} {dir} by {cm} cm.", "以相机视角为准，把{obj}{dir}移{cm}厘米。"),
)
_PLACE_TEMPLATES = (
    Template("Place the {obj} {rel} the {ref}, {cm} cm from it (center to center).",
             "把{obj}放到{ref}的{rel}，两者中心相距{cm}厘米。"),
    Template("Move the {obj} so that it is {cm} cm {rel} the {ref}, measured between their centers.",
             "移动{obj}，使它位于{ref}的{rel}，中心间距{cm}厘米。"),
    Template("Put the {obj} {rel} the {ref} with their centers {cm} cm apart.", "将{obj}放在{ref}{rel}{cm}厘米处（按中心计算）。"),
)
#: "on" a surface (furniture tops, shelves, plates, boards), "in" a container (bowls, boxes,
#: baskets): :func:`gsi_syn.placement.receptacle_kind` tells them apart
_RECEPTACLE_TEMPLATES = (
    Template("Put the {obj} on the {ref}, at its {place}.", "把{obj}放到{ref}的{place}。",
             reference_kind="surface"),
    Template("Move the {obj} onto the {ref} and set it at the {place}.", "将{obj}移到{ref}上，放在{place}。",
             reference_kind="surface"),
    Template("Place the {obj} in the {ref}, at the {place}.", "把{obj}放进{ref}，位置在{place}。",
             reference_kind="container"),
    Template("Put the {obj} in the {ref}, at its {place}.", "把{obj}放进{ref}里，放在它的{place}。",
             reference_kind="container"),
    Template("Move the {obj} into the {ref} and set it at the {place}.", "将{obj}移进{ref}里，放在{place}。",
             reference_kind="container"),
    Template("Place the {obj} on the {ref}, at the {place}.", "把{obj}放在{ref}上，位置在{place}。",
             reference_kind="surface"),
)
_ROTATE_TEMPLATES = (
    Template("Rotate the {obj} {deg} degrees {sense}, as seen from above.", "从上方看，将{obj}{sense}旋转{deg}度。"),
    Template("Turn the {obj} {sense} by {deg} degrees about its vertical axis.", "把{obj}绕竖直轴{sense}转动{deg}度。"),
    Template("Spin the {obj} {deg} degrees {sense} (viewed from above) in place.", "让{obj}原地{sense}旋转{deg}度（俯视）。"),
    # sense-free: the rotation looks the same either way, so no sense is stated
    Template("Rotate the {obj} {deg} degrees about its vertical axis, in either direction.",
             "把{obj}绕竖直轴旋转{deg}度，方向不限。"),
    Template("Turn the {obj} around by {deg} degrees in place; the direction does not matter.",
             "将{obj}原地转动{deg}度，朝哪边转都可以。"),
    Template("Give the {obj} a {deg}-degree turn about its vertical axis, either way round.",
             "让{obj}绕竖直轴转{deg}度，转向任意。"),
)
_SCALE_TEMPLATES = (
    Template("Scale the {obj} by a factor of {x}, keeping it on its support.", "把{obj}等比缩放为原来的{x}倍，保持放在原处。"),
    Template("Resize the {obj} to {pct}% of its current size.", "将{obj}的尺寸调整为当前的{pct}%。"),
    Template("Make the {obj} {x} times its current size without lifting it.", "让{obj}变成现在的{x}倍大小，底部不离开支撑面。"),
)
_REMOVE_TEMPLATES = (
    Template("Remove the {obj}.", "移除{obj}。"),
    Template("Take the {obj} out of the scene.", "把{obj}从场景中拿走。"),
    Template("Delete the {obj} and leave everything else unchanged.", "删除{obj}，其余保持不变。"),
)
_PERSPECTIVE_TEMPLATES = (
    Template("Move the camera {cam_dir} by {m} m.", "将相机{cam_dir}移动{m}米。", {"camera_motion": "move"}),
    Template("Turn the camera {deg} degrees to the {yaw}.", "把相机向{yaw}转{deg}度。", {"camera_motion": "yaw"}),
    Template("Tilt the camera {pitch} by {deg} degrees.", "将相机向{pitch}倾斜{deg}度。", {"camera_motion": "pitch"}),
)

_BUILTIN_SPECS = (
    OperationSpec(
        "camera_relative_move", "camera", _MOVE_TEMPLATES, subsets=("tabletop", "room", "real"),
        required=("direction", "distance_m"), choices={"direction": DIRECTIONS},
        ranges={"distance_m": (0.05, 0.5)}),  # drawn in whole centimetres over this range
    OperationSpec(
        "object_relative_place", "anchor", _PLACE_TEMPLATES, subsets=("tabletop", "room", "real"),
        required=("relation", "distance_m"), choices={"relation": RELATIONS},
        ranges={"distance_m": (0.0, 5.0)}, sampling={"extra_gap_cm": (3, 15)},
        directions=RELATION_DIRECTION, needs_reference=True),
    OperationSpec(
        "receptacle_place", "receptacle", _RECEPTACLE_TEMPLATES, required=("placement",),
        choices={"placement": PLACEMENTS}, directions=PLACEMENT_DIRECTION, needs_reference=True,
        # the order placements join a receptacle's vocabulary when points crowd in the image
        sampling={"placement_priority": ("center", "leftmost", "rightmost", "nearest edge", "farthest edge")},
        extra_checks=("settle_drift_m", "placement_gap")),
    OperationSpec(
        "rotate", "object", _ROTATE_TEMPLATES, subsets=("tabletop", "room", "real"),
        required=("angle_deg",), optional=("rotation_sense",),
        choices={"angle_deg": ROTATE_ANGLES, "rotation_sense": SENSES}, ranges={"angle_deg": (0.0, 180.0)},
        rigid=False),
    OperationSpec(
        "scale", "object", _SCALE_TEMPLATES, subsets=("tabletop", "room", "real"),
        required=("scale_factor",), choices={"scale_factor": SCALE_FACTORS}, rigid=False),
    OperationSpec(
        "remove", "scene", _REMOVE_TEMPLATES, subsets=("tabletop", "room", "real"),
        # the paper's expressions: image left / right and distance from the camera
        sampling={"referring": ("leftmost", "rightmost", "nearest", "farthest")}, target_present=False),
    OperationSpec(
        "perspective", "camera", _PERSPECTIVE_TEMPLATES, required=("camera_motion",),
        variant_param="camera_motion",
        variants={"move": ("direction", "distance_m"), "yaw": ("rotation_sense", "angle_deg"),
                  "pitch": ("rotation_sense", "angle_deg")},
        choices={"camera_motion": CAMERA_MOTIONS},
        variant_choices={"move": {"direction": DIRECTIONS, "distance_m": CAMERA_MOVE_M},
                         "yaw": {"rotation_sense": CAMERA_MOTION_SENSES["yaw"], "angle_deg": CAMERA_ANGLES_DEG},
                         "pitch": {"rotation_sense": CAMERA_MOTION_SENSES["pitch"], "angle_deg": CAMERA_ANGLES_DEG}},
        names_target=False, target_present=False, rigid=False, extra_checks=("view_overlap",)),
)

#: The operation table: name → spec (the seven benchmark operations, plus any registered).
OPERATION_SPECS: dict[str, OperationSpec] = {s.name: s for s in _BUILTIN_SPECS}
assert tuple(OPERATION_SPECS) == OPERATIONS


class _SpecField(Mapping[str, Any]):
    """Read-only live view ``operation → spec.<attribute>`` over :data:`OPERATION_SPECS`."""

    def __init__(self, attribute: str):
        self._attribute = attribute

    def __getitem__(self, op: str) -> Any:
        return getattr(OPERATION_SPECS[op], self._attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(OPERATION_SPECS)

    def __len__(self) -> int:
        return len(OPERATION_SPECS)


#: operation → frame of reference (a live view of the table).
OPERATION_FRAME: Mapping[str, str] = _SpecField("frame")
_registry_version = [0]


def operation_spec(name: str) -> OperationSpec:
    """The spec of operation ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return OPERATION_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown operation {name!r}; known: {', '.join(OPERATION_SPECS)}") from None


def register_operation(spec: OperationSpec) -> OperationSpec:
    """Add an operation to the table (its templates become parseable). Refuses a name in use."""
    if spec.name in OPERATION_SPECS:
        raise ValueError(f"operation {spec.name!r} is already registered")
    if spec.frame not in FRAMES:
        raise ValueError(f"frame {spec.frame!r} of {spec.name!r} is not one of {FRAMES}")
    if not spec.templates:
        raise ValueError(f"operation {spec.name!r} has no phrasing")
    OPERATION_SPECS[spec.name] = spec
    _registry_version[0] += 1
    return spec


def unregister_operation(name: str) -> None:
    """Remove a registered operation (the benchmark's seven cannot be removed)."""
    if name in OPERATIONS:
        raise ValueError(f"{name!r} is a benchmark operation and cannot be unregistered")
    del OPERATION_SPECS[name]
    _registry_version[0] += 1


def operations_for_subset(subset: str) -> tuple[str, ...]:
    """Operations generated in ``subset`` (table order)."""
    return tuple(n for n, s in OPERATION_SPECS.items() if subset in s.subsets)


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

# Numeric slots
_NUMBER = r"\d+(?:\.\d+)?"
#: template slot → the EditParams field it states
_SLOT_PARAM = {"cm": "distance_m", "m": "distance_m", "deg": "angle_deg", "x": "scale_factor",
               "pct": "scale_factor", "dir": "direction", "dir_adv": "direction", "cam_dir": "direction",
               "rel": "relation", "place": "placement", "sense": "rotation_sense", "yaw": "rotation_sense",
               "pitch": "rotation_sense"}

# Referring expressions for repeated categories (prefix the category).
_REFERRING_TEXT = {
    "en": {"leftmost": "leftmost", "rightmost": "rightmost", "nearest": "nearest",
           "farthest": "farthest", "highest": "highest", "lowest": "lowest"},
    "zh": {"leftmost": "最左边的", "rightmost": "最右边的", "nearest": "离相机最近的",
           "farthest": "离相机最远的", "highest": "最高的", "lowest": "最低的"},
}


def num_templates(operation: str) -> int:
    """How many phrasings exist for ``operation`` (the same count in every language)."""
    return len(operation_spec(operation).templates)


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


def _slot_values(params: EditParams, language: str) -> dict[str, str]:
    """Text of every parameter slot for ``params`` ("" when the params do not fill it)."""
    vocab = _VOCAB[language]
    num = lambda x, f=1.0: "" if math.isnan(x) else format_number(round(x * f, 4))  # noqa: E731
    values = {"cm": num(params.distance_m, 100.0), "m": num(params.distance_m), "deg": num(params.angle_deg),
              "x": num(params.scale_factor), "pct": num(params.scale_factor, 100.0)}
    for slot in ("dir", "dir_adv", "cam_dir"):
        values[slot] = vocab[slot].get(params.direction, "")
    values["rel"] = vocab["rel"].get(params.relation, "")
    values["place"] = vocab["place"].get(params.placement, "")
    for slot in ("sense", "yaw", "pitch"):
        values[slot] = vocab[slot].get(params.rotation_sense, "")
    return values


def _slots(template: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", template))


def _missing_slots(t: Template, params: EditParams) -> list[str]:
    values = _slot_values(params, "en")
    return sorted(s for s in _slots(t.en) if s in _SLOT_PARAM and not values[s])


def _states_exactly(t: Template, params: EditParams) -> bool:
    """A phrasing fits ``params`` when it fills every slot, its fixed params match, and every
    stated parameter appears in it (so nothing set is silently dropped)."""
    if any(getattr(params, k) != v for k, v in t.fixed.items()):
        return False
    if _missing_slots(t, params):
        return False
    stated = {_SLOT_PARAM[s] for s in _slots(t.en) if s in _SLOT_PARAM} | set(t.fixed)
    return all(name in stated for name in (f.name for f in fields(EditParams)) if param_is_set(params, name))


def template_index(operation: str, drawn: int, params: EditParams) -> int:
    """The template actually used for a drawn phrasing index: the ``drawn``-th (cyclically) of the
    phrasings that state exactly ``params`` (a perspective phrasing is fixed by the camera motion;
    a sense-free rotation uses the phrasings without a sense). ``ValueError`` when none fits."""
    templates = operation_spec(operation).templates
    fitting = [i for i, t in enumerate(templates) if _states_exactly(t, params)]
    if not fitting:
        i = drawn % len(templates)
        raise ValueError(f"{operation} template {i} needs {_missing_slots(templates[i], params) or 'other params'}, "
                         "which the params lack")
    return fitting[drawn % len(fitting)]


def drawn_for_reference(operation: str, drawn: int, params: EditParams, reference_kind: str) -> int:
    """A drawn phrasing index that :func:`template_index` maps to the ``drawn``-th (cyclically)
    of the phrasings that state exactly ``params`` *and* suit a reference of ``reference_kind``
    (``surface`` / ``container``; phrasings without a kind suit any). ``ValueError`` when none does.

    >>> p = EditParams(placement="center")
    >>> [template_index("receptacle_place", drawn_for_reference("receptacle_place", d, p, "container"), p)
    ...  for d in range(3)]
    [2, 3, 4]
    """
    templates = operation_spec(operation).templates
    fitting = [i for i, t in enumerate(templates) if _states_exactly(t, params)]
    suited = [pos for pos, i in enumerate(fitting) if templates[i].reference_kind in ("", reference_kind)]
    if not suited:
        raise ValueError(f"no {operation} phrasing states {params} for a {reference_kind!r} reference")
    return suited[drawn % len(suited)]


def render_instruction(operation: str, template_index_: int, language: str, params: EditParams,
                       target: str = "", reference: str = "") -> str:
    """Fill phrasing ``template_index_`` of ``operation`` in ``language`` (``en`` / ``zh``); see
    :func:`template_index` for how the index is interpreted.

    ``target`` / ``reference``: noun phrases (see :func:`noun_phrase`).
    """
    if operation not in OPERATION_SPECS:
        raise ValueError(f"unknown operation {operation!r}")
    index = template_index(operation, template_index_, params)
    template = operation_spec(operation).templates[index].text(language)
    values = _slot_values(params, language)
    values.update(obj=target, ref=reference)
    missing = sorted(s for s in _slots(template) if not values.get(s))
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


_pattern_cache: dict[str, Any] = {"version": -1, "patterns": []}


def _patterns() -> list[tuple[str, int, str, re.Pattern[str]]]:
    """(operation, template index, language, regex) of every phrasing in the table (cached until
    the table changes)."""
    if _pattern_cache["version"] != _registry_version[0]:
        _pattern_cache["patterns"] = [
            (op, i, lang, _compile(t.text(lang), lang))
            for op, spec in OPERATION_SPECS.items() for i, t in enumerate(spec.templates) for lang in ("en", "zh")]
        _pattern_cache["version"] = _registry_version[0]
    return _pattern_cache["patterns"]


_INVERSE_VOCAB = {lang: {slot: {v: k for k, v in table.items()} for slot, table in by_slot.items()}
                  for lang, by_slot in _VOCAB.items()}


def parse_instruction(text: str) -> ParsedInstruction:
    """Map an instruction produced by :func:`render_instruction` back to (operation, params).

    Raises ``ValueError`` when the text matches no template.
    """
    text = text.strip()
    for op, index, lang, pattern in _patterns():
        m = pattern.match(text)
        if not m:
            continue
        g = {k: v for k, v in m.groupdict().items() if v}
        p = EditParams(**dict(OPERATION_SPECS[op].templates[index].fixed))
        for slot, value in g.items():
            name = _SLOT_PARAM.get(slot)
            if name is None:
                continue
            if slot in ("cm", "pct"):
                setattr(p, name, round(float(value) / 100.0, 6))
            elif name in NUMERIC_PARAMS:
                setattr(p, name, float(value))
            else:
                setattr(p, name, _INVERSE_VOCAB[lang][slot][value])
        return ParsedInstruction(op, f"{op}/{index}", lang, g.get("obj", ""), g.get("ref", ""), p)
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
