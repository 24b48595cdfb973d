"""Combine several evaluation reports (``summary.json`` files written by ``gsi-bench evaluate``)
into one leaderboard: a text table, ``leaderboard.json`` and ``leaderboard.html``.

A row is one model (the name of the folder above the per-subset report folders, or the report
folder itself); columns are IC / SA / EL / AC / Avg per subset and overall, where "overall" is
the sample-weighted mean over the subsets given. Metric scale: 0–100.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

METRICS = ("ic", "sa", "el", "ac", "avg")


@dataclass
class Entry:
    """One model's scores: ``subsets[subset] = (n, {metric: value})``."""

    model: str
    subsets: dict[str, tuple[int, dict[str, float]]] = field(default_factory=dict)

    def overall(self) -> dict[str, float]:
        n = sum(c for c, _ in self.subsets.values())
        if not n:
            return {m: 0.0 for m in METRICS}
        return {m: sum(c * s[m] for c, s in self.subsets.values()) / n for m in METRICS}


def load_entries(reports: list[Path]) -> list[Entry]:
    """Read ``summary.json`` under each report folder; reports are grouped by model name
    (``<model>/<subset>/summary.json`` → model = ``<model>``)."""
    entries: dict[str, Entry] = {}
    for report in reports:
        path = report / "summary.json" if report.is_dir() else report
        try:
            summary = json.loads(path.read_text())
            subset = summary["dataset"]["config"]
            overall = summary["overall"]
            scores = {m: float(overall[m]) for m in METRICS}
            n = int(overall["n"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"error: {path} is not an evaluation summary ({err}); "
                             "pass folders written by `gsi-bench evaluate`") from err
        folder = path.parent
        model = folder.parent.name if folder.name == subset else folder.name
        entries.setdefault(model, Entry(model)).subsets[subset] = (n, scores)
    return sorted(entries.values(), key=lambda e: -e.overall()["avg"])


def format_table(entries: list[Entry]) -> str:
    subsets = sorted({s for e in entries for s in e.subsets})
    head = f"{'model':14s}" + "".join(f" {s[:10]:>10s}" for s in subsets) + "   " + \
        " ".join(f"{m.upper():>6s}" for m in METRICS)
    lines = [head, "-" * len(head)]
    for e in entries:
        cells = "".join(f" {e.subsets[s][1]['avg']:10.1f}" if s in e.subsets else f" {'-':>10s}" for s in subsets)
        o = e.overall()
        lines.append(f"{e.model:14s}{cells}   " + " ".join(f"{o[m]:6.1f}" for m in METRICS))
    lines.append("(subset columns: Avg of IC/SA/EL/AC; right: sample-weighted overall)")
    return "\n".join(lines)


def write_outputs(entries: list[Entry], out: Path, reports: list[Path]) -> None:
    """``leaderboard.json`` and ``leaderboard.html`` (links to each model's reports), atomically."""
    out.mkdir(parents=True, exist_ok=True)
    data = [{"model": e.model, "overall": e.overall(),
             "subsets": {s: {"n": n, **sc} for s, (n, sc) in sorted(e.subsets.items())}} for e in entries]
    _atomic(out / "leaderboard.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
    subsets = sorted({s for e in entries for s in e.subsets})
    rows = []
    for e in entries:
        o = e.overall()
        cells = "".join(f"<td>{e.subsets[s][1]['avg']:.1f}</td>" if s in e.subsets else "<td>–</td>" for s in subsets)
        rows.append(f"<tr><th>{html.escape(e.model)}</th>{cells}" + "".join(f"<td>{o[m]:.1f}</td>" for m in METRICS) + "</tr>")
    links = "".join(f'<li><a href="{html.escape(os.path.relpath(r / "report.html", out))}">'
                    f"{html.escape(str(r))}</a></li>" for r in reports if (r / "report.html").exists())
    page = (
        "<!doctype html><meta charset='utf-8'><title>GSI-Bench leaderboard</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f2f2f2}</style>"
        "<h1>GSI-Bench leaderboard</h1><table><tr><th>model</th>"
        + "".join(f"<th>{html.escape(s)} Avg</th>" for s in subsets)
        + "".join(f"<th>{m.upper()}</th>" for m in METRICS) + "</tr>" + "".join(rows)
        + "</table><p>Scores 0–100; overall = sample-weighted mean over subsets.</p>"
        + f"<h2>Per-model reports</h2><ul>{links}</ul>")
    _atomic(out / "leaderboard.html", page)


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
