"""3D-consistency filters of a synthesised edit: measurements, thresholds, decision.

* **pose** — re-lift the object from the synthesised target (its depth and mask, with the same
  support plane) and compare with Φ3D applied to the source box: centre distance, yaw (modulo
  90°, for objects whose footprint is not square) and the median distance from the target's
  object points to Φ3D(source points) (catches a warp that disagrees with the recorded Φ3D).
* **holes** — inpainted background and unfilled silhouette fractions.
* **visibility** — visible fraction / pixels in source and target (``gsi_bench.checks.visibility``
  with the occluder-free splat as the "alone" render), and the fraction of warped points that
  stay inside the image.
* **collision** — footprint gap to every other lifted object on the same support
  (``gsi_bench.geometry.signed_gap``) and scene depth points inside the moved box.
* **support** — points sampled on the moved footprint, projected into the source view: the
  surface seen there must be the support plane (or something in front of it), not something
  behind it (off the edge: the floor far below).
* **ambiguity** — the referring expression's margin; **changed** — instance-changed pixel fraction.

Thresholds, measurements and the decision extend the shared ones of :mod:`gsi_bench.checks`
(:class:`RealThresholds` is a :class:`~gsi_bench.checks.CheckThresholds`, :class:`RealMeasurements`
is the record's :class:`~gsi_bench.schema.Checks` plus the 3D-consistency quantities, and
:func:`failed_filters` is :func:`~gsi_bench.checks.failed_checks` plus the filters above).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from gsi_bench.checks import CheckThresholds, changed_fraction, failed_checks, visibility
from gsi_bench.geometry import backproject, footprint_polygon, signed_gap
from gsi_bench.hashing import canonical_json
from gsi_bench.schema import Checks
from gsi_real.edits import RealProposal
from gsi_real.lifting import LiftConfig, LiftedFrame, LiftedObject, lift_object, yaw_error_deg
from gsi_real.synthesis import Synthesis

#: Shared thresholds GSI-Real does not apply (no support-margin geometry, perspective edits,
#: physics settling or receptacle placements on real captures; GSI-Syn's removal rules, which
#: GSI-Real's own remove sampler does not follow): left out of the recorded ``checks.thresholds``.
_NOT_APPLIED = ("min_support_margin_m", "min_view_overlap", "max_settle_drift_m", "min_placement_gap",
                "min_referring_gap", "min_remove_instances")


@dataclass(frozen=True)
class RealThresholds(CheckThresholds):
    """The shared :class:`~gsi_bench.checks.CheckThresholds` (visibility, ambiguity, changed
    pixels; ``min_clearance_m`` is the collision gap, 0 here) plus the 3D-consistency filters."""

    min_clearance_m: float = 0.0
    max_center_error_m: float = 0.03
    max_center_error_rel: float = 0.03  # + this fraction of the object's distance
    max_yaw_error_deg: float = 12.0
    max_point_error_m: float = 0.015
    max_inpainted_fraction: float = 0.08
    max_object_hole_fraction: float = 0.25
    min_in_frame_fraction: float = 0.98
    max_intruding_points: int = 8
    min_support_fraction: float = 0.9

    def to_json(self) -> str:
        """Canonical JSON of the thresholds GSI-Real applies (what ``checks.thresholds`` stores)."""
        return canonical_json({k: v for k, v in asdict(self).items() if k not in _NOT_APPLIED})


@dataclass
class RealMeasurements(Checks):
    """The record's :class:`~gsi_bench.schema.Checks` plus the 3D-consistency quantities.

    ``visible_fraction_source`` is 0 or 1 on real data (the unoccluded extent is unknown: 0 when
    the mask touches the image border); ``min_clearance_m`` is ``inf`` when no other object
    stands on the same support.
    """

    min_clearance_m: float = math.inf
    center_error_m: float = math.nan
    yaw_error_deg: float = math.nan
    point_error_m: float = math.nan
    inpainted_fraction: float = math.nan
    object_hole_fraction: float = math.nan
    in_frame_fraction: float = math.nan
    intruding_points: int = 0
    support_fraction: float = math.nan
    extra: dict = field(default_factory=dict)

    def filter_values(self) -> dict:
        """The measured values GSI-Real reports (the shared ones it measures and its own),
        without ``extra`` and the shared fields it never measures."""
        skip = {"extra", "thresholds", "view_overlap", "settle_drift_m", "placement_gap"}
        return {k: v for k, v in asdict(self).items() if k not in skip}


#: Order of the filter names :func:`failed_filters` reports.
_FILTER_ORDER = ("visible_source", "ambiguous", "unchanged", "holes", "out_of_frame", "visible_target",
                 "pose", "collision", "support", "placement", "unstable", "view_overlap", "placement_gap")


def _plane_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e1 = np.array([1.0, 0, 0]) - up[0] * up
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(up, e1)


def _footprint_polygon(corners: np.ndarray, up: np.ndarray):
    return footprint_polygon(corners, *_plane_basis(up))


def moved_box(obj: LiftedObject, p: RealProposal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, size, rotation) of the object's box after Φ3D (camera frame)."""
    return p.apply(obj.center[None])[0], obj.size * p.s, p.R @ obj.rotation


