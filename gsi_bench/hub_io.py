"""Hub-layout Parquet I/O: shard names, atomic shard writes, reading records back.

Layout (DESIGN §5): ``<root>/data/<config>/<split>-NNNNN-of-MMMMM.parquet``. Shards carry the
typed ``datasets`` features in their Arrow schema metadata (key ``huggingface``) and our own
run metadata (key ``gsi_bench``), so ``load_dataset(root)`` restores the features.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gsi_bench.cache import cache_dir
from gsi_bench.fileio import atomic_write
from gsi_bench.hashing import canonical_json, file_sha256
from gsi_bench.schema import EditRecord, features

#: Rows per Parquet row group: small, so the Hub's viewer can page through image rows.
ROW_GROUP_SIZE = 16
SHARD_RE = re.compile(r"^(?P<split>[a-z]+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")


def shard_path(root: str | Path, config: str, split: str, index: int, total: int) -> Path:
    return Path(root) / "data" / config / f"{split}-{index:05d}-of-{total:05d}.parquet"


def _schema_cache_file() -> Path:
    """Where the Arrow form of :func:`gsi_bench.schema.features` is cached: named by a hash of
    everything it is built from (``schema.py``'s source, the operation names, the ``datasets``
    and ``pyarrow`` versions), in :func:`gsi_bench.cache.cache_dir` ``("schema")``."""
    from importlib.metadata import version

    from gsi_bench import schema as schema_module
    from gsi_bench.operations import OPERATIONS

    h = hashlib.sha256(Path(schema_module.__file__).read_bytes())
    h.update(json.dumps([list(OPERATIONS), version("datasets"), pa.__version__]).encode())
    return cache_dir("schema") / f"arrow-{h.hexdigest()[:24]}.schema"


def features_arrow_schema() -> pa.Schema:
    """``features().arrow_schema`` (with its ``huggingface`` metadata), read from a cache file
    when one was written for the same inputs (:func:`_schema_cache_file`): importing
    ``datasets`` to build it costs about a CPU second per process. An unreadable or unwritable
    cache just means building it."""
    path = _schema_cache_file()
    try:
        return pa.ipc.read_schema(pa.py_buffer(path.read_bytes()))
    except (OSError, pa.ArrowException):
        pass
    schema = features().arrow_schema
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, schema.serialize().to_pybytes())
    except OSError:  # OutputError included
        pass
    return schema


def arrow_schema(run_metadata: dict[str, Any] | None = None) -> pa.Schema:
    schema = features_arrow_schema()
    if run_metadata is not None:
        meta = dict(schema.metadata or {})
        meta[b"gsi_bench"] = canonical_json(run_metadata).encode()
        schema = schema.with_metadata(meta)
    return schema


def shard_bytes(rows: Sequence[dict[str, Any]], run_metadata: dict[str, Any] | None = None) -> bytes:
    """The Parquet bytes of a shard holding ``rows`` (record examples): deterministic for given
    rows and metadata, so identical runs write identical files."""
    table = pa.Table.from_pylist(list(rows), schema=arrow_schema(run_metadata))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_SIZE, compression="zstd",
                   use_dictionary=["id", "subset", "split", "frame"], write_statistics=False)
    return sink.getvalue().to_pybytes()


def write_shard_atomic(path: str | Path, rows: Sequence[dict[str, Any]],
                       run_metadata: dict[str, Any] | None = None) -> Path:
    """Write ``rows`` (record examples) to ``path`` via a temp file in the same folder + rename,
    so a shard is either complete or absent — never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = shard_bytes(rows, run_metadata)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; shards are shared data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def shard_is_complete(path: str | Path, expected_rows: int, run_metadata: dict[str, Any] | None,
                      filesystem=None) -> bool:
    """True when ``path`` is a readable shard with ``expected_rows`` rows written by the same run
    configuration (compared through ``run_metadata``). ``filesystem``: a pyarrow or fsspec
    filesystem holding ``path`` (default: local)."""
    try:
        meta = pq.read_metadata(path, filesystem=filesystem)
    except (OSError, pa.ArrowException):
        return False
    if meta.num_rows != expected_rows:
        return False
    if run_metadata is not None:
        stored = (meta.metadata or {}).get(b"gsi_bench")
        if stored is None or json.loads(stored) != run_metadata:
            return False
    return True


def list_shards(root: str | Path, config: str | None = None, split: str | None = None) -> list[Path]:
    """Sorted shard paths under ``root/data`` (optionally one config / split)."""
    base = Path(root) / "data"
    configs = [base / config] if config else sorted(p for p in base.glob("*") if p.is_dir())
    out = []
    for c in configs:
        for p in sorted(c.glob("*.parquet")):
            m = SHARD_RE.match(p.name)
            if m and (split is None or m.group("split") == split):
                out.append(p)
    return out


def iter_rows(paths: Sequence[str | Path], columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """Stream rows (plain dicts, images as ``{"bytes", "path"}``) from shards, one row group at
    a time, so memory stays flat."""
    for p in paths:
        f = pq.ParquetFile(p)
        for i in range(f.num_row_groups):
            yield from f.read_row_group(i, columns=list(columns) if columns else None).to_pylist()


def iter_records(root: str | Path, config: str | None = None, split: str | None = None) -> Iterator[EditRecord]:
    """Stream :class:`EditRecord` objects from a Hub-layout folder."""
    for row in iter_rows(list_shards(root, config, split)):
        yield EditRecord.from_example(row)


# ----------------------------------------------------------------------------------------------
# Checksums manifest
# ----------------------------------------------------------------------------------------------
#: File at the root of a Hub-layout folder listing every shard with its sha256 and row count.
CHECKSUMS_FILE = "gsi_checksums.json"


def update_checksums(root: str | Path, shards: Sequence[str | Path]) -> Path:
    """Record (or refresh) ``{"files": {relative path: {"sha256", "num_rows", "bytes"}}}`` for
    ``shards`` in ``root/gsi_checksums.json`` (written atomically; other entries are kept)."""
    root = Path(root)
    path = root / CHECKSUMS_FILE
    state = json.loads(path.read_text()) if path.exists() else {"files": {}}
    for shard in shards:
        shard = Path(shard)
        rel = shard.resolve().relative_to(root.resolve()).as_posix()
        state["files"][rel] = {"sha256": file_sha256(shard), "num_rows": pq.read_metadata(shard).num_rows,
                               "bytes": shard.stat().st_size}
    state["files"] = dict(sorted(state["files"].items()))
    atomic_write(path, json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path
