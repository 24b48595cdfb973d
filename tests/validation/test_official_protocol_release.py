"""The official protocol scores records converted from the paper's release, with the upstream
detector cache (keyed ``<img_id>_<qid>``) and judge file (keyed ``<img_id>_edit_<qid>``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders.gsi_real import build_real_folder
from gsi_bench.hub_io import iter_records
from validation.evaluator import EvalConfig, evaluate
from validation.evaluator.protocols.official import bbox_3d_to_2d, edit_meta, official_keys

# long side 896: the detector frame and the pixel frame coincide, so upstream's mixed-frame 2D
# ratio is well defined on this fixture
W, H = 896, 672
K = [[600.0, 0.0, 447.5], [0.0, 600.0, 335.5], [0.0, 0.0, 1.0]]


def ry(a):
    c, s = math.cos(a), math.sin(a)
    return [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]


EDITS = {  # name → (prompt, target, original box, new box or None, new yaw or None)
    "s0_edit_0": ("Move the chair 50 centimeters to the left.", "chair",
                  [0.2, 0.2, 2.5, 0.5, 0.9, 0.5, 0.0], [-0.3, 0.2, 2.5, 0.5, 0.9, 0.5, 0.0], None),
    "s0_edit_1": ("Put the mug on the tray.", "mug",
                  [0.5, 0.3, 2.0, 0.1, 0.1, 0.1, 0.0], [-0.1, 0.3, 2.4, 0.1, 0.1, 0.1, 0.0], None),
    "s0_edit_rot_edit_2": ("Rotate the sofa 90 degrees clockwise.", "sofa",
                           [0.0, 0.3, 3.0, 1.2, 0.8, 0.4, 0.0], None, math.pi / 2),
    "s0_edit_3": ("Scale up the lamp by 100%.", "lamp",
                  [-0.5, 0.0, 2.5, 0.2, 0.5, 0.2, 0.0], [-0.5, -0.25, 2.5, 0.4, 1.0, 0.4, 0.0], None),
    "s0_edit_4": ("Remove the leftest cup from the scene.", "cup", [-0.6, 0.3, 2.0, 0.1, 0.1, 0.1, 0.0], None, None),
    "s0_edit_5": (" Move the Camera forward by 0.5 meters.", "", [0, 0, 0, 0, 0, 0, 0], None, None),
}


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x * 255 / W, y * 255 / H, (x + y) * 127 / (W + H)], -1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    folder = root / "fine_dataset"
    folder.mkdir()
    Image.fromarray(_image(0)).save(folder / "s0.png")
    Image.fromarray(_image(1)).save(folder / "s0_gtedit_5.png")
    for name, (prompt, target, o, g, yaw) in EDITS.items():
        d = {"prompt": prompt, "target": target, "original_bbox_3d": o, "camera_intrinsics": K,
             "rotation_matrix": ry(o[6])}
        if g is not None:
            d["new_bbox_3d"] = g
        if yaw is not None:
            d["new_rotation_matrix"] = ry(yaw)
        (folder / f"{name}.json").write_text(json.dumps(d))
    report = build_real_folder(folder, root / "hub")
    assert not report.rejects, report.rejects
    records = list(iter_records(root / "hub", "real", "test"))
    preds = root / "pred"
    preds.mkdir()
    for r in records:   # the source everywhere (the locality gate passes), the ground truth for the view edit
        img = r.target_image if r.operation == "perspective" else r.source_image
        Image.fromarray(img).save(preds / f"{r.id}.png")
    return root, records


def _caches(root: Path, records, mode: str, drop: str | None = None) -> tuple[str, str]:
    cache, judge = {}, []
    for r in records:
        m = edit_meta(r)
        det = lambda v, R: {"bbox_3d": v, "rotation_matrix": R, "bbox_2d": bbox_3d_to_2d(v, R, K)}
        o = det(m["original_bbox_3d"], m["rotation_matrix"])
        if mode == "identity":
            new = [o]
        else:
            new = [] if r.operation == "remove" else [det(m["new_bbox_3d"], m["new_rotation_matrix"])]
        det_key, judge_key = official_keys(r)
        if det_key != drop:
            cache[det_key] = {"origin_result": {"detections": [o]}, "new_result": {"detections": new}}
        judge.append({"meta": {"index": judge_key + ".png"}, "prediction": 'fine||V^=^V||{"score": 8}'})
    d, j = root / f"cache-{mode}-{drop}.json", root / f"judge-{mode}-{drop}.json"
    d.write_text(json.dumps(cache))
    j.write_text(json.dumps(judge))
    return str(d), str(j)


def _run(root, records, mode, drop=None):
    d, j = _caches(root, records, mode, drop)
    s = evaluate(EvalConfig(data=str(root / "hub"), config="real", predictions=str(root / "pred"),
                            out=str(root / f"r-{mode}-{drop}"), protocol="official", detections=d, ac_scores=j),
                 progress=False)
    rows = [json.loads(x) for x in (root / f"r-{mode}-{drop}" / "per_sample.jsonl").read_text().splitlines()]
    return s, {r["operation"]: r for r in rows}


def test_keys_follow_the_release_names(converted):
    _, records = converted
    keys = {official_keys(r) for r in records}
    assert ("s0_rot_edit_2", "s0_edit_rot_edit_2") in keys and ("s0_0", "s0_edit_0") in keys


def test_oracle_detections_score_every_operation(converted):
    root, records = converted
    s, rows = _run(root, records, "oracle")
    assert s["counts"]["ok"] == len(EDITS)
    for op in ("camera_relative_move", "receptacle_place", "rotate", "scale", "remove"):
        assert rows[op]["official"]["compliance"] == 1, (op, rows[op]["reason"])
        assert rows[op]["official"]["edit_score"] > 0.95, op
        assert rows[op]["official"]["ssim"] == pytest.approx(1.0)       # source vs prediction
        assert rows[op]["ac"] == 80.0
    assert rows["perspective"]["official"]["compliance"] == pytest.approx(1.0)
    assert "EL at original resolution" not in " ".join(s["official"]["deviations"])
    assert any("LPIPS" in d for d in s["official"]["deviations"])


def test_identity_detections_score_zero(converted):
    root, records = converted
    _, rows = _run(root, records, "identity")
    for op in ("camera_relative_move", "receptacle_place", "rotate", "scale", "remove"):
        assert rows[op]["official"]["compliance"] == 0, op


def test_missing_detections_make_one_sample_unscorable(converted):
    root, records = converted
    s, rows = _run(root, records, "oracle", drop="s0_3")
    assert rows["scale"]["status"] == "unscorable" and "s0_3" in rows["scale"]["reason"]
    assert s["counts"]["ok"] == len(EDITS) - 1


def test_without_detections_scene_less_records_are_unscorable_with_a_reason(converted):
    root, records = converted
    s = evaluate(EvalConfig(data=str(root / "hub"), config="real", predictions=str(root / "pred"),
                            out=str(root / "r-none"), protocol="official"), progress=False)
    rows = {json.loads(x)["operation"]: json.loads(x) for x in (root / "r-none" / "per_sample.jsonl").read_text().splitlines()}
    assert rows["perspective"]["status"] == "ok"
    assert rows["rotate"]["status"] == "unscorable" and "--detections" in rows["rotate"]["reason"]
    assert s["counts"]["total"] == len(EDITS)


def test_official_layout_predictions_name_converted_records(converted, tmp_path):
    from validation.evaluator.predictions import index_folder

    _, records = converted
    for r in records:
        img, qid = official_keys(r)[1].split("_edit_", 1)
        Image.fromarray(r.source_image).save(tmp_path / f"{img}_edit_{qid}.png")
    index = index_folder(tmp_path, {r.id for r in records})
    assert index.layout == "official" and set(index.locators) == {r.id for r in records}
