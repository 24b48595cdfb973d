"""The 3D-consistency re-run of one record, independent of how it was produced.

From the stored scene specs alone this module re-derives what the record claims: the boxes and
Φ3D, the operation and parameters stated by the instruction, the masks / instance maps / depth
(by re-rendering), and the generator's validity checks. It calls the generator's own functions
(:mod:`gsi_bench.checks`, :mod:`gsi_syn.placement`, :mod:`gsi_syn.edits`, :mod:`gsi_syn.physics`):
one implementation of every filter, not two.

Re-rendering: the GL-free ``raycast`` backend is cheap when it casts rays through a subsample of
the pixel centres only. That is done exactly with the public renderer API by giving it a camera
whose intrinsics are scaled by the stride (pixel ``(i, j)`` of the small image is pixel
``(s·i, s·j)`` of the original) or shifted to a crop window. ``gl`` renders at full resolution.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_bench.checks import CheckThresholds, Measurements, changed_fraction, failed_checks, view_overlap, visibility
from gsi_bench.geometry import ground_direction, project_points, rot_z, rotation_angle_deg
from gsi_bench.official_format import box_to_official_7vec
from gsi_bench.operations import (
    OPERATIONS,
    noun_phrase,
    operation_spec,
    parse_instruction,
    rotation_is_sense_free,
    signed_rotation_deg,
    split_referring,
    symmetry_period_deg,
)
from gsi_bench.scene import Camera, Scene, SceneFormatError, decode_scene_pair
from gsi_bench.schema import decode_image
from gsi_syn.edits import (
    already_there,
    moved_camera,
    placement_points,
    placement_vocabulary,
    referring_image_gap,
    resolve_referring,
)
from gsi_syn.placement import box_in_camera, min_clearance, object_box_world, support_margin
from validation.integrity import Finding


@dataclass(frozen=True)
class Tolerances:
    """Stated tolerances of the re-run (metres, degrees, fractions, millimetres)."""

    geometry_m: float = 1e-5          # poses, boxes, Φ3D (scene positions are stored to 1 µm)
    placement_m: float = 1e-3         # receptacle placement point vs the recomputed one
    angle_deg: float = 1e-3
    min_instance_agreement: float = 0.98   # re-rendered vs stored instance maps
    depth_mm: float = 2.0             # plus 0.1 % of the depth
    max_depth_outliers: float = 0.01  # fraction of co-visible pixels allowed beyond depth_mm
    min_mask_iou: float = 0.9         # stored mask vs re-rendered object pixels (sampled)
    visible_fraction: float = 0.05    # recorded vs recomputed visible fraction (raycast vs GL
                                      # silhouette ties matter for small objects; GL is exact)
    view_overlap: float = 0.02        # recomputed from mm depth vs recorded (from float depth)
    settle_drift_m: float = 2e-3
    image_mean_abs: float = 2.0       # GL re-render vs stored RGB (8-bit levels)


@dataclass
class Options:
    """How the re-run renders. ``stride`` 0 = automatic (about 128 samples across)."""

    renderer: str = "raycast"
    stride: int = 0
    physics: bool = True
    tol: Tolerances = field(default_factory=Tolerances)


@dataclass
class RecordResult:
    """Outcome of one record: findings, the checks evaluated, and metric values (larger = worse)."""

    id: str
    file: str
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


class _Ctx:
    """Per-record helpers: finding collection and metric tracking."""

    def __init__(self, result: RecordResult):
        self.r = result

    def run(self, check: str) -> None:
        if check not in self.r.checked:
            self.r.checked.append(check)

    def bad(self, check: str, message: str, value: float | None = None) -> None:
        self.run(check)
        self.r.findings.append(Finding(check, message, value))

    def metric(self, check: str, value: float) -> None:
        if value is not None and not math.isnan(value):
            self.r.metrics[check] = max(self.r.metrics.get(check, -math.inf), float(value))


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------
def check_record(row: dict[str, Any], file: str, renderer, opts: Options) -> RecordResult:
    """Re-run every 3D-consistency check on one record (a Parquet row with image bytes)."""
    res = RecordResult(id=str(row.get("id")), file=file)
    ctx = _Ctx(res)
    try:
        _check(row, renderer, opts, ctx)
    except Exception as err:  # noqa: BLE001 - report, never crash the run on one bad record
        ctx.bad("scene", f"re-run failed: {type(err).__name__}: {err}")
    return res


def _check(row: dict[str, Any], renderer, opts: Options, ctx: _Ctx) -> None:
    op = OPERATIONS[row["operation"]]
    if row.get("subset") == "real":
        # GSI-Real records carry lifted captures, not GSI-Syn scene specs: nothing to re-render;
        # their instruction must still parse back to the stated operation and parameters.
        _check_instruction(row, op, ctx)
        return
    ctx.run("scene")
    try:
        src, tgt = decode_scene_pair(row["scene"])
    except SceneFormatError as err:
        ctx.bad("scene", f"scene spec does not load ({err})")
        return
    if not _check_scene(row, op, src, tgt, ctx):
        return
    _check_instruction(row, op, ctx)
    _check_boxes(row, op, src, tgt, opts.tol, ctx)
    _check_transform_params(row, op, src, tgt, opts.tol, ctx)
    if "referring" in operation_spec(op).sampling:
        _check_referring(row, src, ctx)
    maps = _decode_maps(row, ctx, rgb=opts.renderer == "gl")
    if maps is None:
        return
    _check_renders(row, op, src, tgt, maps, renderer, opts, ctx)
    _check_validity(row, op, src, tgt, maps, renderer, opts, ctx)


# ----------------------------------------------------------------------------------------------
# Scene, instruction, boxes, Φ3D
# ----------------------------------------------------------------------------------------------
def _close(a: Any, b: Any) -> float:
    """max |a − b| (inf on shape mismatch)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max()) if a.shape == b.shape else math.inf


