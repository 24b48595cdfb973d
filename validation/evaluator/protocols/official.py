"""The ``official`` protocol: the paper's evaluator (``aim-uofa/GSI-Bench`` ``evaluation/eval``),
re-implemented so that published numbers can be compared (``official-protocol.md`` §4–§8, §11).

Per sample the inputs are the *edit meta* of the record (prompt, target, ``original_bbox_3d``,
``new_bbox_3d``, ``camera_intrinsics``, ``rotation_matrix``, ``new_rotation_matrix``: the
official JSON, built by :mod:`gsi_bench.official_format`, so records converted from the release
score without any stored scene), the source image, the prediction, the ground-truth image (view
edits) and detections of the target's category on the source and on the prediction:

* ``--detections FILE``: the upstream detector cache (``infer_cache.json``) keyed
  ``<img_id>_<query_id>`` → ``{"origin_result": {"detections": [...]}, "new_result": {...}}``
  (``bbox_3d`` 7-vector, ``bbox_2d`` in the detector's 896-long-side frame, ``rotation_matrix``);
  the record id is accepted as a key too;
* otherwise, for records that carry a scene (GSI-Syn), the boxes of the scene's same-category
  objects, in the source and in the scene realised by the analysis-by-synthesis search. A record
  with neither is ``unscorable`` with that reason (never guessed).

What matches upstream (each point checked against its code):

* routing by the record's operation through :data:`~gsi_bench.official_format.OPERATION_ROUTE`
  (upstream reads the prompt; :func:`get_operation` is its exact reading, for reference);
* the locality images: both images brought to the detector frame as upstream's ``img_process``
  (longest side 896, centre crop to multiples of 14, padded to 896² with the SAM pixel mean, then
  cut to ``[:H, :W]`` of the *original* size), the mask from upstream's ``update_mask_2d`` (int
  truncation) over the matched source box and the last "new" detection — a detection is new when
  it matches neither the JSON box in 3D (Σ² < 0.1) nor the JSON box *projected* in 2D (Σ² < 100);
* EL compares the **source** with the prediction; SSIM is scikit-image's
  ``structural_similarity`` per RGB channel (``channel_axis=-1``, 7×7 uniform window, sample
  covariance, ``data_range`` = max − min of the prediction), averaged over the unmasked pixels of
  the full SSIM map; an empty mask gives NaN, which stays NaN (it fails every ``>`` test);
* box projection divides by z as is (no clamping: corners behind the camera flip, as upstream);
  3D IoU from the corners built with ``yaw`` (bird's-eye polygon × the vertical overlap of the
  corners' min / max); the scale ratio ``s_pred / (s_gt + 1e-5)`` with both scales over
  ``extent + 1e-5`` (so a zero extent gives no NaN); aggregates are not rounded.

Corrections to the project's notes (``official-protocol.md``): upstream strips ``_rgb`` from the
whole prediction path and then fails to open it, aborting the run — here such names are read
under their real name (they are not special); and the scale ratio carries the ``+ 1e-5`` above.

Remaining deviations, also listed in ``summary.json`` (``official.deviations``) and printed:
:data:`DEVIATIONS`.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from gsi_bench.geometry import prism_iou
from gsi_bench.official_format import (
    OPERATION_ROUTE,
    official_box,
    release_has_target_image,
    release_names,
    upstream_operation_word,
)

#: Our operations → the official evaluator that scores them (kept under its former name).
OFFICIAL_OPERATION = OPERATION_ROUTE
AC_DELIMITER = "||V^=^V||"
#: The official detector reports 2D boxes in a frame whose longest side is this many pixels.
DETECTOR_LONG_SIDE = 896
#: SAM's pixel mean (RGB, 0–255): the value upstream's zero padding takes after de-normalisation.
_SAM_PIXEL_MEAN = np.array([123.675, 116.28, 103.53])

DEVIATIONS = (
    "LPIPS (AlexNet weights, not available offline) is replaced by 1 - masked SSIM",
    "rotation viewpoint gate (SIFT + essential matrix) is not applied",
    "images are resized to the 896 detector frame with PIL bilinear (upstream: torch bilinear, antialiased)",
    "samples without a prediction or unscorable enter as 0 (upstream drops them)",
    "the operation comes from the record, not from the prompt's first word",
    "without --detections, boxes come from the record's scene (analysis-by-synthesis), not DetAny3D",
)


# ---------------------------------------------------------------------------------------------
# primitives (§4.2)
# ---------------------------------------------------------------------------------------------
def check_same(a, b, thr: float = 0.1) -> bool:
    """``Σ (a − b)² < thr`` over the flattened values (a squared sum, not a norm).

    >>> check_same([0, 0, 0], [0.1, 0.1, 0.1], 0.1)
    True
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return bool(((a - b) ** 2).sum() < thr)


