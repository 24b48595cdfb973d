"""Contracts of the official protocol (official-protocol.md §4–§8, §11)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from validation.evaluator.protocols import official as off


def test_compute_statistics_ic():
    res = {"a": {"operation": "move", "compliance": 1}, "b": {"operation": "move", "compliance": 0},
           "c": {"operation": "rotate", "compliance": 1}}
    s = off.compute_statistics(res, "instruction-compliance", None, show=False)
    assert s["overall_success_rate"] == pytest.approx(2 / 3)
    assert s["overall_total_count"] == 3
    assert s["operation_success_rate"]["move"] == {"rate": 0.5, "count": 2}
    assert s["operation_success_rate"]["rotate"]["rate"] == 1.0


def test_compute_statistics_sa_el_and_extra_fields(tmp_path):
    full = lambda op, c, e, ss, lp: {"operation": op, "compliance": c, "edit_score": e, "ssim": ss,
                                     "lpips": lp, "mse": 1.0}
    res = {"a": full("move", 1, 0.8, 0.9, 0.1), "b": full("view", 0, 0.6, 0.7, 0.3)}
    sa = off.compute_statistics(res, "spatial-accuracy", tmp_path)
    assert sa["overall_mean_score"] == pytest.approx(0.7) and sa["operation_mean_score"]["move"] == pytest.approx(0.8)
    el = off.compute_statistics(res, "edit-locality", None)
    assert el["overall_mean_ssim"] == pytest.approx(0.8) and el["overall_mean_lpips"] == pytest.approx(0.2)
    assert "view" in el["operation_mean_ssim"]
    assert (tmp_path / "spatial-accuracy_eval_stats.json").exists()
    ic = off.compute_statistics(res, "instruction-compliance", None)
    assert ic["operation_success_rate"]["view"]["count"] == 1


def test_empty_ic_is_zero():
    assert off.compute_statistics({}, "instruction-compliance", None)["overall_success_rate"] == 0.0


def test_aggregate_helpers(tmp_path):
    assert off.normalize_dataset_name("robothor_eval") == "robothor"
    assert off.normalize_dataset_name("robothor") == "robothor"
    assert off.normalize_model_name("my_model_v2") == "mymodelv2"
    preds = [{"meta": {"index": "k1"}, "prediction": 'text||V^=^V||{"score": 0.9}'},
             {"meta": {"index": "k2"}, "prediction": 'x||V^=^V||{"score": 7}||V^=^V||'},
             {"meta": {"index": "k3"}, "prediction": "no separator"}]
    assert off.parse_ac_scores(preds) == {"k1": 0.9, "k2": 7, "k3": None}
    path = tmp_path / "a" / "b" / "x.json"
    off.write_json(path, {"v": [1, 2]})
    assert off.load_json(path) == {"v": [1, 2]}


def test_compute_metrics_gating():
    ic = {"a": {"compliance": 1}, "b": {"compliance": 0}, "c": {"compliance": 1}}
    sa = {"a": {"edit_score": 0.8}, "b": {"edit_score": 0.6}, "c": {"edit_score": 0.9}}
    el = {"a": {"ssim": 0.9, "lpips": 0.1}, "b": {"ssim": 0.9, "lpips": 0.1}, "c": {"ssim": 0.5, "lpips": 0.5}}
    ac = {"a": 8, "b": 10, "c": 0}          # c: judge gives 0 → its IC/SA/EL are zeroed
    m = off.compute_metrics(ic, sa, el, ac)
    assert m["instruction_compliance"] == pytest.approx(100 / 3)
    assert m["spatial_accuracy"] == pytest.approx(100 * (0.8 + 0.6) / 3)   # b's SA kept although IC = 0
    assert m["edit_locality"]["ssim"] == pytest.approx(90 / 3)
    assert m["edit_locality"]["lpips"] == pytest.approx(90 / 3)
    assert m["ac"] == pytest.approx(80 / 3)
    assert m["average"] == pytest.approx((m["instruction_compliance"] + m["spatial_accuracy"]
                                          + m["edit_locality"]["lpips"] + m["ac"]) / 4)
    # AC keys may carry the image extension; a missing AC zeroes the sample
    m2 = off.compute_metrics({"a": {"compliance": 1}}, {"a": {"edit_score": 0.5}}, {"a": {"ssim": 1, "lpips": 0}},
                             {"a.png": 10})
    assert m2["ac"] == 100.0
    m3 = off.compute_metrics({"a": {"compliance": 1}}, {"a": {"edit_score": 0.5}}, {}, {})
    assert m3["instruction_compliance"] == 0 and m3["spatial_accuracy"] == 0
    assert off.compute_metrics({}, {}, {}, {})["average"] == 0.0


def test_primitives():
    assert off.check_same([0, 0, 0], [0.1, 0.1, 0.1], 0.1)          # Σ² = 0.03
    assert not off.check_same([0, 0], [0.3, 0.0], 0.05)
    b = [0, 0, 2, 1, 1, 1, 0.0]
    assert off.iou_3d(b, b) == pytest.approx(1.0)
    assert off.iou_3d(b, [0.5, 0, 2, 1, 1, 1, 0.0]) == pytest.approx(1 / 3)
    assert off.iou_3d(b, [5, 0, 2, 1, 1, 1, 0.0]) == 0.0
    assert off.rotation_matrix_distance(np.eye(3), np.eye(3)) == pytest.approx(0.0, abs=1e-7)
    Rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    assert off.rotation_matrix_distance(np.eye(3), Rz) == pytest.approx(math.pi / 2)
    K = [[100, 0, 50], [0, 100, 50], [0, 0, 1]]
    x0, y0, x1, y1 = off.bbox_3d_to_2d([0, 0, 2, 0.2, 0.2, 0.2, 0], np.eye(3), K)
    assert x0 < 50 < x1 and y0 < 50 < y1
    assert off.check_locality(0.7, 0.2, "GSI-Syn") and not off.check_locality(0.7, 0.4, "GSI-Syn")
    assert off.check_locality(0.7, 0.4, "GSI-Real") and not off.check_locality(0.5, 0.4, "GSI-Real")


def test_get_operation_routing():
    assert off.get_operation("Move the mug 10 cm to the left.") == "move"
    assert off.get_operation("Please rotate the cup 90 degrees.") == "rotate"
    assert off.get_operation("Make the bowl 2 times larger.") == "scale"
    assert off.get_operation("Move the camera forward by 0.5 meters.") == "view"
    assert off.get_operation("Move the X 15 cm left relative to the camera view.") == "move"
    assert off.get_operation("Frobnicate the X") == "frobnicate"


def _det(box, K, R=None):
    R = np.eye(3) if R is None else R
    return {"bbox_3d": list(box), "bbox_2d": off.bbox_3d_to_2d(box, R, K), "rotation_matrix": np.asarray(R).tolist()}


def test_move_remove_scale_formulas():
    K = [[500, 0, 256], [0, 500, 256], [0, 0, 1]]
    O = [0.0, 0.2, 2.0, 0.2, 0.2, 0.2, 0.0]
    G = [0.5, 0.2, 2.0, 0.2, 0.2, 0.2, 0.0]   # > 0.32 m: smaller moves count as "the same box"
    meta = {"original_bbox_3d": O, "new_bbox_3d": G, "camera_intrinsics": K,
            "rotation_matrix": np.eye(3).tolist(), "new_rotation_matrix": np.eye(3).tolist()}
    origin = [_det(O, K)]
    ic, sa = off.eval_move(meta, origin, [_det(G, K)], gate=True)
    assert ic == 1 and sa == pytest.approx(0.3 + 0.7 * math.exp(-math.log(1 + 1e-5) ** 2), rel=1e-3)
    # direction is ignored by the official move score (W-S2): the mirrored move scores 0.7·score2
    ic2, sa2 = off.eval_move(meta, origin, [_det([-0.5, 0.2, 2.0, 0.2, 0.2, 0.2, 0.0], K)], gate=True)
    assert ic2 == 1 and sa2 == pytest.approx(0.7, rel=1e-3)
    assert off.eval_move(meta, origin, [_det(G, K)], gate=False) == (0, 0.0)
    # count penalty
    _, sa3 = off.eval_move(meta, origin, [_det(G, K), _det([1, 0.2, 3, .2, .2, .2, 0], K)], gate=True)
    assert sa3 == pytest.approx(sa / 2)
    # remove: exactly one fewer → 1; target still there → 0
    other = _det([1, 0.2, 3, .2, .2, .2, 0], K)
    assert off.eval_remove(meta, [_det(O, K), other], [other], gate=True) == (1, 1.0)
    assert off.eval_remove(meta, [_det(O, K), other], [_det(O, K), other], gate=True) == (0, 0.0)
    assert off.eval_remove(meta, [_det(O, K), other, other, other], [other], gate=True) == (0, pytest.approx(0.4))
    # scale: no candidate → SA = exp(-(ln s_gt)^2) partial credit, IC 0 (W-S1)
    Gs = [0.0, 0.2, 2.0, 0.4, 0.4, 0.4, 0.0]
    meta_s = {**meta, "new_bbox_3d": Gs}
    ic, sa = off.eval_scale(meta_s, origin, [_det(O, K)], gate=True)
    assert ic == 0 and sa == pytest.approx(math.exp(-math.log(2) ** 2), rel=1e-3)
    ic, sa = off.eval_scale(meta_s, origin, [_det(Gs, K)], gate=True)
    assert ic == 1 and sa == pytest.approx(1.0, abs=1e-3)


def test_view_formula():
    assert off.eval_view(1.0, 0.0) == (1.0, 1.0)
    assert off.eval_view(0.6, 0.4) == pytest.approx((0.6, 0.6))


def test_official_protocol_run(tmp_path):
    pytest.importorskip("moderngl")
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig
    from validation.baselines import run_baseline
    from validation.evaluator import EvalConfig, evaluate

    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=3, resolution=96), tmp_path / "d",
             workers=1, progress=False)
    run_baseline("oracle", str(tmp_path / "d"), str(tmp_path / "p"))
    s = evaluate(EvalConfig(data=str(tmp_path / "d"), predictions=str(tmp_path / "p"), out=str(tmp_path / "r"),
                            protocol="official"))
    agg = s["official"]["aggregate"]
    assert s["protocol"] == "official" and s["counts"]["ok"] == 7
    assert set(s["official"]["statistics"]) == {"instruction-compliance", "spatial-accuracy", "edit-locality"}
    assert 0 <= agg["instruction_compliance"] <= 100 and agg["ac"] > 0
    assert s["per_operation"]["perspective"]["ic"] == pytest.approx(100.0)
    assert s["per_operation"]["remove"]["ic"] == pytest.approx(100.0)
