"""Default-protocol scores from a realised edit (see :mod:`validation.evaluator.synthesis`).

Every function here is documented with its formula; the constants are module-level so that a
report can cite them (``SCORING_CONSTANTS`` is written into ``summary.json``).

**IC** (binary, direction-aware), per operation:

* ``camera_relative_move``: realised ground displacement ``t`` vs instructed ``t*``: the angle
  between them ≤ 45° and ``0.5 ≤ |t|/|t*| ≤ 2``;
* ``object_relative_place``: the object moved (``|t| ≥ 0.5·|t*|``), ends on the instructed side of
  the anchor (angle between ``p − anchor`` and the relation direction ≤ 45°) and its distance to
  the anchor is within ±50 % of the instructed one;
* ``receptacle_place``: the realised base point lies inside the receptacle's support region and
  is closer to the instructed placement point than to the other four placements' points;
* ``rotate``: realised signed yaw change within ``min(θ/2, 20°)`` of the instructed one (modulo the
  object's symmetry period; a wrong sense is therefore always a failure for θ < 180°);
* ``scale``: ``0.5 ≤ ln s / ln s* ≤ 2`` (right sense, at least half and at most double the change
  in log space);
* ``remove``: the named instance is gone and every other instance of its category is still there;
* ``perspective``: realised camera motion has the instructed kind (move / yaw / pitch) and
  direction, and ``0.5 ≤ amount/amount* ≤ 2``.
  An object that vanished (the "absent" hypothesis won) fails every object operation. A realised
  scale or camera motion at the end of the searched range (×0.2–×5; 1 m, 60°) fails: a value
  beyond the range is never clamped into a pass.

**SA** (continuous, 0–1), a Gaussian of a normalised error ``SA = exp(−(e/σ)²)``:

* translations: ``e = ‖t − t*‖`` (3D, m), ``σ = 0.5·max(|t*|, 5 cm)`` (e = 10 % → 0.96, 25 % → 0.78);
* rotate: geodesic yaw error ``e`` (deg, modulo symmetry), ``σ = 30°`` (10° → 0.90);
* scale: ``e = |ln(s/s*)|``, ``σ = 0.3`` (s = 1.2·s* → 0.70);
* remove: 1 when IC holds, else the fraction of correct presence decisions × 0.5;
* perspective: ``exp(−(e_t/σ_t)²)·exp(−(e_r/σ_r)²)`` with the camera translation error ``e_t``
  (m), ``σ_t = 0.5·max(|t*|, 0.1 m)``, the geodesic rotation error ``e_r`` (deg),
  ``σ_r = 0.5·max(θ*, 10°)``.

Before EL and AC (and before localisation) the prediction is aligned to the source image and
tone-normalised on the background (:mod:`validation.evaluator.alignment`; camera edits are not
aligned): a correct edit regenerated a few pixels off, slightly zoomed or re-toned is not
penalised for it. The raw values on the unaligned prediction are kept in ``per_sample.jsonl``
as ``el_raw`` / ``ac_raw``.

**EL** (edit locality: how much changed that should not have) =
``100 · (½·SSIM + ½·min(PSNR, 40 dB)/40)`` of the aligned, normalised prediction against the
ground-truth target outside the union of the source and target object masks dilated by 3 % of the
image side (shadows), restricted to the pixels the alignment covers; whole image for camera edits.

**AC** (appearance consistency) = ``100 · (½·SSIM + ½·colour)`` on the object's region: the
aligned, normalised prediction against the object rendered at its *realised* pose (its true
appearance, wherever the model put it); removal: the source-mask region against the ground-truth
target (inpainting quality); perspective: the whole image against the render from the realised
camera. 0 when the object vanished. SSIM is on luma (each window's mean and contrast normalised:
the object's structure and texture); ``colour = exp(−(ΔE*ab/20)²)`` of the median CIELAB colours
of the region (:func:`validation.evaluator.imageops.object_colour_similarity`). AC asks whether
the object is still *the same object* (category, texture, shape, colour); a global re-toning of
the whole image is not an appearance change. The background-fitted tone normalisation removes
global exposure / contrast exactly, but cannot undo a global hue / saturation change on colours
the background does not contain (no transform fitted elsewhere can: the residual on a saturated
object is ΔE 1–6), so colour is scored on a perceptual scale where such residuals cost little
and a change of colour name (ΔE ≳ 30) most of the colour half.
"""

