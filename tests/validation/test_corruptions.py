"""Corruptions that used to pass `validate`: each injected alone must be named precisely (check,
file) — and only it. The folder is a built Hub folder (card, per-operation configs, checksums)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builders.gsi_syn import build_syn_folder
from gsi_bench.hub_io import list_shards, update_checksums, write_shard_atomic
from gsi_bench.operations import OPERATIONS
from validation.consistency import Options
from validation.runner import RunConfig, validate


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corrupt") / "syn"
    build_syn_folder(root, subsets=["tabletop"], test_per_op=2, resolution=64, progress=False)
    return root


@pytest.fixture
def copy(built, tmp_path) -> Path:
    dst = tmp_path / "ds"
    shutil.copytree(built, dst)
    return dst


def _failed(report) -> dict[str, list[dict]]:
    return {name: c["failures"] for name, c in report.to_dict()["checks"].items() if not c["passed"]}


def _shard_of(root: Path, op: str) -> Path:
    for p in list_shards(root):
        rows = pq.read_table(p, columns=["operation"]).column("operation").to_pylist()
        if rows and OPERATIONS[rows[0]] == op:
            return p
    raise AssertionError(op)


def _rewrite(root: Path, shard: Path, rows: list[dict]) -> None:
    meta = pq.ParquetFile(shard).schema_arrow.metadata or {}
    write_shard_atomic(shard, rows, json.loads(meta[b"gsi_bench"]) if b"gsi_bench" in meta else None)
    update_checksums(root, [shard])


def test_clean_built_folder_passes(built):
    report = validate(str(built), RunConfig(integrity_only=True))
    assert report.passed, report.summary()


def test_target_images_swapped_between_records(copy):
    a, b = _shard_of(copy, "rotate"), _shard_of(copy, "camera_relative_move")
    ra, rb = pq.read_table(a).to_pylist(), pq.read_table(b).to_pylist()
    assert ra[0]["source_image"]["bytes"] != rb[0]["source_image"]["bytes"]  # two different scenes
    ra[0]["target_image"], rb[0]["target_image"] = rb[0]["target_image"], ra[0]["target_image"]
    _rewrite(copy, a, ra)
    _rewrite(copy, b, rb)
    failed = _failed(validate(str(copy), RunConfig(integrity_only=True)))
    assert set(failed) == {"image_content"}
    assert {f["record"] for f in failed["image_content"]} == {ra[0]["id"], rb[0]["id"]}


def test_png_truncated_after_its_header(copy):
    shard = _shard_of(copy, "rotate")
    rows = pq.read_table(shard).to_pylist()
    rows[1]["source_image"] = {"bytes": rows[1]["source_image"]["bytes"][:64], "path": None}
    _rewrite(copy, shard, rows)
    failed = _failed(validate(str(copy), RunConfig(integrity_only=True)))
    assert set(failed) == {"image_decode"}
    assert [(f["file"], f["record"]) for f in failed["image_decode"]] == [
        (shard.relative_to(copy).as_posix(), rows[1]["id"])]


def test_bit_flip_with_checksums_edited_to_match(copy):
    shard = _shard_of(copy, "scale")
    rows = pq.read_table(shard).to_pylist()
    data = bytearray(rows[0]["target_image"]["bytes"])
    data[len(data) // 2] ^= 0x10  # inside the compressed pixel data
    rows[0]["target_image"] = {"bytes": bytes(data), "path": None}
    _rewrite(copy, shard, rows)  # update_checksums: the manifest matches the corrupt shard
    failed = _failed(validate(str(copy), RunConfig(integrity_only=True)))
    assert set(failed) == {"image_decode"}, failed
    assert failed["image_decode"][0]["record"] == rows[0]["id"]


def test_row_of_another_operation_in_a_per_operation_shard(copy):
    rot, sca = _shard_of(copy, "rotate"), _shard_of(copy, "scale")
    r_rows, s_rows = pq.read_table(rot).to_pylist(), pq.read_table(sca).to_pylist()
    moved = r_rows.pop()
    s_rows.append(moved)
    _rewrite(copy, rot, r_rows)
    _rewrite(copy, sca, s_rows)
    failed = _failed(validate(str(copy), RunConfig(integrity_only=True)))
    assert set(failed) == {"configs"}
    messages = [f["message"] for f in failed["configs"]]
    assert any("a rotate record in a shard of config 'tabletop-scale'" in m for m in messages)
    assert any("'tabletop-rotate' split 'test' has 2 examples, its shards hold 1" in m for m in messages)


def test_extra_shard_named_like_a_real_one_is_one_finding(copy):
    shard = list_shards(copy)[0]
    stray = shard.with_name(shard.name.split("-of-")[0].rsplit("-", 1)[0] + "-00003-of-00009.parquet")
    shutil.copy(shard, stray)
    update_checksums(copy, [stray])
    failed = _failed(validate(str(copy), RunConfig(integrity_only=True)))
    numbering = [f for f in failed.get("manifest", []) if "numbering" in f["message"]]
    assert [f["file"] for f in numbering] == [stray.relative_to(copy).as_posix()]
    assert "stray" in numbering[0]["message"]


def test_source_and_target_rgb_exchanged_caught_by_gl_rerender(copy):
    shard = _shard_of(copy, "camera_relative_move")
    rows = pq.read_table(shard).to_pylist()
    rows[0]["source_image"], rows[0]["target_image"] = rows[0]["target_image"], rows[0]["source_image"]
    _rewrite(copy, shard, rows)
    report = validate(str(copy), RunConfig(options=Options(renderer="gl", physics=False)))
    failed = _failed(report)
    assert "images" in failed, report.summary()
    assert {f["record"] for f in failed["images"]} == {rows[0]["id"]}
