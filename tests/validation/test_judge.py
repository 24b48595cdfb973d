"""The MLLM judge backend through an OpenAI-compatible endpoint: a fake server on loopback answers
(some answers unparseable); scores are recorded, parse failures counted, the model id pinned."""

import json
import subprocess
import sys

from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


def _judge_answer(n: int) -> str:
    """Every third answer is unparseable."""
    return "I cannot tell." if n % 3 == 0 else json.dumps({"score": 8, "reasoning": "same object"})


def test_openai_compatible_judge_counts_parse_failures(tmp_path, chat_server):
    judge = chat_server(_judge_answer)
    judge_url = judge.url
    data, preds, out = tmp_path / "data", tmp_path / "pred", tmp_path / "eval"
    generate(GenerationConfig(num=6, seed=0, resolution=64), data, progress=False)
    cli = [sys.executable, "-m", "gsi_bench.cli"]
    assert subprocess.run(cli + ["baseline", "oracle", "--data", str(data), "--out", str(preds), "--quiet"],
                          capture_output=True).returncode == 0
    done = subprocess.run(cli + ["evaluate", "--data", str(data), "--predictions", str(preds), "--out", str(out),
                                 "--judge", f"openai:tiny-judge-v1@{judge_url}", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backends"]["judge"] == f"openai:tiny-judge-v1@{judge_url}"
    assert summary["judge"] == {"asked": 6, "parsed": 4, "parse_failed": 2, "mean_score_0_10": 8.0}
    rows = [json.loads(line) for line in (out / "per_sample.jsonl").read_text().splitlines()]
    assert sum(r["judge"]["parse_failed"] for r in rows) == 2
    assert all(r["status"] == "ok" for r in rows)  # a failed parse never zeroes the sample
    assert judge.calls and all(c["model"] == "tiny-judge-v1" and c["temperature"] == 0 for c in judge.calls)
    content = judge.calls[0]["messages"][0]["content"]
    assert sum(p["type"] == "image_url" for p in content) == 2
    assert any(p["type"] == "text" and "Rate" in p["text"] for p in content)