def _check_scene(row: dict[str, Any], op: str, src: Scene, tgt: Scene, ctx: _Ctx) -> bool:
    cam = row["camera"]
    for name, scene, key in (("source", src, "source_cam_from_world"), ("target", tgt, "target_cam_from_world")):
        if _close(scene.camera.cam_from_world, cam[key]) > 1e-9 or _close(scene.camera.K, cam["K"]) > 1e-9:
            ctx.bad("scene", f"camera.{key} / K differ from the {name} scene's camera")
        if (scene.camera.width, scene.camera.height) != (cam["width"], cam["height"]):
            ctx.bad("scene", f"{name} scene camera is {scene.camera.width}×{scene.camera.height}, "
                             f"record says {cam['width']}×{cam['height']}")
    tid = row["target"]["instance_id"]
    src_ids = {o.instance_id for o in src.objects}
    tgt_ids = {o.instance_id for o in tgt.objects}
    spec = operation_spec(op)
    if not spec.names_target:
        if src.objects != tgt.objects:
            ctx.bad("scene", "a camera edit changes the scene's objects")
        return not ctx.r.findings
    if tid not in src_ids:
        ctx.bad("scene", f"target instance {tid} is not in the source scene")
        return False
    obj = src.get(tid)
    for k in ("category", "category_zh", "description", "asset_id"):
        if getattr(obj, k) != row["target"][k]:
            ctx.bad("scene", f"target.{k} {row['target'][k]!r} ≠ scene object's {getattr(obj, k)!r}")
    rid = row["reference"]["instance_id"]
    if rid:
        if rid not in src_ids:
            ctx.bad("scene", f"reference instance {rid} is not in the source scene")
        else:
            ref = src.get(rid)
            for k in ("category", "description", "asset_id"):
                if getattr(ref, k) != row["reference"][k]:
                    ctx.bad("scene", f"reference.{k} {row['reference'][k]!r} ≠ scene object's {getattr(ref, k)!r}")
    expected_ids = src_ids if spec.target_present else src_ids - {tid}
    if tgt_ids != expected_ids:
        ctx.bad("scene", f"target scene objects {sorted(tgt_ids)} ≠ expected {sorted(expected_ids)}")
        return False
    changed = [o.instance_id for o in tgt.objects if o.instance_id != tid and o != src.get(o.instance_id)]
    if changed:
        ctx.bad("scene", f"objects other than the target changed: {changed}")
    if tgt.camera != src.camera:
        ctx.bad("scene", "an object edit changes the camera")
    return not ctx.r.findings


def _check_instruction(row: dict[str, Any], op: str, ctx: _Ctx) -> None:
    ctx.run("instruction")
    p = row["params"]
    tgt, ref = row["target"], row["reference"]
    for key, lang in (("instruction", "en"), ("instruction_zh", "zh")):
        try:
            parsed = parse_instruction(row[key])
        except ValueError as err:
            ctx.bad("instruction", f"{key}: {err}")
            continue
        if parsed.operation != op:
            ctx.bad("instruction", f"{key} states {parsed.operation}, the record is {op}")
            continue
        if lang == "en" and parsed.template_id != row["template_id"]:
            ctx.bad("instruction", f"{key} uses template {parsed.template_id}, record says {row['template_id']}")
        q = dataclasses.asdict(parsed.params)
        for k, v in q.items():
            mine = p[k]
            if isinstance(v, float) or isinstance(mine, float):
                a = math.nan if mine is None else float(mine)
                same = (math.isnan(a) and math.isnan(v)) or (not math.isnan(a) and not math.isnan(v) and abs(a - v) <= 1e-6)
            else:
                same = (mine or "") == (v or "")
            if not same:
                ctx.bad("instruction", f"{key} says {k} = {v!r}, params say {mine!r}")
        if operation_spec(op).names_target:
            desc = tgt["description"] if lang == "en" else None
            expr, head = split_referring(parsed.target, lang)
            if expr != tgt["referring_expression"]:
                ctx.bad("instruction", f"{key} refers to the target as {expr or 'no expression'!r}, "
                                       f"record says {tgt['referring_expression'] or 'none'!r}")
            if desc is not None and parsed.target != noun_phrase(desc, tgt["referring_expression"], "en"):
                ctx.bad("instruction", f"{key} names the target {parsed.target!r}, record: {desc!r}")
        # an object without a description (the tabletop's table) is named by its category
        if lang == "en" and ref["instance_id"] and parsed.reference != (ref["description"] or ref["category"]):
            ctx.bad("instruction", f"{key} names the reference {parsed.reference!r}, "
                                   f"record: {ref['description'] or ref['category']!r}")


