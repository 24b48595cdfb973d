"""Report statistics: seeded bootstrap intervals, failure-reason breakdown, instructed vs realised
confusions, realised-pose overlays, and the report that names the model and shows them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gsi_bench.geometry import ground_direction, look_at
from validation.evaluator import report_stats as rs


def _s(op, ic, rid="x", status="ok", reason="", realised=None, sa=0.5, el=80.0, ac=50.0):
    return {"id": rid, "operation": op, "status": status, "ic": ic, "sa": sa, "el": el, "ac": ac,
            "reason": reason, "realised": realised or {}}


def test_bootstrap_is_seeded_covers_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = [_s("rotate", int(v), sa=float(v)) for v in rng.random(20) > 0.4]
    large = [_s("rotate", int(v), sa=float(v)) for v in rng.random(400) > 0.4]
    a, b = rs.bootstrap_interval(small, seed=3), rs.bootstrap_interval(small, seed=3)
    assert a == b
    mean_ic = 100.0 * np.mean([s["ic"] for s in small])
    assert a["ic"][0] <= mean_ic <= a["ic"][1]
    big = rs.bootstrap_interval(large, seed=3)
    assert big["ic"][1] - big["ic"][0] < a["ic"][1] - a["ic"][0]
    assert rs.bootstrap_interval([]) == {k: [0.0, 0.0] for k in rs.HEADLINE}
    per = rs.bootstrap_intervals(small + [_s("scale", 1)])
    assert set(per["per_operation"]) == {"rotate", "scale"} and per["per_operation"]["scale"]["ic"] == [100.0, 100.0]


def test_translation_direction_matches_the_generator_convention():
    cam = look_at([0.3, -1.5, 1.2], [0, 0, 0.4])
    for name in ("left", "right", "forward", "backward"):
        t_cam = cam[:3, :3] @ (0.2 * ground_direction(cam, name))
        assert rs.translation_direction(t_cam) == name
    assert rs.translation_direction([0.001, 0.0, 0.002]) == "none"
    assert rs.translation_direction(None) == "absent"


def test_failure_reasons_and_confusions():
    samples = [
        _s("camera_relative_move", 0, "a", reason="moved 170° off the instructed direction",
           realised={"translation_m": [-0.3, 0.0, 0.0]}),
        _s("camera_relative_move", 1, "b", realised={"translation_m": [0.3, 0.0, 0.0]}),
        _s("rotate", 0, "c", reason="rotation off by 80° (tolerance 20°)", realised={"yaw_change_deg": -40}),
        _s("scale", 1, "d", realised={"scale_factor": 1.5}),
        _s("perspective", 0, "e", reason="camera yaw left 10 instead of pitch up 10",
           realised={"motion": "yaw", "direction": "left", "amount": 10}),
        _s("rotate", 0, "f", status="missing", reason="no prediction for this id"),
    ]
    params = {"a": {"direction": "right"}, "b": {"direction": "right"}, "c": {"rotation_sense": "counterclockwise"},
              "d": {"scale_factor": 1.5}, "e": {"camera_motion": "pitch", "rotation_sense": "up"},
              "f": {"rotation_sense": "clockwise"}}
    reasons = rs.failure_reasons(samples)
    assert reasons["camera_relative_move"] == {"moved #° off the instructed direction": 1}
    assert reasons["rotate"] == {"rotation off by #° (tolerance #°)": 1, "missing: no prediction for this id": 1}
    conf = rs.confusion(samples, params)
    assert conf["direction"] == {"right": {"left": 1, "right": 1}}
    assert conf["sense"] == {"counterclockwise": {"clockwise": 1}, "larger": {"larger": 1}}  # the missing one is left out
    assert conf["camera_motion"] == {"pitch up": {"yaw left": 1}}
    html = rs.html_section(rs.summarise(samples, params))
    assert "Instructed vs realised camera motion" in html and "moved #° off" in html


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    pytest.importorskip("moderngl")
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("stats")
    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=11, resolution=64), out, progress=False)
    return out


def test_realised_box_and_overlay(split):
    from gsi_bench.hub_io import iter_records

    rec = next(r for r in iter_records(split, "tabletop", "test") if r.operation == "camera_relative_move")
    t = np.asarray(rec.target_box.center) - np.asarray(rec.source_box.center)
    exact = _s(rec.operation, 1, rec.id, realised={"translation_m": t.tolist()})
    c, size, rot = rs.realised_box(rec, exact)
    np.testing.assert_allclose(c, rec.target_box.center, atol=1e-9)
    img = rs.overlay(rec, exact, rec.target_image, size=128)
    red = (img[..., 0] > 200) & (img[..., 1] < 40) & (img[..., 2] < 40)
    green = (img[..., 1] > 180) & (img[..., 0] < 40) & (img[..., 2] < 40)
    assert img.shape == (128, 128, 3) and red.sum() > 20
    absent = rs.overlay(rec, _s(rec.operation, 0, rec.id, realised={"absent": True}), rec.target_image, size=128)
    assert ((absent[..., 0] > 200) & (absent[..., 1] < 40) & (absent[..., 2] < 40)).sum() < red.sum() // 4
    assert ((absent[..., 1] > 180) & (absent[..., 0] < 40) & (absent[..., 2] < 40)).sum() > green.sum()  # no longer hidden


def test_report_names_model_and_shows_statistics(split, tmp_path):
    import gsi_bench

    result = gsi_bench.evaluate(split, lambda image, instruction: image, config="tabletop", out=tmp_path / "rep",
                                model="do-nothing-v1")
    stats = result.summary["statistics"]
    o = result.overall
    for m in ("ic", "sa", "el", "ac", "avg"):
        lo, hi = stats["intervals_95"]["overall"][m]
        assert lo <= getattr(o, m) + 0.01 and getattr(o, m) - 0.01 <= hi
    # the identity editor leaves every object where it was: every realised direction is "none"
    assert all(set(row) == {"none"} for row in stats["confusion"].get("direction", {}).values())
    assert sum(sum(r.values()) for r in stats["failure_reasons"].values()) == sum(1 for s in result.samples if not s["ic"])
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "GSI-Bench evaluation of do-nothing-v1" in page and "HTML report failed" not in page
    assert "95 % intervals" in page and "red realised" in page
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["statistics"] == stats
