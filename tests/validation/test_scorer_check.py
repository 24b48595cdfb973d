"""The scorer validity suite end to end on a tiny generated split (128 px, 7 records, all ops)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("moderngl")

from validation.evaluator.validity import CheckConfig, run_check, summarise


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("checkdata")
    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=3, resolution=128), out,
             workers=1, progress=False)
    return out


def test_known_correctness_predictions_are_judged_right(data):
    rows = run_check(CheckConfig(data=str(data), nuisances=("none", "shift8"),
                                 kinds=("correct", "unchanged", "wrong_direction")), progress=False)
    s = summarise(rows)
    assert {r["operation"] for r in rows} >= {"camera_relative_move", "rotate", "scale", "remove", "perspective"}
    assert s["oracle"]["ic"] == 100.0
    assert s["ic_accuracy_kind_total"]["unchanged"] == 100.0
    assert s["ic_accuracy_kind_total"]["wrong_direction"] == 100.0
    assert s["ic_accuracy_by_nuisance"]["shift8"] == 100.0   # a globally shifted correct edit still passes
    drift = s["el_ac_change"]["shift8"]
    assert abs(drift["el"]) < 0.5 * abs(drift["el_raw"])    # …and alignment removes most of the EL loss


def test_cli_rejects_unknown_nuisance(data):
    r = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "scorer-check", "--data", str(data),
                        "--nuisances", "sepia"], capture_output=True, text=True)
    assert r.returncode == 2 and "sepia" in r.stderr


def test_cli_writes_rows_and_summary(data, tmp_path):
    r = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "scorer-check", "--data", str(data), "--limit", "2",
                        "--nuisances", "none", "--kinds", "correct,unchanged", "--out", str(tmp_path), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "IC decision accuracy" in r.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n"] == len((tmp_path / "rows.jsonl").read_text().splitlines()) >= 2
