"""Rule-based edit sampling on a lifted frame (camera frame throughout).

Directions come from the **camera** axes projected onto the object's support plane, with a fixed
sign: right = +camera x, forward (away) = +camera z — never from an object's own box axes, whose
sign is arbitrary (the official generator's axis-sign bug: "left" flipped for objects yawed past
90°). Rotation is about the support normal through the footprint centre; counterclockwise seen
from above is a positive angle about "up".

Every proposal carries Φ3D as ``(R, t, s)`` with ``p' = R (s ⊙ p) + t`` in the source camera
frame (the record's ``transform``), and ``warp`` — the transform target synthesis applies. They
are equal for every sampled edit; only the deliberately broken edits of the filter evaluation
make them differ.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gsi_bench.checks import CheckThresholds
from gsi_bench.geometry import ground_direction_cam
from gsi_bench.operations import (
    OPERATION_SPECS,
    EditParams,
    operation_spec,
    rotation_is_sense_free,
    signed_rotation_deg,
)
from gsi_real.lifting import LiftedFrame, LiftedObject

#: object_relative_place moves the object at least this far (m): a source that already nearly
#: satisfies the relation makes "was it moved?" undecidable (the shared threshold's default).
MIN_PLACE_DISPLACEMENT_M = CheckThresholds.min_place_displacement_m
#: Objects whose box is larger than this (m³) are not moved (as the official generator).
MAX_MOVABLE_VOLUME_M3 = 0.4


@dataclass
class RealProposal:
    operation: str
    params: EditParams
    target_id: int
    R: np.ndarray
    t: np.ndarray
    s: float = 1.0
    reference_id: int = 0
    referring: str = ""
    ambiguity_margin: float = math.inf
    target_present: bool = True
    #: transform used to synthesise the target (R, t, s); equals Φ3D unless deliberately broken
    warp: tuple[np.ndarray, np.ndarray, float] | None = None
    #: name of the deliberate breakage (filter evaluation), empty for sampled edits
    broken: str = ""

    def __post_init__(self) -> None:
        if self.warp is None:
            self.warp = (self.R.copy(), self.t.copy(), float(self.s))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Φ3D applied to camera-frame points ``(N, 3)``."""
        return (self.s * np.asarray(points)) @ self.R.T + self.t

    def apply_warp(self, points: np.ndarray) -> np.ndarray:
        R, t, s = self.warp
        return (s * np.asarray(points)) @ R.T + t


