"""The sharded, resumable, parallel GSI-Syn generation run.

Records are grouped into shards of ``cfg.shard_size`` rows; shard ``k`` holds records
``[k·S, (k+1)·S)`` whatever the number of workers, and each record depends only on
(version, config, seed, scene unit), so the shard bytes are identical for any ``--workers``.
Shards are written atomically (temp + rename); a re-run with the same config skips complete
shards, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from gsi_bench.errors import InvalidInput
from gsi_bench.fileio import atomic_write, check_output_dir, failpoint, remove_stale_temps
from gsi_bench.hub_io import (shard_is_complete, shard_path, stale_checksum_shards, update_checksums,
                              write_shard_atomic)
from gsi_bench.workers import die_with_parent
from gsi_syn.sampler import GenerationConfig, generate_unit

RUN_FILE = "gsi_generation.json"


@dataclass
class RunSummary:
    out_dir: Path
    shards_written: int
    shards_skipped: int
    records: int


def _run_metadata(cfg: GenerationConfig) -> dict:
    return {"config": json.loads(cfg.to_json()), "config_sha256": cfg.sha256}


# -- worker side --------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(renderer_name: str) -> None:
    from gsi_syn.render.base import get_renderer

    die_with_parent()
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


def _check_run_file(out_dir: Path, cfg: GenerationConfig) -> None:
    run_file = out_dir / RUN_FILE
    if run_file.exists():
        try:
            previous = json.loads(run_file.read_text())
        except ValueError as err:
            raise InvalidInput(f"{run_file} is not valid JSON ({err}); delete it to start over") from err
        prev_cfg = previous.get("runs", {}).get(f"{cfg.subset}/{cfg.split}")
        if prev_cfg and prev_cfg != json.loads(cfg.to_json()):
            raise InvalidInput(
                f"{out_dir} already holds {cfg.subset}/{cfg.split} generated with a different "
                f"configuration (see {run_file}); use another --out, or delete "
                f"{out_dir / 'data' / cfg.subset} to regenerate")


def _record_run(out_dir: Path, cfg: GenerationConfig) -> None:
    run_file = out_dir / RUN_FILE
    state = json.loads(run_file.read_text()) if run_file.exists() else {"runs": {}}
    state["runs"][f"{cfg.subset}/{cfg.split}"] = json.loads(cfg.to_json())
    atomic_write(run_file, json.dumps(state, indent=2, sort_keys=True) + "\n")


def generate(cfg: GenerationConfig, out_dir: str | Path, workers: int = 1, progress: bool = True) -> RunSummary:
    """Generate ``cfg.num`` records into ``out_dir/data/<subset>/<split>-*.parquet``."""
    out_dir = check_output_dir(out_dir)
    _check_run_file(out_dir, cfg)
    _record_run(out_dir, cfg)
    meta = _run_metadata(cfg)
    shards = _shards(cfg)
    total = len(shards)
    # temp files of a run killed mid-write (kill -9) are garbage: nothing else writes here now
    remove_stale_temps(out_dir / "data" / cfg.subset, f"{cfg.split}-*.parquet.*")
    for name in ("gsi_checksums.json", RUN_FILE):
        remove_stale_temps(out_dir, f"{name}.*")
    todo = []
    complete = []
    for k, units in shards:
        path = shard_path(out_dir, cfg.subset, cfg.split, k, total)
        n_rows = sum(len(cfg.unit_record_indices(u)) for u in units)
        if shard_is_complete(path, n_rows, meta):
            complete.append(path)
        else:
            todo.append((k, units, path))
    skipped = len(complete)
    # a run killed between a shard's rename and its checksum entry: list those shards now
    if stale := stale_checksum_shards(out_dir, complete):
        update_checksums(out_dir, stale)
    n_todo = sum(len(cfg.unit_record_indices(u)) for _, units, _ in todo for u in units)
    bar = tqdm(total=n_todo, unit="edit", desc=f"{cfg.subset}/{cfg.split}", disable=not progress)
    jobs = [(cfg, u) for _, units, _ in todo for u in units]
    written = 0
    with _example_stream(jobs, workers, cfg.renderer) as stream:
        for k, units, path in todo:
            rows: list[dict] = []
            for _ in units:
                batch = next(stream)
                rows.extend(batch)
                bar.update(len(batch))
            write_shard_atomic(path, rows, meta)
            failpoint("shard-renamed")
            update_checksums(out_dir, [path])
            failpoint("checksums-updated")
            written += 1
    bar.close()
    return RunSummary(out_dir, written, skipped, cfg.num)


class _example_stream:
    """Context manager yielding each job's examples in job order, from a process pool or inline."""

    def __init__(self, jobs: list, workers: int, renderer: str):
        self.jobs, self.workers, self.renderer = jobs, workers, renderer
        self.pool = None

    def __enter__(self) -> Iterator[list[dict]]:
        if self.workers <= 1 or len(self.jobs) <= 1:
            return map(_unit_examples, self.jobs)
        ctx = mp.get_context("spawn")
        # workers start fresh interpreters: single-threaded BLAS there (multi-threaded BLAS on
        # tiny matrices is erratic on this kind of machine and competes with the renderer)
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.renderer,))
        return self.pool.imap(_unit_examples, self.jobs, chunksize=1)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            if exc[0] is None:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