def iou_3d(b1, b2) -> float:
    """Upstream's 3D IoU of two 7-vectors: the bird's-eye (x, z) polygon of the top four corners
    (built from ``yaw``, not a rotation matrix) intersected, times the overlap of the corners'
    y ranges, over the union volume; 0 for an invalid polygon or an empty union.

    >>> round(iou_3d([0, 0, 2, 1, 1, 1, 0.0], [0.5, 0, 2, 1, 1, 1, 0.0]), 6)
    0.333333
    """
    from shapely.geometry import Polygon

    from gsi_bench.official_format import official_corners

    c1, c2 = official_corners(b1), official_corners(b2)
    p1, p2 = Polygon(c1[:4, [0, 2]]), Polygon(c2[:4, [0, 2]])
    if not (p1.is_valid and p2.is_valid):
        return 0.0
    try:
        return prism_iou(p1, c1[:, 1].min(), c1[:, 1].max(), p2, c2[:, 1].min(), c2[:, 1].max())
    except Exception:  # noqa: BLE001 - upstream scores invalid geometry 0
        return 0.0


def bbox_3d_to_2d(box, R, K) -> list[float]:
    """``[xmin, ymin, xmax, ymax]`` of the 8 corners of ``box`` (rotation ``R``, official order)
    projected with ``K``, dividing by z **as is** (corners at z < 0 flip; z = 0 gives ±inf/NaN),
    exactly as upstream."""
    from gsi_bench.official_format import official_corners

    q = official_corners(box, R) @ np.asarray(K, dtype=np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = q[:, :2] / q[:, 2:3]
    return [float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max())]


def rotation_matrix_distance(R1, R2) -> float:
    """Geodesic angle (radians) ``arccos(clip((tr(R1ᵀR2) − 1)/2, −1, 1))``."""
    m = np.asarray(R1, dtype=np.float64).T @ np.asarray(R2, dtype=np.float64)
    return float(np.arccos(np.clip((np.trace(m) - 1) / 2, -1.0, 1.0)))


def dist_between_centers(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a[:3], dtype=np.float64) - np.asarray(b[:3], dtype=np.float64)))


def check_locality(ssim: float, lpips: float, dataset: str = "GSI-Syn") -> bool:
    """GSI-Real: SSIM > 0.6 **or** LPIPS < 0.3; GSI-Syn: SSIM > 0.6 **and** LPIPS < 0.3 (NaN fails
    its comparison, as in upstream)."""
    if dataset == "GSI-Real":
        return bool(ssim > 0.6 or lpips < 0.3)
    return bool(ssim > 0.6 and lpips < 0.3)


def get_operation(prompt: str) -> str:
    """Upstream's routing from prompt text (:func:`gsi_bench.official_format.upstream_operation_word`);
    the runner uses the record's explicit operation instead."""
    return upstream_operation_word(prompt)


# ---------------------------------------------------------------------------------------------
# per-operation scoring (§4.3–§5)
# ---------------------------------------------------------------------------------------------
def origin_bbox_2d(origin_dets: list[dict], meta: dict):
    """``bbox_2d`` of the first source detection within Σ² < 0.1 of the JSON box, else ``None``."""
    for d in origin_dets:
        if check_same(d["bbox_3d"], meta["original_bbox_3d"], 0.1):
            return d["bbox_2d"]
    return None


