"""Convert the paper's published evaluation release into typed :class:`EditRecord` rows.

The release layout (flat, per dataset folder): a source image ``<img_id>.jpg|.jpeg|.png`` and one
JSON per edit ``<img_id>_edit_<qid>.json`` holding ``prompt``, ``target`` (the detector's text
prompt), ``original_bbox_3d`` / ``new_bbox_3d`` (``[x, y, z, w, h, l, yaw]``: camera frame,
metres, y down, yaw in radians), ``camera_intrinsics`` (3×3 px), ``rotation_matrix`` /
``new_rotation_matrix`` (3×3, box axes in the official order (x, down, y) → camera), and for
viewpoint edits an optional ground-truth image ``<img_id>_*gtedit_<qid>*.<ext>``.

The operation is inferred **once**, here, from the prompt (:func:`infer_operation`) and stored in
the record; nothing downstream re-reads the prompt to guess it. Anything that cannot be
interpreted is rejected with a message naming the file, and the conversion goes on with the rest
(:class:`Reject`).

Fields the release does not have get documented empty values (see ``cards/real.md``): masks,
instance maps and depth all zero, ``scene`` = ``"{}"``, camera extrinsics = identity (world =
source camera), ``target_image`` all zero when there is no ground-truth image.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image as PILImage

import gsi_bench
from builders.release_files import ReleaseFiles
from gsi_bench.assembly import EditView, InstructionText, Transform, assemble_record
from gsi_bench.official_format import (
    EDIT_JSON_RE,
    OPERATION_ROUTE,
    UnroutablePrompt,
    box_from_official,
    rotation_from_official,
    route_prompt,
)
from gsi_bench.operations import (
    EditParams,
    parse_instruction,
    split_referring,
)
from gsi_bench.schema import (
    MAX_IMAGE_PIXELS,
    Box3D,
    Checks,
    EditRecord,
    ObjectRef,
    Provenance,
)

SAFE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")

#: Folder-name keywords of the official release → our subset.
FOLDER_SUBSETS = {"fine": "real", "scannet": "real", "mesatask": "tabletop", "bathroom": "tabletop",
                  "robothor": "room"}

_RECEPTACLE_RE = re.compile(
    r"\b(?:to|at|onto|into|on|in)\s+the\s+(?:very\s+)?(?:center|centre|middle|edge|leftmost|rightmost|"
    r"nearest|farthest|furthest|front|back)\b[^.]*\bof\s+the\b|\b(?:onto|into|inside|on top of)\s+the\b|"
    # "Put / Place / Set the X on (in) the Y" — but not "on the left of the Y"
    r"^(?:please\s+)?(?:put|place|set)\s+the\b[^.]*?\b(?:on|in)\s+the\s+(?!(?:left|right|front|back)\b)")
_RELATIVE_RE = re.compile(
    r"\b(?:left of|right of|in front of|behind|next to|beside|referencing|to the position of)\s+the\b|"
    r"\bthe\s+\w+(?:'s)?\s+center\b")


@dataclass(frozen=True)
class Reject:
    """A release file that was not converted: the file and the reason."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class InferredOperation:
    """The operation of a prompt and how it was decided."""

    operation: str
    #: ``gsi-template`` (one of our templates; params exact) or ``official-verb`` (official table)
    method: str
    route: str
    template_id: str = "official"
    params: EditParams = field(default_factory=EditParams)
    target_phrase: str = ""
    reference_phrase: str = ""


class ConversionError(ValueError):
    """One edit cannot be interpreted (message names the problem; the caller adds the file)."""