def _phi(row: dict[str, Any]) -> np.ndarray:
    tr = row["transform"]
    out = np.eye(4)
    out[:3, :3] = np.asarray(tr["rotation"], np.float64) * np.asarray(tr["scale"], np.float64)[None, :]
    out[:3, 3] = tr["translation"]
    return out


def _check_boxes(row: dict[str, Any], op: str, src: Scene, tgt: Scene, tols: Tolerances, ctx: _Ctx) -> None:
    ctx.run("boxes")
    tol = 1e-6
    C = src.camera.cam_from_world_array
    boxes = row["boxes"]
    if not operation_spec(op).names_target:
        zero = {"center": np.zeros(3), "size": np.zeros(3), "rotation": np.eye(3)}
        err = max(_close(boxes[w][k], v) for w in ("source", "target") for k, v in zero.items())
        if err > tol:
            ctx.bad("boxes", "camera edits name no object: boxes must be the zero box", err)
        return
    tid = row["target"]["instance_id"]
    before = src.get(tid)
    after = tgt.get(tid) if row["boxes"]["target_present"] else before
    worst = 0.0
    for which, obj in (("source", before), ("target", after)):
        b = box_in_camera(object_box_world(obj), C)
        for k, v in (("center", b.center), ("size", b.size), ("rotation", b.rotation),
                     ("official_7vec", box_to_official_7vec(b.center, b.size, b.rotation))):
            e = _close(boxes[which][k], v)
            worst = max(worst, e)
            if e > tol:
                ctx.bad("boxes", f"boxes.{which}.{k} differs from the scene object's box by {e:.3g}", e)
    phi = _phi(row)
    c0, c1 = np.asarray(boxes["source"]["center"]), np.asarray(boxes["target"]["center"])
    R, s = np.asarray(row["transform"]["rotation"]), np.asarray(row["transform"]["scale"])
    for what, e in (("centre", _close(phi[:3, :3] @ c0 + phi[:3, 3], c1)),
                    ("rotation", _close(R @ np.asarray(boxes["source"]["rotation"]), boxes["target"]["rotation"])),
                    ("size", _close(s * np.asarray(boxes["source"]["size"]), boxes["target"]["size"]))):
        worst = max(worst, e)
        if e > tols.geometry_m:
            ctx.bad("boxes", f"box_after ≠ Φ3D(box_before): {what} off by {e:.3g}", e)
    # Φ3D must map the object's whole pose, not only its box centre
    W = np.linalg.inv(C) @ phi @ C
    e = _close(W @ before.world_from_object(), after.world_from_object())
    if e > tols.geometry_m:
        ctx.bad("boxes", f"Φ3D does not map the source object pose to the target pose (off by {e:.3g})", e)
    ctx.metric("boxes", max(worst, e))


def _world_delta(row: dict[str, Any], src: Scene) -> np.ndarray:
    """Φ3D as a world transform (4×4): ``W = C⁻¹ Φ C``."""
    C = src.camera.cam_from_world_array
    return np.linalg.inv(C) @ _phi(row) @ C


def _nearest_direction(C: np.ndarray, v: np.ndarray) -> str:
    names = ("left", "right", "forward", "backward")
    return max(names, key=lambda n: float(ground_direction(C, n) @ v))


@dataclass
class TransformCase:
    """What a per-operation Φ3D / params check sees. ``W``: Φ3D as a world transform 4×4 (its
    linear part ``lin`` and translation ``t``); ``pos`` / ``new_pos``: the target object's world
    position before / after ``W`` (None for camera edits); ``C``: source ``cam_from_world``."""

    row: dict[str, Any]
    op: str
    src: Scene
    tgt: Scene
    tols: Tolerances
    ctx: _Ctx
    C: np.ndarray
    W: np.ndarray
    pos: np.ndarray | None = None
    new_pos: np.ndarray | None = None

    @property
    def p(self) -> dict[str, Any]:
        return self.row["params"]

    @property
    def lin(self) -> np.ndarray:
        return self.W[:3, :3]

    @property
    def t(self) -> np.ndarray:
        return self.W[:3, 3]

    def bad(self, message: str, value: float | None) -> None:
        self.ctx.bad("transform_params", message, value)