def _candidate(origin_dets, new_dets, o2d, thr3, gt2d, ref_center):
    """Upstream's choice of the edited object: among detections that match no source detection
    (3D Σ² < ``thr3``, 2D Σ² < 100) and moved in 2D by more than 0.2× the expected 2D change,
    the one whose centre is nearest ``ref_center``."""
    denom = float(np.linalg.norm(np.asarray(gt2d, dtype=np.float64) - np.asarray(o2d, dtype=np.float64))) + 1e-5
    best, best_d = None, float("inf")
    for d in new_dets:
        if any(check_same(d["bbox_3d"], od["bbox_3d"], thr3) or check_same(d["bbox_2d"], od["bbox_2d"], 100)
               for od in origin_dets):
            continue
        ratio = float(np.linalg.norm(np.asarray(d["bbox_2d"], dtype=np.float64) - np.asarray(o2d))) / denom
        dist = dist_between_centers(d["bbox_3d"], ref_center)
        if dist < best_d and ratio > 0.2:
            best, best_d = d, dist
    return best, best_d


def _candidate_near_target(meta, origin_dets, new_dets, gate: bool, same_box_sq: float
                           ) -> tuple[bool, dict | None]:
    """The preamble of ``move`` and ``scale``: ``(scorable, candidate)``. Not scorable when the gate
    failed, nothing was detected in the edited image or the source object is not found among the
    source detections; otherwise the detection chosen against the ground-truth box ``new_bbox_3d``
    (its 2D box projected with the source rotation; ``same_box_sq`` is :func:`_candidate`'s ``thr3``),
    ``None`` when none qualifies."""
    if not gate or not new_dets:
        return False, None
    o2d = origin_bbox_2d(origin_dets, meta)
    if o2d is None:
        return False, None
    G = meta["new_bbox_3d"]
    gt2d = bbox_3d_to_2d(G, meta["rotation_matrix"], meta["camera_intrinsics"])
    P, _ = _candidate(origin_dets, new_dets, o2d, same_box_sq, gt2d, G)
    return True, P


def eval_move(meta, origin_dets, new_dets, gate: bool) -> tuple[int, float]:
    """``(IC, SA)``: SA = 0.3·IoU + 0.7·exp(−ln(√r + 1e-5)²), r = moved / expected distance;
    halved when the detection counts differ; IC = SA > 0.05."""
    scorable, P = _candidate_near_target(meta, origin_dets, new_dets, gate, 0.1)
    if not scorable:
        return 0, 0.0
    G, O = meta["new_bbox_3d"], meta["original_bbox_3d"]
    s1 = iou_3d(G, P["bbox_3d"]) if P is not None else 0.0
    pred_dist = dist_between_centers(O, P["bbox_3d"]) if P is not None else 0.0
    r = pred_dist / (dist_between_centers(O, G) + 1e-5)
    s2 = math.exp(-math.log(math.sqrt(r) + 1e-5) ** 2)
    score = 0.3 * s1 + 0.7 * s2
    if len(new_dets) != len(origin_dets):
        score *= 0.5
    return int(score > 0.05), float(score)


def eval_rotate(meta, origin_dets, new_dets, gate: bool, viewpoint_ok: bool = True) -> tuple[int, float]:
    """``(IC, SA)``: IC = the chosen detection's rotation differs from the source's (Σ² ≥ 1e-4);
    SA = ½·exp(−ln(θ_pred/(θ_gt + 1e-5) + 1e-5)²) + ½·exp(−|θ_diff|) when its centre is within
    0.5 m of the source box, else 0."""
    if not (gate and viewpoint_ok) or not new_dets:
        return 0, 0.0
    o2d = origin_bbox_2d(origin_dets, meta)
    if o2d is None:
        return 0, 0.0
    O = meta["original_bbox_3d"]
    gt2d = bbox_3d_to_2d(O, meta["new_rotation_matrix"], meta["camera_intrinsics"])
    P, dist = _candidate(origin_dets, new_dets, o2d, 0.001, gt2d, O)
    if P is None:
        return 0, 0.0
    R0, Rg, Rp = meta["rotation_matrix"], meta["new_rotation_matrix"], P["rotation_matrix"]
    ic = int(not check_same(R0, Rp, 1e-4))
    if dist >= 0.5:
        return ic, 0.0
    th_gt, th_p, th_d = (rotation_matrix_distance(R0, Rg), rotation_matrix_distance(R0, Rp),
                         rotation_matrix_distance(Rg, Rp))
    sa = 0.5 * math.exp(-math.log(th_p / (th_gt + 1e-5) + 1e-5) ** 2) + 0.5 * math.exp(-abs(th_d))
    return ic, float(sa)


