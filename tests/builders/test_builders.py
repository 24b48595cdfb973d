"""GSI-Syn Hub folder: build, load offline (folder and Hub id via install-cache, in a fresh
process), the datasets builder, publish dry run, CLI errors."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from builders.gsi_syn import GsiSyn, GsiSynConfig, build_syn_folder
from builders.layout import discover_configs, shard_operation
from builders.publish import plan_publish, publish
from gsi_bench.cli import main as cli_main
from gsi_bench.hub_io import iter_records, list_shards
from gsi_bench.schema import features

RES = 64
PER_OP = 1


@pytest.fixture(autouse=True)
def _offline_tmp_caches(tmp_path, monkeypatch):
    """Never touch the real ~/.cache, never reach the network."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A 7-record tabletop folder (one edit per operation) named like the repo (``syn``)."""
    root = tmp_path_factory.mktemp("hub") / "syn"
    build_syn_folder(root, subsets=["tabletop"], test_per_op=PER_OP, resolution=RES, progress=False)
    return root


@pytest.fixture(scope="module")
def generated(built):
    """The same records straight from the generator (no Parquet, no datasets)."""
    from gsi_syn.render.base import get_renderer
    from gsi_syn.sampler import generate_unit

    cfg = GsiSynConfig(name="tabletop", subset="tabletop", test_per_op=PER_OP, resolution=RES).generation_config("test")
    renderer = get_renderer(cfg.renderer)
    return {r.id: r for u in range(cfg.num_units) for r in generate_unit(cfg, u, renderer)}


def _digest(a) -> str:
    a = np.ascontiguousarray(np.asarray(a))
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


IMAGE_FIELDS = {"source_image": "RGB", "target_image": "RGB", "source_mask": "L", "target_mask": "L",
                "source_depth": "I;16", "source_instances": "I;16"}


def test_folder_layout_groups_shards_by_operation(built):
    assert (built / "README.md").exists() and (built / "eval.yaml").exists()
    assert not (built / ".gsi_staging").exists()
    shards = list_shards(built, "tabletop", "test")
    assert len(shards) == 7
    ops = [shard_operation(s) for s in shards]
    assert len(set(ops)) == 7 and None not in ops
    for s in shards:
        assert pq.ParquetFile(s).metadata.row_group(0).num_rows <= 16
    sums = json.loads((built / "gsi_checksums.json").read_text())["files"]
    assert sorted(sums) == sorted(s.relative_to(built).as_posix() for s in shards)
    names = [c.name for c in discover_configs(built)]
    assert names[0] == "tabletop" and "tabletop-rotate" in names and len(names) == 8


def test_load_folder_offline_typed_and_equal_to_generator(built, generated):
    from datasets import load_dataset

    ds = load_dataset(str(built), "tabletop", split="test")
    assert ds.features == features()
    assert len(ds) == 7 and set(ds["id"]) == set(generated)
    for row in ds:
        rec = generated[row["id"]]
        assert ds.features["operation"].int2str(row["operation"]) == rec.operation
        for name, mode in IMAGE_FIELDS.items():
            arr = np.asarray(row[name]) if mode != "I;16" else np.asarray(row[name]).astype(np.uint16)
            expect = getattr(rec, name)
            if mode == "L":
                expect = np.where(expect > 0, 255, 0).astype(np.uint8)
            assert np.array_equal(arr, expect), (row["id"], name)
    default = load_dataset(str(built))
    assert list(default) == ["test"] and len(default["test"]) == 7


def test_operation_configs_select_one_operation(built):
    from datasets import load_dataset

    for op in ("rotate", "perspective"):
        ds = load_dataset(str(built), f"tabletop-{op}", split="test")
        assert len(ds) == PER_OP
        assert {ds.features["operation"].int2str(i) for i in ds["operation"]} == {op}