from __future__ import annotations

import math

import numpy as np

from gsi_bench.geometry import ground_direction
from gsi_bench.operations import symmetry_period_deg
from validation.evaluator.synthesis import _wrap

from validation.evaluator.metrics import (EL_PSNR_CAP_DB, MOVE_ANGLE_TOL_DEG, RATIO_RANGE, ROTATE_TOL_MAX_DEG,
                                          SIGMA_LOG_SCALE, SIGMA_ROT_DEG, gaussian_score, move_decision,
                                          rotation_decision, scale_decision)
from validation.evaluator.metrics import angle_deg as _angle_deg
MASK_DILATION = 0.03

SCORING_CONSTANTS = {
    "move_angle_tol_deg": MOVE_ANGLE_TOL_DEG, "ratio_range": list(RATIO_RANGE),
    "sigma_translation": "0.5*max(|t*|, 0.05 m)", "sigma_rotation_deg": SIGMA_ROT_DEG,
    "sigma_log_scale": SIGMA_LOG_SCALE, "el_psnr_cap_db": EL_PSNR_CAP_DB,
    "mask_dilation_fraction": MASK_DILATION, "rotate_tolerance_deg": "min(theta/2, 20)",
}


def score_translation(record, src_scene, tgt_scene, realised) -> dict:
    """IC/SA and the realised quantities for the three translation operations."""
    tid = record.target.instance_id
    C = src_scene.camera.cam_from_world_array
    p0 = np.asarray(src_scene.get(tid).position)
    pg = np.asarray(tgt_scene.get(tid).position)
    t_gt = C[:3, :3] @ (pg - p0)
    if realised.obj is None:
        return {"ic": 0, "sa": 0.0, "reason": "object missing in the prediction (absent hypothesis won)",
                "realised": {"absent": True}}
    p = np.asarray(realised.obj.position)
    t = C[:3, :3] @ (p - p0)
    err = float(np.linalg.norm(t - t_gt))
    d_gt = float(np.linalg.norm(t_gt))
    sa = gaussian_score(err, 0.5 * max(d_gt, 0.05))
    info = {"translation_m": [round(float(x), 4) for x in t], "error_m": round(err, 4)}
    op = record.operation
    if op == "camera_relative_move":
        ang = _angle_deg(t, t_gt)
        ratio = float(np.linalg.norm(t)) / max(d_gt, 1e-9)
        ic = move_decision(t, t_gt).ic
        info.update(angle_deg=round(ang, 2), ratio=round(ratio, 3))
        reason = "moved the instructed way" if ic else (
            f"moved {ang:.0f}° off the instructed direction" if ang > MOVE_ANGLE_TOL_DEG else f"distance ratio {ratio:.2f} outside [0.5, 2]")
    elif op == "object_relative_place":
        from gsi_bench.operations import RELATION_DIRECTION

        anchor = np.asarray(src_scene.get(record.reference.instance_id).position)
        v = ground_direction(C, RELATION_DIRECTION[record.params.relation])
        rel = (p - anchor)
        rel[2] = 0.0
        ang = _angle_deg(rel, v)
        moved = float(np.linalg.norm(t)) >= 0.5 * d_gt
        d_anchor = float(np.linalg.norm(rel))
        d_inst = float(np.linalg.norm((pg - anchor)[:2]))
        ok_dist = abs(d_anchor - d_inst) <= 0.5 * d_inst
        ic = int(moved and ang <= MOVE_ANGLE_TOL_DEG and ok_dist)
        info.update(side_angle_deg=round(ang, 2), anchor_distance_m=round(d_anchor, 4))
        reason = ("placed on the instructed side of the anchor" if ic else
                  "object did not move enough" if not moved else
                  f"ended {ang:.0f}° off the instructed side" if ang > MOVE_ANGLE_TOL_DEG else
                  "distance to the anchor off by more than 50 %")
    else:  # receptacle_place: put there, and actually moved (an object already at the spot is not "put")
        ic, reason, extra = _receptacle_ic(record, src_scene, p)
        if ic and float(np.linalg.norm(t)) < 0.5 * d_gt:
            ic, reason = 0, "object did not move enough"
        info.update(extra)
    return {"ic": ic, "sa": sa, "reason": reason, "realised": info}


