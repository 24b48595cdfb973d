"""Official release ↔ GSI-Bench records: the converter on a fixture written from the documented
schema (every operation kind + malformed files), zip input, and the export round trip."""

import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders.export_official import export_official, official_prompt
from builders.gsi_real import build_real_folder, regenerate_records
from builders.gsi_syn import build_syn_folder
from builders.official import (
    ConversionReport,
    infer_operation,
    iter_official_records,
)
from builders.release_files import open_release
from gsi_bench.official_format import UnroutablePrompt, official_rotation, rotation_from_official
from gsi_bench.official_format import route_prompt as official_route
from gsi_bench.hub_io import iter_records

W, H = 40, 30
K = [[50.0, 0.0, 19.5], [0.0, 50.0, 14.5], [0.0, 0.0, 1.0]]


@pytest.fixture(autouse=True)
def _offline_tmp_caches(tmp_path, monkeypatch):
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def yaw_rot(yaw: float) -> list[list[float]]:
    """Official-order rotation (x, down, y axes → camera) for a box turned by ``yaw`` about camera y."""
    c, s = math.cos(yaw), math.sin(yaw)
    return [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]


def box(x, y, z, w, h, l, yaw):
    return [x, y, z, w, h, l, yaw]


def _image(path: Path, seed: int, fmt: str = "PNG") -> np.ndarray:
    a = np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)
    Image.fromarray(a).save(path, format=fmt)
    return a


#: Valid edits: name → (json, expected operation). Prompts in the official style.
GOOD = {
    "scene0_frame_000010_edit_0": ({"prompt": "Move the chair 20 centimeters to the left, while keeping other objects unchanged.",
                                    "target": "chair", "original_bbox_3d": box(0.1, 0.2, 2.0, 0.5, 0.9, 0.5, 0.3),
                                    "new_bbox_3d": box(-0.1, 0.2, 2.0, 0.5, 0.9, 0.5, 0.3)}, "camera_relative_move"),
    "scene0_frame_000010_edit_1": ({"prompt": "Move the cup's center left of the plate's center by 20 centimeters, relative to the camera view.",
                                    "target": "cup", "original_bbox_3d": box(0.3, 0.1, 1.5, 0.08, 0.1, 0.08, 0.0),
                                    "new_bbox_3d": box(0.0, 0.1, 1.6, 0.08, 0.1, 0.08, 0.0)}, "object_relative_place"),
    "scene0_frame_000010_edit_2": ({"prompt": "Move the apple to the center of the tray.", "target": "apple",
                                    "original_bbox_3d": box(0.2, 0.1, 1.4, 0.07, 0.07, 0.07, 0.0),
                                    "new_bbox_3d": box(-0.2, 0.1, 1.3, 0.07, 0.07, 0.07, 0.0)}, "receptacle_place"),
    "scene1_frame_000020_edit_0": ({"prompt": "Rotate the chair 90 degrees clockwise.", "target": "chair",
                                    "original_bbox_3d": box(0.0, 0.3, 2.5, 0.5, 0.9, 0.5, 0.0),
                                    "new_rotation": 1.2}, "rotate"),
    "scene1_frame_000020_edit_1": ({"prompt": "Please turn the lamp 45 degrees counterclockwise.", "target": "lamp",
                                    "original_bbox_3d": box(0.5, 0.0, 3.0, 0.3, 1.2, 0.3, 0.5),
                                    "new_bbox_3d": box(0.5, 0.0, 3.0, 0.3, 1.2, 0.3, 1.285), "new_rotation": 1.285},
                                   "rotate"),
    "scene1_frame_000020_edit_2": ({"prompt": "Scale down the vase by 25%.", "target": "vase",
                                    "original_bbox_3d": box(0.0, 0.0, 2.0, 0.2, 0.4, 0.2, 0.0),
                                    "new_bbox_3d": box(0.0, 0.05, 2.0, 0.15, 0.3, 0.15, 0.0)}, "scale"),
    "scene1_frame_000020_edit_3": ({"prompt": "Remove the leftest cup from the scene.", "target": "cup",
                                    "original_bbox_3d": box(-0.4, 0.1, 1.8, 0.08, 0.1, 0.08, 0.0)}, "remove"),
    "scene2_frame_000030_edit_0": ({"prompt": "Move the camera forward by 0.5 meters.", "target": "",
                                    "original_bbox_3d": box(0, 0, 0, 0, 0, 0, 0)}, "perspective"),
    "scene2_frame_000030_edit_1": ({"prompt": "Enlarge the teapot to 2 times its size.", "target": "teapot",
                                    "original_bbox_3d": box(0.1, 0.0, 1.0, 0.2, 0.15, 0.2, 0.0),
                                    "new_bbox_3d": box(0.1, -0.075, 1.0, 0.4, 0.3, 0.4, 0.0)}, "scale"),
}

