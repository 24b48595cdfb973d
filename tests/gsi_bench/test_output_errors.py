"""Errors a person can act on: one line naming the path and the fix, distinct exit codes, and
special files never replaced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "ds"
    generate(GenerationConfig(split="test", num=2, seed=2, resolution=64), out, progress=False)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gsi_bench.cli", *args], capture_output=True, text=True,
                          timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[-1]


def test_validate_report_to_dev_null_keeps_the_device(data):
    proc = _cli("validate", str(data), "--integrity-only", "--out", os.devnull, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_validate_report_on_a_full_disk_exits_3(data):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    proc = _cli("validate", str(data), "--integrity-only", "--out", "/dev/full", "--quiet")
    assert proc.returncode == 3
    assert "disk is full" in _one_error_line(proc)


def test_validate_report_inside_the_dataset_is_refused(data):
    proc = _cli("validate", str(data), "--integrity-only", "--out", str(data / "validation.json"))
    assert proc.returncode == 2
    assert "inside the dataset folder" in _one_error_line(proc)
    assert not (data / "validation.json").exists()


def test_evaluate_out_that_is_a_file(data, tmp_path):
    f = tmp_path / "report"
    f.write_text("not a folder")
    proc = _cli("evaluate", "--data", str(data), "--config", "tabletop", "--predictions", str(tmp_path),
                "--out", str(f))
    assert proc.returncode == 3
    assert "is a file" in _one_error_line(proc)


def test_evaluate_out_inside_the_data_folder(data, tmp_path):
    proc = _cli("evaluate", "--data", str(data), "--config", "tabletop", "--predictions", str(tmp_path),
                "--out", str(data / "scores"))
    assert proc.returncode == 3
    assert "inside the data folder" in _one_error_line(proc)
    assert not (data / "scores").exists()


def test_generate_into_a_file(tmp_path):
    f = tmp_path / "out"
    f.write_text("x")
    proc = _cli("generate", "syn", "--config", "tabletop", "--split", "test", "--per-op", "1", "--resolution", "64",
                "--out", str(f))
    assert proc.returncode == 3
    assert "is a file" in _one_error_line(proc)


def test_interrupt_messages_fit_the_command():
    import argparse

    from gsi_bench.cli import interrupt_message

    assert "resume" in interrupt_message(argparse.Namespace(command="generate"))
    assert "resume" not in interrupt_message(argparse.Namespace(command="evaluate"))
    assert "shards" not in interrupt_message(argparse.Namespace(command="validate"))
