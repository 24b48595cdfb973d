"""Default protocol on GSI-Real pipeline records, without model weights.

A GSI-Real record carries what is needed to re-synthesise its target: the source image and metric
depth (mm), the object's mask, its support plane (``scene.source.lifting.support_plane``), the
intrinsics and the ground-truth transform Φ3D = (R, t, s) (``p ↦ R·(s·p) + t``, source camera
frame). Localisation is analysis by synthesis with the pipeline's own synthesis
(:func:`gsi_real.synthesis.synthesize`: forward warp of the object's points, z-buffered, over the
inpainted background computed once per record):

* hypotheses per operation — translations: the ground-truth displacement turned in the support
  plane by k·45° (k = 0…7) at ×0.5 / ×1 / ×1.5 its length; rotations about the plane normal
  through the box centre by ±30…180° and ±the instructed angle; scalings about the footprint
  centre by ×0.5…×2 and the instructed factor; every family also has the unchanged image (the
  source itself) and the object removed, which win ties (an object warped out of view is not
  credited with the edit);
* the realised hypothesis is the one nearest the prediction (mean absolute RGB difference, [0, 1],
  over the pixels where any hypothesis differs from the source, dilated by 2 px);
* IC / SA from the realised Φ3D with the GSI-Syn rules and constants
  (:mod:`validation.evaluator.scoring`): translation direction within 45° and length ratio in
  [0.5, 2] (object-relative placement: the same test on the displacement); rotation error ≤
  min(θ/2, 20°) (no symmetry is known for a real object); log-scale ratio in [0.5, 2]; removal:
  the removed hypothesis wins. EL as for GSI-Syn (outside the dilated masks); AC = the
  prediction's similarity to the realised hypothesis inside its object region (for removal: the
  inpainted region against the ground truth).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from validation.evaluator import imageops, scoring

#: Turns of the instructed displacement (degrees, in the support plane) and length factors.
MOVE_TURNS_DEG = tuple(range(0, 360, 45))
MOVE_LENGTHS = (0.5, 1.0, 1.5)
ROTATION_ANGLES_DEG = (30.0, 60.0, 90.0, 120.0, 150.0, 180.0)
SCALE_FACTORS = (0.5, 0.67, 0.8, 1.25, 1.5, 2.0)
REGION_DILATION_PX = 2


def is_real_capture(record) -> bool:
    """True for a record made by the GSI-Real pipeline (its scene is ``{"kind": "real", …}``)."""
    try:
        return json.loads(record.scene or "{}").get("kind") == "real"
    except (ValueError, AttributeError):
        return False


@dataclass
class _RecordFrame:
    """The parts of :class:`gsi_real.captures.Frame` that synthesis reads, rebuilt from a record."""

    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    instances: np.ndarray

    def movable_ids(self) -> list[int]:
        return sorted(set(np.unique(self.instances).tolist()) - {0})


def frame_and_object(rgb: np.ndarray, depth_m: np.ndarray, K: np.ndarray, instances: np.ndarray, iid: int,
                     plane_normal, plane_offset: float, box, category: str):
    """(frame, lifted object) for synthesis from arrays: uint8 RGB, float32 depth (m, 0 = none),
    K, uint16 instance map with the object as ``iid``, its support plane ``n·p + d = 0`` and box."""
    from gsi_real.lifting import LiftedObject, Plane

    frame = _RecordFrame(rgb=rgb, depth=depth_m.astype(np.float32), K=np.asarray(K, dtype=np.float64),
                         instances=instances)
    plane = Plane(normal=np.asarray(plane_normal, dtype=np.float64), offset=float(plane_offset))
    ys, xs = np.nonzero((instances == iid) & (depth_m > 0))
    if len(ys) == 0:
        raise ValueError("no depth on the object")
    z = depth_m[ys, xs].astype(np.float64)
    K = frame.K
    pts = np.stack([(xs - K[0, 2]) * z / K[0, 0], (ys - K[1, 2]) * z / K[1, 1], z], axis=1)
    obj = LiftedObject(instance_id=iid, category=category, points=pts, pixels=np.stack([ys, xs], axis=1),
                       colors=rgb[ys, xs], center=np.asarray(box.center, dtype=np.float64),
                       size=np.asarray(box.size, dtype=np.float64), rotation=np.asarray(box.rotation, dtype=np.float64),
                       plane=plane, mask_pixels=int((instances == iid).sum()), touches_border=False)
    return frame, obj


def _frame_and_object(record):
    mask = record.source_mask > 0
    if not mask.any():
        raise ValueError("the record's source mask is empty")
    inst = np.asarray(record.source_instances)
    if inst.shape != mask.shape:              # the runner may drop instance maps: the mask alone then
        inst = mask.astype(np.uint16)
    iid = int(np.bincount(inst[mask].ravel()).argmax()) if inst[mask].any() else 1
    if iid == 0:
        inst, iid = mask.astype(np.uint16), 1
    plane_d = json.loads(record.scene)["source"]["lifting"]["support_plane"]
    return frame_and_object(record.source_image, record.source_depth.astype(np.float32) / 1000.0, record.K, inst, iid,
                            plane_d["normal"], plane_d["offset"], record.source_box, record.target.category)


def _signed_angle_deg(R: np.ndarray, axis: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_matrix(R).as_rotvec() @ axis))


def _wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def hypotheses(record, obj) -> list[dict]:
    """Candidate edits of ``record``'s object: dicts with ``name``, ``warp`` ((R, t, s) or ``None``
    for removal, absent for "unchanged") and the realised quantity they stand for."""
    R_g = np.asarray(record.transform_rotation, dtype=np.float64)
    t_g = np.asarray(record.transform_translation, dtype=np.float64)
    s_g = float(record.transform_scale[0])
    n = obj.plane.normal / np.linalg.norm(obj.plane.normal)
    c = obj.center
    # "unchanged" and "removed" come first: on a tie (e.g. a warp that leaves the frame, whose image
    # is the background alone) the prediction is not credited with an edit it does not show
    out: list[dict] = [{"name": "unchanged", "translation": np.zeros(3), "angle_deg": 0.0, "scale": 1.0},
                       {"name": "removed", "warp": None, "removed": True, "translation": np.zeros(3),
                        "angle_deg": 0.0, "scale": 1.0}]
    op = record.operation
    if op in ("camera_relative_move", "object_relative_place", "receptacle_place"):
        d = t_g - (t_g @ n) * n
        if np.linalg.norm(d) < 1e-6:
            raise ValueError("the ground-truth displacement has no component along the support plane")
        for turn in MOVE_TURNS_DEG:
            Rn = Rotation.from_rotvec(np.radians(turn) * n).as_matrix()
            for k in MOVE_LENGTHS:
                t = k * (Rn @ d) + (t_g @ n) * n
                out.append({"name": f"move {turn}° ×{k}", "warp": (np.eye(3), t, 1.0), "translation": t,
                            "angle_deg": 0.0, "scale": 1.0})
    elif op == "rotate":
        theta_g = _signed_angle_deg(R_g, n)
        angles = sorted({a * sgn for a in ROTATION_ANGLES_DEG for sgn in (1, -1)} | {round(-theta_g, 6)})
        out.append({"name": f"rotate {theta_g:.0f}° (instructed)", "warp": (R_g, t_g, 1.0), "translation": np.zeros(3),
                    "angle_deg": theta_g, "scale": 1.0})
        for a in angles:
            if abs(_wrap(a - theta_g)) < 1e-6:
                continue
            Rn = Rotation.from_rotvec(np.radians(a) * n).as_matrix()
            out.append({"name": f"rotate {a:.0f}°", "warp": (Rn, c - Rn @ c, 1.0), "translation": np.zeros(3),
                        "angle_deg": a, "scale": 1.0})
    elif op == "scale":
        base = obj.base_center
        out.append({"name": f"scale ×{s_g:g} (instructed)", "warp": (R_g, t_g, s_g), "translation": np.zeros(3),
                    "angle_deg": 0.0, "scale": s_g})
        for f in sorted(set(SCALE_FACTORS) | {round(1.0 / s_g, 6)}):
            if abs(f - s_g) < 1e-6:
                continue
            out.append({"name": f"scale ×{f:g}", "warp": (np.eye(3), (1.0 - f) * base, f), "translation": np.zeros(3),
                        "angle_deg": 0.0, "scale": f})
    elif op != "remove":
        raise ValueError(f"operation {op!r} is not made by the GSI-Real pipeline")
    return out


def _render_all(record, frame, obj, hyps: list[dict]) -> list[np.ndarray]:
    from gsi_real.synthesis import frame_background, synthesize

    bg = frame_background(frame, obj)
    images = []
    for h in hyps:
        if "warp" not in h:
            images.append(record.source_image)
        else:
            syn = synthesize(frame, obj, h["warp"], background=bg)
            h["mask"] = syn.mask
            images.append(syn.rgb)
    return images


def localise(record, pred: np.ndarray, frame=None, obj=None) -> tuple[dict, list[dict], np.ndarray]:
    """(realised hypothesis, all hypotheses with their ``distance``, its image); ``frame`` /
    ``obj`` default to the record's own (:func:`frame_and_object`)."""
    if frame is None or obj is None:
        frame, obj = _frame_and_object(record)
    hyps = hypotheses(record, obj)
    images = _render_all(record, frame, obj, hyps)
    best, distances = imageops.nearest_image(pred, record.source_image, images, REGION_DILATION_PX)
    for h, d in zip(hyps, distances):
        h["distance"] = d
    return hyps[best], hyps, images[best]