def axis_angle(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotation matrix about unit ``axis`` by ``angle_deg`` (right-handed)."""
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    th = math.radians(angle_deg)
    Kx = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(th) * Kx + (1 - math.cos(th)) * Kx @ Kx


def translation(op: str, params: EditParams, obj: LiftedObject, delta: np.ndarray, **kw) -> RealProposal:
    return RealProposal(op, params, obj.instance_id, np.eye(3), np.asarray(delta, dtype=np.float64), **kw)


def rotation_about_base(obj: LiftedObject, signed_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) rotating about the object's vertical axis through its footprint centre;
    positive = counterclockwise seen from above."""
    R = axis_angle(obj.up, signed_deg)
    b = obj.base_center
    return R, b - R @ b


def editable(obj: LiftedObject, min_pixels: int) -> bool:
    return (not obj.touches_border and obj.mask_pixels >= min_pixels
            and float(np.prod(obj.size)) <= MAX_MOVABLE_VOLUME_M3)


def _unique(lifted: LiftedFrame, categories: dict[int, str], ids: list[int]) -> list[int]:
    counts: dict[str, int] = {}
    for i in categories:
        counts[categories[i]] = counts.get(categories[i], 0) + 1
    return [i for i in ids if counts.get(categories[i], 0) == 1]


def extent_along(obj: LiftedObject, direction: np.ndarray) -> float:
    """Largest projection (m) of the footprint's corners onto ±direction from the base centre."""
    corners = obj.footprint_corners() - obj.base_center
    return float(np.max(np.abs(corners @ direction)))


def referring_values(objs: list[LiftedObject], expression: str) -> np.ndarray:
    """Ranking value per object (largest wins), camera frame, metres: leftmost/rightmost ∓ along
    camera right on the support plane; nearest/farthest ∓ distance of the box centre from the
    camera; highest/lowest ± base height along up."""
    out = []
    for o in objs:
        up = o.up
        if expression in ("leftmost", "rightmost"):
            x = float(o.center @ ground_direction_cam(up, "right"))
            out.append(-x if expression == "leftmost" else x)
        elif expression in ("nearest", "farthest"):
            d = float(np.linalg.norm(o.center))
            out.append(-d if expression == "nearest" else d)
        elif expression in ("highest", "lowest"):
            z = float(o.base_center @ up)
            out.append(z if expression == "highest" else -z)
        else:
            raise ValueError(f"unknown referring expression {expression!r}")
    return np.asarray(out)


def resolve_referring(group: list[LiftedObject], expression: str) -> tuple[int, float]:
    """(instance id, margin m) picked by ``expression`` within a same-category group."""
    if len(group) == 1:
        return group[0].instance_id, math.inf
    vals = referring_values(group, expression)
    order = np.argsort(-vals, kind="stable")
    return group[int(order[0])].instance_id, float(vals[order[0]] - vals[order[1]])


def propose(op: str, lifted: LiftedFrame, categories: dict[int, str], rng: np.random.Generator,
            min_pixels: int = 60, all_ids: list[int] | None = None,
            min_displacement_m: float = MIN_PLACE_DISPLACEMENT_M) -> RealProposal | None:
    """One raw proposal for ``op`` (geometric rules only; the filters judge it afterwards), by the
    proposer registered for it in :data:`REAL_PROPOSERS`. ``categories``: category of every
    movable instance in the frame (lifted or not), so that referring expressions and uniqueness
    count objects that could not be lifted. ``min_displacement_m``: floor on how far
    object_relative_place moves the object."""
    entry = REAL_PROPOSERS.get(op)
    if entry is None:
        raise ValueError(f"operation {op!r} is not supported on single real frames")
    objs = lifted.objects
    ok = [i for i, o in objs.items() if editable(o, min_pixels)]
    ctx = _RealContext(lifted, categories, rng, ok, min_displacement_m)
    if not entry.picks_target:
        return entry.propose(ctx, None)
    pool = _unique(lifted, categories, ok)
    if not pool:
        return None
    return entry.propose(ctx, objs[pool[int(rng.integers(len(pool)))]])


@dataclass
class _RealContext:
    """What a real proposer sees: the lifted frame, every instance's category, the random stream,
    the editable ids and the displacement floor."""

    lifted: LiftedFrame
    categories: dict[int, str]
    rng: np.random.Generator
    editable: list[int]
    min_displacement_m: float


def _propose_camera_relative_move(ctx: _RealContext, obj: LiftedObject) -> RealProposal:
    spec = operation_spec("camera_relative_move")
    d = str(ctx.rng.choice(spec.choices["direction"]))
    lo, hi = spec.whole_cm_range()
    cm = int(ctx.rng.integers(lo, hi + 1))
    return translation("camera_relative_move", EditParams(direction=d, distance_m=cm / 100), obj,
                       ground_direction_cam(obj.up, d) * cm / 100)


def _propose_rotate(ctx: _RealContext, obj: LiftedObject) -> RealProposal:
    """Real objects carry no symmetry label: only 180° is sense-free (stated without a sense)."""
    spec = operation_spec("rotate")
    angle = float(ctx.rng.choice(spec.choices["angle_deg"]))
    sense = str(ctx.rng.choice(spec.choices["rotation_sense"]))
    if rotation_is_sense_free(angle):
        sense = ""
    R, t = rotation_about_base(obj, signed_rotation_deg(angle, sense))
    return RealProposal("rotate", EditParams(angle_deg=angle, rotation_sense=sense), obj.instance_id, R, t)


def _propose_scale(ctx: _RealContext, obj: LiftedObject) -> RealProposal:
    f = float(ctx.rng.choice(operation_spec("scale").choices["scale_factor"]))
    b = obj.base_center
    return RealProposal("scale", EditParams(scale_factor=f), obj.instance_id, np.eye(3), b - f * b, s=f)


def _propose_object_relative_place(ctx: _RealContext, obj: LiftedObject) -> RealProposal | None:
    spec = operation_spec("object_relative_place")
    objs, categories, up = ctx.lifted.objects, ctx.categories, obj.up
    anchors = [objs[i] for i in _unique(ctx.lifted, categories, list(objs))
               if i != obj.instance_id and categories[i] != categories[obj.instance_id]
               and not objs[i].touches_border
               and abs(float(objs[i].base_center @ up - obj.base_center @ up)) < 0.03]
    if not anchors:
        return None
    anchor = anchors[int(ctx.rng.integers(len(anchors)))]
    rel = str(ctx.rng.choice(spec.choices["relation"]))
    v = ground_direction_cam(up, spec.directions[rel])
    gap = spec.sampling["extra_gap_cm"]
    cm = int(np.ceil((extent_along(obj, v) + extent_along(anchor, v)) * 100)) + \
        int(ctx.rng.integers(gap[0], gap[1] + 1))
    new_base = anchor.base_center + v * cm / 100
    delta = new_base - obj.base_center
    delta = delta - (delta @ up) * up  # stays on its own support height
    if float(np.linalg.norm(delta)) < ctx.min_displacement_m:
        return None
    return translation("object_relative_place", EditParams(relation=rel, distance_m=cm / 100), obj, delta,
                       reference_id=anchor.instance_id)


def _propose_remove(ctx: _RealContext, _target: None = None) -> RealProposal | None:
    objs, categories, rng, ok = ctx.lifted.objects, ctx.categories, ctx.rng, ctx.editable
    if not ok:
        return None
    tid = ok[int(rng.integers(len(ok)))]
    cat = categories[tid]
    same = [i for i in categories if categories[i] == cat]
    expression, margin = "", math.inf
    if len(same) > 1:
        if any(i not in objs for i in same):
            return None  # a same-category instance could not be lifted: the expression is unjudgeable
        group = [objs[i] for i in same]
        best = None
        for e in operation_spec("remove").sampling["referring"]:
            winner, m = resolve_referring(group, e)
            if winner == tid and (best is None or m > best[1]):
                best = (e, m)
        if best is None:
            return None
        expression, margin = best
    return RealProposal("remove", EditParams(), tid, np.eye(3), np.zeros(3), referring=expression,
                        ambiguity_margin=margin, target_present=False)


@dataclass(frozen=True)
class RealOperation:
    """How GSI-Real proposes one operation: ``propose(ctx, target)``; ``picks_target``: the
    target is first drawn among the editable, unique-category lifted objects (else None)."""

    propose: Callable[[_RealContext, "LiftedObject | None"], "RealProposal | None"]
    picks_target: bool = True


#: operation → its GSI-Real proposer (the operations whose spec lists the ``real`` subset)
REAL_PROPOSERS: dict[str, RealOperation] = {
    "camera_relative_move": RealOperation(_propose_camera_relative_move),
    "rotate": RealOperation(_propose_rotate),
    "scale": RealOperation(_propose_scale),
    "object_relative_place": RealOperation(_propose_object_relative_place),
    "remove": RealOperation(_propose_remove, picks_target=False),
}
assert all("real" in OPERATION_SPECS[op].subsets for op in REAL_PROPOSERS)


# ----------------------------------------------------------------------------------------------
# Deliberately broken edits (filter evaluation)
# ----------------------------------------------------------------------------------------------
def break_warp(p: RealProposal, obj: LiftedObject, rng: np.random.Generator) -> RealProposal | None:
    """The target is synthesised with a different transform than the recorded Φ3D: the opposite
    direction for translations, a 90° larger angle the other way for rotations."""
    if p.operation in ("camera_relative_move", "object_relative_place"):
        warp = (np.eye(3), -p.t, 1.0)
    elif p.operation == "rotate":
        signed = signed_rotation_deg(p.params.angle_deg, p.params.rotation_sense)
        R, t = rotation_about_base(obj, -signed - 90.0 * np.sign(signed))
        warp = (R, t, 1.0)
    else:
        return None
    return dataclasses.replace(p, warp=warp, broken="wrong_warp")


def break_collision(lifted: LiftedFrame, obj: LiftedObject, rng: np.random.Generator) -> RealProposal | None:
    """Move the object onto another lifted object's footprint (same support height)."""
    others = [o for i, o in lifted.objects.items() if i != obj.instance_id
              and abs(float(o.base_center @ obj.up - obj.base_center @ obj.up)) < 0.03]
    if not others:
        return None
    other = others[int(rng.integers(len(others)))]
    delta = other.base_center - obj.base_center
    delta = delta - (delta @ obj.up) * obj.up
    d = float(np.linalg.norm(delta))
    right = ground_direction_cam(obj.up, "right")
    direction = "right" if delta @ right >= 0 else "left"
    p = translation("camera_relative_move", EditParams(direction=direction, distance_m=round(d, 2)), obj, delta)
    p.broken = "collision"
    return p


def break_out_of_frame(obj: LiftedObject, rng: np.random.Generator) -> RealProposal:
    """Move sideways far enough to leave the image."""
    d = str(rng.choice(("left", "right")))
    z = float(obj.center[2])
    dist = round(max(0.6, 0.9 * z), 2)
    p = translation("camera_relative_move", EditParams(direction=d, distance_m=dist), obj,
                    ground_direction_cam(obj.up, d) * dist)
    p.broken = "out_of_frame"
    return p


def break_off_support(obj: LiftedObject, rng: np.random.Generator) -> RealProposal:
    """Move far forward or backward (beyond the furniture top: the object would float)."""
    d = str(rng.choice(("forward", "backward")))
    dist = 0.7
    p = translation("camera_relative_move", EditParams(direction=d, distance_m=dist), obj,
                    ground_direction_cam(obj.up, d) * dist)
    p.broken = "off_support"
    return p
