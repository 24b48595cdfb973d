"""What a built Hub folder holds: its configs, their data files, and the operation regrouping.

Layout of a folder written by ``gsi-bench build`` (DESIGN §5)::

    README.md                 dataset card (YAML: configs, dataset_info) — see builders.card
    eval.yaml                 benchmark registration (tasks per subset)
    gsi_checksums.json        sha256 / rows / bytes of every shard
    data/<subset>/<split>-NNNNN-of-MMMMM.parquet

**Per-operation configs without duplicating data.** ``datasets`` selects *files*, not rows, so
the shards of a subset are written grouped by operation: every shard holds rows of exactly one
operation (in ClassLabel order), and the shard files stay in the standard
``data/<subset>/<split>-*`` layout that :func:`gsi_bench.hub_io.list_shards` reads. The subset
config ``<subset>`` globs all of them; the operation config ``<subset>-<operation>`` lists that
operation's files explicitly in the card's YAML (``data_files: [{split, path: [...]}]``). Each
shard records its operation in its Parquet metadata (key ``gsi_bench`` → ``"operation"``), so
the grouping can be recovered from the files alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gsi_bench.hub_io import (
    SHARD_RE,
    list_shards,
    shard_path,
    update_checksums,
    write_shard_atomic,
)
from gsi_bench.operations import OPERATIONS
from gsi_bench.schema import SUBSETS

SPLIT_ORDER = ("test", "train")


def op_config_name(subset: str, operation: str) -> str:
    """Name of the config holding one subset's rows of one operation, e.g. ``tabletop-rotate``."""
    return f"{subset}-{operation}"


@dataclass
class ConfigFiles:
    """One dataset config: its data files per split (paths relative to the folder root, POSIX)."""

    name: str
    subset: str
    operation: str | None = None
    #: split → relative shard paths
    files: dict[str, list[str]] = field(default_factory=dict)
    #: split → number of rows
    rows: dict[str, int] = field(default_factory=dict)
    #: split → total bytes of the shards
    bytes: dict[str, int] = field(default_factory=dict)

    def add(self, split: str, rel: str, num_rows: int, num_bytes: int) -> None:
        self.files.setdefault(split, []).append(rel)
        self.rows[split] = self.rows.get(split, 0) + num_rows
        self.bytes[split] = self.bytes.get(split, 0) + num_bytes

    def splits(self) -> list[str]:
        """Splits in display order: test first (the benchmark), then train, then any other."""
        known = [s for s in SPLIT_ORDER if s in self.files]
        return known + sorted(s for s in self.files if s not in SPLIT_ORDER)

    def data_files_yaml(self) -> list[dict[str, Any]]:
        """The ``data_files`` entry of this config in the card's YAML."""
        out = []
        for split in self.splits():
            if self.operation is None:
                out.append({"split": split, "path": f"data/{self.subset}/{split}-*.parquet"})
            else:
                out.append({"split": split, "path": list(self.files[split])})
        return out


def shard_operation(path: str | Path) -> str | None:
    """The single operation a shard holds (from its ``gsi_bench`` metadata, else from its rows),
    or ``None`` when it mixes operations."""
    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(b"gsi_bench")
    if raw:
        try:
            op = json.loads(raw).get("operation")
        except ValueError:
            op = None
        if op in OPERATIONS:
            return op
    labels = pq.read_table(path, columns=["operation"]).column("operation").to_pylist()
    ops = {OPERATIONS[i] if isinstance(i, int) else i for i in labels}
    return ops.pop() if len(ops) == 1 else None


