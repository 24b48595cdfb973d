"""``gsi-bench evaluate``, ``baseline``, ``leaderboard`` and ``demo`` (registered by :mod:`gsi_bench.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsi_bench.engine import add_engine_arguments, engine_from_args


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from validation.evaluator import EvalConfig, evaluate

    try:
        cfg = EvalConfig(data=args.data, predictions=args.predictions, out=args.out, config=args.config,
                         split=args.split, protocol=args.protocol, resize=args.resize, layout=args.layout,
                         search_size=args.search_size, workers=args.workers, limit=args.limit,
                         renderer=args.renderer, detections=args.detections, ac_scores=args.ac_scores,
                         official_dataset=args.official_dataset, features_backend=args.features,
                         judge_backend=args.judge)
        with engine_from_args(args, start_method="fork") as engine:
            summary = evaluate(cfg, progress=not args.quiet, engine=engine)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    o, c = summary["overall"], summary["counts"]
    print(f"{c['total']} samples ({c['ok']} scored, {c['missing']} missing, {c['unreadable']} unreadable, "
          f"{c['duplicate']} duplicate, {c['unscorable']} unscorable; {sum(c['prediction_issues'].values())} prediction issue(s))")
    print(f"{'operation':24s} {'n':>4s} {'IC':>6s} {'SA':>6s} {'EL':>6s} {'AC':>6s} {'Avg':>6s}")
    for name, g in list(summary["per_operation"].items()) + [("overall", o)]:
        print(f"{name:24s} {g['n']:4d} {g['ic']:6.1f} {g['sa']:6.1f} {g['el']:6.1f} {g['ac']:6.1f} {g['avg']:6.1f}")
    if "official" in summary:
        off = summary["official"]["aggregate"]
        print(f"official: IC {off['instruction_compliance']:.2f} SA {off['spatial_accuracy']:.2f} "
              f"EL(lpips) {off['edit_locality']['lpips']:.2f} AC {off['ac']:.2f} Avg {off['average']:.2f}")
    print(f"reports in {args.out}: summary.json, per_sample.jsonl, plots/per_operation.svg, report.html")
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from validation.baselines import run_baseline

    kwargs = {}
    if args.name == "diffusers":
        kwargs = {"checkpoint": args.checkpoint, "steps": args.steps, "seed": args.seed, "device": args.device}
    try:
        n = run_baseline(args.name, args.data, args.out, config=args.config, split=args.split, limit=args.limit,
                         progress=not args.quiet, **kwargs)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.name}: {n} predictions in {args.out}")
    return 0


def register(subparsers) -> None:
    from validation.baselines import EDITORS
    from validation.evaluator.imageops import RESIZE_POLICIES
    from validation.evaluator.runner import PROTOCOLS

    e = subparsers.add_parser("evaluate", help="score predictions (IC / SA / EL / AC) and write reports")
    e.add_argument("--data", required=True,
                   help="Hub-layout dataset folder, or a Hub dataset id (namespace/name[@revision]; "
                        "from the local cache when HF_HUB_OFFLINE=1)")
    e.add_argument("--config", default="tabletop", help="subset (data/<config>/); default tabletop")
    e.add_argument("--split", default="test")
    e.add_argument("--predictions", required=True,
                   help="folder of <id>.png, official layout folder (*_edit_*.png|jpg), Parquet/Hub dataset with id,image")
    e.add_argument("--out", required=True, help="report folder")
    e.add_argument("--protocol", default="default", choices=PROTOCOLS)
    e.add_argument("--layout", default="auto", choices=["auto", "folder", "official", "dataset"])
    e.add_argument("--resize", default="stretch", choices=sorted(RESIZE_POLICIES),
                   help="how predictions of another size are brought to the ground-truth size")
    e.add_argument("--search-size", type=int, default=128, help="longest side (px) of analysis-by-synthesis renders")
    e.add_argument("--workers", type=int, default=1)
    add_engine_arguments(e)
    e.add_argument("--limit", type=int, default=None, help="score only the first N records")
    e.add_argument("--renderer", default="gl", choices=["gl", "raycast"])
    e.add_argument("--detections", default=None, help="official protocol: infer_cache.json-style detections")
    e.add_argument("--ac-scores", default=None, help="official protocol: MLLM judge output JSON (official format)")
    e.add_argument("--official-dataset", default="GSI-Syn", choices=["GSI-Syn", "GSI-Real"],
                   help="official protocol: which locality gate (AND for GSI-Syn, OR for GSI-Real)")
    e.add_argument("--features", default=None, help="optional DINOv2-style feature backend (Hub id or local path)")
    e.add_argument("--judge", default=None,
                   help="optional MLLM judge: transformers model path, or openai:<model>@<base_url>")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_cmd_evaluate)

    b = subparsers.add_parser("baseline", help="run a baseline editor over a split, writing <id>.png predictions")
    b.add_argument("name", choices=sorted(EDITORS))
    b.add_argument("--data", required=True, help="Hub-layout dataset folder or Hub dataset id")
    b.add_argument("--config", default="tabletop")
    b.add_argument("--split", default="test")
    b.add_argument("--out", required=True, help="prediction folder")
    b.add_argument("--limit", type=int, default=None)
    b.add_argument("--checkpoint", default=None, help="diffusers: pipeline Hub id or local folder")
    b.add_argument("--steps", type=int, default=20, help="diffusers: inference steps")
    b.add_argument("--seed", type=int, default=0, help="diffusers: generator seed")
    b.add_argument("--device", default="cpu", help="diffusers: torch device")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=_cmd_baseline)

    lb = subparsers.add_parser("leaderboard", help="combine evaluation reports into one table + HTML")
    lb.add_argument("reports", nargs="+", type=Path, help="folders written by `gsi-bench evaluate`")
    lb.add_argument("--out", type=Path, default=None, help="write leaderboard.json / .html here")
    lb.set_defaults(func=_cmd_leaderboard)

    d = subparsers.add_parser("demo", help="the main job: generate both subsets, validate, run baselines, "
                                           "score, leaderboard + HTML report")
    d.add_argument("--out", type=Path, default=Path("out/demo"))
    d.add_argument("--per-op", type=int, default=4, help="test records per operation and subset")
    d.add_argument("--resolution", type=int, default=512)
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_cmd_demo)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from validation.evaluator.leaderboard import format_table, load_entries, write_outputs

    entries = load_entries(args.reports)
    print(format_table(entries))
    if args.out is not None:
        write_outputs(entries, args.out, args.reports)
        print(f"wrote {args.out / 'leaderboard.html'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from validation.evaluator.demo import run_demo

    if args.per_op < 1 or args.resolution < 64:
        raise SystemExit("error: --per-op must be ≥ 1 and --resolution ≥ 64")
    return run_demo(args.out, args.per_op, args.resolution, args.workers, args.seed, args.quiet)