def eval_remove(meta, origin_dets, new_dets, gate: bool) -> tuple[int, float]:
    """``(IC, SA)``: 0 while a detection still overlaps the source box (IoU > 0.1 or 2D Σ² < 100);
    else SA = clip(1 − 0.3·(n_src − n_pred − 1), 0, 1), IC = SA ≥ 0.5."""
    if not gate:
        return 0, 0.0
    o2d = origin_bbox_2d(origin_dets, meta)
    if o2d is None:
        return 0, 0.0
    O = meta["original_bbox_3d"]
    if any(iou_3d(O, d["bbox_3d"]) > 0.1 or check_same(o2d, d["bbox_2d"], 100) for d in new_dets):
        return 0, 0.0
    score = float(np.clip(1 - 0.3 * (len(origin_dets) - len(new_dets) - 1), 0, 1))
    return int(score >= 0.5), score


def eval_scale(meta, origin_dets, new_dets, gate: bool) -> tuple[int, float]:
    """``(IC, SA)``: scales ``s = extent / (source extent + 1e-5)``; SA = exp(−mean(ln(s_pred /
    (s_gt + 1e-5) + 1e-5)²)) (s_pred = 1 without a candidate); IC = ‖s_pred − 1‖ > 0.2."""
    scorable, P = _candidate_near_target(meta, origin_dets, new_dets, gate, 0.001)
    if not scorable:
        return 0, 0.0
    G, O = meta["new_bbox_3d"], meta["original_bbox_3d"]
    dims_o = np.asarray(O[3:6], dtype=np.float64)
    s_gt = np.asarray(G[3:6], dtype=np.float64) / (dims_o + 1e-5)
    s_p = np.asarray(P["bbox_3d"][3:6], dtype=np.float64) / (dims_o + 1e-5) if P is not None else np.ones(3)
    with np.errstate(divide="ignore", invalid="ignore"):
        sa = math.exp(-float(np.mean(np.log(s_p / (s_gt + 1e-5) + 1e-5) ** 2)))
    return int(float(np.linalg.norm(s_p - 1.0)) > 0.2), float(sa)


def eval_view(ssim_full: float, lpips_full: float) -> tuple[float, float]:
    """IC = SA = ½·SSIM + ½·(1 − LPIPS) against the ground-truth image (continuous)."""
    s = 0.5 * ssim_full + 0.5 * (1 - lpips_full)
    return float(s), float(s)


