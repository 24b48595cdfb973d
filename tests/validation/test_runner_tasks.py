"""How the evaluator's driver cuts the data into tasks, and what its worker copies share."""

from __future__ import annotations

import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from validation.evaluator import runner


def _shard(path: Path, rows: int, group: int) -> Path:
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(rows)]}), path, row_group_size=group)
    return path


def _rows(tasks: list[tuple[str, int, int, int]]) -> list[str]:
    out = []
    for path, group, start, stop in tasks:
        out += pq.ParquetFile(path).read_row_group(group).slice(start, stop - start).column("id").to_pylist()
    return out


def test_tasks_cover_the_rows_once_in_order(tmp_path):
    shards = [_shard(tmp_path / "a.parquet", 16, 10), _shard(tmp_path / "b.parquet", 12, 100)]
    every = [f"r{i}" for i in range(16)] + [f"r{i}" for i in range(12)]
    for workers in (1, 2, 3, 16):
        tasks = runner._split_tasks(shards, 28, workers)
        assert _rows(tasks) == every
        assert all(stop > start for _, _, start, stop in tasks)
    # several tasks per worker (whole row groups would give one worker 16 rows and the other 12)
    assert len(runner._split_tasks(shards, 28, 2)) >= 2 * 4


def test_tasks_stop_at_the_limit(tmp_path):
    shards = [_shard(tmp_path / "a.parquet", 16, 10), _shard(tmp_path / "b.parquet", 12, 100)]
    assert _rows(runner._split_tasks(shards, 13, 2)) == [f"r{i}" for i in range(13)]
    assert _rows(runner._split_tasks(shards, 20, 2)) == [f"r{i}" for i in range(16)] + [f"r{i}" for i in range(4)]


def test_worker_copies_share_one_context_per_evaluation():
    cfg = runner.EvalConfig(data="", predictions="", out="")
    w = runner.Worker(cfg, index=None)
    a, b = pickle.loads(pickle.dumps(w)), pickle.loads(pickle.dumps(w))  # what a pool sends per task
    assert a.ctx is b.ctx
    other = pickle.loads(pickle.dumps(runner.Worker(cfg, index=None)))
    assert other.ctx is not a.ctx  # another evaluation: its own renderers
