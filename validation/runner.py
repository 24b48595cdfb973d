"""Run a whole validation: layout → manifest/checksums → records (schema, ids, split hygiene) →
3D-consistency re-run on all or a sample of the sound records, in parallel.

Nothing here raises on bad data: every problem becomes a finding in the :class:`Report`. Only
an input that cannot be opened at all raises :class:`gsi_bench.errors.DataNotFound`.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import gsi_bench
from gsi_bench.datasource import resolve_dataset
from validation.consistency import Options, RecordResult, check_record
from gsi_bench.engine import LocalEngine
from gsi_bench.workers import die_with_parent
from validation.image_content import row_group_content_findings, verify_findings
from validation.integrity import (IMAGE_FIELDS, DatasetIndex, Finding, check_layout, check_manifest, check_row,
                                  check_split_sizes, configs_by_shard, row_config_findings)
from validation.layout import ShardInfo, discover
from validation.report import Report


@dataclass
class RunConfig:
    """What to check. ``sample``: re-run 3D consistency on this many records (0 = all), chosen
    deterministically from their ids; ``workers``: processes for the image decoding and the
    re-run; ``decode_images``: decode every record's images (the default)."""

    sample: int = 0
    workers: int = 1
    integrity_only: bool = False
    options: Options = field(default_factory=Options)
    #: decode every record's RGB and masks and compare source/target over static regions
    decode_images: bool = True


@dataclass
class _Pending:
    """A record that passed integrity and waits for the re-run."""

    rel: str
    row_group: int
    index: int
    id: str


def validate(source: str, cfg: RunConfig | None = None) -> Report:
    """Validate a dataset folder or Hub id; see :mod:`validation` for the checks."""
    cfg = cfg or RunConfig()
    t0 = time.perf_counter()
    data = resolve_dataset(source)
    root, described = data.root, str(data)
    report = Report()
    report.info.update({"dataset": described, "gsi_bench_version": gsi_bench.__version__,
                        "mode": "integrity" if cfg.integrity_only else "full",
                        "renderer": None if cfg.integrity_only else cfg.options.renderer})
    layout = discover(root)
    check_layout(layout, report)
    trusted = check_manifest(layout, report)
    check_split_sizes(layout, report)
    shard_configs = configs_by_shard(layout)
    index = DatasetIndex()
    pending: list[_Pending] = []
    shards: dict[str, ShardInfo] = {}
    n_records = skipped = 0
    for shard in layout.shards:
        if shard.rel in shards:
            continue
        shards[shard.rel] = shard
        if shard.rel not in trusted:
            skipped += _rows_in_manifest(root, shard.rel)
            continue
        for rg, i, row, images in _iter_shard(shard, report):
            n_records += 1
            heads = {name: None if data is None else data[:33] for name, data in images.items()}
            findings = check_row(row, heads, shard)
            report.checked("configs")
            findings += row_config_findings(row, shard_configs.get(shard.rel, []))
            if not findings:
                findings = [Finding(c, m) for c, m in verify_findings(images)]
                report.checked("image_decode")
            for check in ("schema", "finite", "image_size"):
                report.checked(check)
            for f in findings:
                report.fail(f.check, f.message, file=shard.rel, record=str(row.get("id")), value=f.value)
            index.add(row, shard.rel)
            if not findings:
                pending.append(_Pending(shard.rel, rg, i, str(row.get("id"))))
    index.report(report)
    if cfg.decode_images:
        pending = _content_pass(pending, shards, cfg, report)
    else:
        report.note("images were not decoded (--skip-decode): only their PNG structure was verified")
    t_integrity = time.perf_counter() - t0
    if skipped:
        report.note(f"{skipped} record(s) in shards failing their checksum were not checked")
    n_rerun = 0
    if not cfg.integrity_only:
        chosen = _sample(pending, cfg.sample)
        n_rerun = len(chosen)
        if len(pending) < n_records:
            report.note(f"{n_records - len(pending)} record(s) failing integrity checks were not re-run in 3D")
        for res in _rerun(chosen, shards, cfg):
            for check in res.checked:
                report.checked(check)
            for f in res.findings:
                report.fail(f.check, f.message, file=res.file, record=res.id, value=f.value)
            for check, value in res.metrics.items():
                report.observe(check, value, res.id)
    elapsed = time.perf_counter() - t0
    report.info.update({
        "records": n_records, "records_rerun": n_rerun, "records_skipped": skipped, "shards": len(shards),
        "seconds": round(elapsed, 3), "seconds_integrity": round(t_integrity, 3),
        "sample": cfg.sample, "workers": cfg.workers,
    })
    return report


def _content_pass(pending: list[_Pending], shards: dict[str, ShardInfo], cfg: RunConfig,
                  report: Report) -> list[_Pending]:
    """Decode the images of every sound record and compare source and target over static
    regions (:mod:`validation.image_content`), one row group per task, in ``cfg.workers``
    processes; returns the records that are still sound."""
    groups = sorted({(p.rel, p.row_group) for p in pending})
    sound = {p.id for p in pending}
    tasks = [(str(shards[rel].path), rg) for rel, rg in groups]
    rel_of = {str(shards[rel].path): rel for rel, _ in groups}
    failed: set[str] = set()
    engine = LocalEngine(cfg.workers, start_method="fork" if "fork" in mp.get_all_start_methods() else "spawn")
    for (path, _), results in zip(tasks, engine.map(_content_task, tasks, initializer=die_with_parent)):
        for rid, findings in results:
            if rid not in sound:
                continue
            report.checked("image_content")
            for check, message, value in findings:
                report.fail(check, message, file=rel_of[path], record=rid, value=value)
                failed.add(rid)
    return [p for p in pending if p.id not in failed]