def _receptacle_ic(record, src_scene, p: np.ndarray) -> tuple[int, str, dict]:
    """IC of a receptacle placement: the object ended on the receptacle, nearest to the instructed
    placement among the placements the receptacle can be named with (the generator's vocabulary:
    points at least ``min_placement_gap`` apart in the image)."""
    from shapely.geometry import Point

    from gsi_syn.edits import placement_points, placement_vocabulary
    from gsi_syn.placement import support_region

    rec_obj = src_scene.get(record.reference.instance_id)
    region, height = support_region(rec_obj)
    target = src_scene.get(record.target.instance_id)
    inside = region.buffer(0.005).contains(Point(p[0], p[1])) and abs(p[2] - height) < 0.03
    th = _recorded_thresholds(record)
    # the generator's own margin, so the instructed point is exactly where the edit put the object
    points = placement_points(src_scene, rec_obj, target, th.min_support_margin_m) or \
        placement_points(src_scene, rec_obj, target, 0.0)
    vocabulary = placement_vocabulary(src_scene, points, th.min_placement_gap)
    if record.params.placement not in vocabulary:  # data generated before vocabularies existed
        vocabulary = dict.fromkeys(points)
    nearest = min(vocabulary, key=lambda k: float(np.linalg.norm(points[k][:2] - p[:2]))) if vocabulary else ""
    ic = int(inside and nearest == record.params.placement)
    reason = ("placed in the instructed part of the receptacle" if ic else
              "not on the instructed receptacle" if not inside else
              f"on the receptacle but nearest to its {nearest!r} placement")
    return ic, reason, {"inside_receptacle": bool(inside), "nearest_placement": nearest}


def _recorded_thresholds(record):
    """The record's ``checks.thresholds`` as :class:`gsi_bench.checks.CheckThresholds`
    (:meth:`~gsi_bench.checks.CheckThresholds.from_json`, unknown keys ignored); the defaults when
    the record states none or they cannot be read."""
    from gsi_bench.checks import CheckThresholds

    try:
        return CheckThresholds.from_json(record.checks.thresholds or "{}", strict=False)
    except (ValueError, TypeError, AttributeError):
        return CheckThresholds()


def symmetry_period(asset_id: str) -> float:
    """Yaw period (deg) of an asset's shape: 360 without symmetry (also for unknown assets), 180 /
    90 for 2- / 4-fold symmetry, 0 for a rotationally symmetric shape (every yaw looks the same)."""
    try:
        from gsi_syn.assets import get_library

        return symmetry_period_deg(get_library().entry(asset_id).symmetry)
    except Exception:  # noqa: BLE001 - unknown assets: no symmetry assumed
        return 360.0


def score_rotation(record, src_scene, tgt_scene, realised) -> dict:
    tid = record.target.instance_id
    obj0 = src_scene.get(tid)
    gt = _wrap(tgt_scene.get(tid).yaw_deg - obj0.yaw_deg)
    if realised.obj is None:
        return {"ic": 0, "sa": 0.0, "reason": "object missing in the prediction", "realised": {"absent": True}}
    delta = _wrap(realised.obj.yaw_deg - obj0.yaw_deg)
    period = symmetry_period(obj0.asset_id)
    dec = rotation_decision(delta, gt, period)
    ic, sa, err = dec.ic, dec.sa, dec.error
    tol = min(abs(gt) / 2, ROTATE_TOL_MAX_DEG)
    # sense: + = counterclockwise seen from above (world z up)
    reason = ("rotated the instructed way" if ic else
              "not rotated" if abs(delta) < 5 else
              f"rotation off by {err:.0f}° (tolerance {tol:.0f}°)")
    return {"ic": ic, "sa": sa, "reason": reason,
            "realised": {"yaw_change_deg": round(delta, 2), "error_deg": round(err, 2)}}


