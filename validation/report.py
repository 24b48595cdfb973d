"""Validation results: per-check tallies, precise failure entries, worst values, and the two
outputs of a run — a short human summary and ``validation.json``.

Every finding names its check, the file (shard) and the record id where one applies, so a user
can go straight to the bad row. A check *passes* when it was evaluated at least once (or had
nothing to evaluate) and recorded no failure.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gsi_bench.fileio import atomic_write

#: Every check a run can report, with a one-line description (the report lists them in this order).
CHECKS: dict[str, str] = {
    # integrity
    "layout": "folders and shard names match the card's configs (or data/<config>/<split>-*.parquet)",
    "manifest": "every shard is listed in gsi_checksums.json and every listed shard exists",
    "checksum": "each shard's sha256, size and row count equal the manifest's",
    "readable": "each shard opens as Parquet with the typed GSI-Bench schema and every row group reads",
    "schema": "field types, enum values, ranges and formats of every record",
    "finite": "numbers that must be finite are finite (no NaN / inf)",
    "image_size": "every image is a PNG of the right mode whose size equals camera width × height",
    "configs": "per-operation configs hold only their operation; the card's split sizes equal the shards' rows",
    "image_decode": "every image passes its PNG CRCs and decodes in full",
    "image_content": "source and target RGB agree where both instance maps show the same static thing",
    "unique_ids": "record ids are unique across the dataset",
    "split_hygiene": "no scene or object instance is shared between train and test (their random streams differ by construction)",
    # 3D consistency re-run
    "scene": "the stored scene spec parses and agrees with the record's camera, target and reference",
    "boxes": "boxes equal the scene objects' boxes, and box_after = Φ3D(box_before)",
    "instruction": "the instruction (en and zh) parses back to the record's operation, params and objects",
    "transform_params": "Φ3D realises the operation and params (direction, distance, angle, factor, placement, camera motion)",
    "referring": "removal: the referring expression picks the removed object by the recorded margin",
    "masks": "masks equal the target object's pixels in the instance maps and in a re-render of the scene",
    "instances": "instance maps agree with a re-render of the stored scene",
    "depth": "depth maps agree with a re-render of the stored scene (mm tolerance)",
    "images": "RGB images equal a GL re-render (only with --renderer gl)",
    "validity": "the generator's validity checks hold when recomputed and match the recorded values",
}

#: How many failure entries a check keeps in full (all failed ids are always kept).
MAX_FAILURES_KEPT = 200


@dataclass
class Failure:
    """One finding: ``check`` failed for ``record`` (or a whole ``file`` when ``record`` is empty)."""

    check: str
    message: str
    file: str = ""
    record: str = ""
    value: float | None = None


@dataclass
class CheckStats:
    """Tally of one check. ``worst``: the largest ``value`` observed (larger = worse) with where."""

    checked: int = 0
    failures: list[Failure] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)
    n_failed: int = 0
    worst_value: float | None = None
    worst_where: str = ""
    unit: str = ""

    @property
    def passed(self) -> bool:
        return self.n_failed == 0


class Report:
    """Collects check outcomes during a run."""

    def __init__(self) -> None:
        self.stats: dict[str, CheckStats] = {name: CheckStats() for name in CHECKS}
        self.info: dict[str, Any] = {}
        self.notes: list[str] = []

    # -- recording ----------------------------------------------------------------------------
    def checked(self, check: str, n: int = 1) -> None:
        """Count ``n`` evaluations of ``check``."""
        self.stats[check].checked += n

    def fail(self, check: str, message: str, *, file: str = "", record: str = "",
             value: float | None = None) -> None:
        """Record a failure of ``check`` (does not count an evaluation; call :meth:`checked`)."""
        st = self.stats[check]
        st.n_failed += 1
        where = record or file
        if where and where not in st.failed_ids:
            st.failed_ids.append(where)
        if len(st.failures) < MAX_FAILURES_KEPT:
            st.failures.append(Failure(check, message, file, record, value))
        if value is not None:
            self.observe(check, value, where)

    def observe(self, check: str, value: float, where: str = "", unit: str = "") -> None:
        """Track the worst (largest) value of a check's metric."""
        st = self.stats[check]
        if unit:
            st.unit = unit
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        if st.worst_value is None or value > st.worst_value:
            st.worst_value, st.worst_where = float(value), where

    def note(self, text: str) -> None:
        """A remark for the summary that is not a failure (e.g. records skipped)."""
        self.notes.append(text)

    # -- outcome ------------------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        return all(st.passed for st in self.stats.values())

    def failed_checks(self) -> list[str]:
        return [name for name, st in self.stats.items() if not st.passed]

    def to_dict(self) -> dict[str, Any]:
        checks = {}
        for name, st in self.stats.items():
            checks[name] = {
                "description": CHECKS[name], "passed": st.passed, "checked": st.checked,
                "failed": st.n_failed, "failed_ids": st.failed_ids,
                "worst": None if st.worst_value is None else {
                    "value": _json_float(st.worst_value), "where": st.worst_where, "unit": st.unit},
                "failures": [{k: (_json_float(v) if isinstance(v, float) else v)
                              for k, v in asdict(f).items() if k != "check"} for f in st.failures],
            }
        return {"passed": self.passed, "failed_checks": self.failed_checks(), **self.info,
                "notes": self.notes, "checks": checks}

    def write_json(self, path: str | Path) -> Path:
        """Write ``validation.json`` atomically (temp file + rename)."""
        return atomic_write(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")

    def summary(self, max_lines_per_check: int = 5) -> str:
        """A short human-readable summary: one line per check, then the first failures of each."""
        lines = []
        for name, st in self.stats.items():
            if st.checked == 0 and st.passed:
                lines.append(f"  -     {name:17s} not run")
                continue
            status = "ok  " if st.passed else "FAIL"
            worst = ""
            if st.worst_value is not None:
                worst = f"  worst {st.worst_value:.4g}{(' ' + st.unit) if st.unit else ''}"
                if st.worst_where:
                    worst += f" ({st.worst_where})"
            lines.append(f"  {status}  {name:17s} {st.checked:6d} checked, {st.n_failed:4d} failed{worst}")
        for name, st in self.stats.items():
            for f in st.failures[:max_lines_per_check]:
                where = ", ".join(x for x in (f.file, f.record) if x)
                lines.append(f"  [{name}] {where}: {f.message}")
            if st.n_failed > max_lines_per_check:
                lines.append(f"  [{name}] … {st.n_failed - max_lines_per_check} more (see validation.json)")
        lines.extend(f"  note: {n}" for n in self.notes)
        verdict = "PASSED" if self.passed else f"FAILED ({', '.join(self.failed_checks())})"
        return "\n".join([f"validation {verdict}"] + lines)


def _json_float(x: float) -> float | str:
    """JSON has no NaN / inf: write them as strings."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x
