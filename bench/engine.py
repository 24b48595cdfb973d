"""Local vs Ray engine on the same GSI-Syn run: edits/s of each (ratio in the same run), whether the
shards are byte-identical, and the Ray driver's peak Python memory at two run sizes (flat = the
driver streams: at most ``max_in_flight`` units pending, one shard held).

    python bench/engine.py --num 40 --workers 2 --resolution 128
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from gsi_bench.engine import LocalEngine, RayEngine
from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


def _shards(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def _timed(cfg: GenerationConfig, out: Path, engine) -> float:
    t = time.perf_counter()
    generate(cfg, out, progress=False, engine=engine)
    return cfg.num / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=128)
    args = ap.parse_args()
    cfg = GenerationConfig(num=args.num, seed=11, resolution=args.resolution, shard_size=10)
    import ray

    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING")
    ray_engine = RayEngine()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm both (worker start-up, asset cache), then time the same run on each
        generate(GenerationConfig(num=2, seed=99, resolution=args.resolution), tmp / "warm", progress=False,
                 engine=ray_engine)
        local = _timed(cfg, tmp / "local", LocalEngine(args.workers))
        rayed = _timed(cfg, tmp / "ray", ray_engine)
        same = _shards(tmp / "local") == _shards(tmp / "ray")
        print(f"{args.num} edits at {args.resolution}px, {args.workers} workers/CPUs")
        print(f"  local engine: {local:.2f} edits/s")
        print(f"  ray engine:   {rayed:.2f} edits/s  (ratio ray/local {rayed / local:.2f})")
        print(f"  byte-identical shards: {same}")
        for n in (args.num // 2, args.num * 2):
            small = GenerationConfig(num=n, seed=12, resolution=64, shard_size=10)
            tracemalloc.start()
            generate(small, tmp / f"mem{n}", progress=False, engine=ray_engine)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  ray driver peak Python memory, N={n:4d}: {peak / 2**20:.1f} MiB")
    ray.shutdown()


if __name__ == "__main__":
    main()