def score_scale(record, src_scene, tgt_scene, realised) -> dict:
    tid = record.target.instance_id
    s0 = src_scene.get(tid).scale
    s_gt = tgt_scene.get(tid).scale / s0
    if realised.obj is None:
        return {"ic": 0, "sa": 0.0, "reason": "object missing in the prediction", "realised": {"absent": True}}
    s = realised.obj.scale / s0
    dec = scale_decision(s, s_gt)
    ic, err = dec.ic, dec.error
    ratio = math.log(s) / math.log(s_gt)
    reason = ("scaled the instructed way" if ic else
              "size unchanged" if abs(math.log(s)) < 0.05 else
              "scaled the wrong way" if ratio < 0 else f"scaled ×{s:.2f} instead of ×{s_gt:.2f}")
    if getattr(realised, "out_of_range", False):
        ic, reason = 0, f"scaled to the end of the searched range (×{s:.2f}): beyond the range is never a pass"
    return {"ic": ic, "sa": dec.sa, "reason": reason,
            "realised": {"scale_factor": round(s, 4), "log_error": round(err, 4),
                         "out_of_range": bool(getattr(realised, "out_of_range", False))}}


def score_remove(record, src_scene, realised) -> dict:
    tid = record.target.instance_id
    present = realised.present
    removed = not present.get(tid, True)
    others = [i for i in present if i != tid]
    others_kept = sum(present[i] for i in others)
    ic = int(removed and others_kept == len(others))
    correct = int(removed) + others_kept
    sa = 1.0 if ic else 0.5 * correct / max(1, len(present))
    reason = ("the named instance was removed, the others kept" if ic else
              "the named instance is still there" if not removed else
              f"{len(others) - others_kept} other instance(s) of the category also removed")
    return {"ic": ic, "sa": sa, "reason": reason,
            "realised": {"removed": bool(removed), "other_instances_kept": int(others_kept),
                         "other_instances": len(others)}}


def camera_motion_of(record) -> tuple[str, str, float]:
    p = record.params
    if p.camera_motion == "move":
        return ("move", p.direction, float(p.distance_m))
    return (p.camera_motion, p.rotation_sense, float(p.angle_deg))


def score_perspective(record, realised) -> dict:
    from gsi_bench.geometry import rotation_angle_deg

    gt = camera_motion_of(record)
    cur = realised.camera_motion
    C0 = np.asarray(record.source_cam_from_world, dtype=np.float64)
    G = np.asarray(record.target_cam_from_world, dtype=np.float64) @ np.linalg.inv(C0)
    D = realised.cam_from_world @ np.linalg.inv(C0)
    # camera centres in the source camera frame
    c_gt = -G[:3, :3].T @ G[:3, 3]
    c = -D[:3, :3].T @ D[:3, 3]
    e_t = float(np.linalg.norm(c - c_gt))
    e_r = float(rotation_angle_deg(D[:3, :3] @ G[:3, :3].T))
    t_gt = float(np.linalg.norm(c_gt))
    th_gt = float(rotation_angle_deg(G[:3, :3]))
    sa = gaussian_score(e_t, 0.5 * max(t_gt, 0.1)) * gaussian_score(e_r, 0.5 * max(th_gt, 10.0))
    ratio = cur[2] / gt[2] if gt[2] else 0.0
    ic = int(cur[0] == gt[0] and cur[1] == gt[1] and RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1])
    reason = ("camera moved the instructed way" if ic else
              "camera unchanged" if cur[0] == "none" else
              f"camera {cur[0]} {cur[1]} {cur[2]:g} instead of {gt[0]} {gt[1]} {gt[2]:g}")
    if getattr(realised, "out_of_range", False):
        ic, reason = 0, "camera motion at the end of the searched range (1 m / 60°): beyond the range is never a pass"
    return {"ic": ic, "sa": sa, "reason": reason,
            "realised": {"motion": cur[0], "direction": cur[1], "amount": round(float(cur[2]), 4),
                         "translation_error_m": round(e_t, 4), "rotation_error_deg": round(e_r, 3)}}