#: Malformed edits: name → (json text, substring expected in the reason).
def _bad_json(base: dict, **change) -> str:
    d = dict(base)
    for k, v in change.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return json.dumps(d)


_VALID = {"prompt": "Move the box 10 cm to the right.", "target": "box",
          "original_bbox_3d": box(0, 0, 2, 0.3, 0.3, 0.3, 0), "new_bbox_3d": box(0.1, 0, 2, 0.3, 0.3, 0.3, 0),
          "camera_intrinsics": K, "rotation_matrix": yaw_rot(0)}
BAD = {
    "scene3_frame_000040_edit_0": (_bad_json(_VALID, camera_intrinsics=None), "missing field 'camera_intrinsics'"),
    "scene3_frame_000040_edit_1": ('{"prompt": "Move the box", "target": ', "not valid JSON"),
    "scene3_frame_000040_edit_2": (_bad_json(_VALID, prompt="Levitate the box 10 cm."), "'levitate'"),
    "scene3_frame_000040_edit_3": (_bad_json(_VALID).replace("[0.1, 0, 2,", "[NaN, 0, 2,"), "NaN"),
    "scene3_frame_000040_edit_4": (_bad_json(_VALID, rotation_matrix=[[1, 0, 0], [0, 1, 0]]), "shape (2, 3)"),
    "scene3_frame_000040_edit_5": (_bad_json(_VALID, new_bbox_3d=None), "missing field 'new_bbox_3d'"),
    "scene3_frame_000040_edit_6": (_bad_json(_VALID, rotation_matrix=[[2, 0, 0], [0, 1, 0], [0, 0, 1]]), "not a rotation"),
    "scene3_frame_000040_edit_7": ("[1, 2, 3]", "expected an object"),
    "scene3_frame_000040_edit_8": (_bad_json(_VALID, original_bbox_3d=[0, 0, 2, "a", 0.3, 0.3, 0]), "non-numeric"),
    "nosource_frame_1_edit_0": (_bad_json(_VALID), "no source image"),
    "bad name_edit_0": (_bad_json(_VALID), "characters outside"),
}


