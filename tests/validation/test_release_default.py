"""Default protocol on records converted from the release (no depth, no scene, no weights): every
operation kind is scored or `unscorable` with a reason; drawn edits are localised."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from skimage.draw import polygon
from skimage.morphology import convex_hull_image

from builders.official import ConversionReport, iter_official_records
from builders.release_files import open_release
from gsi_bench.official_format import official_corners
from validation.evaluator.protocols.release_default import score_release

W, H = 160, 120
K = np.array([[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]])


def ry(a):
    c, s = math.cos(a), math.sin(a)
    return [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]


def hull(vec, yaw):
    q = official_corners(vec, np.asarray(ry(yaw))) @ K.T
    uv = q[:, :2] / q[:, 2:3]
    m = np.zeros((H, W), bool)
    rr, cc = polygon(uv[:, 1], uv[:, 0], shape=(H, W))
    m[rr, cc] = True
    return convex_hull_image(m)


def background() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([60 + 0.5 * x, 80 + 0.4 * y, 90 + 0.2 * (x + y)], -1).astype(np.uint8)


def draw(img, vec, yaw=0.0, colour=(230, 40, 40)) -> np.ndarray:
    out = img.copy()
    m = hull(vec, yaw)
    out[m] = colour
    return out


O = [0.0, 0.0, 2.0, 0.3, 0.3, 0.3, 0.0]
EDITS = {   # name → (prompt, new box, drawn target, drawn wrong-way target)
    "p_edit_0": ("Move the box 40 centimeters to the left.", [-0.4, 0.0, 2.0, 0.3, 0.3, 0.3, 0.0], [0.4, 0.0, 2.0, 0.3, 0.3, 0.3, 0.0]),
    "p_edit_1": ("Move the box 40 centimeters to the right.", [0.4, 0.0, 2.0, 0.3, 0.3, 0.3, 0.0], [-0.4, 0.0, 2.0, 0.3, 0.3, 0.3, 0.0]),
    "p_edit_2": ("Scale up the box by 100%.", [0.0, -0.15, 2.0, 0.6, 0.6, 0.6, 0.0], [0.0, 0.075, 2.0, 0.15, 0.15, 0.15, 0.0]),
    "p_edit_3": ("Remove the box.", None, None),
    "p_edit_4": ("Rotate the box 45 degrees clockwise.", None, None),
    "p_edit_5": ("Move the camera forward by 0.5 meters.", None, None),
}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rel") / "fine_dataset"
    folder.mkdir()
    bg = background()
    Image.fromarray(draw(bg, O)).save(folder / "p.png")
    Image.fromarray(np.roll(draw(bg, O), 6, axis=1)).save(folder / "p_gtedit_5.png")
    for name, (prompt, new, _) in EDITS.items():
        d = {"prompt": prompt, "target": "box", "original_bbox_3d": O, "camera_intrinsics": K.tolist(),
             "rotation_matrix": ry(0.0)}
        if new is not None:
            d["new_bbox_3d"] = new
        if "Rotate" in prompt:
            d["new_rotation_matrix"] = ry(math.pi / 4)
        (folder / f"{name}.json").write_text(json.dumps(d))
    report = ConversionReport()
    with open_release(folder) as files:
        recs = {r.id.split("-", 1)[1]: r for r in iter_official_records(files, report, "real")}
    assert not report.rejects
    return recs, bg


def test_drawn_edits_are_localised(records):
    recs, bg = records
    for name in ("p_edit_0", "p_edit_1", "p_edit_2"):
        _, new, wrong = EDITS[name]
        rec = recs[name]
        assert score_release(rec, draw(bg, new))["ic"] == 1, name
        assert score_release(rec, rec.source_image)["ic"] == 0, name
        assert score_release(rec, draw(bg, wrong))["ic"] == 0, name
    removed = recs["p_edit_3"]
    assert score_release(removed, bg)["ic"] == 1
    assert score_release(removed, removed.source_image)["ic"] == 0


def test_every_operation_kind_scores_or_says_why(records, tmp_path):
    recs, _ = records
    for rec in recs.values():
        out = score_release(rec, rec.source_image)
        assert out["ic"] == 0 and 0 <= out["el"] <= 100 and out["reason"]
    view = recs["p_edit_5"]
    assert score_release(view, view.target_image)["ic"] == 1
    import dataclasses

    no_gt = dataclasses.replace(view, checks=dataclasses.replace(view.checks, thresholds=json.dumps({"has_target_image": False})))
    with pytest.raises(ValueError, match="ground-truth image"):
        score_release(no_gt, view.source_image)


def _backend_builders():
    """The tiny random depth / detector builders of the GSI-Real backend tests (one definition)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "gsi_real" / "test_real_backends.py"
    spec = importlib.util.spec_from_file_location("_real_backends_tests", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod._depth_anything, mod._owlvit


def test_model_backed_localisation_loads_checkpoints(records, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from validation.evaluator.protocols.release_default import ReleaseModels

    depth_anything, owlvit = _backend_builders()
    depth, det = depth_anything(tmp_path / "depth", "metric"), owlvit(tmp_path / "det")
    models = ReleaseModels.from_spec(f"depth={depth},detector={det}", device="cpu")
    recs, _ = records
    for name, rec in recs.items():
        if rec.operation == "perspective":
            continue
        out = score_release(rec, rec.source_image, models)
        assert out["search"]["localisation"].startswith("model-backed"), name
        assert out["ic"] == 0, name                      # the unchanged image never complies
    with pytest.raises(ValueError, match="depth=<checkpoint>"):
        ReleaseModels.from_spec("segmenter=x")
