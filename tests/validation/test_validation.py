"""`gsi-bench validate`: a clean generated dataset passes, and each injected corruption is named
precisely (check, file, record) — and only it."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from gsi_bench.cli import main as cli_main
from gsi_bench.hub_io import CHECKSUMS_FILE, list_shards, update_checksums, write_shard_atomic
from gsi_bench.operations import OPERATIONS
from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig
from validation.consistency import Options
from validation.runner import RunConfig, validate

RES = 96


@pytest.fixture(scope="session")
def clean(tmp_path_factory) -> Path:
    """14 test records (all seven operations twice, two shards) and 4 train records (another seed)."""
    out = tmp_path_factory.mktemp("valid") / "ds"
    generate(GenerationConfig(split="test", num=14, seed=0, resolution=RES, shard_size=8), out, progress=False)
    generate(GenerationConfig(split="train", num=4, seed=1, resolution=RES), out, progress=False)
    return out


@pytest.fixture
def copy(clean, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(clean, dst)
    return dst


def run(path: Path, **kw):
    return validate(str(path), RunConfig(**kw))


def failures(report, check: str) -> list[dict]:
    return report.to_dict()["checks"][check]["failures"]


def rewrite(root: Path, shard: Path, edit) -> None:
    """Rewrite ``shard`` with ``edit(rows)`` applied and refresh the manifest, as a buggy
    builder would have written it (so only the content is wrong, not the checksums)."""
    meta = pq.ParquetFile(shard).schema_arrow.metadata or {}
    run_meta = json.loads(meta[b"gsi_bench"]) if b"gsi_bench" in meta else None
    rows = pq.read_table(shard).to_pylist()
    edit(rows)
    write_shard_atomic(shard, rows, run_meta)
    update_checksums(root, [shard])


def first_shard(root: Path) -> Path:
    return list_shards(root, "tabletop", "test")[0]


def png(array: np.ndarray) -> dict:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


# ----------------------------------------------------------------------------------------------
def test_clean_dataset_validates(clean, tmp_path, capsys):
    out = tmp_path / "validation.json"
    assert cli_main(["validate", str(clean), "--out", str(out), "--workers", "2"]) == 0, capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["passed"] and report["failed_checks"] == []
    assert report["records"] == 18 and report["records_rerun"] == 18
    for name in ("checksum", "schema", "unique_ids", "split_hygiene", "boxes", "transform_params",
                 "instruction", "masks", "instances", "depth", "validity"):
        assert report["checks"][name]["passed"] and report["checks"][name]["checked"] > 0, name
    assert report["checks"]["referring"]["checked"] >= 1
    assert "validation PASSED" in capsys.readouterr().out


def test_integrity_only_and_sample(clean):
    r = run(clean, integrity_only=True)
    assert r.passed and r.info["records_rerun"] == 0 and r.stats["boxes"].checked == 0
    r = run(clean, sample=3)
    assert r.passed and r.info["records_rerun"] == 3


def test_gl_renderer_exact(clean):
    r = validate(str(clean), RunConfig(sample=5, options=Options(renderer="gl")))
    assert r.passed, r.summary()
    assert r.stats["images"].checked == 5 and r.stats["instances"].worst_value == 0.0


def test_truncated_shard(copy):
    shard = first_shard(copy)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    r = run(copy)
    assert r.failed_checks() == ["checksum"]
    assert r.stats["checksum"].failed_ids == [shard.relative_to(copy).as_posix()]
    assert "size" in failures(r, "checksum")[0]["message"]


def test_bit_flipped_shard(copy):
    shard = first_shard(copy)
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x10
    shard.write_bytes(bytes(data))
    r = run(copy)
    assert r.failed_checks() == ["checksum"]
    assert "sha256" in failures(r, "checksum")[0]["message"]


def test_missing_shard(copy):
    shard = list_shards(copy, "tabletop", "test")[1]
    shard.unlink()
    r = run(copy)
    assert r.failed_checks() == ["manifest"]
    assert r.stats["manifest"].failed_ids == [shard.relative_to(copy).as_posix()]


def test_duplicate_ids(copy):
    shard = first_shard(copy)

    def dup(rows):
        rows[3]["id"] = rows[2]["id"]
    rewrite(copy, shard, dup)
    r = run(copy)
    assert r.failed_checks() == ["unique_ids"]
    assert r.stats["unique_ids"].failed_ids == ["tabletop-test-0-000002"]


def test_mask_not_matching_scene(copy):
    shard = first_shard(copy)

    def shift(rows):
        from gsi_bench.schema import decode_image

        m = decode_image(rows[0]["source_mask"], "L")
        rows[0]["source_mask"] = png(np.roll(m, 6, axis=1))
    rewrite(copy, shard, shift)
    r = run(copy)
    assert r.failed_checks() == ["masks"]
    assert r.stats["masks"].failed_ids == ["tabletop-test-0-000000"]
    assert any("source_mask" in f["message"] for f in failures(r, "masks"))


def _move_row(rows) -> dict:
    return next(r for r in rows if OPERATIONS[r["operation"]] == "camera_relative_move")


#: every English phrasing of a camera-relative direction (the ``dir`` and ``dir_adv`` vocabularies)
#: → the opposite one
_OPPOSITE = {"to the left": "to the right", "to the right": "to the left",
             "away from the camera": "toward the camera", "toward the camera": "away from the camera",
             "leftward": "rightward", "rightward": "leftward",
             "farther from the viewer": "closer to the viewer", "closer to the viewer": "farther from the viewer"}


def test_wrong_direction_in_instruction(copy):
    shard = first_shard(copy)
    bad_id = {}

    def flip(rows):
        row = _move_row(rows)
        phrase = next(p for p in _OPPOSITE if p in row["instruction"])
        row["instruction"] = row["instruction"].replace(phrase, _OPPOSITE[phrase])
        bad_id["id"] = row["id"]
    rewrite(copy, shard, flip)
    r = run(copy)
    assert r.failed_checks() == ["instruction"]
    assert r.stats["instruction"].failed_ids == [bad_id["id"]]
    assert "direction" in failures(r, "instruction")[0]["message"]


def test_wrong_direction_in_labels(copy):
    """Instruction and params agree with each other but not with Φ3D: the transform check names it."""
    shard = first_shard(copy)
    bad_id = {}
    names = {"left": "right", "right": "left", "forward": "backward", "backward": "forward"}

    def flip(rows):
        row = _move_row(rows)
        phrase = next(p for p in _OPPOSITE if p in row["instruction"])
        row["instruction"] = row["instruction"].replace(phrase, _OPPOSITE[phrase])
        row["params"]["direction"] = names[row["params"]["direction"]]
        zh = {"向左": "向右", "向右": "向左", "往左": "往右", "往右": "往左", "向远离相机的方向": "向靠近相机的方向",
              "向靠近相机的方向": "向远离相机的方向", "往远处": "往近处", "往近处": "往远处"}
        k = next(p for p in zh if p in row["instruction_zh"])
        row["instruction_zh"] = row["instruction_zh"].replace(k, zh[k])
        bad_id["id"] = row["id"]
    rewrite(copy, shard, flip)
    r = run(copy)
    assert r.failed_checks() == ["transform_params"]
    assert r.stats["transform_params"].failed_ids == [bad_id["id"]]


def test_nan_values(copy):
    shard = first_shard(copy)

    def nan(rows):
        rows[1]["transform"]["translation"][0] = math.nan
    rewrite(copy, shard, nan)
    r = run(copy)
    assert r.failed_checks() == ["finite"]
    assert r.stats["finite"].failed_ids == ["tabletop-test-0-000001"]
    assert "transform.translation" in failures(r, "finite")[0]["message"]


def test_wrong_image_size(copy):
    shard = first_shard(copy)

    def shrink(rows):
        rows[4]["target_image"] = png(np.zeros((RES // 2, RES // 2, 3), np.uint8))
    rewrite(copy, shard, shrink)
    r = run(copy)
    assert r.failed_checks() == ["image_size"]
    assert r.stats["image_size"].failed_ids == ["tabletop-test-0-000004"]
    assert "target_image is 48×48" in failures(r, "image_size")[0]["message"]


def test_scene_leaked_into_train(copy):
    test_row = pq.read_table(first_shard(copy)).slice(0, 1).to_pylist()[0]
    train = list_shards(copy, "tabletop", "train")[0]

    def leak(rows):
        row = dict(test_row, split="train", id="tabletop-train-0-000099")
        rows.append(row)
    rewrite(copy, train, leak)
    r = run(copy)
    assert r.failed_checks() == ["split_hygiene"]
    messages = " ".join(f["message"] for f in failures(r, "split_hygiene"))
    assert "same source scene" in messages and "tabletop-test-0-000000" in messages


def test_shard_not_in_card_configs(copy):
    (copy / "README.md").write_text("---\nconfigs:\n- config_name: tabletop\n  data_files:\n"
                                    "  - split: test\n    path: data/tabletop/test-*\n---\n# card\n")
    r = run(copy, integrity_only=True)
    assert r.failed_checks() == ["layout"]
    assert r.stats["layout"].failed_ids == ["data/tabletop/train-00000-of-00001.parquet"]


def test_missing_manifest_and_bad_input(copy, tmp_path):
    (copy / CHECKSUMS_FILE).unlink()
    r = run(copy, integrity_only=True)
    assert r.failed_checks() == ["manifest"]
    assert cli_main(["validate", str(tmp_path / "nope"), "--out", str(tmp_path / "v.json")]) == 2
    assert not (tmp_path / "v.json").exists()


def test_place_next_to_an_anchor_on_another_support_height():
    """object_relative_place: the target joins the anchor's support, which may be another piece of
    furniture at another height (denser rooms): it must end at the anchor's height, beside it."""
    from gsi_bench.geometry import ground_direction
    from gsi_bench.scene import Camera, Light, Scene, SceneObject
    from validation.consistency import Tolerances, TransformCase, _tp_object_relative_place

    C = np.array([[1, 0, 0, 0], [0, 0, -1, 1.2], [0, 1, 0, 2.0], [0, 0, 0, 1]], float)  # looking along +y
    cam = Camera.create(np.array([[100, 0, 48], [0, 100, 48], [0, 0, 1]], float), C, 96, 96)
    glass = SceneObject(instance_id=2, asset_id="proc/wine_glass", category="wine glass", position=(0.0, 0.0, 0.85))
    box = SceneObject(instance_id=3, asset_id="proc/box", category="box", position=(0.5, 0.2, 0.75))
    src = Scene("room", [glass, box], Light(), cam)
    right = ground_direction(C, "right")
    errors: list[tuple[str, float]] = []

    class Ctx:
        def bad(self, check, message, value):
            errors.append((message, value))

    def case(z: float) -> TransformCase:
        new = np.asarray(box.position) + right * 0.25
        new[2] = z
        W = np.eye(4)
        W[:3, 3] = new - np.asarray(glass.position)
        row = {"params": {"relation": "right of", "distance_m": 0.25}, "reference": {"instance_id": 3},
               "checks": {"thresholds": "{}"}}
        return TransformCase(row, "object_relative_place", src, src, Tolerances(), Ctx(), C, W,
                             pos=np.asarray(glass.position), new_pos=new)

    assert _tp_object_relative_place(case(0.75)) < 1e-9 and not errors   # on the anchor's support: fine
    assert _tp_object_relative_place(case(0.85)) > 0.05 and errors       # floating at its old height: caught