# ----------------------------------------------------------------------------------------------
# Operation inference
# ----------------------------------------------------------------------------------------------
def infer_operation(prompt: str) -> InferredOperation:
    """Decide the operation of an official prompt, once.

    1. A prompt produced by one of our templates parses exactly (operation, template, params).
    2. Otherwise the official verb table gives the route; a ``move`` route is refined into
       receptacle placement ("… to the center / edge … of the Y", "onto the Y"), object-relative
       placement ("left of / in front of / referencing / to the position of the Y") or else a
       camera-relative move; ``view`` → perspective.
    """
    try:
        parsed = parse_instruction(prompt)
    except ValueError:
        parsed = None
    if parsed is not None:
        return InferredOperation(parsed.operation, "gsi-template", OPERATION_ROUTE[parsed.operation],
                                 parsed.template_id, parsed.params, parsed.target, parsed.reference)
    try:
        route = route_prompt(prompt)
    except UnroutablePrompt as err:
        raise ConversionError(str(err)) from err
    low = prompt.strip().lower()
    if route == "move":
        if _RECEPTACLE_RE.search(low):
            op = "receptacle_place"
        elif _RELATIVE_RE.search(low):
            op = "object_relative_place"
        else:
            op = "camera_relative_move"
    else:
        op = {"rotate": "rotate", "remove": "remove", "scale": "scale", "view": "perspective"}[route]
    return InferredOperation(op, "official-verb", route, "official", loose_params(op, prompt))


_NUM = r"(\d+(?:\.\d+)?)"


def loose_params(operation: str, prompt: str) -> EditParams:
    """Parameters stated in a free-form prompt, where they can be read unambiguously (units:
    cm / centimeters / m / meters → metres, degrees, ×, %); everything else stays empty / NaN."""
    low = prompt.lower()
    p = EditParams()
    if m := re.search(_NUM + r"\s*(?:cm|centimet(?:er|re)s?)\b", low):
        p.distance_m = float(m.group(1)) / 100.0
    elif m := re.search(_NUM + r"\s*(?:m|met(?:er|re)s?)\b", low):
        p.distance_m = float(m.group(1))
    if operation in ("rotate", "perspective") and (m := re.search(_NUM + r"\s*(?:°|degrees?)", low)):
        p.angle_deg = float(m.group(1))
    if operation == "rotate":
        if "counterclockwise" in low or "counter-clockwise" in low or "anticlockwise" in low:
            p.rotation_sense = "counterclockwise"
        elif "clockwise" in low:
            p.rotation_sense = "clockwise"
    if operation == "scale":
        if m := re.search(_NUM + r"\s*(?:times|x)\b", low):
            p.scale_factor = float(m.group(1))
        elif m := re.search(_NUM + r"\s*%", low):
            pct = float(m.group(1)) / 100.0
            shrink = any(w in low for w in ("down", "shrink", "reduce", "smaller"))
            p.scale_factor = 1.0 - pct if shrink else (pct if " to " in low else 1.0 + pct)
    if operation in ("camera_relative_move", "perspective"):
        for word, key in (("left", "left"), ("right", "right"), ("forward", "forward"), ("backward", "backward"),
                          ("away from the camera", "forward"), ("toward the camera", "backward")):
            if re.search(r"\b" + re.escape(word) + r"\b", low):
                p.direction = key
                break
    if operation == "perspective":
        if any(w in low for w in ("look up", "tilt the camera up", "pitch up")):
            p.camera_motion, p.rotation_sense = "pitch", "up"
        elif any(w in low for w in ("look down", "tilt the camera down", "pitch down")):
            p.camera_motion, p.rotation_sense = "pitch", "down"
        elif not math.isnan(p.angle_deg):
            p.camera_motion, p.rotation_sense = "yaw", p.direction if p.direction in ("left", "right") else ""
            p.direction = ""
        elif not math.isnan(p.distance_m):
            p.camera_motion = "move"
    return p


