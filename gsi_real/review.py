"""Human verification: a local review page and the export of accepted samples.

``gsi-bench real review DIR`` serves, on 127.0.0.1 only, a page that shows each candidate record
of ``DIR`` (source | target | masks | instruction) with accept / reject / note buttons and
keyboard shortcuts (``a`` accept, ``r`` reject, ``n`` note, ``j``/→ next, ``k``/← previous).

The server accepts a decision only from its own page: the ``Host`` header must name the
server's own address (127.0.0.1 / localhost and its port: no DNS rebinding), an ``Origin``, when
sent, must be that same address, the body must be ``application/json`` holding one object with
exactly the expected fields, and the request must carry the per-session token that the page
embeds (``X-Review-Token``; a custom header that a cross-origin page cannot send without a CORS
pre-flight, which this server never grants).

Decisions are appended to ``DIR/review/decisions.jsonl`` — one JSON object per line, written
with a single ``write`` of the whole line under a lock, flushed and ``fsync``-ed before the
server answers, so an acknowledged decision survives a crash or a reload. The latest line per
record id wins; a torn last line (a crash mid-write) is ignored when reading.

:func:`export_accepted` writes only the records whose latest decision is ``accept`` to a new
Hub-layout folder.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Container
from pathlib import Path
from urllib.parse import unquote, urlparse

from gsi_bench.hashing import canonical_json
from gsi_bench.hub_io import iter_rows, list_shards
from gsi_bench.operations import OPERATIONS
from gsi_bench.schema import EditRecord

DECISIONS = ("accept", "reject")
IMAGE_FIELDS = ("source_image", "target_image", "source_mask", "target_mask")
MAX_NOTE_CHARS = 2000
MAX_BODY_BYTES = 16_384
#: Fields a decision body may hold (``id`` and ``decision`` are required).
DECISION_FIELDS = frozenset({"id", "decision", "note"})
TOKEN_HEADER = "X-Review-Token"


def decisions_path(root: str | Path) -> Path:
    return Path(root) / "review" / "decisions.jsonl"


def read_decisions(path: str | Path) -> dict[str, dict]:
    """Latest decision per record id (lines that do not parse — a torn tail — are skipped)."""
    path = Path(path)
    out: dict[str, dict] = {}
    if not path.is_file():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and isinstance(d.get("id"), str) and d.get("decision") in DECISIONS:
                out[d["id"]] = d
    return out


class DecisionLog:
    """Append-only, fsync-ed JSONL log of review decisions."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # a crash may have left a torn last line: terminate it so the next record starts clean
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
            if torn:
                self._append(b"\n")

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, record_id: str, decision: str, note: str = "", reviewer: str = "") -> dict:
        entry = {"id": record_id, "decision": decision, "note": note, "reviewer": reviewer,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self._append(line)
        return entry


class ReviewData:
    """The candidate records of a folder, decoded lazily (row index per id)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.shards = list_shards(self.root)
        if not self.shards:
            raise FileNotFoundError(f"no Parquet shards under {self.root / 'data'}; run `gsi-bench real run` first")
        cols = ["id", "operation", "instruction", "instruction_zh"]
        self.items = []
        for row in iter_rows(self.shards, columns=cols):
            item = {k: row[k] for k in cols}
            if isinstance(item["operation"], int):  # ClassLabel index in the shards → operation id
                item["operation"] = OPERATIONS[item["operation"]]
            self.items.append(item)
        self.ids = {it["id"]: k for k, it in enumerate(self.items)}
        self._cache: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def images(self, record_id: str) -> dict[str, bytes]:
        with self._lock:
            if record_id not in self._cache:
                for row in iter_rows(self.shards, columns=["id", *IMAGE_FIELDS]):
                    if row["id"] == record_id:
                        self._cache[record_id] = {f: row[f]["bytes"] for f in IMAGE_FIELDS}
                        break
            return self._cache[record_id]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GSI-Real review</title>
<style>
body{font-family:sans-serif;margin:1em;background:#fafafa}
.imgs{display:flex;gap:8px;flex-wrap:wrap}.imgs figure{margin:0}.imgs img{width:320px;image-rendering:pixelated;border:1px solid #ccc}
#instr{font-size:1.2em;margin:.5em 0}#state{font-weight:bold}
.accept{color:#070}.reject{color:#a00}button{font-size:1em;margin-right:.5em}
</style></head><body>
<div><span id="pos"></span> · <span id="rid"></span> · <span id="op"></span> · decision: <span id="state">none</span></div>
<div id="instr"></div><div id="instr_zh"></div>
<div class="imgs">
<figure><img id="source_image" alt="source"><figcaption>source</figcaption></figure>
<figure><img id="target_image" alt="target"><figcaption>target</figcaption></figure>
<figure><img id="source_mask" alt="source mask"><figcaption>source mask</figcaption></figure>
<figure><img id="target_mask" alt="target mask"><figcaption>target mask</figcaption></figure>
</div>
<p><input id="note" size="80" placeholder="note (n to edit, Esc to leave; saved with the next accept / reject)"></p>
<p><button id="accept">Accept (a)</button><button id="reject">Reject (r)</button>
<button id="prev">Prev (k / ←)</button><button id="next">Next (j / →)</button></p>
<p id="status"></p>
<script>
const TOKEN='__REVIEW_TOKEN__';
let items=[], decisions={}, pos=0;
const $=id=>document.getElementById(id);
async function load(){
  items=await (await fetch('api/items')).json();
  decisions=await (await fetch('api/decisions')).json();
  const firstOpen=items.findIndex(it=>!decisions[it.id]);
  pos=firstOpen>=0?firstOpen:0; show();
}
function show(){
  if(!items.length){$('instr').textContent='no records';return;}
  const it=items[pos], d=decisions[it.id];
  $('pos').textContent=(pos+1)+' / '+items.length; $('rid').textContent=it.id; $('op').textContent=it.operation;
  $('instr').textContent=it.instruction; $('instr_zh').textContent=it.instruction_zh;
  for(const f of ['source_image','target_image','source_mask','target_mask']) $(f).src='img/'+encodeURIComponent(it.id)+'/'+f+'.png';
  $('state').textContent=d?d.decision:'none'; $('state').className=d?d.decision:'';
  $('note').value=d?d.note:'';
}
async function decide(decision){
  const it=items[pos];
  const r=await fetch('api/decision',{method:'POST',headers:{'Content-Type':'application/json','X-Review-Token':TOKEN},
    body:JSON.stringify({id:it.id,decision:decision,note:$('note').value})});
  if(!r.ok){$('status').textContent='save failed: '+(await r.text());return;}
  decisions[it.id]=await r.json(); $('status').textContent='saved '+decision+' for '+it.id;
  if(pos<items.length-1)pos++; show();
}
$('accept').onclick=()=>decide('accept'); $('reject').onclick=()=>decide('reject');
$('next').onclick=()=>{if(pos<items.length-1)pos++;show();}; $('prev').onclick=()=>{if(pos>0)pos--;show();};
document.addEventListener('keydown',e=>{
  if(e.target===$('note')){ if(e.key==='Escape')$('note').blur(); return; }
  if(e.key==='a')decide('accept'); else if(e.key==='r')decide('reject');
  else if(e.key==='n'){e.preventDefault();$('note').focus();}
  else if(e.key==='j'||e.key==='ArrowRight')$('next').click(); else if(e.key==='k'||e.key==='ArrowLeft')$('prev').click();
});
load();
</script></body></html>
"""


def _valid_decision(body: object, ids: Container[str]) -> dict | None:
    """``body`` as a decision dict when it is a JSON object with exactly the expected fields and
    valid values, else None."""
    if not isinstance(body, dict) or not {"id", "decision"} <= body.keys() <= DECISION_FIELDS:
        return None
    rid, decision, note = body["id"], body["decision"], body.get("note", "")
    if not isinstance(rid, str) or rid not in ids or decision not in DECISIONS:
        return None
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        return None
    return {"id": rid, "decision": decision, "note": note}


def make_handler(data: ReviewData, log: DecisionLog, token: str):
    page = PAGE.replace("__REVIEW_TOKEN__", token).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        server_version = "gsi-real-review"

        def log_message(self, fmt, *args):  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, status: int = 200) -> None:
            self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def _own_origins(self) -> set[str]:
            port = self.server.server_address[1]
            return {f"127.0.0.1:{port}", f"localhost:{port}"}

        def _host_ok(self) -> bool:
            return (self.headers.get("Host") or "").lower() in self._own_origins()

        def _origin_ok(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is None:
                return True
            parsed = urlparse(origin)
            return parsed.scheme == "http" and parsed.netloc.lower() in self._own_origins()

        def do_GET(self):  # noqa: N802
            if not self._host_ok():
                return self._send(421, b"unknown Host", "text/plain")
            path = urlparse(self.path).path
            if path in ("/", "/index.html"):
                return self._send(200, page, "text/html; charset=utf-8")
            if path == "/api/items":
                return self._json(data.items)
            if path == "/api/decisions":
                return self._json(read_decisions(log.path))
            if path.startswith("/img/"):
                parts = path[len("/img/"):].split("/")
                if len(parts) == 2 and parts[1].endswith(".png"):
                    rid, field = unquote(parts[0]), parts[1][:-4]
                    if rid in data.ids and field in IMAGE_FIELDS:
                        return self._send(200, data.images(rid)[field], "image/png")
            return self._send(404, b"not found", "text/plain")

        def do_POST(self):  # noqa: N802
            if not self._host_ok():
                return self._send(421, b"unknown Host", "text/plain")
            if urlparse(self.path).path != "/api/decision":
                return self._send(404, b"not found", "text/plain")
            if not self._origin_ok():
                return self._send(403, b"cross-origin request refused", "text/plain")
            if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, ""), token):
                return self._send(403, b"missing or wrong review token", "text/plain")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return self._send(415, b"Content-Type must be application/json", "text/plain")
            try:
                n = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                n = -1
            if not 0 < n <= MAX_BODY_BYTES:
                return self._send(400, b"bad body length", "text/plain")
            try:
                body = json.loads(self.rfile.read(n))
            except ValueError:
                return self._send(400, b"body is not JSON", "text/plain")
            decision = _valid_decision(body, data.ids)
            if decision is None:
                return self._send(400, b"expected a JSON object {id, decision, note?} with a known id, "
                                       b"accept or reject, and a short note", "text/plain")
            return self._json(log.append(decision["id"], decision["decision"], decision["note"]))

    return Handler


