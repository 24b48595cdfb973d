"""Fault injection: ``kill -9`` at each phase of a shard commit, then a rerun must give the exact
bytes of an uninterrupted run, leave no temp files, and validate."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gsi_bench.hub_io import CHECKSUMS_FILE, list_shards




def _generate(out: Path, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GSI_BENCH_FAILPOINT", None)
    if failpoint:
        env["GSI_BENCH_FAILPOINT"] = failpoint
    code = ("import sys; from gsi_syn.sampler import GenerationConfig; from gsi_syn.pipeline import generate;"
            "generate(GenerationConfig(subset='tabletop', split='test', num=16, seed=4, resolution=64,"
            " shard_size=8), sys.argv[1], progress=False)")
    return subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True, text=True,
                          timeout=600)


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("clean")
    proc = _generate(out)
    assert proc.returncode == 0, proc.stderr
    assert len(list_shards(out)) == 2
    return _digest(out)


@pytest.mark.parametrize("phase", ["shard-temp-written", "shard-renamed", "checksums-updated"])
def test_kill9_at_each_commit_phase_then_rerun_is_identical(tmp_path, clean_run, phase):
    crashed = _generate(tmp_path, phase)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    if phase == "shard-temp-written":
        assert list(tmp_path.rglob("*.tmp")), "the crash should leave a temp file behind"
    rerun = _generate(tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert not list(tmp_path.rglob("*.tmp")), "temp files of the crashed run must be gone"
    assert _digest(tmp_path) == clean_run
    listed = json.loads((tmp_path / CHECKSUMS_FILE).read_text())["files"]
    assert sorted(listed) == sorted(p.relative_to(tmp_path).as_posix() for p in list_shards(tmp_path))


def test_rerun_validates_after_crash_between_rename_and_checksum(tmp_path):
    from validation.runner import RunConfig, validate

    assert _generate(tmp_path, "shard-renamed").returncode == -signal.SIGKILL
    assert _generate(tmp_path).returncode == 0
    report = validate(str(tmp_path), RunConfig(integrity_only=True))
    assert report.passed, report.summary()


def test_killing_the_driver_stops_its_workers(tmp_path):
    """``kill -9`` of the driver: pool workers must not outlive it."""
    code = ("import sys; from gsi_syn.sampler import GenerationConfig; from gsi_syn.pipeline import generate;"
            "generate(GenerationConfig(subset='tabletop', split='test', num=140, seed=9, resolution=64),"
            " sys.argv[1], workers=2, progress=False)")
    driver = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE)
    import time

    deadline = time.monotonic() + 120
    children: list[int] = []
    while time.monotonic() < deadline and len(_workers(children)) < 2:
        time.sleep(0.5)
        children = _descendants(driver.pid)  # a forkserver's workers are its children, not the driver's
    assert len(_workers(children)) >= 2, "the pool never started"
    driver.kill()
    driver.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.2)
    assert not any(_alive(c) for c in children)


def _children(pid: int) -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(status.parent.name))
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children…)."""
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _workers(pids: list[int]) -> list[int]:
    """The pool workers among ``pids``: processes without children (a forkserver has the
    workers as children) other than multiprocessing's resource tracker."""
    def cmdline(p: int) -> str:
        try:
            return Path(f"/proc/{p}/cmdline").read_text()
        except OSError:
            return ""
    return [p for p in pids if not _children(p) and "resource_tracker" not in cmdline(p)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