def _check_transform_params(row: dict[str, Any], op: str, src: Scene, tgt: Scene, tols: Tolerances,
                            ctx: _Ctx) -> None:
    """Φ3D against the params: rigid operations keep the object's orientation and size, then the
    operation's own check from :data:`TRANSFORM_CHECKS` (largest error is the metric)."""
    ctx.run("transform_params")
    spec = operation_spec(op)
    C = src.camera.cam_from_world_array
    case = TransformCase(row, op, src, tgt, tols, ctx, C, _world_delta(row, src))
    err = 0.0
    if spec.names_target:
        case.pos = np.asarray(src.get(row["target"]["instance_id"]).position, np.float64)
        case.new_pos = case.lin @ case.pos + case.t
        if spec.rigid:
            e = _close(case.lin, np.eye(3))
            if e > 1e-6:
                case.bad(f"{op} must not rotate or scale the object (linear part off identity by {e:.3g})", e)
            err = max(err, e)
    check = TRANSFORM_CHECKS.get(op)
    if check is not None:
        err = max(err, check(case))
    ctx.metric("transform_params", err)


def _tp_perspective(c: TransformCase) -> float:
    p, C = c.p, c.C
    C2 = np.asarray(c.row["camera"]["target_cam_from_world"], np.float64)
    e = _close(_phi(c.row), C2 @ np.linalg.inv(C))
    if e > 1e-6:
        c.bad(f"Φ3D is not the target-from-source camera transform (off by {e:.3g})", e)
    motion = p["camera_motion"]
    amount = p["distance_m"] if motion == "move" else p["angle_deg"]
    direction = p["direction"] if motion == "move" else p["rotation_sense"]
    e2 = _close(moved_camera(C, motion, direction, amount), C2)
    if e2 > 1e-6:
        c.bad(f"the target camera is not the source camera after '{motion} {direction} {amount}' "
              f"(off by {e2:.3g})", e2)
    return max(e, e2)


def _tp_camera_relative_move(c: TransformCase) -> float:
    p, C, t = c.p, c.C, c.t
    expected = ground_direction(C, p["direction"]) * p["distance_m"]
    e = float(np.linalg.norm(t - expected))
    if e > c.tols.geometry_m:
        moved = float(np.linalg.norm(t[:2]))
        c.bad(f"Φ3D moves the object {moved * 100:.1f} cm {_nearest_direction(C, t)}, params say "
              f"{p['distance_m'] * 100:.1f} cm {p['direction']} (error {e:.3g} m)", e)
    return e


def _tp_object_relative_place(c: TransformCase) -> float:
    p, C = c.p, c.C
    anchor = c.src.get(c.row["reference"]["instance_id"])
    v = ground_direction(C, operation_spec(c.op).directions[p["relation"]])
    offset = c.new_pos - np.asarray(anchor.position, np.float64)
    # the target joins the anchor's support (it may come from another piece of furniture, at
    # another height): it ends at the anchor's height, not necessarily at its own
    e = max(float(np.linalg.norm(offset[:2] - v[:2] * p["distance_m"])), abs(float(offset[2])))
    if e > c.tols.geometry_m:
        c.bad(f"after Φ3D the object is {np.linalg.norm(offset[:2]) * 100:.1f} cm "
              f"{_nearest_direction(C, offset)} of the anchor, params say {p['distance_m'] * 100:.1f} cm "
              f"{p['relation']} (error {e:.3g} m)", e)
    # the floor is config: checked when the record states it (data made before it had none)
    floor = json.loads(c.row["checks"]["thresholds"]).get("min_place_displacement_m", 0.0)
    moved = float(np.linalg.norm(c.new_pos - c.pos))
    if moved < floor - c.tols.geometry_m:
        c.bad(f"the object moves only {moved * 100:.1f} cm (< {floor * 100:.0f} cm): the source already "
              "nearly satisfies the relation", floor - moved)
    return e


def _symmetry_period(asset_id: str) -> float:
    from gsi_syn.assets import get_library

    return symmetry_period_deg(get_library().entry(asset_id).symmetry)


def _tp_rotate(c: TransformCase) -> float:
    p, lin = c.p, c.lin
    signed = signed_rotation_deg(p["angle_deg"], p["rotation_sense"])
    e_rot = rotation_angle_deg(lin.T @ rot_z(signed))
    e_fix = float(np.linalg.norm(c.new_pos - c.pos))
    if e_rot > c.tols.angle_deg or e_fix > c.tols.geometry_m:
        got = math.degrees(math.atan2(lin[1, 0], lin[0, 0]))
        c.bad(f"Φ3D turns the object {abs(got):.1f}° {'counterclockwise' if got > 0 else 'clockwise'} "
              f"(moving its base centre {e_fix:.3g} m), params say {p['angle_deg']}° "
              f"{p['rotation_sense'] or '(either way)'}", max(e_rot, e_fix))
    period = _symmetry_period(c.row["target"]["asset_id"])
    sense_free = rotation_is_sense_free(p["angle_deg"], period)
    if sense_free == bool(p["rotation_sense"]):
        c.bad(f"a {p['angle_deg']}° rotation of an object with a {period:g}° symmetry period "
              + ("looks the same either way but states a sense" if sense_free else "states no sense"), None)
    return e_fix


