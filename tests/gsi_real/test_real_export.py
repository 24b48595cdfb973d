"""`real export` writes a complete Hub folder (card, eval.yaml, checksums) that `publish --dry-run`
and `validate` accept; with nothing accepted it fails with a clear message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("moderngl")

from gsi_bench.hub_io import iter_records  # noqa: E402
from gsi_real.demo import make_demo_captures  # noqa: E402
from gsi_real.pipeline import run  # noqa: E402

CLI = [sys.executable, "-m", "gsi_bench.cli"]


def test_export_is_a_complete_hub_folder(tmp_path):
    make_demo_captures(tmp_path / "caps", num_captures=1, frames_per_capture=1, width=160, height=120, seed=5)
    run(tmp_path / "caps", tmp_path / "cand", seed=5)
    ids = [r.id for r in iter_records(tmp_path / "cand", "real", "test")]
    assert len(ids) >= 2
    empty = subprocess.run(CLI + ["real", "export", str(tmp_path / "cand"), "--out", str(tmp_path / "none")],
                           capture_output=True, text=True)
    assert empty.returncode != 0 and "no accepted record" in empty.stderr and not (tmp_path / "none").exists()
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text("".join(json.dumps({"id": i, "decision": d, "note": "", "time": "t", "reviewer": "r"}) + "\n"
                                 for i, d in zip(ids, ["accept"] * (len(ids) - 1) + ["reject"])))
    out = tmp_path / "hub"
    done = subprocess.run(CLI + ["real", "export", str(tmp_path / "cand"), "--out", str(out), "--decisions",
                                 str(decisions), "--repo-id", "me/real"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} >= {"README.md", "eval.yaml", "gsi_checksums.json", "data"}
    assert "me/real" in (out / "README.md").read_text()
    exported = list(iter_records(out, "real", "test"))
    assert len(exported) == len(ids) - 1
    assert all(json.loads(r.scene)["human_review"]["decision"] == "accept" for r in exported)
    pub = subprocess.run(CLI + ["publish", str(out), "--repo-id", "me/real", "--dry-run"], capture_output=True, text=True)
    assert pub.returncode == 0, pub.stderr
    val = subprocess.run(CLI + ["validate", str(out), "--integrity-only", "--quiet"], capture_output=True, text=True,
                         cwd=tmp_path)   # its report goes to the working directory
    assert val.returncode == 0, val.stdout + val.stderr