def _ic_sa(record, obj, realised: dict) -> tuple[int, float, str]:
    op = record.operation
    if op != "remove" and realised.get("removed"):
        return 0, 0.0, "object missing in the prediction (removed hypothesis won)"
    R_g = np.asarray(record.transform_rotation, dtype=np.float64)
    t_g = np.asarray(record.transform_translation, dtype=np.float64)
    s_g = float(record.transform_scale[0])
    if op in ("camera_relative_move", "object_relative_place", "receptacle_place"):
        t = realised["translation"]
        err = float(np.linalg.norm(t - t_g))
        d_gt = float(np.linalg.norm(t_g))
        sa = scoring.gaussian_score(err, 0.5 * max(d_gt, 0.05))
        ang = scoring._angle_deg(t, t_g)
        ratio = float(np.linalg.norm(t)) / max(d_gt, 1e-9)
        ic = int(ang <= scoring.MOVE_ANGLE_TOL_DEG and scoring.RATIO_RANGE[0] <= ratio <= scoring.RATIO_RANGE[1])
        reason = ("moved the instructed way" if ic else "not moved" if ratio == 0 else
                  f"moved {ang:.0f}° off the instructed direction" if ang > scoring.MOVE_ANGLE_TOL_DEG
                  else f"distance ratio {ratio:.2f} outside [0.5, 2]")
        return ic, sa, reason
    if op == "rotate":
        n = obj.plane.normal / np.linalg.norm(obj.plane.normal)
        theta_g = _signed_angle_deg(R_g, n)
        err = abs(_wrap(realised["angle_deg"] - theta_g))
        tol = min(abs(theta_g) / 2, scoring.ROTATE_TOL_MAX_DEG)
        ic = int(err <= tol)
        reason = ("rotated the instructed way" if ic else "not rotated" if realised["angle_deg"] == 0 else
                  f"rotation off by {err:.0f}° (tolerance {tol:.0f}°)")
        return ic, scoring.gaussian_score(err, scoring.SIGMA_ROT_DEG), reason
    if op == "scale":
        s = realised["scale"]
        err = abs(math.log(s / s_g))
        ratio = math.log(s) / math.log(s_g)
        ic = int(scoring.RATIO_RANGE[0] <= ratio <= scoring.RATIO_RANGE[1])
        reason = ("scaled the instructed way" if ic else "size unchanged" if s == 1.0 else
                  "scaled the wrong way" if ratio < 0 else f"scaled ×{s:.2f} instead of ×{s_g:.2f}")
        return ic, scoring.gaussian_score(err, scoring.SIGMA_LOG_SCALE), reason
    removed = bool(realised.get("removed"))
    return int(removed), 1.0 if removed else 0.0, ("the object was removed" if removed else "the object is still there")