def _tp_scale(c: TransformCase) -> float:
    p, lin = c.p, c.lin
    e_lin = _close(lin, p["scale_factor"] * np.eye(3))
    e_fix = float(np.linalg.norm(c.new_pos - c.pos))
    if e_lin > 1e-6 or e_fix > c.tols.geometry_m:
        c.bad(f"Φ3D scales by {np.cbrt(np.linalg.det(lin)):.4g} about a point {e_fix:.3g} m from the base "
              f"centre, params say ×{p['scale_factor']} about the base centre", max(e_lin, e_fix))
    return max(e_lin, e_fix)


def _tp_receptacle_place(c: TransformCase) -> float:
    p, tid = c.p, c.row["target"]["instance_id"]
    rec_obj = c.src.get(c.row["reference"]["instance_id"])
    placed = c.tgt.get(tid)
    if placed.support_id != rec_obj.instance_id:
        c.bad(f"the placed object rests on instance {placed.support_id}, not on the receptacle "
              f"{rec_obj.instance_id}", None)
    points = placement_points(c.src, rec_obj, c.src.get(tid), _thresholds(c.row).min_support_margin_m)
    if p["placement"] not in points:
        c.bad(f"the object does not fit at the {p['placement']} of the receptacle", None)
        return 0.0
    e = float(np.linalg.norm(c.new_pos - points[p["placement"]]))
    if e > c.tols.placement_m:
        c.bad(f"Φ3D puts the object {e * 100:.1f} cm away from the receptacle's {p['placement']} "
              f"placement point", e)
    # moved within the support it stood on: at least the displacement floor (when stated)
    floor = _thresholds(c.row).min_place_displacement_m if "min_place_displacement_m" in \
        json.loads(c.row["checks"]["thresholds"]) else 0.0
    moved = float(np.linalg.norm(c.new_pos - c.pos))
    if c.src.get(tid).support_id == rec_obj.instance_id and moved < floor - c.tols.geometry_m:
        c.bad(f"the object moves only {moved * 100:.1f} cm on the support it stood on "
              f"(< {floor * 100:.0f} cm)", floor - moved)
    if c.src.get(tid).support_id == rec_obj.instance_id and floor > 0.0:
        th = _thresholds(c.row)
        vocabulary = placement_vocabulary(c.src, points, th.min_placement_gap)
        if p["placement"] in vocabulary and already_there(c.src.get(tid), p["placement"], points, vocabulary,
                                                          dataclasses.replace(th, min_place_displacement_m=0.0)):
            c.bad(f"the object already stands nearest the {p['placement']} of its support: the unchanged "
                  "image satisfies the instruction", None)
    return e


def _tp_remove(c: TransformCase) -> float:
    e = _close(c.W, np.eye(4))
    if e > 1e-9:
        c.bad(f"remove must have an identity Φ3D (off by {e:.3g})", e)
    return e


#: operation → its Φ3D / params check (returns its error, adds findings to the case)
TRANSFORM_CHECKS: dict[str, Callable[[TransformCase], float]] = {
    "camera_relative_move": _tp_camera_relative_move,
    "object_relative_place": _tp_object_relative_place,
    "receptacle_place": _tp_receptacle_place,
    "rotate": _tp_rotate,
    "scale": _tp_scale,
    "remove": _tp_remove,
    "perspective": _tp_perspective,
}


def _thresholds(row: dict[str, Any]) -> CheckThresholds:
    """The record's thresholds; one it predates is not applied (:meth:`CheckThresholds.from_json`)."""
    return CheckThresholds.from_json(row["checks"]["thresholds"])


def _check_referring(row: dict[str, Any], src: Scene, ctx: _Ctx) -> None:
    ctx.run("referring")
    tgt = row["target"]
    tid = tgt["instance_id"]
    same = [o for o in src.movable() if o.category == tgt["category"]]
    expr = tgt["referring_expression"]
    th = _thresholds(row)
    if len(same) < th.min_remove_instances:
        ctx.bad("referring", f"the removed {tgt['category']!r} is one of {len(same)}, fewer than "
                             f"min_remove_instances = {th.min_remove_instances}", None)
    if not expr:
        if len(same) > 1:
            ctx.bad("referring", f"{len(same)} objects are a {tgt['category']!r} but the instruction names "
                                 "no referring expression: the target is ambiguous", None)
        return
    winner, margin = resolve_referring(src, tgt["category"], expr)
    if winner != tid:
        ctx.bad("referring", f"'{expr} {tgt['category']}' picks instance {winner}, not the removed {tid}", None)
        return
    gap = referring_image_gap(src, tgt["category"], expr)
    if gap < th.min_referring_gap:
        ctx.bad("referring", f"in the image '{expr} {tgt['category']}' "
                             + (f"picks another instance (by {-gap:.3f} of the width)" if gap < 0 else
                                f"beats the runner-up by only {gap:.3f} of the width (< {th.min_referring_gap})"),
                None)
    recorded = row["checks"]["ambiguity_margin"]
    # the generator sets the margin to -1 when a competitor is not visible enough to judge
    if recorded != -1.0 and not (math.isinf(margin) and math.isinf(recorded)) and abs(margin - recorded) > 1e-6:
        ctx.bad("referring", f"'{expr}' wins by {margin:.4f} m, checks.ambiguity_margin says {recorded}",
                abs(margin - recorded))


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
@dataclass
class _Maps:
    src_inst: np.ndarray
    tgt_inst: np.ndarray
    src_depth: np.ndarray
    tgt_depth: np.ndarray
    src_mask: np.ndarray
    tgt_mask: np.ndarray
    src_rgb: np.ndarray | None = None
    tgt_rgb: np.ndarray | None = None