def test_install_cache_then_load_by_hub_id_in_fresh_offline_process(built, generated, tmp_path):
    env = dict(os.environ)
    home = tmp_path / "fresh-hf"
    env.update(HF_HOME=str(home), HF_DATASETS_CACHE=str(home / "datasets"), HF_HUB_CACHE=str(home / "hub"),
               HF_HUB_OFFLINE="1")
    rc = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "install-cache", str(built), "--repo-id",
                         "gsi-bench/syn"], env=env, capture_output=True, text=True, check=False)
    assert rc.returncode == 0, rc.stderr
    script = textwrap.dedent("""
        import hashlib, json, sys
        import numpy as np
        from datasets import load_dataset
        import huggingface_hub

        def digest(a):
            a = np.ascontiguousarray(np.asarray(a))
            return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()

        ds = load_dataset("gsi-bench/syn", "tabletop", split="test")
        fields = json.loads(sys.argv[1])
        out = {"features_ok": ds.features.to_dict(), "rows": {}}
        for row in ds:
            out["rows"][row["id"]] = {k: digest(np.asarray(row[k]).astype(np.uint16) if m == "I;16" else row[k])
                                      for k, m in fields.items()}
        default = load_dataset("gsi-bench/syn")
        out["default"] = {k: len(v) for k, v in default.items()}
        out["rotate"] = len(load_dataset("gsi-bench/syn", "tabletop-rotate", split="test"))
        stream = load_dataset("gsi-bench/syn", "tabletop", split="test", streaming=True)
        out["stream_ids"] = [r["id"] for r in stream]
        out["snapshot"] = huggingface_hub.snapshot_download("gsi-bench/syn", repo_type="dataset")
        print(json.dumps(out))
    """)
    res = subprocess.run([sys.executable, "-c", script, json.dumps(IMAGE_FIELDS)], env=env, capture_output=True,
                         text=True, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["features_ok"] == features().to_dict()
    assert set(out["rows"]) == set(generated)
    for rid, digests in out["rows"].items():
        rec = generated[rid]
        for name, mode in IMAGE_FIELDS.items():
            expect = getattr(rec, name)
            if mode == "L":
                expect = np.where(expect > 0, 255, 0).astype(np.uint8)
            assert digests[name] == _digest(expect), (rid, name)
    assert out["default"] == {"test": 7}
    assert out["rotate"] == PER_OP
    assert sorted(out["stream_ids"]) == sorted(generated)
    assert Path(out["snapshot"]).is_relative_to(home / "hub")


def test_datasets_builder_yields_the_same_rows(built, tmp_path):
    builder = GsiSyn(config_name="tabletop", cache_dir=str(tmp_path / "cache"), test_per_op=PER_OP, resolution=RES)
    builder.download_and_prepare()
    ds = builder.as_dataset(split="test")
    assert ds.features == features()
    folder = {r.id: r for r in iter_records(built, "tabletop", "test")}
    assert sorted(ds["id"]) == sorted(folder)
    row = ds[0]
    assert np.array_equal(np.asarray(row["source_image"]), folder[row["id"]].source_image)
    assert row["provenance"]["config_sha256"] == folder[row["id"]].provenance.config_sha256


def test_builder_config_validation():
    with pytest.raises(ValueError, match="unknown subset"):
        GsiSynConfig(name="x", subset="kitchen")
    with pytest.raises(ValueError, match="not both 0"):
        GsiSynConfig(name="x", test_per_op=0, train_per_op=0)
    cfg = GsiSynConfig(name="x", test_per_op=3, train_per_op=2, operations=("rotate", "scale"))
    assert cfg.split_sizes() == {"test": 6, "train": 4}


def test_publish_dry_run_lists_files_and_refuses_tampering(built, tmp_path, capsys):
    plan = plan_publish(built, "me/syn", "v1.0.0")
    rels = [r for r, _ in plan.files]
    assert "README.md" in rels and "eval.yaml" in rels and "gsi_checksums.json" in rels
    assert sum(r.startswith("data/tabletop/") for r in rels) == 7
    assert not any(r.startswith(".") or "gsi_generation" in r for r in rels)
    assert cli_main(["publish", str(built), "--repo-id", "me/syn", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "README.md" in out and "dry run" in out
    assert publish(built, "me/syn", dry_run=True).total_bytes == plan.total_bytes

    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    shard = list_shards(copy)[0]
    shard.write_bytes(shard.read_bytes() + b"x")
    assert cli_main(["publish", str(copy), "--repo-id", "me/syn", "--dry-run"]) == 2
    assert shard.name in capsys.readouterr().err


def test_cli_errors_name_the_file(tmp_path, capsys):
    assert cli_main(["install-cache", str(tmp_path), "--repo-id", "gsi-bench/syn"]) == 2
    assert "README.md" in capsys.readouterr().err
    assert cli_main(["install-cache", str(tmp_path), "--repo-id", "bad"]) == 2
    assert "namespace/name" in capsys.readouterr().err
    assert cli_main(["build", "syn", "--out", str(tmp_path / "o"), "--config", "kitchen"]) == 2
    assert "kitchen" in capsys.readouterr().err
    assert cli_main(["export-official", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "no Parquet shards" in capsys.readouterr().err