# ----------------------------------------------------------------------------------------------
# Field validation
# ----------------------------------------------------------------------------------------------
def _number_array(data: dict[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in data:
        raise ConversionError(f"missing field {key!r}")
    value = data[key]

    def bad_leaf(x: Any) -> bool:
        return isinstance(x, bool) or not isinstance(x, (int, float))

    try:
        arr = np.asarray(value, dtype=object)
    except ValueError as err:  # ragged
        raise ConversionError(f"field {key!r} is not a {shape} array of numbers ({err})") from err
    if arr.shape != shape:
        raise ConversionError(f"field {key!r} has shape {arr.shape}, expected {shape}")
    if any(bad_leaf(x) for x in arr.ravel()):
        raise ConversionError(f"field {key!r} holds non-numeric values")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ConversionError(f"field {key!r} holds NaN or infinite values")
    return out


def _check_rotation(key: str, r: np.ndarray) -> None:
    if np.abs(r @ r.T - np.eye(3)).max() > 1e-2 or abs(np.linalg.det(r) - 1.0) > 1e-2:
        raise ConversionError(f"field {key!r} is not a rotation matrix (R·Rᵀ ≠ I or det ≠ 1)")


def _check_intrinsics(k: np.ndarray) -> None:
    if k[0, 0] <= 0 or k[1, 1] <= 0 or np.abs(k[2] - [0, 0, 1]).max() > 1e-6 or k[1, 0] != 0:
        raise ConversionError("field 'camera_intrinsics' is not a pinhole K ([[fx,s,cx],[0,fy,cy],[0,0,1]], fx, fy > 0)")


# ----------------------------------------------------------------------------------------------
# Box conventions (the conversions themselves live in gsi_bench.official_format)
# ----------------------------------------------------------------------------------------------
def transform_between(before: Box3D, after: Box3D) -> tuple[list[float], list[list[float]], list[float]]:
    """Φ3D ``p ↦ R·(s·p) + t`` (source camera frame) mapping box ``before`` onto ``after``:
    ``R = R_after·R_beforeᵀ``, ``s`` = geometric mean of the extent ratios, ``t = c_after − s·R·c_before``."""
    r0, r1 = np.asarray(before.rotation), np.asarray(after.rotation)
    rot = r1 @ r0.T
    ratios = np.asarray(after.size) / np.asarray(before.size)
    s = float(np.prod(ratios) ** (1.0 / 3.0)) if np.all(ratios > 0) else 1.0
    t = np.asarray(after.center) - s * (rot @ np.asarray(before.center))
    return t.tolist(), rot.tolist(), [s, s, s]


# ----------------------------------------------------------------------------------------------
# Release scanning
# ----------------------------------------------------------------------------------------------
@dataclass
class EditFiles:
    """The files of one official edit inside a release."""

    folder: str
    img_id: str
    qid: str
    json_name: str
    source_name: str | None
    gt_name: str | None


def split_name(name: str) -> tuple[str, str]:
    """``(folder, basename)`` of a release file name (``a/b.json`` → ``("a", "b.json")``;
    ``x.zip!b.json`` → ``("x.zip", "b.json")``)."""
    cut = max(name.rfind("/"), name.rfind("!"))
    return (name[:cut], name[cut + 1:]) if cut >= 0 else ("", name)


def folder_label(folder: str) -> str:
    """Short label of a dataset folder for record ids: its last component without ``.zip``."""
    last = re.split(r"[/!]", folder)[-1] if folder else ""
    return last[:-4] if last.lower().endswith(".zip") else last


def scan_edits(files: ReleaseFiles, rejects: list[Reject]) -> list[EditFiles]:
    """Find every ``*_edit_<qid>.json`` with its source image (and ground-truth image); files
    with unusable names go to ``rejects``."""
    by_folder: dict[str, dict[str, str]] = {}
    for name in files.names():
        folder, base = split_name(name)
        by_folder.setdefault(folder, {})[base] = name
    edits: list[EditFiles] = []
    for folder, basenames in sorted(by_folder.items()):
        for base, full in sorted(basenames.items()):
            if not base.lower().endswith(".json") or "_edit_" not in base:
                continue
            m = EDIT_JSON_RE.match(base)
            if not m:
                rejects.append(Reject(full, "name does not match '<img_id>_edit_<query_id>.json'"))
                continue
            img_id, qid = m.group("img"), m.group("qid")
            if not SAFE_ID_RE.match(img_id) or not SAFE_ID_RE.match(qid):
                rejects.append(Reject(full, f"image id {img_id!r} or query id {qid!r} has characters outside "
                                            "[A-Za-z0-9._-]"))
                continue
            edits.append(EditFiles(folder, img_id, qid, full, _find_source(basenames, img_id),
                                   _find_gt(basenames, img_id, qid)))
    return edits


def _find_source(basenames: dict[str, str], img_id: str) -> str | None:
    for ext in IMAGE_EXTS:
        if img_id + ext in basenames:
            return basenames[img_id + ext]
    for base in sorted(basenames):
        if (base.startswith(img_id) and base.lower().endswith(IMAGE_EXTS) and "_edit_" not in base
                and "gtedit" not in base):
            return basenames[base]
    return None


def _find_gt(basenames: dict[str, str], img_id: str, qid: str) -> str | None:
    pattern = re.compile(re.escape(img_id) + r"_.*gtedit_" + re.escape(qid) + r"(?:[._][^/]*)?\.(?:png|jpe?g)$",
                         re.IGNORECASE)
    for base in sorted(basenames):
        if pattern.match(base):
            return basenames[base]
    return None


def subset_of_folder(folder: str) -> str | None:
    """Our subset for an official dataset folder name (``fine_dataset`` → real, …), or ``None``."""
    low = folder.lower()
    for key, subset in FOLDER_SUBSETS.items():
        if key in low:
            return subset
    return None


# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------
def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """uint8 ``(H, W, 3)`` from image bytes; refuses images over ``MAX_IMAGE_PIXELS``."""
    try:
        img = PILImage.open(io.BytesIO(data))
        if img.width * img.height > MAX_IMAGE_PIXELS:
            raise ConversionError(f"image {name} is {img.width}×{img.height} px, over the {MAX_IMAGE_PIXELS} px limit")
        return np.asarray(img.convert("RGB"))
    except (OSError, PILImage.DecompressionBombError) as err:
        raise ConversionError(f"image {name} cannot be decoded ({err})") from err


def convert_edit(files: ReleaseFiles, edit: EditFiles, subset: str, index: int) -> EditRecord:
    """One official edit → :class:`EditRecord`; raises :class:`ConversionError` when it cannot be
    interpreted."""
    raw = files.read(edit.json_name)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ConversionError(f"not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ConversionError(f"the JSON is a {type(data).__name__}, expected an object")
    for key in ("prompt", "target"):
        if key not in data:
            raise ConversionError(f"missing field {key!r}")
        if not isinstance(data[key], str):
            raise ConversionError(f"field {key!r} must be a string")
    prompt = data["prompt"].strip()
    inferred = infer_operation(prompt)
    op = inferred.operation
    declared = (data.get("gsi_bench") or {}).get("operation") if isinstance(data.get("gsi_bench"), dict) else None
    if declared is not None and declared != op:
        raise ConversionError(f"the prompt reads as {op!r} but the file declares gsi_bench.operation={declared!r}")
    object_edit = op != "perspective"
    vec0 = _number_array(data, "original_bbox_3d", (7,))
    k = _number_array(data, "camera_intrinsics", (3, 3))
    _check_intrinsics(k)
    r0 = _number_array(data, "rotation_matrix", (3, 3))
    needs_new_box = op in ("camera_relative_move", "object_relative_place", "receptacle_place", "scale")
    vec1 = _number_array(data, "new_bbox_3d", (7,)) if needs_new_box or "new_bbox_3d" in data else None
    r1 = _number_array(data, "new_rotation_matrix", (3, 3)) if op == "rotate" or "new_rotation_matrix" in data else None
    if object_edit:
        if not data["target"].strip():
            raise ConversionError("field 'target' is empty but the edit acts on an object")
        for key, vec in (("original_bbox_3d", vec0), ("new_bbox_3d", vec1)):
            if vec is not None and np.any(vec[3:6] <= 0):
                raise ConversionError(f"field {key!r} has a non-positive extent (w, h, l = {vec[3:6].tolist()})")
        _check_rotation("rotation_matrix", r0)
        if r1 is not None:
            _check_rotation("new_rotation_matrix", r1)
    if edit.source_name is None:
        raise ConversionError(f"no source image {edit.img_id}.jpg/.jpeg/.png next to it")
    source = decode_rgb(files.read(edit.source_name), edit.source_name)
    h, w = source.shape[:2]
    if edit.gt_name is not None:
        target_image = decode_rgb(files.read(edit.gt_name), edit.gt_name)
        if target_image.shape != source.shape:
            raise ConversionError(f"ground-truth image {edit.gt_name} is {target_image.shape[1]}×{target_image.shape[0]}, "
                                  f"the source is {w}×{h}")
    else:
        target_image = np.zeros_like(source)

    source_box = box_from_official(vec0, r0)
    # camera edits act on no object unless the file names one
    present = op != "remove" and (op != "perspective" or bool(data["target"].strip()))
    if op == "remove" or op == "perspective":
        target_box = Box3D(list(source_box.center), list(source_box.size), [list(r) for r in source_box.rotation],
                           list(source_box.official_7vec))
        if op == "perspective" and vec1 is not None:
            target_box = box_from_official(vec1, r1 if r1 is not None else r0)
    elif vec1 is not None:
        target_box = box_from_official(vec1, r1 if r1 is not None else r0)
    else:  # rotate without a new box: same centre / size, new rotation
        rot = rotation_from_official(r1)
        target_box = Box3D.from_pose(source_box.center, source_box.size, rot)
    if op in ("remove", "perspective"):
        translation, rotation, scale = [0.0, 0.0, 0.0], np.eye(3).tolist(), [1.0, 1.0, 1.0]
    else:
        translation, rotation, scale = transform_between(source_box, target_box)

    target_phrase = inferred.target_phrase
    referring, _ = split_referring(target_phrase) if target_phrase else ("", "")
    zeros8 = np.zeros((h, w), np.uint8)
    zeros16 = np.zeros((h, w), np.uint16)
    eye4 = np.eye(4)
    label = folder_label(edit.folder)
    return assemble_record(
        id=f"{label + '-' if label else ''}{edit.img_id}_edit_{edit.qid}",
        subset=subset, split="test", operation=op, params=inferred.params,
        instruction=InstructionText(en=prompt, zh="", template_id=inferred.template_id),
        target=ObjectRef(category=data["target"].strip(), description=target_phrase, referring_expression=referring),
        reference=ObjectRef(category=inferred.reference_phrase, description=inferred.reference_phrase),
        transform=Transform(rotation, scale, translation),
        source=EditView(image=source, mask=zeros8, instances=zeros16, depth_mm=zeros16.copy(), cam_from_world=eye4),
        target_view=EditView(image=target_image, mask=zeros8.copy(), instances=zeros16.copy(), depth_mm=zeros16.copy(),
                             cam_from_world=eye4),
        K=k, source_box=source_box, target_box=target_box, target_present=present, scene="{}",
        provenance=Provenance(generator=f"official-release:{inferred.method}", generator_version=gsi_bench.__version__,
                              seed=0, scene_index=index, asset_manifest_sha256="", renderer="",
                              config_sha256=hashlib.sha256(raw).hexdigest()),
        checks=Checks(thresholds=json.dumps({"source": "official release", "has_target_image": edit.gt_name is not None,
                                             "json": edit.json_name}, sort_keys=True)),
    )


@dataclass
class ConversionReport:
    """Outcome of a conversion: how many records per subset, and every rejected file."""

    converted: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"converted": self.converted,
                           "rejects": [{"file": r.file, "reason": r.reason} for r in self.rejects]},
                          indent=2, sort_keys=True) + "\n"


def iter_official_records(files: ReleaseFiles, report: ConversionReport,
                          subset: str | None = None) -> Iterator[EditRecord]:
    """Convert every edit of an opened release; rejected files are added to ``report.rejects``
    (with the reason), converted ones counted in ``report.converted``. ``subset`` overrides the
    subset inferred from the folder names (fine → real, mesatask / bathroom → tabletop,
    robothor → room)."""
    report.rejects.extend(Reject(r.name, r.reason) for r in files.refused)
    index = 0
    for edit in scan_edits(files, report.rejects):
        if not edit.folder:
            edit.folder = files.label
        sub = subset or subset_of_folder(f"{files.label}/{edit.folder}")
        if sub is None:
            report.rejects.append(Reject(edit.json_name, f"cannot tell the subset of folder {edit.folder or '.'!r} "
                                                         "(expected fine/mesatask/bathroom/robothor in its name); "
                                                         "pass --config"))
            continue
        try:
            record = convert_edit(files, edit, sub, index)
        except (ConversionError, ValueError) as err:
            report.rejects.append(Reject(edit.json_name, str(err)))
            continue
        index += 1
        report.converted[sub] = report.converted.get(sub, 0) + 1
        yield record