def _decode_maps(row: dict[str, Any], ctx: _Ctx, rgb: bool) -> _Maps | None:
    try:
        m = _Maps(*(decode_image(row[k], mode) for k, mode in (
            ("source_instances", "I;16"), ("target_instances", "I;16"), ("source_depth", "I;16"),
            ("target_depth", "I;16"), ("source_mask", "L"), ("target_mask", "L"))))
        if rgb:
            m.src_rgb, m.tgt_rgb = decode_image(row["source_image"], "RGB"), decode_image(row["target_image"], "RGB")
    except (OSError, ValueError) as err:
        ctx.bad("masks", f"an image does not decode ({err})")
        return None
    for name, mask in (("source_mask", m.src_mask), ("target_mask", m.tgt_mask)):
        odd = (mask != 0) & (mask != 255)
        if odd.any():
            ctx.bad("masks", f"{name} holds values {np.unique(mask[odd])[:6].tolist()}, not only {{0, 255}}")
    return m


def geometry_raycaster():
    """The raycast backend for instance ids and depth only (the re-run never compares raycast
    colours; skipping them avoids shading, shadow rays and texture loading)."""
    from gsi_syn.render.raycast import RaycastRenderer

    return RaycastRenderer(shadows=False, colours=False)


def subsampled_camera(cam: Camera, stride: int) -> Camera:
    """A camera whose pixel ``(i, j)`` is pixel ``(stride·i, stride·j)`` of ``cam`` (same rays)."""
    K = cam.K_array.copy()
    K[0, :] /= stride
    K[1, :] /= stride
    K[0, 2], K[1, 2] = cam.K_array[0, 2] / stride, cam.K_array[1, 2] / stride
    return dataclasses.replace(cam, K=K.tolist(), width=-(-cam.width // stride), height=-(-cam.height // stride))


def cropped_camera(cam: Camera, u0: int, v0: int, u1: int, v1: int) -> Camera:
    """A camera whose pixel ``(i, j)`` is pixel ``(u0 + i, v0 + j)`` of ``cam``; size ``(u1-u0)×(v1-v0)``."""
    K = cam.K_array.copy()
    K[0, 2] -= u0
    K[1, 2] -= v0
    return dataclasses.replace(cam, K=K.tolist(), width=int(u1 - u0), height=int(v1 - v0))


def _object_window(scene: Scene, instance_id: int, pad: int = 4) -> tuple[int, int, int, int]:
    """Pixel window ``(u0, v0, u1, v1)`` containing the object's projection (whole image if unsure)."""
    from gsi_bench.geometry import box_corners

    cam = scene.camera
    b = object_box_world(scene.get(instance_id))
    uv, z = project_points(cam.K_array, cam.cam_from_world_array, box_corners(b.center, b.size, b.rotation))
    if np.any(z <= cam.near):
        return 0, 0, cam.width, cam.height
    u0, v0 = np.floor(uv.min(axis=0)).astype(int) - pad
    u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + pad + 1
    u0, v0 = max(u0, 0), max(v0, 0)
    u1, v1 = min(u1, cam.width), min(v1, cam.height)
    if u1 <= u0 or v1 <= v0:
        return 0, 0, 1, 1
    return int(u0), int(v0), int(u1), int(v1)


def alone_pixels(scene: Scene, instance_id: int, renderer) -> np.ndarray:
    """Instance map of ``instance_id`` rendered alone, restricted to its image window for the
    raycast backend (same rays, a fraction of the cost); GL renders the full frame, exactly as the
    generator did (a shifted principal point can move rasterisation ties)."""
    if getattr(renderer, "name", "") == "gl":
        return renderer.render(scene, only=[instance_id]).instances
    u0, v0, u1, v1 = _object_window(scene, instance_id)
    cam = cropped_camera(scene.camera, u0, v0, u1, v1)
    return renderer.render(scene.with_camera(cam), only=[instance_id]).instances


def _stride(cam: Camera, opts: Options) -> int:
    if opts.renderer == "gl":
        return 1
    return opts.stride or max(1, round(max(cam.width, cam.height) / 128))


#: Regions smaller than this (pixels) are too small for a mean colour difference to mean anything.
MIN_REGION_PIXELS = 16


def worst_region_difference(rendered: np.ndarray, stored: np.ndarray, instances: np.ndarray) -> tuple[int, float]:
    """(instance id, mean absolute RGB difference in 8-bit levels) of the region — one per id of
    ``instances`` (uint16 ``(H, W)``, the re-render's), background included — where the stored
    image ``(H, W, 3)`` uint8 departs most from the re-render. A per-region mean catches an edit
    of a few hundred pixels (source and target exchanged) that a whole-image mean averages away."""
    diff = np.abs(rendered.astype(np.int16) - stored.astype(np.int16)).mean(axis=2).ravel()
    ids = instances.ravel().astype(np.int64)
    counts = np.bincount(ids)
    sums = np.bincount(ids, weights=diff, minlength=len(counts))
    valid = np.flatnonzero(counts >= MIN_REGION_PIXELS)
    if not len(valid):
        return 0, float(diff.mean()) if diff.size else 0.0
    means = sums[valid] / counts[valid]
    k = int(np.argmax(means))
    return int(valid[k]), float(means[k])


def _check_renders(row: dict[str, Any], op: str, src: Scene, tgt: Scene, maps: _Maps, renderer,
                   opts: Options, ctx: _Ctx) -> None:
    tol = opts.tol
    tid = row["target"]["instance_id"]
    for check in ("masks", "instances", "depth"):
        ctx.run(check)
    sides = (("source", src, maps.src_inst, maps.src_depth, maps.src_mask, maps.src_rgb,
              operation_spec(op).names_target),
             ("target", tgt, maps.tgt_inst, maps.tgt_depth, maps.tgt_mask, maps.tgt_rgb, bool(row["boxes"]["target_present"])))
    for side, scene, inst, depth, mask, rgb, has_object in sides:
        s = _stride(scene.camera, opts)
        out = renderer.render(scene.with_camera(subsampled_camera(scene.camera, s)) if s > 1 else scene)
        ref_inst, ref_depth = inst[::s, ::s], depth[::s, ::s]
        if out.instances.shape != ref_inst.shape:
            ctx.bad("instances", f"{side}: re-render is {out.instances.shape}, stored map sampled is {ref_inst.shape}")
            continue
        agree = float(np.mean(out.instances == ref_inst))
        ctx.metric("instances", 1.0 - agree)
        if agree < tol.min_instance_agreement:
            ctx.bad("instances", f"{side}_instances agree with the re-rendered scene on {agree:.1%} of "
                                 f"{'sampled ' if s > 1 else ''}pixels (< {tol.min_instance_agreement:.0%})", 1.0 - agree)
        both = (out.instances == ref_inst) & (ref_inst > 0) & (ref_depth > 0)
        if both.any():
            rendered_mm = out.depth[both].astype(np.float64) * 1000.0
            diff = np.abs(rendered_mm - ref_depth[both])
            off = float(np.mean(diff > tol.depth_mm + 1e-3 * rendered_mm))
            ctx.metric("depth", off)
            if off > tol.max_depth_outliers:
                ctx.bad("depth", f"{side}_depth differs from the re-render by more than {tol.depth_mm} mm on "
                                 f"{off:.1%} of co-visible pixels (median {np.median(diff):.1f} mm)", off)
        elif (ref_depth > 0).any():
            ctx.bad("depth", f"{side}_depth: no pixel where stored and re-rendered surfaces agree", 1.0)
        # masks: exactly the target's pixels of the stored instance map, and of the re-render
        m = mask > 0
        expected = (inst == tid) if has_object else np.zeros_like(m)
        wrong = int(np.count_nonzero(m != expected))
        if wrong:
            what = "must be empty" if not has_object else f"≠ {side}_instances == {tid}"
            ctx.bad("masks", f"{side}_mask {what} on {wrong} px", float(wrong))
        if has_object:
            rm, sm = out.instances == tid, m[::s, ::s]
            union = np.count_nonzero(rm | sm)
            iou = np.count_nonzero(rm & sm) / union if union else 1.0
            ctx.metric("masks", 1.0 - iou)
            if union >= 10 and iou < tol.min_mask_iou:
                ctx.bad("masks", f"{side}_mask overlaps the re-rendered object with IoU {iou:.2f} "
                                 f"(< {tol.min_mask_iou})", 1.0 - iou)
        if rgb is not None and opts.renderer == "gl" and row["provenance"]["renderer"] == "gl":
            ctx.run("images")
            # published images are the renderer's (anti-aliased, PBR) photo where it has one
            again = renderer.photo(scene) if hasattr(renderer, "photo") else out.rgb
            worst_id, mad = worst_region_difference(again, rgb, out.instances)
            ctx.metric("images", mad)
            if mad > tol.image_mean_abs:
                what = "the background" if worst_id == 0 else f"object {worst_id}"
                ctx.bad("images", f"{side}_image differs from the GL re-render by {mad:.2f} levels on average "
                                  f"over {what}", mad)


# ----------------------------------------------------------------------------------------------
# Validity checks, recomputed with the generator's functions
# ----------------------------------------------------------------------------------------------
def _check_validity(row: dict[str, Any], op: str, src: Scene, tgt: Scene, maps: _Maps, renderer,
                    opts: Options, ctx: _Ctx) -> None:
    ctx.run("validity")
    tol = opts.tol
    th = _thresholds(row)
    area = int(row["camera"]["width"]) * int(row["camera"]["height"])
    tid = row["target"]["instance_id"]
    present = bool(row["boxes"]["target_present"])
    spec = operation_spec(op)
    m = Measurements()
    m.changed_pixel_fraction = changed_fraction(maps.src_inst, maps.tgt_inst)
    if "view_overlap" in spec.extra_checks:
        m.view_overlap = view_overlap(maps.src_depth / 1000.0, src.camera.K_array, src.camera.cam_from_world_array,
                                      tgt.camera.cam_from_world_array, maps.tgt_depth / 1000.0)
    else:
        m.visible_fraction_source, m.visible_pixels_source = visibility(
            maps.src_inst, alone_pixels(src, tid, renderer), tid)
        if present:
            m.visible_fraction_target, m.visible_pixels_target = visibility(
                maps.tgt_inst, alone_pixels(tgt, tid, renderer), tid)
            m.min_clearance_m = min_clearance(tgt, tid)
            m.support_margin_m = support_margin(tgt, tid)
        expr = row["target"]["referring_expression"]
        m.ambiguity_margin = resolve_referring(src, row["target"]["category"], expr)[1] if expr else math.inf
        if expr:
            for o in src.movable():
                if o.category == row["target"]["category"] and o.instance_id != tid:
                    frac, px = visibility(maps.src_inst, alone_pixels(src, o.instance_id, renderer), o.instance_id)
                    if frac < th.min_visible_fraction or px < th.min_visible_area * area:
                        m.ambiguity_margin = -1.0
        if "settle_drift_m" in spec.extra_checks and opts.physics:
            from gsi_syn.physics import settle

            m.settle_drift_m = settle(tgt, tid).drift_m
        if "placement_gap" in spec.extra_checks and "placement_gap" in row["checks"]:
            rec = src.get(row["reference"]["instance_id"])
            gaps = placement_vocabulary(src, placement_points(src, rec, src.get(tid), th.min_support_margin_m),
                                        th.min_placement_gap)
            if row["params"]["placement"] not in gaps:
                ctx.bad("validity", f"'{row['params']['placement']}' is not in the receptacle's decidable "
                                    f"placements {sorted(gaps)}")
            m.placement_gap = gaps.get(row["params"]["placement"], math.nan)
    failed = failed_checks(m, area, th, target_present=present, object_edit=spec.names_target,
                           perspective="view_overlap" in spec.extra_checks)
    if failed:
        ctx.bad("validity", f"recomputed checks fail: {', '.join(failed)} ({_describe(m)})", float(len(failed)))
    recorded = row["checks"]
    vf = tol.visible_fraction if opts.renderer != "gl" else 1e-9
    tolerances = {"visible_fraction_source": vf, "visible_fraction_target": vf,
                  "visible_pixels_source": 0, "visible_pixels_target": 0, "min_clearance_m": 1e-6,
                  "support_margin_m": 1e-6, "ambiguity_margin": 1e-6, "changed_pixel_fraction": 1e-9,
                  "view_overlap": tol.view_overlap, "placement_gap": 1e-6,
                  "settle_drift_m": tol.settle_drift_m if opts.physics else math.inf}
    worst = 0.0
    for k, t in tolerances.items():
        mine, theirs = getattr(m, k), recorded.get(k)
        theirs = math.nan if theirs is None else theirs
        if isinstance(mine, float) and (math.isnan(mine) or math.isinf(mine)):
            if k == "settle_drift_m" and not opts.physics:
                continue
            if not (math.isnan(mine) and math.isnan(theirs)) and mine != theirs:
                ctx.bad("validity", f"checks.{k} recorded {theirs}, recomputed {mine}")
            continue
        if isinstance(theirs, float) and (math.isnan(theirs) or math.isinf(theirs)):
            ctx.bad("validity", f"checks.{k} recorded {theirs}, recomputed {mine:.6g}")
            continue
        d = abs(float(mine) - float(theirs))
        if k in ("visible_fraction_source", "visible_fraction_target"):
            worst = max(worst, d)
        if d > t:
            ctx.bad("validity", f"checks.{k} recorded {theirs:.6g}, recomputed {mine:.6g} (tolerance {t:g})", d)
    ctx.metric("validity", worst)


def _describe(m: Measurements) -> str:
    parts = []
    for k, v in dataclasses.asdict(m).items():
        if isinstance(v, float) and math.isnan(v):
            continue
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)