def discover_configs(root: str | Path) -> list[ConfigFiles]:
    """The configs a Hub folder supports: one per subset folder under ``data/`` and, when every
    shard of a subset holds a single operation, one per (subset, operation).

    Order: subsets in :data:`gsi_bench.schema.SUBSETS` order (tabletop, room, real; others after,
    by name), each followed by its operation configs in ClassLabel order.
    """
    root = Path(root)
    configs: list[ConfigFiles] = []
    subset_dirs = [p for p in (root / "data").glob("*") if p.is_dir()]
    order = {name: i for i, name in enumerate(SUBSETS)}
    for subset_dir in sorted(subset_dirs, key=lambda p: (order.get(p.name, len(order)), p.name)):
        subset = subset_dir.name
        shards = list_shards(root, subset)
        if not shards:
            continue
        whole = ConfigFiles(name=subset, subset=subset)
        per_op: dict[str, ConfigFiles] = {}
        mixed = False
        for shard in shards:
            split = SHARD_RE.match(shard.name).group("split")
            rel = shard.relative_to(root).as_posix()
            n, size = pq.read_metadata(shard).num_rows, shard.stat().st_size
            whole.add(split, rel, n, size)
            op = shard_operation(shard)
            if op is None:
                mixed = True
                continue
            per_op.setdefault(op, ConfigFiles(op_config_name(subset, op), subset, op)).add(split, rel, n, size)
        configs.append(whole)
        if not mixed:
            configs.extend(per_op[op] for op in OPERATIONS if op in per_op)
    return configs


# ----------------------------------------------------------------------------------------------
# Regrouping a generated run by operation
# ----------------------------------------------------------------------------------------------
def _operation_counts(shards: Sequence[Path]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for s in shards:
        for label in pq.read_table(s, columns=["operation"]).column("operation").to_pylist():
            counts[label] += 1
    return counts


def _rows_of_operation(shards: Sequence[Path], label: int) -> Iterable[dict[str, Any]]:
    """Rows (Arrow row dicts, images as ``{"bytes", "path"}``) whose operation label is ``label``,
    streamed one row group at a time."""
    for s in shards:
        f = pq.ParquetFile(s)
        for g in range(f.num_row_groups):
            table = f.read_row_group(g)
            mask = pa.compute.equal(table.column("operation"), pa.scalar(label, table.schema.field("operation").type))
            yield from table.filter(mask).to_pylist()


def regroup_by_operation(staging_root: str | Path, out_root: str | Path, subset: str, split: str,
                         shard_size: int, run_metadata: dict[str, Any] | None = None) -> list[Path]:
    """Rewrite the ``subset``/``split`` shards of ``staging_root`` into ``out_root`` so each shard
    holds a single operation (ClassLabel order, at most ``shard_size`` rows, row order kept).

    Stale shards of the same subset/split in ``out_root`` (e.g. from a larger earlier build) are
    removed after the new ones are written. Returns the written shard paths.
    """
    import pyarrow.compute  # noqa: F401  (registers pa.compute)

    src = list_shards(staging_root, subset, split)
    if not src:
        raise FileNotFoundError(f"no {subset}/{split} shards under {Path(staging_root) / 'data'}")
    counts = _operation_counts(src)
    plan: list[tuple[int, int]] = []  # (label, rows in shard)
    for label in sorted(counts):
        n = counts[label]
        plan.extend((label, min(shard_size, n - start)) for start in range(0, n, shard_size))
    total = len(plan)
    written: list[Path] = []
    index = 0
    for label in sorted(counts):
        batch: list[dict[str, Any]] = []
        for row in _rows_of_operation(src, label):
            batch.append(row)
            if len(batch) == shard_size:
                written.append(_write(out_root, subset, split, index, total, batch, label, run_metadata))
                index, batch = index + 1, []
        if batch:
            written.append(_write(out_root, subset, split, index, total, batch, label, run_metadata))
            index += 1
    keep = {p.resolve() for p in written}
    for old in list_shards(out_root, subset, split):
        if old.resolve() not in keep:
            old.unlink()
    update_checksums(out_root, written)
    _prune_checksums(out_root)
    return written


def _write(root: str | Path, subset: str, split: str, index: int, total: int, rows: list[dict[str, Any]],
           label: int, run_metadata: dict[str, Any] | None) -> Path:
    meta = dict(run_metadata or {})
    meta["operation"] = OPERATIONS[label]
    return write_shard_atomic(shard_path(root, subset, split, index, total), rows, meta)


def _prune_checksums(root: str | Path) -> None:
    """Drop checksum entries whose file no longer exists."""
    from gsi_bench.hub_io import CHECKSUMS_FILE

    path = Path(root) / CHECKSUMS_FILE
    if not path.exists():
        return
    state = json.loads(path.read_text())
    state["files"] = {k: v for k, v in state.get("files", {}).items() if (Path(root) / k).exists()}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