def write_fixture(folder: Path) -> dict[str, np.ndarray]:
    """Write the official-layout fixture; returns image arrays by file stem."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {"scene0_frame_000010": _image(folder / "scene0_frame_000010.jpg", 0, "PNG"),
              "scene1_frame_000020": _image(folder / "scene1_frame_000020.png", 1),
              "scene2_frame_000030": _image(folder / "scene2_frame_000030.png", 2),
              "scene2_frame_000030_gtedit_0": _image(folder / "scene2_frame_000030_gtedit_0.png", 3),
              "scene3_frame_000040": _image(folder / "scene3_frame_000040.png", 4),
              "bad name": _image(folder / "bad name.png", 5)}
    for name, (spec, _) in GOOD.items():
        d = {k: v for k, v in spec.items() if k != "new_rotation"}
        d["camera_intrinsics"] = K
        d["rotation_matrix"] = yaw_rot(d["original_bbox_3d"][6])
        if "new_rotation" in spec:
            d["new_rotation_matrix"] = yaw_rot(spec["new_rotation"])
        (folder / f"{name}.json").write_text(json.dumps(d))
    for name, (text, _) in BAD.items():
        (folder / f"{name}.json").write_text(text)
    return images


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "mesatask_dataset"
    images = write_fixture(folder)
    outside = tmp_path / "secret_edit_0.json"
    outside.write_text(_bad_json(_VALID))
    os.symlink(outside, folder / "link_frame_1_edit_0.json")
    return folder, images


def _convert(path, subset=None):
    report = ConversionReport()
    with open_release(path) as files:
        records = {r.id.split("-", 1)[-1]: r for r in iter_official_records(files, report, subset)}
    return records, report


def test_converter_reads_every_operation_kind(release):
    folder, images = release
    records, report = _convert(folder)
    assert sorted(records) == sorted(GOOD), [str(r) for r in report.rejects]
    assert report.converted == {"tabletop": len(GOOD)}
    for name, (spec, op) in GOOD.items():
        rec = records[name]
        assert rec.operation == op, name
        assert rec.subset == "tabletop" and rec.split == "test"
        assert rec.instruction == spec["prompt"].strip()
        assert rec.target.category == spec["target"]
        assert rec.K == K
        v0 = spec["original_bbox_3d"]
        assert rec.source_box.official_7vec == v0
        assert rec.source_box.center == v0[:3] and rec.source_box.size == [v0[3], v0[5], v0[4]]
        np.testing.assert_allclose(official_rotation(rec.source_box.rotation), yaw_rot(v0[6]), atol=1e-12)
        assert rec.target_present == (op not in ("remove", "perspective"))  # the view edit names no object
        assert rec.scene == "{}" and not rec.source_mask.any() and not rec.source_depth.any()
        assert np.array_equal(rec.source_image, images[name.rsplit("_edit_", 1)[0]])
        if "new_bbox_3d" in spec:
            assert rec.target_box.official_7vec == spec["new_bbox_3d"]
    # rotate without a new box: same centre, new rotation, yaw in the 7-vector follows it
    rot = records["scene1_frame_000020_edit_0"]
    assert rot.target_box.center == rot.source_box.center
    assert rot.target_box.official_7vec[6] == pytest.approx(1.2)
    assert rot.params.angle_deg == 90 and rot.params.rotation_sense == "clockwise"
    assert records["scene1_frame_000020_edit_1"].params.rotation_sense == "counterclockwise"
    # scale: transform carries the factor; camera-relative move: distance and direction read from the prompt
    assert records["scene1_frame_000020_edit_2"].transform_scale[0] == pytest.approx(0.75)
    move = records["scene0_frame_000010_edit_0"]
    assert move.params.distance_m == pytest.approx(0.2) and move.params.direction == "left"
    assert move.transform_translation == pytest.approx([-0.2, 0.0, 0.0])
    # perspective: ground-truth image picked up
    view = records["scene2_frame_000030_edit_0"]
    assert np.array_equal(view.target_image, images["scene2_frame_000030_gtedit_0"])
    assert not records["scene0_frame_000010_edit_0"].target_image.any()  # no GT → documented zeros


def test_converter_rejects_malformed_files_naming_them(release):
    folder, _ = release
    _, report = _convert(folder)
    by_file = {Path(r.file).name: r.reason for r in report.rejects}
    for name, (_, reason) in BAD.items():
        assert f"{name}.json" in by_file, name
        assert reason in by_file[f"{name}.json"], (name, by_file[f"{name}.json"])
    assert "outside the release folder" in by_file["link_frame_1_edit_0.json"]
    assert len(report.rejects) == len(BAD) + 1


def test_zip_release_with_traversal_members(release, tmp_path):
    folder, _ = release
    zpath = tmp_path / "mesatask_dataset.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(folder.iterdir()):
            if not p.is_symlink():
                zf.write(p, f"mesatask_dataset/{p.name}")
        zf.writestr("../evil_edit_0.json", _bad_json(_VALID))
        zf.writestr("/abs/evil_edit_1.json", _bad_json(_VALID))
    records, report = _convert(zpath)
    assert sorted(records) == sorted(GOOD)
    reasons = {r.file: r.reason for r in report.rejects}
    assert "traversal" in reasons["../evil_edit_0.json"]
    assert "absolute" in reasons["/abs/evil_edit_1.json"]
    assert not (tmp_path.parent / "evil_edit_0.json").exists()


def test_unknown_folder_needs_a_subset(tmp_path):
    folder = tmp_path / "mystery"
    write_fixture(folder)
    records, report = _convert(folder)
    assert not records and any("pass --config" in r.reason for r in report.rejects)
    records, _ = _convert(folder, subset="real")
    assert {r.subset for r in records.values()} == {"real"}


def test_operation_inference_rules():
    assert official_route("Shift the mug 10 cm right.") == "move"
    assert official_route("Look up by 30 degrees.") == "view"
    assert official_route("Move the mug 12 cm toward the camera.") == "move"
    assert official_route("Move the mug 12 cm toward the camera.", strict=True) == "view"  # the scorer's reading
    assert official_route("Rotate the camera 30 degrees to the left.") == "view"
    with pytest.raises(UnroutablePrompt, match="'slide'"):  # the verb table moved to gsi_bench.official_format
        official_route("Slide the mug left.")
    assert infer_operation("Put the pear onto the plate.").operation == "receptacle_place"
    assert infer_operation("Move the X to the position of the Y").operation == "object_relative_place"
    ours = infer_operation("Rotate the red mug 30 degrees clockwise, as seen from above.")
    assert ours.method == "gsi-template" and ours.template_id == "rotate/0" and ours.params.angle_deg == 30


def test_export_rephrases_prompts_the_official_scorer_would_misroute(syn_folder):
    rec = next(iter_records(syn_folder, "tabletop", "test"))
    rec.operation, rec.template_id = "camera_relative_move", "camera_relative_move/0"
    rec.params.direction, rec.params.distance_m = "backward", 0.12
    rec.instruction = "Move the red mug 12 cm toward the camera."
    rec.target.description, rec.target.referring_expression = "red mug", ""
    prompt = official_prompt(rec)
    assert prompt != rec.instruction and official_route(prompt, strict=True) == "move"
    assert infer_operation(prompt).operation == "camera_relative_move"


def test_rotation_conversion_inverts_official_order():
    r = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    r *= np.sign(np.linalg.det(r))
    np.testing.assert_array_equal(rotation_from_official(official_rotation(r)), r)


@pytest.fixture(scope="module")
def syn_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "syn"
    build_syn_folder(root, subsets=["tabletop"], test_per_op=1, resolution=64, progress=False)
    return root


def test_export_then_convert_round_trips(syn_folder, tmp_path):
    originals = {r.id: r for r in iter_records(syn_folder, "tabletop", "test")}
    summary = export_official(originals.values(), tmp_path / "official")
    assert summary.written == len(originals) and not summary.skipped
    files = sorted(p.name for p in (tmp_path / "official").iterdir())
    assert sum(n.endswith("_edit_0.json") for n in files) == len(originals)
    assert sum("_gtedit_0" in n for n in files) == 1  # the perspective edit
    records, report = _convert(tmp_path / "official", subset="tabletop")
    assert not report.rejects, [str(r) for r in report.rejects]
    back = {key.rsplit("_edit_", 1)[0]: r for key, r in records.items()}
    assert sorted(back) == sorted(originals)
    for rid, rec in originals.items():
        got = back[rid]
        assert got.operation == rec.operation
        assert got.instruction == official_prompt(rec)
        assert got.K == rec.K
        for a, b in ((got.source_box, rec.source_box), (got.target_box, rec.target_box)):
            assert a.official_7vec == b.official_7vec
            if rec.operation != "perspective":
                assert a.center == b.center and a.size == b.size
                np.testing.assert_array_equal(a.rotation, b.rotation)
        assert got.target_present == rec.target_present
        assert np.array_equal(got.source_image, rec.source_image)
        if rec.operation == "perspective":
            assert np.array_equal(got.target_image, rec.target_image)
        if got.template_id != "official":
            assert got.params.distance_m == pytest.approx(rec.params.distance_m, nan_ok=True)


def test_build_real_folder_loads_and_reports(release, tmp_path):
    from datasets import load_dataset

    folder, _ = release
    out = tmp_path / "real"
    report = build_real_folder(folder, out)
    assert report.converted == {"tabletop": len(GOOD)}
    saved = json.loads((out / "official_rejects.json").read_text())
    assert len(saved["rejects"]) == len(BAD) + 1
    ds = load_dataset(str(out), "tabletop", split="test")
    assert len(ds) == len(GOOD)
    assert len(load_dataset(str(out), "tabletop-scale", split="test")) == 2


def test_regenerate_runs_the_real_pipeline(tmp_path):
    """The `regenerate` mode runs GSI-Real on captures; a missing capture folder is named clearly."""
    import subprocess
    import sys

    caps, out = tmp_path / "caps", tmp_path / "real"
    cli = [sys.executable, "-m", "gsi_bench.cli"]
    done = subprocess.run(cli + ["real", "demo-captures", "--out", str(caps), "--num", "2", "--frames", "1",
                                 "--width", "256", "--height", "192"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    recs = list(regenerate_records(caps))
    assert recs and all(r.subset == "real" for r in recs)
    done = subprocess.run(cli + ["build", "real", "--mode", "regenerate", "--from", str(caps), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list((out / "data" / "real").glob("*.parquet"))
    done = subprocess.run(cli + ["build", "real", "--mode", "regenerate", "--from", str(tmp_path / "nope"),
                                 "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert done.returncode != 0 and "nope" in done.stderr