def score_real(record, pred: np.ndarray) -> dict:
    """IC / SA / EL / AC of a prediction for a GSI-Real pipeline record (see the module doc).
    Returns the runner's result fields (``_realised`` is ``None``: there is no scene object)."""
    from validation.evaluator.protocols.default import edit_locality

    realised, hyps, image = localise(record, pred)
    frame, obj = _frame_and_object(record)
    ic, sa, reason = _ic_sa(record, obj, realised)
    el, el_ssim, el_psnr = edit_locality(pred, record)
    p = imageops.to_float(pred)
    if record.operation == "remove":
        ssim, colour = imageops.region_similarity(p, imageops.to_float(record.target_image),
                                                  imageops.dilate(record.source_mask > 0, 2))
        ac_note = "inpainted region vs ground truth"
    elif realised.get("mask") is not None and realised["mask"].sum() >= 4:
        ssim, colour = imageops.region_similarity(p, imageops.to_float(image), realised["mask"])
        ac_note = "object region vs the realised hypothesis"
    else:
        ssim, colour = imageops.region_similarity(p, imageops.to_float(record.source_image), record.source_mask > 0)
        ac_note = "object region vs the source (unchanged hypothesis won)"
    ac = 100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour) if math.isfinite(ssim) else 0.0
    ranked = sorted(hyps, key=lambda h: h["distance"])
    return {"ic": ic, "sa": sa, "reason": reason, "el": el, "el_ssim": el_ssim, "el_psnr": el_psnr, "ac": ac,
            "ac_region": ac_note,
            "realised": {"hypothesis": realised["name"], "distance": round(realised["distance"], 5)},
            "search": {"hypotheses": len(hyps), "distance": realised["distance"],
                       "unchanged_distance": next(h["distance"] for h in hyps if h["name"] == "unchanged"),
                       "runner_up": ranked[1]["name"] if len(ranked) > 1 else ""},
            "_realised": None}
