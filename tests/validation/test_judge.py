"""The MLLM judge backend through an OpenAI-compatible endpoint: a fake server on loopback answers
(some answers unparseable); scores are recorded, parse failures counted, the model id pinned."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


class _FakeJudge(BaseHTTPRequestHandler):
    calls: list = []

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        n = len(type(self).calls)
        text = "I cannot tell." if n % 3 == 0 else json.dumps({"score": 8, "reasoning": "same object"})
        data = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def judge_url():
    _FakeJudge.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_compatible_judge_counts_parse_failures(tmp_path, judge_url):
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
    assert _FakeJudge.calls and all(c["model"] == "tiny-judge-v1" and c["temperature"] == 0 for c in _FakeJudge.calls)
    content = _FakeJudge.calls[0]["messages"][0]["content"]
    assert sum(p["type"] == "image_url" for p in content) == 2
    assert any(p["type"] == "text" and "Rate" in p["text"] for p in content)
