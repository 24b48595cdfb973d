"""The sharded, resumable, parallel GSI-Syn generation run.

Records are grouped into shards of ``cfg.shard_size`` rows; shard ``k`` holds records
``[k·S, (k+1)·S)`` whatever the engine and its number of workers, and each record depends only on
(version, config, seed, scene unit), so the shard bytes are identical for any ``--workers`` and for
the ``local`` and ``ray`` engines (:mod:`gsi_bench.engine`). Shards are written atomically (temp +
move) to a local folder or any fsspec URI (``s3://bucket/prefix``, ``memory://``…, see
:mod:`gsi_bench.storage`); a re-run with the same config skips complete shards, so an interrupted
run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from gsi_bench.engine import Engine, LocalEngine
from gsi_bench.errors import InvalidInput
from gsi_bench.fileio import check_output_dir, failpoint
from gsi_bench.hub_io import CHECKSUMS_FILE, shard_bytes, shard_is_complete, shard_path
from gsi_bench.storage import OutputStore
from gsi_bench.workers import die_with_parent
from gsi_syn.sampler import GenerationConfig, generate_unit

RUN_FILE = "gsi_generation.json"


@dataclass
class RunSummary:
    #: the output folder: a local :class:`~pathlib.Path`, or the URI string of a remote one
    out_dir: Path | str
    shards_written: int
    shards_skipped: int
    records: int
    #: wall-clock seconds of the run and records generated per second (skipped shards excluded)
    seconds: float = 0.0
    records_per_s: float = 0.0


def _run_metadata(cfg: GenerationConfig) -> dict:
    return {"config": json.loads(cfg.to_json()), "config_sha256": cfg.sha256}


# -- worker side --------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(renderer_name: str) -> None:
    from gsi_syn.render.base import get_renderer

    die_with_parent()  # a killed driver takes its pool workers with it
    _WORKER["renderer"] = get_renderer(renderer_name)


def _unit_examples(args: tuple[GenerationConfig, int]) -> list[dict]:
    cfg, unit = args
    if "renderer" not in _WORKER:
        _init_worker(cfg.renderer)
    records = generate_unit(cfg, unit, _WORKER["renderer"])
    cache: dict = {}  # the edits of a scene share its source images: encode them once
    return [r.to_example(cfg.png_compress_level, cache) for r in records]


# -- driver -------------------------------------------------------------------------------------
def _shards(cfg: GenerationConfig) -> list[tuple[int, range]]:
    """(shard index, unit range) per shard."""
    units_per_shard = cfg.shard_size // cfg.edits_per_scene
    total = -(-cfg.num_units // units_per_shard)
    return [(k, range(k * units_per_shard, min(cfg.num_units, (k + 1) * units_per_shard))) for k in range(total)]


def _check_run_file(store: OutputStore, cfg: GenerationConfig) -> None:
    if store.exists(RUN_FILE):
        try:
            previous = json.loads(store.read_bytes(RUN_FILE))
        except ValueError as err:
            raise InvalidInput(f"{store.url(RUN_FILE)} is not valid JSON ({err}); delete it to start over") from err
        prev_cfg = previous.get("runs", {}).get(f"{cfg.subset}/{cfg.split}")
        if prev_cfg and prev_cfg != json.loads(cfg.to_json()):
            raise InvalidInput(
                f"{store.url()} already holds {cfg.subset}/{cfg.split} generated with a different "
                f"configuration (see {store.url(RUN_FILE)}); use another --out, or delete "
                f"{store.url('data/' + cfg.subset)} to regenerate")


def _record_run(store: OutputStore, cfg: GenerationConfig) -> None:
    state = json.loads(store.read_bytes(RUN_FILE)) if store.exists(RUN_FILE) else {"runs": {}}
    state["runs"][f"{cfg.subset}/{cfg.split}"] = json.loads(cfg.to_json())
    store.write_atomic(RUN_FILE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())


def _record_checksums(store: OutputStore, entries: dict[str, dict]) -> None:
    """Merge ``{relative path: {"sha256", "num_rows", "bytes"}}`` into the checksum manifest (the
    same file :func:`gsi_bench.hub_io.update_checksums` writes for local folders)."""
    state = json.loads(store.read_bytes(CHECKSUMS_FILE)) if store.exists(CHECKSUMS_FILE) else {"files": {}}
    state["files"].update(entries)
    state["files"] = dict(sorted(state["files"].items()))
    store.write_atomic(CHECKSUMS_FILE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())


def _checksum_entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "num_rows": pq.read_metadata(pa.BufferReader(data)).num_rows}


def _default_engine(workers: int) -> LocalEngine:
    """A local pool whose workers start without a GL context: forked from a forkserver that has
    imported the sampler once (each spawned worker would import it again, ~1 CPU s), else
    spawned."""
    if "forkserver" in mp.get_all_start_methods():
        return LocalEngine(workers, start_method="forkserver", preload=("gsi_syn.sampler",))
    return LocalEngine(workers, start_method="spawn")


def generate(cfg: GenerationConfig, out_dir: str | Path, workers: int = 1, progress: bool = True,
             engine: Engine | None = None) -> RunSummary:
    """Generate ``cfg.num`` records into ``out_dir/data/<subset>/<split>-*.parquet``.

    ``out_dir``: a local folder or an fsspec URI. ``engine``: where the scene units run (default:
    a local process pool of ``workers``); the caller keeps ownership of an engine it passes.
    """
    store = OutputStore(out_dir)
    if store.is_local:  # a file in the way, unwritable: one line naming the path, before any work
        check_output_dir(store.path(""))
    store.makedirs()
    _check_run_file(store, cfg)
    _record_run(store, cfg)
    meta = _run_metadata(cfg)
    shards = _shards(cfg)
    total = len(shards)
    # temp files of a run killed mid-write (kill -9) are garbage: nothing else writes here now
    store.remove_stale_temps(f"data/{cfg.subset}", f"{cfg.split}-*.parquet.*")
    for name in (CHECKSUMS_FILE, RUN_FILE):
        store.remove_stale_temps("", f"{name}.*")
    todo, complete = [], []
    for k, units in shards:
        rel = shard_path("", cfg.subset, cfg.split, k, total).as_posix()
        n_rows = sum(len(cfg.unit_record_indices(u)) for u in units)
        if store.exists(rel) and shard_is_complete(store.path(rel), n_rows, meta, filesystem=store.fs):
            complete.append(rel)
        else:
            todo.append((k, units, rel))
    skipped = len(complete)
    # a run stopped between a shard's commit and its manifest entry: list the complete shards first
    listed = json.loads(store.read_bytes(CHECKSUMS_FILE))["files"] if store.exists(CHECKSUMS_FILE) else {}
    missing = {rel: _checksum_entry(store.read_bytes(rel)) for rel in complete if rel not in listed}
    if missing:
        _record_checksums(store, missing)
    n_todo = sum(len(cfg.unit_record_indices(u)) for _, units, _ in todo for u in units)
    engine = engine or _default_engine(workers)
    bar = tqdm(total=n_todo, unit="edit", desc=f"{cfg.subset}/{cfg.split} [{engine.describe()}]", disable=not progress)
    jobs = [(cfg, u) for _, units, _ in todo for u in units]
    written = 0
    # spawned workers start fresh interpreters: single-threaded BLAS there (multi-threaded BLAS on
    # tiny matrices is erratic on this kind of machine and competes with the renderer)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    started = time.perf_counter()
    stream = engine.map(_unit_examples, jobs, initializer=_init_worker, initargs=(cfg.renderer,))
    try:
        for k, units, rel in todo:
            rows: list[dict] = []
            for _ in units:
                batch = next(stream)
                rows.extend(batch)
                bar.update(len(batch))
            data = shard_bytes(rows, meta)
            store.write_atomic(rel, data, on_temp_written=lambda: failpoint("shard-temp-written"))
            failpoint("shard-renamed")
            _record_checksums(store, {rel: _checksum_entry(data)})
            failpoint("checksums-updated")
            written += 1
    finally:
        getattr(stream, "close", lambda: None)()  # stops the workers of an interrupted run
        bar.close()
    seconds = time.perf_counter() - started
    root = Path(store.path("")) if store.is_local else store.url()
    return RunSummary(root, written, skipped, cfg.num, seconds, n_todo / seconds if n_todo and seconds > 0 else 0.0)
