"""The main job end to end (tiny): generate both subsets, validate, baselines, evaluate, leaderboard."""

import json
import subprocess
import sys


def test_demo_runs_the_whole_loop(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "demo", "--out", str(out), "--per-op", "1",
                           "--resolution", "96", "--workers", "1", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    board = json.loads((out / "leaderboard.json").read_text())
    scores = {row["model"]: row["overall"] for row in board}
    assert set(scores) == {"identity", "cut-paste", "oracle"}
    assert scores["oracle"]["ic"] >= 95 and scores["identity"]["ic"] <= 5
    assert scores["identity"]["avg"] < scores["oracle"]["avg"]
    assert [row["model"] for row in board][0] == "oracle"
    assert set(board[0]["subsets"]) == {"tabletop", "room"}
    html = (out / "leaderboard.html").read_text()
    assert "report.html" in html and "oracle" in html
    assert json.loads((out / "validation.json").read_text())
    assert (out / "preview-room.png").stat().st_size > 0
    assert "leaderboard" in done.stdout


def test_leaderboard_rejects_non_reports(tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "leaderboard", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not an evaluation summary" in done.stderr