def measure(frame, lifted: LiftedFrame, p: RealProposal, syn: Synthesis, th: RealThresholds,
            rng: np.random.Generator, cfg: LiftConfig = LiftConfig()) -> RealMeasurements:
    obj = lifted.objects[p.target_id]
    iid = p.target_id
    m = RealMeasurements(ambiguity_margin=p.ambiguity_margin, inpainted_fraction=syn.inpainted_fraction,
                         object_hole_fraction=syn.object_hole_fraction, in_frame_fraction=syn.in_frame_fraction)
    m.changed_pixel_fraction = changed_fraction(frame.instances, syn.instances)
    # source visibility: the lifted mask is the visible part; "alone" = the mask grown over its
    # occluders is unknown for real data, so use the pixel count and border contact
    m.visible_pixels_source = int(obj.mask_pixels)
    m.visible_fraction_source = 0.0 if obj.touches_border else 1.0
    if not p.target_present:
        return m
    alone = np.where(syn.alone_mask, iid, 0).astype(np.uint16)
    m.visible_fraction_target, m.visible_pixels_target = visibility(syn.instances, alone, iid)
    # ---- pose re-estimation in the target
    pts_t = backproject(syn.depth, frame.K)
    valid_t = syn.depth > 0
    relift = lift_object(pts_t, valid_t, syn.instances, iid, obj.up, rng, cfg, category=obj.category)
    c_exp, s_exp, r_exp = moved_box(obj, p)
    if relift is not None:
        m.center_error_m = float(np.linalg.norm(relift.center - c_exp))
        fp = np.sort(s_exp[:2])
        if fp[1] > 1.25 * fp[0]:  # yaw is observable only for elongated footprints
            m.yaw_error_deg = yaw_error_deg(relift.rotation, r_exp, period=90.0)
        else:
            m.yaw_error_deg = 0.0
        from scipy.spatial import cKDTree

        expected = p.apply(obj.points)
        dist, _ = cKDTree(expected).query(relift.points, k=1)
        m.point_error_m = float(np.median(dist))
    # ---- collision: footprint gaps to other objects on the same support, intruding scene points
    corners = p.apply(obj.footprint_corners())
    poly = _footprint_polygon(corners, obj.up)
    gaps = []
    for oid, o in lifted.objects.items():
        if oid == iid or abs(float(o.base_center @ obj.up - corners[0] @ obj.up)) > 0.04:
            continue
        gaps.append(signed_gap(poly, _footprint_polygon(o.footprint_corners(), obj.up)))
    m.min_clearance_m = min(gaps) if gaps else math.inf
    m.intruding_points = _intruding_points(frame, lifted, obj, p)
    # ---- support under the moved footprint
    m.support_fraction = _support_fraction(frame, lifted, obj, corners)
    m.support_margin_m = _support_margin(frame, lifted, obj, corners, m.support_fraction, th.min_support_fraction)
    return m


