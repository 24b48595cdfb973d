"""GSI-Real human review: decision log durability, the local server's API, export of accepted."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from gsi_bench.hub_io import iter_records
from gsi_real.review import DecisionLog, export_accepted, make_server, read_decisions


@pytest.fixture()
def folder(tmp_path, review_record, write_candidates):
    records = [review_record(i, np.full((24, 32, 3), 10 * i, np.uint8)) for i in range(3)]
    return write_candidates(tmp_path / "cand", records)


def test_decision_log_survives_a_torn_line(tmp_path):
    path = tmp_path / "review" / "decisions.jsonl"
    log = DecisionLog(path)
    log.append("a", "accept", "looks right")
    with open(path, "ab") as f:
        f.write(b'{"id": "b", "decis')  # crash mid-write
    log2 = DecisionLog(path)  # reopening terminates the torn line
    log2.append("b", "reject")
    log2.append("a", "reject", "changed my mind")
    d = read_decisions(path)
    assert d["a"]["decision"] == "reject" and d["a"]["note"] == "changed my mind"
    assert d["b"]["decision"] == "reject"


def _post(url, body, token=None, headers=None, raw=None):
    h = {"Content-Type": "application/json", **({"X-Review-Token": token} if token else {}), **(headers or {})}
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers=h)
    return urllib.request.urlopen(req, timeout=5)


def test_server_records_decisions_and_export_keeps_only_accepted(folder, tmp_path):
    srv = make_server(folder, port=0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        host, port = srv.server_address[:2]
        assert host == "127.0.0.1"
        base = f"http://{host}:{port}"
        page = urllib.request.urlopen(base + "/", timeout=5).read().decode()
        assert "Accept (a)" in page
        items = json.loads(urllib.request.urlopen(base + "/api/items", timeout=5).read())
        assert [it["id"] for it in items] == [f"real-test-0-{i:06d}" for i in range(3)]
        png = urllib.request.urlopen(base + f"/img/{items[0]['id']}/target_image.png", timeout=5).read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        tok = srv.review_token
        assert f"'{tok}'" in page  # the page carries its session token
        assert _post(base + "/api/decision", {"id": items[0]["id"], "decision": "accept", "note": "ok"}, tok).status == 200
        _post(base + "/api/decision", {"id": items[1]["id"], "decision": "reject"}, tok)
        with pytest.raises(urllib.error.HTTPError) as err:
            _post(base + "/api/decision", {"id": "../../etc/passwd", "decision": "accept"}, tok)
        assert err.value.code == 400
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/img/..%2F..%2Fx/target_image.png", timeout=5)
        # a reload sees the decisions
        dec = json.loads(urllib.request.urlopen(base + "/api/decisions", timeout=5).read())
        assert dec[items[0]["id"]]["decision"] == "accept" and dec[items[1]["id"]]["decision"] == "reject"
    finally:
        srv.shutdown()
        srv.server_close()
    s = export_accepted(folder, tmp_path / "accepted")
    assert (s["accepted"], s["rejected"], s["undecided"]) == (1, 1, 1)
    out = list(iter_records(tmp_path / "accepted"))
    assert [r.id for r in out] == ["real-test-0-000000"]
    assert json.loads(out[0].scene)["human_review"]["decision"] == "accept"


def test_review_server_refuses_cross_origin_foreign_host_and_malformed_bodies(folder):
    srv = make_server(folder, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host, port = srv.server_address[:2]
        base, tok = f"http://{host}:{port}", srv.review_token
        ok = {"id": "real-test-0-000000", "decision": "accept"}
        cases = [  # (body, token, headers, raw, expected status)
            (ok, None, {}, None, 403),                                             # no token
            (ok, "wrong", {}, None, 403),                                          # wrong token
            (ok, tok, {"Origin": "http://evil.example"}, None, 403),               # cross-origin
            (ok, tok, {"Content-Type": "text/plain"}, None, 415),                  # simple CORS request
            (ok, tok, {"Host": "evil.example"}, None, 421),                        # DNS rebinding
            (None, tok, {}, b'["id", "decision"]', 400),                           # a JSON list
            (None, tok, {}, b'"accept"', 400),                                     # a JSON string
            ({**ok, "extra": 1}, tok, {}, None, 400),                              # unexpected field
            ({**ok, "note": ["x"]}, tok, {}, None, 400),                           # note not a string
        ]
        for body, token, headers, raw, status in cases:
            with pytest.raises(urllib.error.HTTPError) as err:
                _post(base + "/api/decision", body, token, headers, raw)
            assert err.value.code == status, (headers, raw)
        req = urllib.request.Request(base + "/api/items", headers={"Host": "evil.example:80"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 421
        assert read_decisions(folder / "review" / "decisions.jsonl") == {}  # nothing was written
        # the handler survived all of it
        assert _post(base + "/api/decision", ok, tok, {"Origin": base}).status == 200
    finally:
        srv.shutdown()
        srv.server_close()
