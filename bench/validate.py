"""Throughput of `gsi-bench validate`: records/s for the integrity-only and the full check, and
peak memory.

    python bench/validate.py /tmp/v512 --workers 2    # generates 40 records at 512² if the folder is missing

Imports happen before timing (they are a one-off cost of the process, not of the data); mesh
and texture caches start cold, as in a real run. Targets (2 cores, 512²): integrity-only
≥ 500 records/s, full ≥ 20 records/s.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from validation.consistency import Options
from validation.runner import RunConfig, validate


def _peak_rss_mib() -> tuple[float, float]:
    """(this process, largest child) peak resident set size in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default="/tmp/v512")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--renderer", default="raycast", choices=["raycast", "gl"])
    ap.add_argument("--repeat", type=int, default=3, help="integrity-only repetitions (best is reported)")
    ap.add_argument("--num", type=int, default=40, help="records to generate when DIR does not exist")
    args = ap.parse_args()
    if not Path(args.dir).exists():
        from gsi_syn.pipeline import generate
        from gsi_syn.sampler import GenerationConfig

        print(f"generating {args.num} tabletop test records at 512² into {args.dir} …")
        generate(GenerationConfig(num=args.num, resolution=512), args.dir, workers=args.workers, progress=False)

    for label, decode in (("integrity-only, PNG structure only (--skip-decode)", False),
                          (f"integrity-only, images decoded ({args.workers} worker(s))", True)):
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            t, cpu = time.perf_counter(), _cpu_seconds()
            report = validate(args.dir, RunConfig(integrity_only=True, decode_images=decode, workers=args.workers))
            best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, _cpu_seconds() - cpu)
        n = report.info["records"]
        print(f"{label}: {n} records in {best:.3f} s = {n / best:.0f} records/s; CPU {1000 * best_cpu / n:.1f} ms/record "
              f"({'passed' if report.passed else 'FAILED ' + ', '.join(report.failed_checks())})")

    t, cpu = time.perf_counter(), _cpu_seconds()
    report = validate(args.dir, RunConfig(workers=args.workers, options=Options(renderer=args.renderer)))
    dt, cpu = time.perf_counter() - t, _cpu_seconds() - cpu
    print(f"full ({args.renderer}, {args.workers} worker(s)): {n} records in {dt:.2f} s = {n / dt:.1f} records/s "
          f"({'passed' if report.passed else 'FAILED ' + ', '.join(report.failed_checks())})")
    # on a shared machine wall time depends on the neighbours; CPU time does not
    print(f"  CPU time {cpu:.2f} s = {1000 * cpu / n:.0f} ms/record → {args.workers * n / cpu:.1f} records/s "
          f"on {args.workers} idle core(s)")
    own, child = _peak_rss_mib()
    print(f"peak RSS: {own:.0f} MiB (main process), {child:.0f} MiB (largest worker)")


if __name__ == "__main__":
    main()
