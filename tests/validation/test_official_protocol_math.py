"""The official protocol reproduces the upstream evaluator's arithmetic on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from validation.evaluator.protocols import official as off

K = [[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]]


def ry(a: float) -> list[list[float]]:
    c, s = math.cos(a), math.sin(a)
    return [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]


def det(box, bbox_2d, R=None) -> dict:
    return {"bbox_3d": list(box), "bbox_2d": list(bbox_2d), "rotation_matrix": ry(box[6]) if R is None else R}


def meta(O, G=None, R0=None, R1=None) -> dict:
    return {"original_bbox_3d": list(O), "new_bbox_3d": list(G or O), "camera_intrinsics": K,
            "rotation_matrix": R0 or ry(O[6]), "new_rotation_matrix": R1 or ry((G or O)[6])}


# -- projection, IoU --------------------------------------------------------------------------
def test_projection_divides_by_z_without_clamping():
    # corners at z = -0.1 and z = 0.3, x, y = ±0.1: u = 50 + 100·x/z
    box = [0.0, 0.0, 0.1, 0.2, 0.2, 0.4, 0.0]
    assert off.bbox_3d_to_2d(box, np.eye(3), K) == pytest.approx([-50.0, -50.0, 150.0, 150.0])
    # a corner exactly at z = 0 gives a non-finite box (upstream divides by zero too)
    assert not all(math.isfinite(v) for v in off.bbox_3d_to_2d([0, 0, 0.2, 0.2, 0.2, 0.4, 0], np.eye(3), K))


def test_iou_from_corners_zero_extent_and_half_turn():
    b = [0.0, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0]
    assert off.iou_3d(b, [0.5, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0]) == pytest.approx(1 / 3)
    assert off.iou_3d(b, [0.0, 0.5, 2.0, 1.0, 1.0, 1.0, 0.0]) == pytest.approx(1 / 3)   # vertical overlap
    assert off.iou_3d(b, [0.0, 0.0, 2.0, 1.0, 1.0, 1.0, math.pi]) == pytest.approx(1.0)
    assert off.iou_3d(b, [0.0, 0.0, 2.0, 0.0, 1.0, 1.0, 0.0]) == 0.0                  # degenerate polygon
    # a negative height still overlaps by the corners' min / max, as upstream
    assert off.iou_3d(b, [0.0, 0.0, 2.0, 1.0, -1.0, 1.0, 0.0]) == pytest.approx(1.0)


# -- per-operation formulas -------------------------------------------------------------------
def test_scale_with_zero_extent_is_finite_and_uses_the_epsilons():
    O = [0.0, 0.0, 2.0, 0.2, 0.0, 0.2, 0.0]
    G = [0.0, 0.0, 2.0, 0.4, 0.0, 0.4, 0.0]
    m = meta(O, G)
    origin = [det(O, [0, 0, 10, 10])]
    ic, sa = off.eval_scale(m, origin, [det(G, [0, 0, 60, 60])], gate=True)
    s = 0.4 / (0.2 + 1e-5)
    r = s / (s + 1e-5)
    expected = math.exp(-((2 * math.log(r + 1e-5) ** 2) + math.log(1e-5) ** 2) / 3)   # zero extent: 0/(0+1e-5)
    assert ic == 1 and math.isfinite(sa) and sa == pytest.approx(expected, rel=1e-9)


def test_scale_without_candidate_keeps_partial_credit():
    O, G = [0, 0, 2, 0.2, 0.2, 0.2, 0.0], [0, 0, 2, 0.4, 0.4, 0.4, 0.0]
    origin = [det(O, [0, 0, 10, 10])]
    ic, sa = off.eval_scale(meta(O, G), origin, [det(O, [0, 0, 10, 10])], gate=True)
    s_gt = 0.4 / (0.2 + 1e-5)
    assert ic == 0 and sa == pytest.approx(math.exp(-math.log(1 / (s_gt + 1e-5) + 1e-5) ** 2), rel=1e-9)


def test_half_turn_rotation():
    O = [0.0, 0.0, 2.0, 0.4, 0.2, 0.2, 0.0]
    m = meta(O, R1=ry(math.pi))
    origin = [det(O, [100, 100, 200, 160])]
    # the detector sees the turned box at the same place with a 2D box moved by > 10 px
    turned = det([0.0, 0.0, 2.0, 0.4, 0.2, 0.2, math.pi], [300, 100, 400, 160], R=ry(math.pi))
    ic, sa = off.eval_rotate(m, origin, [turned], gate=True)
    th = off.rotation_matrix_distance(np.eye(3), ry(math.pi))
    assert th == pytest.approx(math.pi)
    assert ic == 1 and sa == pytest.approx(0.5 * math.exp(-math.log(th / (th + 1e-5) + 1e-5) ** 2) + 0.5, rel=1e-9)
    # a half turn of a symmetric box leaves its 2D box unchanged: upstream takes it for the source
    same2d = dict(turned, bbox_2d=[100, 100, 200, 160])
    assert off.eval_rotate(m, origin, [same2d], gate=True) == (0, 0.0)
    # the viewpoint gate and the locality gate both zero the sample
    assert off.eval_rotate(m, origin, [turned], gate=True, viewpoint_ok=False) == (0, 0.0)
    assert off.eval_rotate(m, origin, [turned], gate=False) == (0, 0.0)


def test_rotation_too_far_keeps_ic_but_zero_sa():
    O = [0.0, 0.0, 2.0, 0.4, 0.2, 0.2, 0.0]
    far = det([0.6, 0.0, 2.0, 0.4, 0.2, 0.2, 1.0], [300, 100, 400, 160])
    assert off.eval_rotate(meta(O, R1=ry(1.0)), [det(O, [100, 100, 200, 160])], [far], gate=True) == (1, 0.0)


def test_move_arithmetic_and_missing_detections():
    O = [0.0, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0]
    G = [0.6, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0]
    m = meta(O, G)
    o = det(O, [40, 40, 60, 60])
    P = det([0.35, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0], [55, 40, 75, 60])   # Σ² = 0.1225 > 0.1: not "the same box"
    ic, sa = off.eval_move(m, [o], [P], gate=True)
    r = 0.35 / (0.6 + 1e-5)
    expected = 0.3 * off.iou_3d(G, P["bbox_3d"]) + 0.7 * math.exp(-math.log(math.sqrt(r) + 1e-5) ** 2)
    assert off.iou_3d(G, P["bbox_3d"]) == 0.0 and ic == 1 and sa == pytest.approx(expected, rel=1e-12)
    # missing detections: none on the prediction, or no source detection matching the JSON box
    assert off.eval_move(m, [o], [], gate=True) == (0, 0.0)
    assert off.eval_move(m, [det([1, 0, 3, .2, .2, .2, 0], [0, 0, 5, 5])], [P], gate=True) == (0, 0.0)
    # a move within Σ² < 0.1 of a source detection counts as "the same box": no candidate
    near = det([0.3, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0], [55, 40, 75, 60])
    near["bbox_3d"][0] = 0.2
    _, sa_none = off.eval_move(m, [o], [near], gate=True)
    assert sa_none == pytest.approx(0.7 * math.exp(-math.log(1e-5) ** 2))


def test_remove_counts():
    O = [0.0, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0]
    o = det(O, [40, 40, 60, 60])
    other = det([1.0, 0.0, 3.0, 0.2, 0.2, 0.2, 0.0], [80, 40, 90, 50])
    assert off.eval_remove(meta(O), [o], [], gate=True) == (1, 1.0)
    assert off.eval_remove(meta(O), [o, other], [], gate=True) == (1, pytest.approx(0.7))
    assert off.eval_remove(meta(O), [o], [other, other], gate=True) == (1, 1.0)     # extra detections unpunished
    assert off.eval_remove(meta(O), [], [], gate=True) == (0, 0.0)                  # no source match


# -- locality ---------------------------------------------------------------------------------
def test_gate_decisions_with_nan():
    nan = float("nan")
    assert off.check_locality(nan, 0.2, "GSI-Real") and not off.check_locality(nan, 0.2, "GSI-Syn")
    assert not off.check_locality(nan, nan, "GSI-Real")
    assert off.check_locality(0.61, 0.29, "GSI-Syn") and not off.check_locality(0.6, 0.29, "GSI-Syn")


def test_ssim_is_per_channel_with_the_prediction_range():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (24, 20, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    rng_b = b.max() - b.min()
    per_channel = np.mean([structural_similarity(a[..., c], b[..., c], data_range=rng_b) for c in range(3)])
    assert off.masked_ssim(a, b) == pytest.approx(per_channel, rel=1e-12)
    keep = np.zeros(a.shape[:2], bool)
    assert math.isnan(off.masked_ssim(a, b, keep))                 # nothing kept: NaN, not 1.0


def test_mask_truncates_like_upstream():
    m = np.zeros((10, 10), bool)
    off.mark_box(m, [1.7, 2.9, 5.2, 6.99])
    assert m.sum() == 4 * 4 and m[2:6, 1:5].all()
    m2 = np.zeros((10, 10), bool)
    off.mark_box(m2, [float("inf"), 0, 5, 5])
    assert not m2.any()


def test_detector_frame_shape_and_padding():
    img = np.full((500, 1000, 3), 10, np.uint8)
    f = off.detector_frame(img)
    assert f.shape == (500, 896, 3)                     # cut to [:H, :W] of the original size
    assert np.allclose(f[:448], 10) and np.allclose(f[448:], off._SAM_PIXEL_MEAN)   # 448 rows, then padding
    small = off.detector_frame(np.full((30, 40, 3), 7, np.uint8))
    assert small.shape == (30, 40, 3) and np.allclose(small, 7)


def test_new_box_rule_uses_the_projected_json_box():
    O = [0.0, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0]
    m = meta(O)
    projected = off.bbox_3d_to_2d(O, ry(0.0), K)
    far3d = [1.0, 0.0, 2.0, 0.2, 0.2, 0.2, 0.0]
    assert off.new_bbox_2d(m, [det(far3d, projected)]) is None            # 2D matches the projection
    assert off.new_bbox_2d(m, [det(far3d, [0, 0, 5, 5]), det(far3d, [1, 1, 6, 6])]) == [1, 1, 6, 6]   # the last
    assert off.new_bbox_2d(m, [det(O, [0, 0, 5, 5])]) is None              # 3D matches the JSON box


def test_aggregates_are_not_rounded():
    ic = {k: {"compliance": c} for k, c in zip("abc", (1, 0, 0))}
    sa = {k: {"edit_score": 1 / 3} for k in "abc"}
    el = {k: {"ssim": 1.0, "lpips": 0.0} for k in "abc"}
    m = off.compute_metrics(ic, sa, el, {"a": 7})
    assert m["instruction_compliance"] == 100 / 3 and m["spatial_accuracy"] == 100 / 3


def test_keys_of_converted_records():
    class R:
        id = "fine_dataset-a_edit_b_edit_1"
        provenance = type("P", (), {"generator": "official-release:official-verb"})()
        checks = type("C", (), {"thresholds": json.dumps({"json": "fine_dataset/a_edit_b_edit_1.json"})})()
    assert off.official_keys(R) == ("a_b_edit_1", "a_edit_b_edit_1")
