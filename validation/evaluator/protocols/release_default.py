"""Default protocol on records converted from the paper's release: no depth, no scene, no weights.

A converted record has the source photo, the prompt's operation and parameters, the source and
target boxes in the camera frame (``source_box`` / ``target_box`` from ``original_bbox_3d`` /
``new_bbox_3d``), the intrinsics, the transform between the two boxes (``transform_*``) and, for
some edits, a ground-truth image. Localisation, documented and weight-free:

* **object region** — the convex hull of the source box's corners projected with ``K``, refined
  on the image: pixels of the hull whose colour differs from the median colour of a ring around
  it by more than an Otsu threshold (kept only when they cover ≥ 20 % of the hull; else the hull);
* **support plane** — the plane of the box's bottom face (normal = the box's up axis);
* **hypotheses** — the same families as for GSI-Real pipeline records
  (:func:`validation.evaluator.protocols.real_default.hypotheses`: unchanged, removed, turned /
  scaled displacements, rotations about the plane normal, scalings about the footprint), each
  rendered as the *plane-induced warp* of the object region: the homography
  ``H = K (s·R + t·nᵀ / z_c) K⁻¹`` of the fronto-parallel plane through the box centre (depth
  ``z_c``), composited over the region inpainted with :func:`gsi_real.synthesis.harmonic_fill`;
* the nearest hypothesis to the prediction (mean absolute RGB difference over the pixels any
  hypothesis changes) is the realised edit; IC / SA with the GSI-Real rules
  (:func:`~validation.evaluator.protocols.real_default._ic_sa`); EL between the prediction and the
  source outside the object regions; AC as for GSI-Real records.
* **viewpoint edits** — with a ground-truth image, IC = the prediction is nearer the ground
  truth than the source (mean absolute difference), SA = ``d_src / (d_src + d_gt)``; without one
  the sample is ``unscorable`` (no reference for a new viewpoint).

**Model-backed localisation** (optional, :class:`ReleaseModels`, ``transformers`` checkpoints loaded
with ``from_pretrained`` through :mod:`gsi_real.backends`): an open-vocabulary detector narrows
the object region to the detection of the target's category that best overlaps the projected
box; a metric depth model gives per-pixel depth, rescaled so that the region's median depth
equals the box centre's (the release's metric reference). Hypotheses are then synthesised as for
GSI-Real pipeline records (:func:`gsi_real.synthesis.synthesize`: forward warp of the region's
lifted points, z-buffered), instead of plane-induced warps.

Anything that cannot be localised raises ``ValueError`` with the reason; the runner reports the
sample ``unscorable`` with it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from gsi_bench.official_format import official_corners, official_rotation, release_has_target_image
from validation.evaluator import imageops

#: Minimum share of the projected hull the refined region must keep (else the hull is used).
MIN_REFINED_SHARE = 0.2
RING_PX = 4


def is_release_record(record) -> bool:
    """True for a record converted from the official release."""
    return str(record.provenance.generator).startswith("official-release")


@dataclass
class _BoxObject:
    """What the hypothesis families read of an object: its support plane, centre and footprint."""

    plane: object
    center: np.ndarray
    base_center: np.ndarray


@dataclass
class _Plane:
    normal: np.ndarray
    offset: float


def box_region(record, shape: tuple[int, int]) -> np.ndarray:
    """bool ``(H, W)``: the convex hull of the source box's projected corners (corners behind the
    camera make the region unusable: ``ValueError``)."""
    from skimage.draw import polygon
    from skimage.morphology import convex_hull_image

    vec, R = record.source_box.official_7vec, official_rotation(record.source_box.rotation)
    corners = official_corners(vec, R)
    if (corners[:, 2] <= 1e-3).any():
        raise ValueError("the source box reaches behind the camera; its region cannot be projected")
    q = corners @ np.asarray(record.K, dtype=np.float64).T
    uv = q[:, :2] / q[:, 2:3]
    h, w = shape
    mask = np.zeros(shape, bool)
    rr, cc = polygon(uv[:, 1], uv[:, 0], shape=shape)
    mask[rr, cc] = True
    for u, v in uv:
        if 0 <= round(v) < h and 0 <= round(u) < w:
            mask[int(round(v)), int(round(u))] = True
    if not mask.any():
        raise ValueError("the source box projects outside the image")
    return convex_hull_image(mask)


def refine_region(image: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """Pixels of ``hull`` whose colour stands out from a ring around it (Otsu on the distance to
    the ring's median colour); the hull itself when that keeps < 20 % of it."""
    from skimage.filters import threshold_otsu

    ring = imageops.dilate(hull, RING_PX) & ~hull
    if not ring.any():
        return hull
    img = image.astype(np.float64)
    ref = np.median(img[ring], axis=0)
    dist = np.linalg.norm(img - ref, axis=2)
    inside = dist[hull]
    if inside.max() - inside.min() < 1e-6:
        return hull
    refined = hull & (dist > threshold_otsu(inside))
    return refined if refined.sum() >= MIN_REFINED_SHARE * hull.sum() else hull


@dataclass
class ReleaseModels:
    """Optional model backends of the release localisation (either may be ``None``)."""

    depth: object | None = None
    detector: object | None = None
    min_detection_iou: float = 0.1

    @classmethod
    def from_spec(cls, spec: str, device: str | None = None) -> ReleaseModels:
        """``depth=<checkpoint>,detector=<checkpoint>`` (Hub ids or folders; either part optional)."""
        from gsi_real.backends import DepthEstimator, OpenVocabDetector

        parts = dict(p.split("=", 1) for p in spec.split(",") if p.strip())
        unknown = set(parts) - {"depth", "detector"}
        if unknown or not parts:
            raise ValueError(f"release models {spec!r}: expected depth=<checkpoint>,detector=<checkpoint>")
        return cls(depth=DepthEstimator(parts["depth"], device=device) if "depth" in parts else None,
                   detector=OpenVocabDetector(parts["detector"], device=device) if "detector" in parts else None)

    def region(self, record, image: np.ndarray, hull: np.ndarray) -> np.ndarray:
        """The refined hull, narrowed to the best-overlapping detection of the target's category."""
        refined = refine_region(image, hull)
        if self.detector is None:
            return refined
        ys, xs = np.nonzero(hull)
        hull_box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        from gsi_real.backends import _iou

        dets = [(d, _iou(d.box, hull_box)) for d in self.detector(image, [record.target.category])]
        dets = [(d, iou) for d, iou in dets if iou >= self.min_detection_iou]
        if not dets:
            return refined
        x0, y0, x1, y1 = max(dets, key=lambda x: x[1])[0].box
        inside = np.zeros_like(hull)
        inside[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = True
        narrowed = refined & inside
        return narrowed if narrowed.sum() >= MIN_REFINED_SHARE * refined.sum() else refined


def _box_object(record) -> _BoxObject:
    R = np.asarray(record.source_box.rotation, dtype=np.float64)   # columns x, y, z = up (camera frame)
    up = R[:, 2] / np.linalg.norm(R[:, 2])
    c = np.asarray(record.source_box.center, dtype=np.float64)
    base = c - up * float(record.source_box.size[2]) / 2.0
    return _BoxObject(plane=_Plane(normal=up, offset=float(-up @ base)), center=c, base_center=base)


def plane_homography(K: np.ndarray, warp: tuple[np.ndarray, np.ndarray, float], depth: float) -> np.ndarray:
    """``K (s·R + t·nᵀ/z) K⁻¹`` for the fronto-parallel plane ``z = depth`` (n = (0, 0, 1)) and the
    motion ``X ↦ s·R·X + t`` — maps source pixels to target pixels of points on that plane."""
    R, t, s = warp
    n = np.array([0.0, 0.0, 1.0])
    return K @ (s * np.asarray(R) + np.outer(np.asarray(t), n) / depth) @ np.linalg.inv(K)


def _render(image: np.ndarray, region: np.ndarray, background: np.ndarray, K: np.ndarray, depth: float,
            warp) -> tuple[np.ndarray, np.ndarray]:
    from skimage.transform import ProjectiveTransform, warp as sk_warp

    H = plane_homography(K, warp, depth)
    inverse = ProjectiveTransform(np.linalg.inv(H))          # output pixel → source pixel
    img = sk_warp(image.astype(np.float64) / 255.0, inverse, order=1, mode="constant", cval=0.0)
    m = sk_warp(region.astype(np.float64), inverse, order=0, mode="constant", cval=0.0) > 0.5
    out = np.where(m[..., None], np.rint(img * 255.0).astype(np.uint8), background)
    return out, m


def localise(record, pred: np.ndarray, region: np.ndarray | None = None):
    """(realised hypothesis, all hypotheses, realised image, object region); ``region`` defaults
    to the projected box refined on the image."""
    from gsi_real.synthesis import harmonic_fill
    from validation.evaluator.protocols.real_default import hypotheses

    src = record.source_image
    if region is None:
        region = refine_region(src, box_region(record, src.shape[:2]))
    hole = imageops.dilate(region, 2)
    if hole.all():
        raise ValueError("the object region covers the whole image")
    background = harmonic_fill(src, hole)
    obj = _box_object(record)
    K = np.asarray(record.K, dtype=np.float64)
    depth = float(record.source_box.center[2])
    if depth <= 0:
        raise ValueError("the source box centre is behind the camera")
    hyps = hypotheses(record, obj)
    images = []
    for h in hyps:
        if "warp" not in h:
            images.append(src)
        elif h["warp"] is None:
            h["mask"] = np.zeros(region.shape, bool)
            images.append(background)
        else:
            img, m = _render(src, region, background, K, depth, h["warp"])
            h["mask"] = m
            images.append(img)
    best, distances = imageops.nearest_image(pred, src, images, 2)
    for h, d in zip(hyps, distances):
        h["distance"] = d
    return hyps[best], hyps, images[best], region


def models_for(cfg, state: dict) -> ReleaseModels | None:
    """The :class:`ReleaseModels` named by ``cfg.release_models`` (loaded once per process)."""
    spec = getattr(cfg, "release_models", "") or ""
    if not spec:
        return None
    cache = state.setdefault("release_models", {})
    if spec not in cache:
        cache[spec] = ReleaseModels.from_spec(spec, getattr(cfg, "device", None))
    return cache[spec]


def localise_with_depth(record, pred: np.ndarray, models: ReleaseModels):
    """Like :func:`localise`, with the region from :meth:`ReleaseModels.region` and hypotheses
    synthesised from the model's depth (see the module doc)."""
    from validation.evaluator.protocols import real_default

    src = record.source_image
    region = models.region(record, src, box_region(record, src.shape[:2]))
    depth = np.asarray(models.depth(src), dtype=np.float64)
    valid = region & (depth > 0)
    if not valid.any():
        raise ValueError("the depth model gives no depth on the object region")
    depth = depth * (float(record.source_box.center[2]) / float(np.median(depth[valid])))
    obj_plane = _box_object(record).plane
    frame, obj = real_default.frame_and_object(src, depth.astype(np.float32), record.K, region.astype(np.uint16), 1,
                                               obj_plane.normal, obj_plane.offset, record.source_box,
                                               record.target.category)
    realised, hyps, image = real_default.localise(record, pred, frame, obj)
    return realised, hyps, image, region


def score_release(record, pred: np.ndarray, models: ReleaseModels | None = None) -> dict:
    """IC / SA / EL / AC of a prediction for a converted release record (see the module doc);
    ``models``: the optional model-backed localisation."""
    from validation.evaluator.protocols.real_default import _ic_sa
    from validation.evaluator.protocols.default import edit_locality

    src = record.source_image
    if record.operation == "perspective":
        if not release_has_target_image(record.checks.thresholds):
            raise ValueError("viewpoint edit without a ground-truth image in the release: no reference to score")
        d_gt = float(np.abs(pred.astype(np.float64) - record.target_image).mean()) / 255.0
        d_src = float(np.abs(pred.astype(np.float64) - src).mean()) / 255.0
        ic = int(d_gt < d_src)
        sa = d_src / (d_src + d_gt) if d_src + d_gt > 0 else 1.0
        el, el_ssim, el_psnr = edit_locality(pred, record)
        return {"ic": ic, "sa": float(sa), "el": el, "el_ssim": el_ssim, "el_psnr": el_psnr, "ac": 100.0 * sa,
                "reason": "nearer the ground-truth view than the source" if ic else "nearer the source than the new view",
                "realised": {"distance_to_gt": round(d_gt, 5), "distance_to_source": round(d_src, 5)},
                "_realised": None}
    if models is not None and models.depth is not None:
        realised, hyps, image, region = localise_with_depth(record, pred, models)
        method = "model-backed: detector region, metric depth, forward-warp synthesis"
    elif models is not None and models.detector is not None:
        realised, hyps, image, region = localise(record, pred, models.region(record, src, box_region(record, src.shape[:2])))
        method = "detector region; plane-induced warps"
    else:
        realised, hyps, image, region = localise(record, pred)
        method = "projected box refined on the image; plane-induced warps"
    ic, sa, reason = _ic_sa(record, _box_object(record), realised)
    target_region = realised.get("mask")
    target_region = target_region if target_region is not None else region
    # EL against the source outside both object regions (the release has no target for most edits)
    el_record = dataclasses.replace(record, source_mask=region.astype(np.uint8) * 255,
                                    target_mask=target_region.astype(np.uint8) * 255, target_image=src)
    el, el_ssim, el_psnr = edit_locality(pred, el_record)
    p = imageops.to_float(pred)
    if record.operation == "remove" or realised.get("removed"):
        ssim, colour = imageops.region_similarity(p, imageops.to_float(image), imageops.dilate(region, 2))
        ac_note = "object region vs the inpainted background"
    elif target_region.sum() >= 4:
        ssim, colour = imageops.region_similarity(p, imageops.to_float(image), target_region)
        ac_note = "object region vs the realised hypothesis"
    else:
        ssim, colour = float("nan"), 0.0
        ac_note = "realised object region is empty"
    ac = 100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour) if math.isfinite(ssim) else 0.0
    return {"ic": ic, "sa": sa, "reason": reason, "el": el, "el_ssim": el_ssim, "el_psnr": el_psnr, "ac": ac,
            "ac_region": ac_note, "realised": {"hypothesis": realised["name"], "distance": round(realised["distance"], 5)},
            "search": {"hypotheses": len(hyps), "distance": realised["distance"],
                       "unchanged_distance": next(h["distance"] for h in hyps if h["name"] == "unchanged"),
                       "localisation": method},
            "_realised": None}
