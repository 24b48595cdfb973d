"""The OpenAI-compatible image-edit adapter against a loopback fake server (127.0.0.1 only): multipart
request with the key from the environment, b64 answers decoded, 429 Retry-After honoured, 5xx retried
with backoff, 4xx not retried, and failed samples scored as missing (never dropped) through the API."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections import Counter
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from validation.editors.openai_images import OpenAIImageEditor

SEEN: list[dict] = []
ATTEMPTS: Counter = Counter()


class _FakeImagesAPI(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg = BytesParser().parsebytes(f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
        parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True) for p in msg.get_payload()}
        prompt = parts["prompt"].decode()
        SEEN.append({"path": self.path, "auth": self.headers.get("Authorization"), "model": parts["model"].decode(),
                     "prompt": prompt, "format": parts["response_format"].decode()})
        ATTEMPTS[prompt] += 1
        op = prompt.split()[0].lower()
        if op in ("rotate", "turn") and ATTEMPTS[prompt] == 1:
            return self._reply(429, {"error": "rate limited"}, {"Retry-After": "7"})
        # removals fail with 503, scalings with 400 (first words of every paraphrase template of the two
        # operations, gsi_bench.operations)
        if op in ("remove", "delete", "take"):
            return self._reply(503, {"error": "overloaded"})
        if op in ("scale", "resize", "make"):
            return self._reply(400, {"error": "content policy"})
        img = Image.open(io.BytesIO(parts["image"])).convert("RGB")
        out = Image.fromarray(np.asarray(img)[:, ::-1].copy()).resize((img.width * 2, img.height * 2))  # flipped, 2x
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        return self._reply(200, {"created": 0, "data": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}]})


@pytest.fixture()
def server():
    SEEN.clear()
    ATTEMPTS.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeImagesAPI)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_single_calls_retry_rules(server, monkeypatch):
    monkeypatch.setenv("GSI_TEST_KEY", "sk-test-123")
    sleeps: list[float] = []
    ed = OpenAIImageEditor(server, "edit-model", api_key_env="GSI_TEST_KEY", max_retries=2, backoff=0.5, sleep=sleeps.append)
    src = Image.fromarray(np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3))
    out = ed(src, "Move the mug left")
    assert out.size == src.size  # resized back from the 2x answer
    assert SEEN[-1] == {"path": "/v1/images/edits", "auth": "Bearer sk-test-123", "model": "edit-model",
                        "prompt": "Move the mug left", "format": "b64_json"}
    assert ed(src, "Rotate the mug 90° clockwise") is not None and sleeps == [7.0]  # Retry-After honoured
    assert ed(src, "remove the mug") is None and sleeps[1:] == [0.5, 1.0]  # 503: backoff, then give up
    assert ATTEMPTS["remove the mug"] == 3
    assert ed(src, "make the mug larger") is None and ATTEMPTS["make the mug larger"] == 1  # 400: not retried
    assert [f["error"][:8] for f in ed.failures] == ["HTTP 503", "HTTP 400"]
    with pytest.raises(ValueError, match="http"):
        OpenAIImageEditor("ftp://x", "m")


def test_unreachable_server_is_a_counted_failure():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    ed = OpenAIImageEditor(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff=0.0, sleep=lambda _: None)
    assert ed(np.zeros((4, 4, 3), np.uint8), "move it") is None and "ConnectionError" in ed.failures[0]["error"]


def test_endpoint_run_through_the_api_counts_failures_as_missing(server, tmp_path):
    pytest.importorskip("moderngl")
    import gsi_bench
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=5, resolution=64), tmp_path, progress=False)
    ed = OpenAIImageEditor(server, "edit-model", max_retries=1, backoff=0.0, sleep=lambda _: None)
    result = gsi_bench.evaluate(tmp_path, ed, config="tabletop")
    failed = len(ed.failures)
    assert failed >= 1 and result.counts["total"] == 7
    assert result.counts["missing"] == failed and result.counts["ok"] == 7 - failed
    assert result.counts["prediction_issues"] == {"editor_failed": failed}
    missing = {s["id"] for s in result.samples if s["status"] == "missing"}
    assert len(missing) == failed
