"""Throughput and peak memory of GSI-Syn generation.

Prints edit pairs per second (wall clock, whole pipeline: sampling, rendering, checks, PNG
encoding, Parquet writing), CPU seconds (driver + workers: on a shared machine, the figure a
same-session comparison of two versions can rely on) and peak RSS of the driver and of the
workers, for several N, so you can see whether memory stays flat as N grows.

    python bench/generate.py --workers 2 --resolution 512 --num 40 80 160
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children so far, plus the
    multiprocessing forkserver's (it is a child that lives on, and the pool workers forked from it
    are its children, not ours: their CPU time reaches us only through it)."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime")) + _forkserver_cpu_s()


def _forkserver_cpu_s() -> float:
    """CPU seconds of the running forkserver and of its finished children (Linux ``/proc``), 0
    without one."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    # after the ")" ending the command name: utime, stime, cutime, cstime are fields 12-15
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class _WorkerPeakRSS:
    """Peak RSS (MiB) of the processes below this one, sampled from ``/proc/<pid>/status``
    (``VmHWM``) every ``period`` seconds while a run lasts: pool workers forked by a forkserver
    are not our children, so ``RUSAGE_CHILDREN`` does not see them."""

    def __init__(self, period: float = 0.2):
        self.period, self.peak_kib, self._stop = period, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "_WorkerPeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.period):
            for pid in _descendants(os.getpid()):
                try:
                    line = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmHWM:"))
                except (OSError, StopIteration):
                    continue
                self.peak_kib = max(self.peak_kib, int(line.split()[1]))


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux ``/proc``)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        here = todo.pop()
        kids = [c for c, p in parent.items() if p == here]
        out += kids
        todo += kids
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", default="tabletop")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--num", type=int, nargs="+", default=[40, 80, 160])
    ap.add_argument("--renderer", default="gl")
    args = ap.parse_args()
    print(f"subset={args.subset} workers={args.workers} resolution={args.resolution} renderer={args.renderer}")
    for n in args.num:
        out = Path(tempfile.mkdtemp(prefix="gsi-bench-"))
        cfg = GenerationConfig(subset=args.subset, split="test", num=n, seed=123, resolution=args.resolution,
                               renderer=args.renderer, shard_size=100)
        t0, c0 = time.perf_counter(), _cpu_s()
        with _WorkerPeakRSS() as peak:
            generate(cfg, out, workers=args.workers, progress=False)
        dt, cpu = time.perf_counter() - t0, _cpu_s() - c0
        size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, peak.peak_kib) / 1024
        print(f"N={n:5d}  {n / dt:6.2f} pairs/s  ({dt:6.1f} s, incl. worker start-up; {cpu:6.1f} CPU s: "
              f"{args.workers * n / cpu:5.2f} pairs/s if the workers had their cores to themselves)  "
              f"peak RSS driver {self_rss:6.0f} MiB, worker {child_rss:6.0f} MiB  "
              f"{size / n / 1024:6.0f} KiB/record")
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