# ---------------------------------------------------------------------------------------------
# edit locality (upstream eval_locality)
# ---------------------------------------------------------------------------------------------
def detector_frame(image: np.ndarray) -> np.ndarray:
    """Upstream's ``img_process`` of a uint8 ``(H, W, 3)`` RGB image → float64 ``(min(H, 896),
    min(W, 896), 3)`` in 0–255: longest side resized to 896, centre-cropped to multiples of 14,
    padded (bottom / right) to 896² with the SAM pixel mean, then cut to ``[:H, :W]`` of the
    original size (so a small image keeps only the top-left of the resized one)."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = DETECTOR_LONG_SIDE / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize((nw, nh), Image.BILINEAR),
                         dtype=np.float64)
    ch, cw = (nh // 14) * 14, (nw // 14) * 14
    y0, x0 = nh // 2 - ch // 2, nw // 2 - cw // 2
    canvas = np.empty((DETECTOR_LONG_SIDE, DETECTOR_LONG_SIDE, 3))
    canvas[:] = _SAM_PIXEL_MEAN
    canvas[:ch, :cw] = resized[y0:y0 + ch, x0:x0 + cw]
    return canvas[:h, :w]


def mark_box(mask: np.ndarray, box) -> None:
    """Upstream's ``update_mask_2d``: ``mask[int(max(0, y1)):int(min(H, y2)), int(max(0, x1)):
    int(min(W, x2))] = True`` — truncation, and Python slicing of negative ends, as is. A box with
    a non-finite coordinate marks nothing (upstream raises on it)."""
    if box is None or not all(math.isfinite(float(v)) for v in box):
        return
    x1, y1, x2, y2 = (float(v) for v in box)
    h, w = mask.shape
    mask[int(max(0, y1)):int(min(h, y2)), int(max(0, x1)):int(min(w, x2))] = True


def new_bbox_2d(meta: dict, new_dets: list[dict]):
    """The last detection on the prediction that matches neither the JSON source box in 3D
    (Σ² < 0.1) nor its *projection* (``bbox_3d_to_2d`` of the JSON box, Σ² < 100), else ``None``."""
    projected = bbox_3d_to_2d(meta["original_bbox_3d"], meta["rotation_matrix"], meta["camera_intrinsics"])
    found = None
    for d in new_dets:
        if not (check_same(d["bbox_3d"], meta["original_bbox_3d"], 0.1) or check_same(d["bbox_2d"], projected, 100)):
            found = d["bbox_2d"]
    return found


def masked_ssim(img1: np.ndarray, img2: np.ndarray, keep: np.ndarray | None = None) -> float:
    """scikit-image SSIM per RGB channel (7×7 uniform window, sample covariance) with
    ``data_range = img2.max() − img2.min()``, averaged over the ``keep`` pixels of the full map
    (all pixels when ``keep`` is ``None``); NaN when ``keep`` selects nothing.

    >>> a = np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(float)
    >>> masked_ssim(a, a)
    1.0
    """
    from skimage.metrics import structural_similarity

    a, b = np.asarray(img1, dtype=np.float64), np.asarray(img2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score, smap = structural_similarity(a, b, data_range=float(b.max() - b.min()), channel_axis=-1, full=True)
    if keep is None:
        return float(score)
    sel = smap[np.asarray(keep, dtype=bool)]
    return float(sel.mean()) if sel.size else float("nan")


def eval_locality(source: np.ndarray, pred: np.ndarray, origin_dets: list[dict], new_dets: list[dict],
                  meta: dict) -> tuple[float, float, float]:
    """``(ssim, lpips, mse)`` between the **source** and the prediction (both uint8 RGB, same
    size) in the detector frame, outside the source box and the new box (see module doc)."""
    a, b = detector_frame(source), detector_frame(pred)
    mask = np.zeros(a.shape[:2], dtype=bool)
    mark_box(mask, origin_bbox_2d(origin_dets, meta))
    mark_box(mask, new_bbox_2d(meta, new_dets))
    keep = ~mask
    ssim = masked_ssim(a, b, keep)
    lpips = 1.0 - ssim
    d2 = ((a - b) ** 2)[keep]
    mse = float(d2.mean()) if d2.size else float("nan")
    return ssim, lpips, mse


# ---------------------------------------------------------------------------------------------
# statistics and aggregation (§8, §11)
# ---------------------------------------------------------------------------------------------
def _mean(xs) -> float:
    xs = list(xs)
    return float(sum(xs) / len(xs)) if xs else 0.0


def compute_statistics(results: dict, mode: str, output_dir=None, show: bool = False) -> dict:
    """Per-mode statistics of ``{key: record}`` results, as upstream's ``statistics_utils``:
    ``instruction-compliance`` → success rates (and counts) overall and per operation;
    ``spatial-accuracy`` → mean ``edit_score``; ``edit-locality`` → mean ``ssim`` and ``lpips``.
    Extra fields in the records are ignored; means over nothing are 0.0. Written to
    ``<output_dir>/<mode>_eval_stats.json`` when ``output_dir`` is given."""
    by_op: dict[str, list[dict]] = defaultdict(list)
    for rec in results.values():
        by_op[rec["operation"]].append(rec)
    values = list(results.values())
    if mode == "instruction-compliance":
        stats = {"operation_success_rate": {op: {"rate": _mean(r["compliance"] for r in rs), "count": len(rs)}
                                            for op, rs in by_op.items()},
                 "overall_success_rate": _mean(r["compliance"] for r in values),
                 "overall_total_count": len(values)}
    elif mode == "spatial-accuracy":
        stats = {"operation_mean_score": {op: _mean(r["edit_score"] for r in rs) for op, rs in by_op.items()},
                 "overall_mean_score": _mean(r["edit_score"] for r in values)}
    elif mode == "edit-locality":
        stats = {"operation_mean_ssim": {op: _mean(r["ssim"] for r in rs) for op, rs in by_op.items()},
                 "operation_mean_lpips": {op: _mean(r["lpips"] for r in rs) for op, rs in by_op.items()},
                 "overall_mean_ssim": _mean(r["ssim"] for r in values),
                 "overall_mean_lpips": _mean(r["lpips"] for r in values)}
    else:
        raise ValueError(f"unknown mode {mode!r}")
    if output_dir is not None:
        write_json(Path(output_dir) / f"{mode}_eval_stats.json", stats)
    if show:
        print(json.dumps(stats, indent=2))
    return stats


def normalize_dataset_name(name: str) -> str:
    return name.removesuffix("_eval")


def normalize_model_name(name: str) -> str:
    return name.replace("_", "")


def parse_ac_scores(predictions: list[dict]) -> dict:
    """``{meta.index: score}`` from judge outputs ``text||V^=^V||{"score": …}`` (the closing
    delimiter is optional); anything unparseable gives ``None``."""
    out = {}
    for p in predictions:
        key = p.get("meta", {}).get("index")
        try:
            out[key] = json.loads(p["prediction"].split(AC_DELIMITER)[1])["score"]
        except Exception:  # noqa: BLE001 - the official parser maps every failure to None
            out[key] = None
    return out


def write_json(path, data) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def load_json(path):
    return json.loads(Path(path).read_text())


def _ac_lookup(ac_scores: dict, *keys: str):
    for key in keys:
        for k in (key, f"{key}.jpg", f"{key}.png"):
            if k in ac_scores:
                return ac_scores[k]
    return None


def compute_metrics(ic: dict, sa: dict, el: dict, ac_scores: dict, ac_keys: dict | None = None) -> dict:
    """The official per-subset aggregation with its gating (§8):

    IC > 0 → EL = 100·SSIM, 100 − 100·LPIPS and AC = 10·score, and AC = 0 zeroes IC, SA and EL;
    IC = 0 → EL = AC = 0 but **SA is kept**. Plain means over all samples (not rounded); IC and
    SA × 100; ``average`` = (IC + SA + EL_lpips + AC) / 4. ``ac_keys`` maps a results key to the
    judge key (default: the same key)."""
    n = len(ic)
    if n == 0:
        return {"instruction_compliance": 0.0, "spatial_accuracy": 0.0,
                "edit_locality": {"ssim": 0.0, "lpips": 0.0}, "ac": 0.0, "average": 0.0}
    tot = {"ic": 0.0, "sa": 0.0, "ssim": 0.0, "lpips": 0.0, "ac": 0.0}
    for k, rec in ic.items():
        c = float(rec["compliance"])
        s = float(sa[k]["edit_score"])
        if c > 0:
            e = el.get(k)
            el_ssim = 100 * float(e["ssim"]) if e else 0.0
            el_lpips = 100 - 100 * float(e["lpips"]) if e else 0.0
            score = _ac_lookup(ac_scores, (ac_keys or {}).get(k, k))
            ac = 10 * float(score) if score is not None else 0.0
            if ac == 0:
                c = s = el_ssim = el_lpips = 0.0
        else:
            el_ssim = el_lpips = ac = 0.0
        tot["ic"] += c
        tot["sa"] += s
        tot["ssim"] += el_ssim
        tot["lpips"] += el_lpips
        tot["ac"] += ac
    icv, sav = 100 * tot["ic"] / n, 100 * tot["sa"] / n
    elv = {"ssim": tot["ssim"] / n, "lpips": tot["lpips"] / n}
    acv = tot["ac"] / n
    return {"instruction_compliance": icv, "spatial_accuracy": sav, "edit_locality": elv, "ac": acv,
            "average": (icv + sav + elv["lpips"] + acv) / 4}


# ---------------------------------------------------------------------------------------------
# our records → official inputs
# ---------------------------------------------------------------------------------------------
def edit_meta(record) -> dict:
    """The official edit JSON of ``record`` (boxes via :func:`gsi_bench.official_format.official_box`)."""
    vec0, r0 = official_box(record.source_box)
    vec1, r1 = official_box(record.target_box)
    return {"prompt": record.instruction, "target": record.target.category,
            "original_bbox_3d": vec0, "new_bbox_3d": vec1, "camera_intrinsics": record.K,
            "rotation_matrix": r0, "new_rotation_matrix": r1}


def official_keys(record) -> tuple[str, str]:
    """``(detector cache key, judge key)`` of a record: ``<img_id>_<qid>`` and ``<img_id>_edit_<qid>``
    (:func:`gsi_bench.official_format.release_names`)."""
    img_id, qid = release_names(record.id, record.provenance.generator, record.checks.thresholds)
    return f"{img_id}_{qid}", f"{img_id}_edit_{qid}"


class NoDetections(LookupError):
    """No detections can be had for a record (the message says what to pass)."""


def scene_detections(scene, category: str, K, frame_scale: float = 1.0) -> list[dict]:
    """Boxes of every movable object of ``category`` in ``scene`` (its camera), as detections;
    ``bbox_2d`` is multiplied by ``frame_scale`` (the official 896-long-side frame)."""
    from gsi_bench.official_format import box_to_official_7vec, official_rotation
    from gsi_syn.placement import box_in_camera, object_box_world

    C = scene.camera.cam_from_world_array
    out = []
    for o in sorted(scene.movable(), key=lambda o: o.instance_id):
        if o.category != category:
            continue
        b = box_in_camera(object_box_world(o), C)
        v = box_to_official_7vec(b.center, b.size, b.rotation)
        R = official_rotation(b.rotation)
        out.append({"bbox_3d": v, "rotation_matrix": R.tolist(),
                    "bbox_2d": [x * frame_scale for x in bbox_3d_to_2d(v, R, K)],
                    "label": category, "instance_id": o.instance_id})
    return out


def _cached_detections(record, cfg, state) -> tuple[list[dict], list[dict]]:
    loaded = state.setdefault("official_detections", {})   # by path: one process may run several evaluations
    if cfg.detections not in loaded:
        loaded[cfg.detections] = load_json(cfg.detections)
    cache = loaded[cfg.detections]
    det_key, _ = official_keys(record)
    entry = cache.get(det_key, cache.get(record.id))
    if entry is None:
        raise NoDetections(f"no detections for {det_key!r} (or {record.id!r}) in {cfg.detections}")
    dets = lambda part: list(((entry.get(part) or {}).get("detections")) or [])
    return dets("origin_result"), dets("new_result")


def _scene_detections(record, pred, cfg) -> tuple[list[dict], list[dict], dict]:
    """Source / realised-scene boxes of the target's category (records with a scene), and the
    default protocol's scores of the sample."""
    import dataclasses

    if not record.scene or record.scene.strip() in ("", "{}"):
        raise NoDetections("the record has no scene to localise from and no detections were given; pass "
                           "--detections with the upstream detector cache (infer_cache.json, keyed <img_id>_<qid>)")
    from validation.evaluator.runner import score_default

    default = score_default(record, pred, cfg)
    realised = default.pop("_realised")
    if realised is None:
        raise NoDetections("the record's scene holds no object boxes (GSI-Real capture); pass --detections "
                           "with the upstream detector cache (infer_cache.json, keyed <img_id>_<qid>)")
    src, _ = record.scenes()
    frame = DETECTOR_LONG_SIDE / max(pred.shape[:2])
    origin = scene_detections(src, record.target.category, record.K, frame)
    if record.operation == "remove":
        scene = src
        for iid, present in realised.present.items():
            if not present:
                scene = scene.without(iid)
    elif realised.obj is None:
        scene = src.without(record.target.instance_id)
    else:
        scene = src.replace_object(dataclasses.replace(realised.obj))
    return origin, scene_detections(scene, record.target.category, record.K, frame), default


