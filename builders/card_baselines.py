"""The dataset card's baseline table, filled at build time from evaluation reports.

``baseline_table(reports)`` takes ``{baseline name: report folder or summary.json}`` (written by
``gsi-bench evaluate``) and returns a Markdown table with one row per baseline: protocol, n, the
decoupled IC / SA / EL / AC and their mean, and how many samples had no usable prediction. With
no reports it returns a placeholder saying how to fill it.

>>> baseline_table({})
'_No baseline was scored for this build: run `gsi-bench baseline …` and `gsi-bench evaluate …`, then rebuild with the report folders._'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

PLACEHOLDER = ("_No baseline was scored for this build: run `gsi-bench baseline …` and `gsi-bench evaluate …`, "
               "then rebuild with the report folders._")


def load_summary(path: str | Path) -> dict:
    p = Path(path)
    p = p / "summary.json" if p.is_dir() else p
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no summary.json (pass a folder written by `gsi-bench evaluate`)") from None


def baseline_table(reports: Mapping[str, str | Path]) -> str:
    """Markdown table of the baselines' headline numbers (see module doc)."""
    if not reports:
        return PLACEHOLDER
    lines = ["| baseline | protocol | n | IC | SA | EL | AC | avg | unscored |", "|---|---|---|---|---|---|---|---|---|"]
    for name, path in sorted(reports.items()):
        s = load_summary(path)
        o, c = s["overall"], s["counts"]
        unscored = c["total"] - c["ok"]
        lines.append(f"| {name} | {s.get('protocol', 'default')} | {o['n']} | {o['ic']:.1f} | {o['sa']:.1f} | "
                     f"{o['el']:.1f} | {o['ac']:.1f} | {o['avg']:.1f} | {unscored} |")
    lines.append("")
    lines.append("IC and SA in percent, EL and AC 0–100, avg = their mean (default protocol of `gsi-bench evaluate`).")
    return "\n".join(lines)