def _support_margin(frame, lifted: LiftedFrame, obj: LiftedObject, corners: np.ndarray, fraction: float,
                    min_fraction: float, step: float = 0.01, steps: int = 10) -> float:
    """A support-margin estimate (m) in the sense of ``checks.support_margin_m``: how far the
    moved footprint can grow (1 cm steps, up to 10 cm) and still be supported; when it is not
    supported as is, minus the unsupported share times the footprint's square-root area."""
    if fraction < min_fraction:
        side = float(np.sqrt(np.linalg.norm(corners[1] - corners[0]) * np.linalg.norm(corners[3] - corners[0])))
        return -(1.0 - fraction) * side
    centre = corners.mean(axis=0)
    margin = 0.0
    for k in range(1, steps + 1):
        grown = corners.copy()
        d = k * step
        for i in range(4):
            out = corners[i] - centre
            out_xy = out / max(np.linalg.norm(out), 1e-9)
            grown[i] = corners[i] + out_xy * d * np.sqrt(2.0)
        if _support_fraction(frame, lifted, obj, grown) < min_fraction:
            break
        margin = d
    return margin


def _intruding_points(frame, lifted: LiftedFrame, obj: LiftedObject, p: RealProposal, shrink: float = 0.01) -> int:
    c, s, r = moved_box(obj, p)
    pts = lifted.points
    sel = lifted.valid & (frame.instances != obj.instance_id)
    q = (pts[sel] - c) @ r  # box coordinates
    half = np.maximum(s / 2 - shrink, 0.002)
    # above the support plane by more than 1.5 cm: the support itself never intrudes
    inside = np.all(np.abs(q) <= half, axis=1) & (q[:, 2] > -s[2] / 2 + 0.015)
    return int(inside.sum())


def _support_fraction(frame, lifted: LiftedFrame, obj: LiftedObject, corners: np.ndarray, n: int = 7,
                      tol: float = 0.02) -> float:
    """Fraction of the moved footprint's sample points whose source pixel sees the support
    plane or something in front of it (among samples that project inside the image)."""
    a = np.linspace(0.1, 0.9, n)
    p0, p1, p3 = corners[0], corners[1], corners[3]
    samples = np.array([p0 + u * (p1 - p0) + v * (p3 - p0) for u in a for v in a])
    K = frame.K
    h, w = frame.depth.shape
    z = samples[:, 2]
    ok = z > 0.05
    u = np.rint(samples[:, 0] / np.where(ok, z, 1) * K[0, 0] + K[0, 2]).astype(int)
    v = np.rint(samples[:, 1] / np.where(ok, z, 1) * K[1, 1] + K[1, 2]).astype(int)
    ok &= (u >= 0) & (u < w) & (v >= 0) & (v < h)
    if not ok.any():
        return 0.0
    seen = frame.depth[v[ok], u[ok]].astype(np.float64)
    inst = frame.instances[v[ok], u[ok]]
    expect = z[ok]
    has = seen > 0
    supported = ~has | (seen <= expect + tol) | (inst == obj.instance_id)
    return float(supported.mean())


def failed_filters(m: RealMeasurements, p: RealProposal, image_area: int, th: RealThresholds,
                   distance_m: float) -> list[str]:
    """Names of the failed filters (empty = accepted): the shared
    :func:`~gsi_bench.checks.failed_checks` (visibility, ambiguity, changed pixels; placement is
    judged by the collision and support filters instead) plus holes, out-of-frame, pose,
    collision and support."""
    failed = failed_checks(m, image_area, th, target_present=p.target_present, placement=False)
    if m.inpainted_fraction > th.max_inpainted_fraction:
        failed.append("holes")
    if p.target_present:
        if m.object_hole_fraction > th.max_object_hole_fraction:
            failed.append("holes")
        if not (m.in_frame_fraction >= th.min_in_frame_fraction):
            failed.append("out_of_frame")
        tol = th.max_center_error_m + th.max_center_error_rel * distance_m
        if not (m.center_error_m <= tol and m.yaw_error_deg <= th.max_yaw_error_deg
                and m.point_error_m <= th.max_point_error_m):
            failed.append("pose")
        if m.min_clearance_m < th.min_clearance_m or m.intruding_points > th.max_intruding_points:
            failed.append("collision")
        if not (m.support_fraction >= th.min_support_fraction):
            failed.append("support")
    return sorted(set(failed), key=_FILTER_ORDER.index)