def score_record_official(record, pred, cfg, synth, state) -> dict:
    """Official IC / SA / EL / AC of one sample (see the module docstring for inputs). Raises
    :class:`NoDetections` (the runner reports the sample ``unscorable``) when no boxes exist."""
    op = OPERATION_ROUTE[record.operation]
    meta = edit_meta(record)
    source = record.source_image
    default: dict | None = None
    if cfg.detections:
        origin, new = _cached_detections(record, cfg, state)
        det_source = "detections file"
    elif op == "view":
        origin, new = [], []
        det_source = "none (view edit)"
    else:
        origin, new, default = _scene_detections(record, pred, cfg)
        det_source = "record scene"
    ssim, lpips, mse = eval_locality(source, pred, origin, new, meta)
    res: dict = {"official_operation": op}
    if default is not None:
        res["default_protocol"] = {k: default[k] for k in ("ic", "sa", "el", "ac")}
    off = {"operation": op, "ssim": ssim, "lpips": lpips, "mse": mse,
           "detections": {"source": det_source, "origin": len(origin), "edited": len(new)}}
    if op == "view":
        if release_has_target_image(record.checks.thresholds):
            view_ssim = masked_ssim(pred, record.target_image)
            ic, sa = eval_view(view_ssim, 1.0 - view_ssim)
        else:  # upstream: no *gtedit* image → the view sample scores 0
            ic, sa = 0.0, 0.0
            off["note"] = "no ground-truth image: view scores 0, as upstream"
    else:
        gate = check_locality(ssim, lpips, cfg.official_dataset)
        off["locality_gate"] = gate
        if op == "move":
            ic, sa = eval_move(meta, origin, new, gate)
        elif op == "rotate":
            ic, sa = eval_rotate(meta, origin, new, gate, viewpoint_ok=True)
        elif op == "scale":
            ic, sa = eval_scale(meta, origin, new, gate)
        else:
            ic, sa = eval_remove(meta, origin, new, gate)
    off.update(compliance=ic, edit_score=sa)
    _, judge_key = official_keys(record)
    if cfg.ac_scores:
        judged = state.setdefault("official_ac_scores", {})
        if cfg.ac_scores not in judged:
            judged[cfg.ac_scores] = parse_ac_scores(load_json(cfg.ac_scores))
        ac_score = _ac_lookup(judged[cfg.ac_scores], judge_key, record.id)
    elif default is not None:
        ac_score = default["ac"] / 10.0
    else:
        ac_score = None
    off["ac_score"] = ac_score
    res.update(ic=ic, sa=sa, official=off, el=100.0 * (1.0 - lpips), el_ssim=ssim, el_psnr=0.0,
               ac=10.0 * float(ac_score) if ac_score is not None else 0.0,
               reason=f"official {op}: compliance {ic:.3g}, edit score {sa:.3g}")
    return res


def summarise(results: list[dict], cfg) -> dict:
    """Official statistics for every mode and the gated aggregate of the run (not rounded).
    Samples without a prediction (or unscorable) enter as 0 everywhere — upstream drops them."""
    ic, sa, el, ac = {}, {}, {}, {}
    for s in results:
        off = s.get("official") or {"operation": OPERATION_ROUTE.get(s["operation"], s["operation"]),
                                     "compliance": 0, "edit_score": 0.0, "ssim": 0.0, "lpips": 1.0, "ac_score": None}
        k = s["id"]
        ic[k] = {"operation": off["operation"], "compliance": off["compliance"]}
        sa[k] = {"operation": off["operation"], "edit_score": off["edit_score"]}
        el[k] = {"operation": off["operation"], "ssim": off["ssim"], "lpips": off["lpips"]}
        ac[k] = off.get("ac_score")
    return {"dataset_gate": cfg.official_dataset,
            "statistics": {m: compute_statistics(r, m) for m, r in
                           (("instruction-compliance", ic), ("spatial-accuracy", sa), ("edit-locality", el))},
            "aggregate": compute_metrics(ic, sa, el, ac),
            "operation_map": dict(OPERATION_ROUTE),
            "deviations": list(DEVIATIONS)}
