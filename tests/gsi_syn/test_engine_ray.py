"""The execution engines of the GSI-Syn pipeline: the Ray engine writes the same bytes as the
local one, retries a unit whose worker dies, resumes after its driver is killed; outputs go to
fsspec URIs with atomic shard commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest

from gsi_bench.engine import LocalEngine, make_engine
from gsi_bench.hub_io import CHECKSUMS_FILE, shard_bytes
from gsi_syn.pipeline import _unit_examples, generate
from gsi_syn.sampler import GenerationConfig

CFG = GenerationConfig(num=8, seed=3, resolution=64, shard_size=4)


def _files(root: str | Path) -> dict[str, bytes]:
    """Relative path → bytes of every shard and the checksum manifest under a store URI or folder."""
    fs, base = fsspec.core.url_to_fs(str(root))
    base = base.rstrip("/")
    out = {}
    for path in fs.find(base):
        rel = path[len(base) + 1:]
        if rel.endswith(".parquet") or rel == CHECKSUMS_FILE:
            out[rel] = fs.cat_file(path)
    return out


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    generate(CFG, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def local_run(local_dir) -> dict[str, bytes]:
    return _files(local_dir)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


# -- no Ray needed ------------------------------------------------------------------------------
def test_fsspec_output_same_bytes_and_resumes(local_run):
    uri = "memory://gsi-engine-test/run"
    summary = generate(CFG, uri, workers=1, progress=False)
    assert summary.shards_written == 2 and summary.records_per_s > 0
    assert _files(uri) == local_run
    fs = fsspec.filesystem("memory")
    assert not [p for p in fs.find("/gsi-engine-test") if p.endswith(".tmp")]  # temp names moved away
    again = generate(CFG, uri, workers=1, progress=False)
    assert (again.shards_written, again.shards_skipped) == (0, 2)


def test_resume_lists_a_shard_committed_before_its_manifest_entry(local_run, tmp_path):
    import json

    generate(CFG, tmp_path, workers=1, progress=False)
    # as if the driver died between the shard's commit and its manifest entry, before shard 1
    (tmp_path / "data" / "tabletop" / "test-00001-of-00002.parquet").unlink()
    manifest = tmp_path / CHECKSUMS_FILE
    manifest.write_text(json.dumps({"files": {}}))
    again = generate(CFG, tmp_path, workers=1, progress=False)
    assert (again.shards_written, again.shards_skipped) == (1, 1)
    assert _files(tmp_path) == local_run


def test_bad_engine_arguments():
    with pytest.raises(SystemExit, match="unknown engine"):
        make_engine("spark")
    with pytest.raises(SystemExit, match="--address is for --engine ray"):
        make_engine("local", address="auto")


# -- Ray ----------------------------------------------------------------------------------------
def test_ray_engine_byte_identical_to_local(ray_cluster, local_run, tmp_path):
    from gsi_bench.engine import RayEngine

    engine = RayEngine()
    assert not engine.started  # reuses the running instance
    generate(CFG, tmp_path / "ray", progress=False, engine=engine)
    assert _files(tmp_path / "ray") == local_run
    # one unit at a time (as with a single Ray worker) and through a file:// URI: the same bytes
    generate(CFG, f"file://{tmp_path / 'ray1'}", progress=False, engine=RayEngine(max_in_flight=1))
    assert _files(tmp_path / "ray1") == local_run


def _exit_once(args):
    """A unit whose worker process dies (``os._exit``) the first time unit 1 runs."""
    marker_dir, job = args
    if job[1] == 1:
        marker = Path(marker_dir) / "unit1.started"
        if not marker.exists():
            marker.touch()
            os._exit(1)
    return _unit_examples(job)


def test_ray_retries_unit_whose_worker_died(ray_cluster, tmp_path):
    from ray import cloudpickle

    from gsi_bench.engine import RayEngine

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test module is not importable by workers
    jobs = [(CFG, u) for u in range(3)]
    expected = list(LocalEngine(1).map(_unit_examples, jobs))
    got = list(RayEngine(max_retries=2).map(_exit_once, [(str(tmp_path), j) for j in jobs]))
    assert (tmp_path / "unit1.started").exists()  # the worker really died once
    assert shard_bytes(sum(got, [])) == shard_bytes(sum(expected, []))  # (NaN fields: compare bytes)
    # without retries the same crash fails the run: the retry is what saved it
    (tmp_path / "unit1.started").unlink()
    with pytest.raises(ray_cluster.exceptions.RayError):
        list(RayEngine(max_retries=0).map(_exit_once, [(str(tmp_path), j) for j in jobs]))


def test_ray_resume_after_driver_kill(ray_cluster, tmp_path):
    from gsi_bench.engine import RayEngine

    cfg = GenerationConfig(num=14, seed=5, resolution=64, shard_size=2)  # = --per-op 2: 7 shards
    out = tmp_path / "killed"
    shard_dir = out / "data" / "tabletop"
    address = ray_cluster.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "gsi_bench.cli", "generate", "syn", "--per-op", "2", "--seed", "5", "--resolution", "64",
           "--shard-size", "2", "--engine", "ray", "--address", address, "--out", str(out), "--quiet"]
    log = tmp_path / "driver.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if shard_dir.is_dir() and any(p.suffix == ".parquet" for p in shard_dir.iterdir()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the driver ended before its first shard: {log.read_text()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in shard_dir.glob("*.parquet"))
    assert 1 <= len(done_before) < 7
    summary = generate(cfg, out, progress=False, engine=RayEngine())
    assert summary.shards_skipped == len(done_before) and summary.shards_written == 7 - len(done_before)
    reference = tmp_path / "reference"
    generate(cfg, reference, workers=1, progress=False)
    assert _files(out) == _files(reference)


def test_ray_evaluate_same_scores_as_local(ray_cluster, local_dir, tmp_path):
    from gsi_bench.engine import RayEngine
    from validation.baselines import run_baseline
    from validation.evaluator import EvalConfig, evaluate

    preds = tmp_path / "preds"
    run_baseline("cut-paste", str(local_dir), str(preds))
    reports = {}
    for name, engine in (("local", LocalEngine(1)), ("ray", RayEngine())):
        out = tmp_path / name
        evaluate(EvalConfig(data=str(local_dir), predictions=str(preds), out=str(out)), engine=engine)
        reports[name] = (out / "per_sample.jsonl").read_text()
    assert reports["ray"] == reports["local"]
    assert len(reports["local"].splitlines()) == CFG.num


def test_build_syn_cli_with_ray_engine_same_folder(ray_cluster, tmp_path):
    from gsi_bench.cli import main

    def build(out: Path, *extra: str) -> dict[str, bytes]:
        assert main(["build", "syn", "--out", str(out), "--test-per-op", "1", "--resolution", "64",
                     "--operations", "rotate,scale", "--quiet", *extra]) == 0
        return _files(out)

    assert build(tmp_path / "ray", "--engine", "ray") == build(tmp_path / "local")
