"""Benchmark of the default-protocol evaluator: samples/s and peak RSS.

Generates (once) a test split at the requested resolution, writes oracle predictions, then times
``evaluate`` with the given number of workers. Target (issue 6): ≥ 3 samples/s on 2 cores at 512².
Also prints the CPU seconds of the evaluation (driver + workers): on a shared machine, the figure
that a same-session comparison of two versions can rely on.

    python bench/evaluate.py --num 70 --resolution 512 --workers 2
    python bench/evaluate.py --num 28 --subset room     # rooms: costlier renders and searches
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children so far."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def _peak_rss_mib() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=70)
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", default="oracle")
    ap.add_argument("--protocol", default="default", choices=["default", "official"])
    ap.add_argument("--subset", default="tabletop", choices=["tabletop", "room"], help="GSI-Syn subset generated")
    ap.add_argument("--work", default=None, help="folder for data / predictions (default: a temp dir)")
    args = ap.parse_args(argv)

    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig
    from validation.baselines import run_baseline
    from validation.evaluator import EvalConfig, evaluate

    work = Path(args.work or tempfile.mkdtemp(prefix="gsi-bench-eval-"))
    tag = f"{args.subset}_{args.num}_{args.resolution}"
    data, preds, out = work / f"data_{tag}", work / f"pred_{tag}_{args.baseline}", work / "report"
    t0 = time.perf_counter()
    if not (data / "gsi_generation.json").exists():  # a --work folder keeps its data between runs
        generate(GenerationConfig(subset=args.subset, split="test", num=args.num, seed=0, resolution=args.resolution),
                 data, workers=args.workers, progress=False)
    if not preds.exists():
        run_baseline(args.baseline, str(data), str(preds), config=args.subset)
    print(f"setup (generate + {args.baseline}): {time.perf_counter() - t0:.1f} s", flush=True)
    cfg = EvalConfig(data=str(data), predictions=str(preds), out=str(out), workers=args.workers, protocol=args.protocol,
                     config=args.subset)
    t0, c0 = time.perf_counter(), _cpu_s()
    summary = evaluate(cfg)
    dt, cpu = time.perf_counter() - t0, _cpu_s() - c0
    n = summary["counts"]["total"]
    o = summary["overall"]
    print(f"evaluated {n} {args.subset} samples at {args.resolution}² with {args.workers} worker(s) in {dt:.1f} s: "
          f"{n / dt:.2f} samples/s; {cpu:.1f} CPU s ({cpu / n:.2f} per sample: {args.workers * n / cpu:.2f} samples/s "
          f"if the workers had their cores to themselves); peak RSS {_peak_rss_mib():.0f} MiB")
    print(f"{args.baseline}: IC {o['ic']:.1f} SA {o['sa']:.1f} EL {o['el']:.1f} AC {o['ac']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