def _content_task(task: tuple[str, int]):
    return row_group_content_findings(*task)


def _rows_in_manifest(root: Path, rel: str) -> int:
    import json

    from gsi_bench.hub_io import CHECKSUMS_FILE

    try:
        return int(json.loads((root / CHECKSUMS_FILE).read_text())["files"][rel]["num_rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _expected_schema() -> pa.Schema:
    from gsi_bench.schema import features

    return features().arrow_schema.remove_metadata()


def _iter_shard(shard: ShardInfo, report: Report) -> Iterator[tuple[int, int, dict[str, Any], dict[str, bytes | None]]]:
    """(row group, index, non-image fields, image PNG bytes) per row; unreadable parts are reported."""
    report.checked("readable")
    try:
        pf = pq.ParquetFile(shard.path)
    except (OSError, pa.ArrowException) as err:
        report.fail("readable", f"not a readable Parquet file ({err})", file=shard.rel)
        return
    schema = pf.schema_arrow.remove_metadata()
    expected = _expected_schema()
    if not schema.equals(expected):
        diff = sorted({f.name for f in expected} ^ {f.name for f in schema}) or \
            [f.name for f in expected if f.name in schema.names and schema.field(f.name).type != f.type]
        report.fail("schema", f"Arrow schema differs from the typed GSI-Bench features (fields {diff[:8]})",
                    file=shard.rel)
    columns = [n for n in schema.names if n not in IMAGE_FIELDS]
    for rg in range(pf.num_row_groups):
        try:
            table = pf.read_row_group(rg)
            rows = table.select(columns).to_pylist()
            heads = {name: _png_cells(table.column(name)) for name in IMAGE_FIELDS if name in schema.names}
        except (OSError, pa.ArrowException, ValueError) as err:
            report.fail("readable", f"row group {rg} does not read ({err})", file=shard.rel)
            continue
        for i, row in enumerate(rows):
            yield rg, i, row, {name: h[i] for name, h in heads.items()}


def _png_cells(column: pa.ChunkedArray) -> list[bytes | None]:
    """Each image cell's PNG bytes (None when absent)."""
    out: list[bytes | None] = []
    for chunk in column.chunks:
        data = chunk.field("bytes") if pa.types.is_struct(chunk.type) else chunk
        for i in range(len(data)):
            cell = data[i]
            if not cell.is_valid:
                out.append(None)
            else:
                out.append(cell.as_buffer().to_pybytes())
    return out


def _sample(pending: list[_Pending], k: int) -> list[_Pending]:
    """All records, or the ``k`` whose id hashes lowest: deterministic and spread over shards."""
    if k <= 0 or k >= len(pending):
        return pending
    key = lambda p: hashlib.sha256(p.id.encode()).hexdigest()  # noqa: E731
    chosen = set(map(id, sorted(pending, key=key)[:k]))
    return [p for p in pending if id(p) in chosen]


# -- the re-run, inline or in worker processes ---------------------------------------------------
_WORKER: dict[str, Any] = {}


def make_renderer(name: str):
    """The re-run's renderer: raycast for geometry only (see
    :func:`validation.consistency.geometry_raycaster`), or GL."""
    if name == "raycast":
        from validation.consistency import geometry_raycaster

        return geometry_raycaster()
    from gsi_syn.render.base import get_renderer

    return get_renderer(name)


def _init_worker(options: Options) -> None:
    die_with_parent()
    _WORKER["options"] = options
    _WORKER["renderer"] = make_renderer(options.renderer)


def _work(batch: list[tuple[dict[str, Any], str]]) -> list[RecordResult]:
    return [check_record(row, rel, _WORKER["renderer"], _WORKER["options"]) for row, rel in batch]


def _batches(chosen: list[_Pending], shards: dict[str, ShardInfo], size: int = 4
             ) -> Iterator[list[tuple[dict[str, Any], str]]]:
    """Full rows (images included) of the chosen records, read one row group at a time."""
    wanted: dict[tuple[str, int], list[int]] = {}
    for p in chosen:
        wanted.setdefault((p.rel, p.row_group), []).append(p.index)
    batch: list[tuple[dict[str, Any], str]] = []
    files: dict[str, pq.ParquetFile] = {}
    for (rel, rg), idx in wanted.items():
        pf = files.setdefault(rel, pq.ParquetFile(shards[rel].path))
        table = pf.read_row_group(rg)
        for i in idx:
            batch.append((table.slice(i, 1).to_pylist()[0], rel))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _rerun(chosen: list[_Pending], shards: dict[str, ShardInfo], cfg: RunConfig) -> Iterator[RecordResult]:
    if not chosen:
        return
    if cfg.workers <= 1:
        _init_worker(cfg.options)
        for batch in _batches(chosen, shards):
            yield from _work(batch)
        return
    # fork shares the imported modules (no GL context exists in the parent); spawn elsewhere
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    size = max(1, min(4, len(chosen) // (cfg.workers * 2)))
    with ctx.Pool(cfg.workers, initializer=_init_worker, initargs=(cfg.options,)) as pool:
        for results in pool.imap_unordered(_work, _batches(chosen, shards, size)):
            yield from results
