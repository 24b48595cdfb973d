"""Scorer validity tables for one or more generated splits (thin wrapper of ``gsi-bench scorer-check``).

    gsi-bench generate syn --subset tabletop --split test --num 28 --seed 11 --resolution 256 --out /tmp/d_tab
    python bench/scorer_validity.py /tmp/d_tab:tabletop /tmp/d_room:room --limit 14 --seed 5
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="*", help="DIR:CONFIG pairs (Hub-layout folders written by `gsi-bench generate`)")
    ap.add_argument("--rows", nargs="*", default=[], help="re-summarise rows.jsonl files written by `gsi-bench scorer-check --out`")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nuisances", default="")
    args = ap.parse_args(argv)

    from validation.evaluator.validity import NUISANCES, CheckConfig, format_tables, run_check, summarise

    nz = tuple(x for x in args.nuisances.split(",") if x) or tuple(NUISANCES)
    rows = []
    import json

    for path in args.rows:
        part = [json.loads(line) for line in open(path)]
        print(f"== {path}: {len(part)} predictions")
        print(format_tables(summarise(part)))
        rows += part
    for spec in args.data:
        path, _, config = spec.rpartition(":")
        t0 = time.perf_counter()
        part = run_check(CheckConfig(data=path, config=config, limit=args.limit, seed=args.seed, nuisances=nz))
        dt = time.perf_counter() - t0
        print(f"== {config}: {len(part)} predictions scored in {dt:.0f} s ({len(part) / dt:.2f}/s)")
        print(format_tables(summarise(part)))
        rows += part
    if len(args.data) + len(args.rows) > 1:
        print("== all")
        print(format_tables(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