def make_server(root: str | Path, port: int = 8765, decisions: str | Path | None = None) -> ThreadingHTTPServer:
    """A review server bound to 127.0.0.1 (``port`` 0 picks a free one)."""
    data = ReviewData(root)
    log = DecisionLog(decisions or decisions_path(root))
    token = secrets.token_urlsafe(24)
    srv = ThreadingHTTPServer(("127.0.0.1", port), make_handler(data, log, token))
    srv.daemon_threads = True
    srv.review_token = token  # type: ignore[attr-defined]  # for programmatic clients and tests
    return srv


def export_accepted(root: str | Path, out_dir: str | Path, decisions: str | Path | None = None,
                    shard_size: int = 100) -> dict:
    """Write the records of ``root`` whose latest decision is ``accept`` into ``out_dir``
    (Hub layout, atomic shards, checksums); the review verdict is added to each record's scene
    JSON (``human_review``)."""
    from gsi_bench.hub_io import shard_path, update_checksums, write_shard_atomic

    dec = read_decisions(decisions or decisions_path(root))
    rows = []
    for row in iter_rows(list_shards(root)):
        d = dec.get(row["id"])
        if d is None or d["decision"] != "accept":
            continue
        rec = EditRecord.from_example(row)
        scene = json.loads(rec.scene)
        scene["human_review"] = {"decision": "accept", "note": d.get("note", ""), "time": d.get("time", ""),
                                 "reviewer": d.get("reviewer", "")}
        rec.scene = canonical_json(scene)
        rows.append((rec.split, rec.to_example()))
    out = Path(out_dir)
    if Path(root).resolve() == out.resolve():
        raise ValueError("export into a different folder than the candidates")
    if not rows:
        ids = {r["id"] for r in iter_rows(list_shards(root), columns=["id"])}
        rejected = sum(1 for i in ids if i in dec and dec[i]["decision"] == "reject")
        raise ValueError(f"no accepted record in {root} ({len(ids)} candidate(s): {rejected} rejected, "
                         f"{sum(1 for i in ids if i not in dec)} undecided; decisions read from "
                         f"{decisions or decisions_path(root)}): accept records on the review page "
                         f"(`gsi-bench real review {root}`) before exporting")
    paths = []
    for split in sorted({s for s, _ in rows}):
        chunk_rows = [r for s, r in rows if s == split]
        chunks = [chunk_rows[i:i + shard_size] for i in range(0, len(chunk_rows), shard_size)]
        for i, chunk in enumerate(chunks):
            paths.append(write_shard_atomic(shard_path(out, "real", split, i, len(chunks)), chunk,
                                            {"generator": "gsi_real.review.export_accepted"}))
    if paths:
        update_checksums(out, paths)
    ids = {r["id"] for r in iter_rows(list_shards(root), columns=["id"])}
    return {"accepted": len(rows), "rejected": sum(1 for i in ids if i in dec and dec[i]["decision"] == "reject"),
            "undecided": sum(1 for i in ids if i not in dec), "shards": [str(p) for p in paths]}

