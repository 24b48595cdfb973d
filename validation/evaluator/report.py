"""Reports of an evaluation run, all written atomically into the output folder:

* ``summary.json`` — counts and metrics overall / per subset / per operation / per frame, the
  decoupled metrics and the paper-style gated ones, plus the run's provenance. Deterministic: the
  same inputs give the same bytes (sorted keys, rounded floats, no timestamps);
* ``per_sample.jsonl`` — one line per sample (dataset order) with its status and a readable reason;
* ``plots/per_operation.svg`` — grouped bars of IC / SA / EL / AC per operation (plain SVG);
* ``report.html`` — the summary tables and the worst / best samples side by side.

Metric scale: IC and SA are reported ×100 (percent), EL and AC are 0–100; ``avg`` is the mean of
IC, SA, EL and AC. **Gated** (the paper's aggregation applied to our metrics): when IC = 0, EL and
AC count 0 (SA is kept); when IC > 0 and AC = 0, all four count 0.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

from gsi_bench.fileio import atomic_write_many

METRICS = ("ic", "sa", "el", "ac")
STATUSES = ("ok", "missing", "unreadable", "duplicate", "unscorable")


def _r(x: float, nd: int = 4) -> float:
    if x is None or not math.isfinite(x):
        return 0.0
    v = round(float(x), nd)
    return 0.0 if v == 0 else v


def gated(sample: dict) -> dict:
    ic, sa, el, ac = float(sample["ic"]), float(sample["sa"]), float(sample["el"]), float(sample["ac"])
    if ic > 0:
        if ac == 0:
            ic = sa = el = 0.0
    else:
        el = ac = 0.0
    return {"ic": ic, "sa": sa, "el": el, "ac": ac}


def aggregate(samples: list[dict]) -> dict:
    n = len(samples)
    if n == 0:
        return {"n": 0, **{m: 0.0 for m in METRICS}, "avg": 0.0, "gated": {**{m: 0.0 for m in METRICS}, "avg": 0.0}}
    dec = {"ic": 100.0 * sum(s["ic"] for s in samples) / n, "sa": 100.0 * sum(s["sa"] for s in samples) / n,
           "el": sum(s["el"] for s in samples) / n, "ac": sum(s["ac"] for s in samples) / n}
    g = [gated(s) for s in samples]
    gat = {"ic": 100.0 * sum(x["ic"] for x in g) / n, "sa": 100.0 * sum(x["sa"] for x in g) / n,
           "el": sum(x["el"] for x in g) / n, "ac": sum(x["ac"] for x in g) / n}
    counts = Counter(s["status"] for s in samples)
    out = {"n": n, **{m: _r(v) for m, v in dec.items()}, "avg": _r(sum(dec.values()) / 4),
           "gated": {**{m: _r(v) for m, v in gat.items()}, "avg": _r(sum(gat.values()) / 4)},
           "counts": {k: counts.get(k, 0) for k in STATUSES}}
    return out


def _group(samples: list[dict], key) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in samples:
        groups[key(s)].append(s)
    return {k: aggregate(v) for k, v in sorted(groups.items())}


def _clean_sample(s: dict) -> dict:
    out = {}
    for k, v in s.items():
        if k.startswith("_"):
            continue
        out[k] = _round_tree(v)
    out["gated"] = {k: _r(v) for k, v in gated(s).items()}
    return out


def _round_tree(v):
    if isinstance(v, float):
        return _r(v, 6)
    if isinstance(v, dict):
        return {k: _round_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round_tree(x) for x in v]
    return v


def build_summary(results: list[dict], meta: dict) -> dict:
    from validation.evaluator.scoring import SCORING_CONSTANTS

    counts = Counter(s["status"] for s in results)
    issues = Counter(i["kind"] for i in meta["predictions"]["issues"])
    summary = {
        **meta,
        "counts": {"total": len(results), **{k: counts.get(k, 0) for k in STATUSES},
                   "prediction_issues": dict(sorted(issues.items()))},
        "overall": aggregate(results),
        "scorer_health": {
            "low_confidence": sum(1 for s in results if (s.get("confidence") or {}).get("low")),
            "undecidable": sum(1 for s in results if (s.get("confidence") or {}).get("undecidable")),
            "unreliable_alignment": sum(1 for s in results if s.get("alignment") and not s["alignment"].get("reliable", True)),
        },
        "per_subset": _group(results, lambda s: s["subset"]),
        "per_operation": _group(results, lambda s: s["operation"]),
        "per_frame": _group(results, lambda s: s["frame"]),
        "per_subset_operation": _group(results, lambda s: f"{s['subset']}/{s['operation']}"),
        "metric_definitions": {
            "scale": "ic, sa in percent (x100); el, ac 0-100; avg = mean of the four",
            "gated": "paper-style: IC=0 zeroes EL and AC (SA kept); IC>0 and AC=0 zeroes all four",
            "constants": SCORING_CONSTANTS if meta.get("protocol") == "default" else {},
        },
    }
    if meta.get("official"):
        summary["official"] = meta["official"]
    judged = [s["judge"] for s in results if isinstance(s.get("judge"), dict)]
    if judged:
        scores = [j["score"] for j in judged if j.get("score") is not None]
        # parse failures and unreachable judges are counted, never turned into a silent 0
        summary["judge"] = {"asked": len(judged), "parsed": len(scores),
                            "parse_failed": sum(1 for j in judged if j.get("parse_failed")),
                            "mean_score_0_10": round(sum(scores) / len(scores), 6) if scores else None}
    return summary


def write_reports(cfg, results: list[dict], meta: dict) -> dict:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.protocol == "official":
        from validation.evaluator.protocols import official

        meta = {**meta, "official": official.summarise(results, cfg)}
    from validation.evaluator import report_stats

    meta = {**meta, "statistics": report_stats.statistics_for(cfg, results)}  # intervals, failures, confusions
    summary = build_summary(results, meta)
    lines = [json.dumps(_clean_sample(s), sort_keys=True, ensure_ascii=False) for s in results]
    try:
        page = html_report(cfg, summary, results)
    except Exception as err:  # noqa: BLE001 - the HTML page is a convenience; never lose the JSON
        page = f"<html><body><p>HTML report failed: {html.escape(str(err))}</p></body></html>"
    # the report set is written whole or not at all (no partial set, no temp files left)
    atomic_write_many({
        out / "summary.json": json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        out / "per_sample.jsonl": "\n".join(lines) + ("\n" if lines else ""),
        out / "plots" / "per_operation.svg": bar_chart_svg(summary["per_operation"]),
        out / "report.html": page,
    })
    return summary


# ---------------------------------------------------------------------------------------------
# plots (plain SVG: no plotting dependency, deterministic)
# ---------------------------------------------------------------------------------------------
_COLOURS = {"ic": "#4c72b0", "sa": "#55a868", "el": "#c44e52", "ac": "#8172b2"}


def bar_chart_svg(groups: dict[str, dict], title: str = "Scores per operation (decoupled, 0-100)") -> str:
    names = list(groups)
    gw, bw, h, top, left = 110, 22, 220, 40, 40
    width = left + max(1, len(names)) * gw + 20
    height = top + h + 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="20" font-size="14">{html.escape(title)}</text>']
    for v in (0, 25, 50, 75, 100):
        y = top + h - h * v / 100
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    for i, name in enumerate(names):
        x0 = left + i * gw + 10
        for j, m in enumerate(METRICS):
            v = max(0.0, min(100.0, float(groups[name].get(m, 0.0))))
            bh = h * v / 100
            parts.append(f'<rect x="{x0 + j * bw}" y="{top + h - bh:.1f}" width="{bw - 2}" height="{bh:.1f}" '
                         f'fill="{_COLOURS[m]}"><title>{html.escape(name)} {m.upper()} {v:.1f}</title></rect>')
        parts.append(f'<text x="{x0 + 2 * bw}" y="{top + h + 14}" text-anchor="end" '
                     f'transform="rotate(-30 {x0 + 2 * bw} {top + h + 14})">{html.escape(name)}</text>')
    for j, m in enumerate(METRICS):
        parts.append(f'<rect x="{left + j * 60}" y="{height - 18}" width="10" height="10" fill="{_COLOURS[m]}"/>'
                     f'<text x="{left + j * 60 + 14}" y="{height - 9}">{m.upper()}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
def _thumb(arr, size: int = 192) -> str:
    from PIL import Image

    img = Image.fromarray(arr)
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # a thumbnail: fast over small
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _table(groups: dict[str, dict], label: str) -> str:
    rows = [(f"<tr><th>{html.escape(label)}</th><th>n</th><th>IC</th><th>SA</th><th>EL</th><th>AC</th><th>Avg</th>"
             "<th>gated Avg</th><th>missing</th><th>unreadable</th><th>unscorable</th></tr>")]
    for k, g in groups.items():
        c = g.get("counts", {})
        rows.append(f"<tr><td>{html.escape(k)}</td><td>{g['n']}</td>" + "".join(f"<td>{g[m]:.1f}</td>" for m in METRICS)
                    + f"<td>{g['avg']:.1f}</td><td>{g['gated']['avg']:.1f}</td><td>{c.get('missing', 0)}</td>"
                    f"<td>{c.get('unreadable', 0) + c.get('duplicate', 0)}</td><td>{c.get('unscorable', 0)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def html_report(cfg, summary: dict, results: list[dict]) -> str:
    from validation.evaluator import report_stats
    from validation.evaluator.loading import load_prediction
    from validation.evaluator.predictions import PredictionIndex, open_predictions
    from validation.evaluator.runner import _lighten, resolve_data

    ok = [s for s in results if s["status"] == "ok"]
    key = lambda s: (s["ic"] + s["sa"] + s["el"] / 100 + s["ac"] / 100, s["id"])
    ranked = sorted(ok, key=key)
    n = max(0, int(cfg.html_examples))
    worst, best = ranked[:n], ranked[::-1][:n]
    wanted = {s["id"] for s in worst + best}
    images: dict[str, tuple] = {}
    if wanted:
        from gsi_bench.hub_io import iter_rows
        from gsi_bench.schema import EditRecord

        shards = resolve_data(cfg.data, cfg.config, cfg.split)
        index = cfg.predictions if isinstance(cfg.predictions, PredictionIndex) else \
            open_predictions(cfg.predictions, wanted, cfg.layout, cfg.split)
        by_id = {s["id"]: s for s in worst}
        for row in iter_rows(shards):
            if row["id"] in wanted:
                rec = EditRecord.from_example(_lighten(row))  # without the label images it never shows
                pred, _ = load_prediction(index, rec, cfg)
                shown = report_stats.overlay(rec, by_id[rec.id], pred) if rec.id in by_id and pred is not None else None
                images[rec.id] = (rec.instruction, rec.source_image, rec.target_image, pred, shown)

    def block(title: str, samples: list[dict]) -> str:
        out = [f"<h2>{html.escape(title)}</h2>"]
        for s in samples:
            if s["id"] not in images:
                continue
            instr, src, tgt, pred, shown = images[s["id"]]
            cells = "".join(f"<figure><img src='{_thumb(a)}'><figcaption>{c}</figcaption></figure>"
                            for a, c in ((src, "source"), (tgt, "ground truth"), (pred, "prediction"),
                                         (shown, "boxes: grey source, green instructed, red realised")) if a is not None)
            out.append(f"<div class='sample'><p><b>{html.escape(s['id'])}</b> · {html.escape(s['operation'])} · "
                       f"{html.escape(instr)}<br>IC {s['ic']} · SA {s['sa']:.2f} · EL {s['el']:.1f} · AC {s['ac']:.1f}"
                       f" — {html.escape(s['reason'])}</p>{cells}</div>")
        return "".join(out)

    bad = [s for s in results if s["status"] != "ok"]
    bad_rows = "".join(f"<tr><td>{html.escape(s['id'])}</td><td>{s['status']}</td><td>{html.escape(s['reason'])}</td></tr>"
                       for s in bad[:500])
    issues = summary["predictions"]["issues"]
    issue_rows = "".join(f"<tr><td>{html.escape(i['kind'])}</td><td>{html.escape(i['name'])}</td><td>{html.escape(i['detail'])}</td></tr>"
                         for i in issues[:500])
    svg = bar_chart_svg(summary["per_operation"])
    o = summary["overall"]
    prov = {k: summary[k] for k in ("scorer_version", "protocol", "resize_policy", "backends", "search")}
    prov["dataset_revision"] = summary["dataset"]["revision"]["sha256"]
    return f"""<!doctype html><html><head><meta charset='utf-8'><title>GSI-Bench evaluation of {html.escape(report_stats.model_name(cfg))}</title>
