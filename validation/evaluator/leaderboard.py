"""Combine several evaluation reports (``summary.json`` files written by ``gsi-bench evaluate``)
into one leaderboard: a text table, ``leaderboard.json`` and ``leaderboard.html``.

A row is one (model, protocol): the model is ``summary["model"]`` when the report names it, else
the name of the folder above the per-config report folders (or the report folder itself); a run
is keyed by (model, protocol, config), so a default- and an official-protocol run of one model
stay two rows and two runs with the same key are refused. Columns are IC / SA / EL / AC / Avg per
config and overall, where "overall" is the sample-weighted mean over the configs given. A run
with nothing scored shows "n/a" (never 0.0). Metric scale: 0–100.
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
    """One (model, protocol)'s scores: ``subsets[config] = (n, {metric: value} or None)`` where
    None marks a run with nothing scored."""

    model: str
    protocol: str = "default"
    subsets: dict[str, tuple[int, dict[str, float] | None]] = field(default_factory=dict)

    def overall(self) -> dict[str, float] | None:
        """Sample-weighted mean over the scored configs; None when none was scored."""
        scored = [(c, s) for c, s in self.subsets.values() if s is not None]
        n = sum(c for c, _ in scored)
        if not n:
            return None
        return {m: sum(c * s[m] for c, s in scored) / n for m in METRICS}

    @property
    def label(self) -> str:
        return self.model if self.protocol == "default" else f"{self.model} ({self.protocol})"


def _cell(value: float | None, width: int = 0) -> str:
    return f"{'n/a':>{width}s}" if value is None else f"{value:{width}.1f}"


def load_entries(reports: list[Path]) -> list[Entry]:
    """Read ``summary.json`` under each report folder; runs are keyed by (model, protocol, config)
    (``<model>/<config>/summary.json`` → model = ``<model>``). Raises :class:`InvalidInput` for a
    file that is not a summary or two runs with the same key."""
    from gsi_bench.errors import InvalidInput

    entries: dict[tuple[str, str], Entry] = {}
    seen: dict[tuple[str, str, str], Path] = {}
    for report in reports:
        path = report / "summary.json" if report.is_dir() else report
        try:
            summary = json.loads(path.read_text())
            subset = summary["dataset"]["config"]
            overall = summary["overall"]
            protocol = str(summary.get("protocol", "default"))
            scored = int(summary.get("counts", {}).get("ok", overall["n"]))
            scores = {m: float(overall[m]) for m in METRICS} if scored else None
            n = int(overall["n"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InvalidInput(f"{path} is not an evaluation summary ({err}); "
                               "pass folders written by `gsi-bench evaluate`") from err
        folder = path.parent
        model = str(summary.get("model") or (folder.parent.name if folder.name == subset else folder.name))
        key = (model, protocol, subset)
        if key in seen:
            raise InvalidInput(f"{path} and {seen[key]} are both model {model!r}, protocol {protocol!r}, config "
                               f"{subset!r}; pass one of them")
        seen[key] = path
        entries.setdefault((model, protocol), Entry(model, protocol)).subsets[subset] = (n, scores)
    return sorted(entries.values(), key=lambda e: (e.overall() is None, -(e.overall() or {"avg": 0})["avg"], e.label))


def format_table(entries: list[Entry]) -> str:
    subsets = sorted({s for e in entries for s in e.subsets})
    head = f"{'model':24s}" + "".join(f" {s[:10]:>10s}" for s in subsets) + "   " + \
        " ".join(f"{m.upper():>6s}" for m in METRICS)
    lines = [head, "-" * len(head)]
    for e in entries:
        cells = "".join(f" {_avg(e, s, 10)}" for s in subsets)
        o = e.overall()
        lines.append(f"{e.label:24s}{cells}   " + " ".join(_cell(o and o[m], 6) for m in METRICS))
    lines.append("(config columns: Avg of IC/SA/EL/AC; right: sample-weighted overall; n/a: nothing scored)")
    return "\n".join(lines)


def _avg(e: Entry, config: str, width: int = 0) -> str:
    if config not in e.subsets:
        return f"{'-':>{width}s}"
    scores = e.subsets[config][1]
    return _cell(scores and scores["avg"], width)


def write_outputs(entries: list[Entry], out: Path, reports: list[Path]) -> None:
    """``leaderboard.json`` and ``leaderboard.html`` (links to each model's reports), atomically."""
    out.mkdir(parents=True, exist_ok=True)
    data = [{"model": e.model, "protocol": e.protocol, "overall": e.overall(),
             "subsets": {s: {"n": n, **(sc or {"scored": False})} for s, (n, sc) in sorted(e.subsets.items())}}
            for e in entries]
    _atomic(out / "leaderboard.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
    subsets = sorted({s for e in entries for s in e.subsets})
    rows = []
    for e in entries:
        o = e.overall()
        cells = "".join(f"<td>{_avg(e, s).strip()}</td>" for s in subsets)
        rows.append(f"<tr><th>{html.escape(e.label)}</th>{cells}"
                    + "".join(f"<td>{_cell(o and o[m])}</td>" for m in METRICS) + "</tr>")
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