<style>body{{font-family:sans-serif;margin:20px}}table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
td:first-child{{text-align:left}}figure{{display:inline-block;margin:4px}}.sample{{border-top:1px solid #ddd;padding:6px 0}}</style></head><body>
<h1>GSI-Bench evaluation of {html.escape(report_stats.model_name(cfg))} ({html.escape(summary['protocol'])} protocol)</h1>
<p>{o['n']} samples · IC {o['ic']:.1f} · SA {o['sa']:.1f} · EL {o['el']:.1f} · AC {o['ac']:.1f} · Avg {o['avg']:.1f} (gated Avg {o['gated']['avg']:.1f})</p>
<pre>{html.escape(json.dumps(prov, indent=1, sort_keys=True))}</pre>
{_table(summary['per_operation'], 'operation')}{_table(summary['per_subset'], 'subset')}{_table(summary['per_frame'], 'frame')}
{svg}
{report_stats.html_section(summary.get("statistics"))}
{block('Worst samples', worst)}{block('Best samples', best)}
<h2>Samples not scored ({len(bad)})</h2><table><tr><th>id</th><th>status</th><th>reason</th></tr>{bad_rows}</table>
<h2>Prediction issues ({len(issues)})</h2><table><tr><th>kind</th><th>name</th><th>detail</th></tr>{issue_rows}</table>
</body></html>
"""
