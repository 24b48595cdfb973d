"""``gsi-bench evaluate``, ``baseline`` and ``leaderboard`` (configured by :mod:`gsi_bench.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsi_bench.argtypes import csv_list, int_at_least, positive_int
from gsi_bench.cliargs import add_flags
from gsi_bench.engine import add_engine_arguments, engine_from_args
from gsi_bench.errors import DataNotFound, InvalidInput, NothingScored

DATA_HELP = "dataset folder (Hub layout) or Hub dataset id namespace/name[@revision] (local cache when HF_HUB_OFFLINE=1)"
CONFIG_HELP = "dataset config (subset folder data/<config>/); needed when the data holds several"


def choose_config(data: str, config: str | None, split: str, predictions: str | None = None,
                  layout: str = "auto") -> str:
    """The config to use: ``config`` when given (it must exist); else the data's only config; else
    the only config whose record ids the ``predictions`` match. Anything else raises
    :class:`InvalidInput` naming the configs and the fix."""
    from gsi_bench.datasource import resolve_dataset, subset_configs

    root = resolve_dataset(data, config, split).root
    available = subset_configs(root, split)
    if config is not None:
        if config not in available:
            raise DataNotFound(f"--config {config}: {data} has no {split} shards under data/{config}/; "
                               f"its {split} configs: {', '.join(available) or 'none'}")
        return config
    if len(available) == 1:
        return available[0]
    if not available:
        raise DataNotFound(f"--data {data}: no {split} shards under {root / 'data'}; check --split and the folder")
    if predictions is not None:
        matched = [c for c in available if _matches(root, c, split, predictions, layout)]
        if len(matched) == 1:
            print(f"note: --config {matched[0]} inferred from the predictions (the data holds "
                  f"{', '.join(available)})", file=sys.stderr)
            return matched[0]
    raise InvalidInput(f"--data {data} holds several configs ({', '.join(available)}); pass --config one of them")


def _matches(root: Path, config: str, split: str, predictions: str, layout: str) -> bool:
    from gsi_bench.hub_io import list_shards
    from validation.evaluator.predictions import open_predictions
    from validation.evaluator.runner import record_ids

    ids = set(record_ids(list_shards(root, config, split)))
    try:
        return bool(open_predictions(predictions, ids, layout, split).locators)
    except (OSError, ValueError):
        return False


# -- evaluate --------------------------------------------------------------------------------------
def _add_evaluate(e: argparse.ArgumentParser) -> None:
    from validation.evaluator.imageops import RESIZE_POLICIES
    from validation.evaluator.runner import PROTOCOLS

    e.description = ("Score predictions against a split on instruction compliance (IC), spatial accuracy "
                     "(SA), edit locality (EL) and appearance consistency (AC); write summary.json, "
                     "per_sample.jsonl, plots and report.html. Exits 2 when no prediction can be scored.")
    e.add_argument("--data", required=True, help=DATA_HELP)
    add_flags(e, "config", "split", config={"help": CONFIG_HELP + " (else inferred from the predictions)"})
    e.add_argument("--predictions", required=True,
                   help="folder of <id>.png, official-layout folder (*_edit_*.png|jpg), or Parquet / Hub dataset "
                        "with columns id, image")
    add_flags(e, "out", out={"help": "report folder"})
    e.add_argument("--protocol", default="default", choices=PROTOCOLS, help="scoring protocol")
    e.add_argument("--layout", default="auto", choices=["auto", "folder", "official", "dataset"],
                   help="how to read --predictions")
    e.add_argument("--resize", default="stretch", choices=sorted(RESIZE_POLICIES),
                   help="how predictions of another size are brought to the ground-truth size")
    e.add_argument("--search-size", type=int_at_least(16, "px"), default=128,
                   help="longest side (px) of the analysis-by-synthesis renders")
    add_flags(e, "workers", "limit", "renderer")
    add_engine_arguments(e)
    e.add_argument("--detections", default=None, help="official protocol: infer_cache.json-style detections")
    e.add_argument("--ac-scores", default=None, help="official protocol: MLLM judge output JSON (official format)")
    e.add_argument("--release-models", default="", help="records converted from the paper's release: model-backed "
                   "localisation depth=<checkpoint>,detector=<checkpoint> (transformers; default: weight-free)")
    e.add_argument("--official-dataset", default="GSI-Syn", choices=["GSI-Syn", "GSI-Real"],
                   help="official protocol: which locality gate (AND for GSI-Syn, OR for GSI-Real)")
    e.add_argument("--features", default=None, help="optional DINOv2-style feature backend (Hub id or local path)")
    e.add_argument("--judge", default=None,
                   help="optional MLLM judge: transformers model path, or openai:<model>@<base_url>")
    add_flags(e, "quiet")
    e.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from validation.evaluator import EvalConfig, evaluate

    config = choose_config(args.data, args.config, args.split, args.predictions, args.layout)
    try:
        cfg = EvalConfig(data=args.data, predictions=args.predictions, out=args.out, config=config,
                         split=args.split, protocol=args.protocol, resize=args.resize, layout=args.layout,
                         search_size=args.search_size, workers=args.workers, limit=args.limit,
                         renderer=args.renderer, detections=args.detections, ac_scores=args.ac_scores,
                         official_dataset=args.official_dataset, release_models=args.release_models, features_backend=args.features,
                         judge_backend=args.judge)
        with engine_from_args(args, start_method="fork") as engine:
            summary = evaluate(cfg, progress=not args.quiet, engine=engine)
    except FileNotFoundError as err:
        raise DataNotFound(str(err)) from err
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    o, c = summary["overall"], summary["counts"]
    print(f"{c['total']} samples ({c['ok']} scored, {c['missing']} missing, {c['unreadable']} unreadable, "
          f"{c['duplicate']} duplicate, {c['unscorable']} unscorable; {sum(c['prediction_issues'].values())} prediction issue(s))")
    if not c["ok"]:
        raise NothingScored(f"nothing scored: none of the {c['total']} records of {config}/{args.split} has a usable "
                            f"prediction in {args.predictions} ({c['missing']} missing, {c['unreadable']} unreadable); "
                            "check --config, --split and that files are named <record id>.png (reports in "
                            f"{args.out})")
    print(f"{'operation':24s} {'n':>4s} {'IC':>6s} {'SA':>6s} {'EL':>6s} {'AC':>6s} {'Avg':>6s}")
    for name, g in list(summary["per_operation"].items()) + [("overall", o)]:
        print(f"{name:24s} {g['n']:4d} {g['ic']:6.1f} {g['sa']:6.1f} {g['el']:6.1f} {g['ac']:6.1f} {g['avg']:6.1f}")
    if "official" in summary:
        off = summary["official"]["aggregate"]
        print(f"official: IC {off['instruction_compliance']:.2f} SA {off['spatial_accuracy']:.2f} "
              f"EL(lpips) {off['edit_locality']['lpips']:.2f} AC {off['ac']:.2f} Avg {off['average']:.2f}")
        print("official: deviations from the paper's evaluator: " + "; ".join(summary["official"]["deviations"]))
    print(f"reports in {args.out}: summary.json, per_sample.jsonl, plots/per_operation.svg, report.html")
    return 0


# -- baseline --------------------------------------------------------------------------------------
def _add_baseline(b: argparse.ArgumentParser) -> None:
    from validation.baselines import EDITORS

    b.description = "Run a baseline editor over a split, writing one <id>.png prediction per record."
    b.add_argument("name", choices=sorted(EDITORS), help="which editor")
    b.add_argument("--data", required=True, help=DATA_HELP)
    add_flags(b, "config", "split", "out", "limit", "seed", config={"help": CONFIG_HELP},
              out={"help": "prediction folder"}, seed={"help": "diffusers: generator seed"})
    b.add_argument("--checkpoint", default=None, help="diffusers: pipeline Hub id or local folder")
    b.add_argument("--steps", type=positive_int, default=20, help="diffusers: inference steps")
    b.add_argument("--device", default="cpu", help="diffusers: torch device")
    add_flags(b, "quiet")
    b.set_defaults(func=_cmd_baseline)


def _cmd_baseline(args: argparse.Namespace) -> int:
    from validation.baselines import run_baseline

    config = choose_config(args.data, args.config, args.split)
    kwargs = {}
    if args.name == "diffusers":
        kwargs = {"checkpoint": args.checkpoint, "steps": args.steps, "seed": args.seed, "device": args.device}
    try:
        n = run_baseline(args.name, args.data, args.out, config=config, split=args.split, limit=args.limit,
                         progress=not args.quiet, **kwargs)
    except FileNotFoundError as err:
        raise DataNotFound(str(err)) from err
    except (ValueError, ImportError) as err:
        raise InvalidInput(str(err)) from err
    print(f"{args.name}: {n} predictions in {args.out}")
    return 0


# -- leaderboard -----------------------------------------------------------------------------------
def _add_leaderboard(lb: argparse.ArgumentParser) -> None:
    lb.description = ("Combine evaluation reports into one table (+ leaderboard.json / .html). A row is one "
                      "(model, protocol); a column per config; a run with nothing scored shows n/a.")
    lb.add_argument("reports", nargs="+", type=Path, help="folders written by `gsi-bench evaluate`")
    add_flags(lb, "out", out={"required": False, "default": None, "help": "write leaderboard.json / .html here"})
    lb.set_defaults(func=_cmd_leaderboard)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from validation.evaluator.leaderboard import format_table, load_entries, write_outputs

    entries = load_entries(args.reports)
    print(format_table(entries))
    if args.out is not None:
        write_outputs(entries, args.out, args.reports)
        print(f"wrote {args.out / 'leaderboard.html'}")
    return 0


# -- scorer-check ----------------------------------------------------------------------------------
def _add_scorer_check(sc: argparse.ArgumentParser) -> None:
    from validation.evaluator.validity import KINDS, NUISANCES

    sc.description = ("Scorer validity suite: builds predictions of known correctness from the stored scenes "
                      "(correct, wrong direction / sense / object, unchanged, half / double, other renderer) × "
                      "nuisances (JPEG, tone, blur, shifts, zoom, resize), scores them and prints IC decision "
                      "accuracy, SA ordering, EL / AC drift and realised-pose recovery.")
    sc.add_argument("--data", required=True, help=DATA_HELP)
    add_flags(sc, "config", "split", "limit", "seed", config={"help": CONFIG_HELP},
              seed={"help": "seed of the nuisance draws"})
    sc.add_argument("--nuisances", type=csv_list, default=[], metavar="N[,N…]",
                    help=f"subset of nuisances (default: all of {', '.join(sorted(NUISANCES))})")
    sc.add_argument("--kinds", type=csv_list, default=[], metavar="K[,K…]",
                    help=f"subset of prediction kinds (default: all of {', '.join(KINDS)})")
    add_flags(sc, "out", "quiet", out={"required": False, "default": None,
                                        "help": "write rows.jsonl and summary.json here"})
    sc.set_defaults(func=_cmd_scorer_check)


def _cmd_scorer_check(args: argparse.Namespace) -> int:
    import json

    from gsi_bench.fileio import atomic_write_many
    from validation.evaluator.validity import KINDS, NUISANCES, CheckConfig, format_tables, run_check, summarise

    nuisances = tuple(args.nuisances) or tuple(NUISANCES)
    kinds = tuple(args.kinds) or KINDS
    bad = [x for x in nuisances if x not in NUISANCES] + [k for k in kinds if k not in KINDS]
    if bad:
        raise InvalidInput(f"unknown nuisance / kind {bad}: nuisances are {sorted(NUISANCES)}, kinds {list(KINDS)}")
    config = choose_config(args.data, args.config, args.split)
    try:
        rows = run_check(CheckConfig(data=args.data, config=config, split=args.split, limit=args.limit,
                                     seed=args.seed, nuisances=nuisances, kinds=kinds), progress=not args.quiet)
    except FileNotFoundError as err:
        raise DataNotFound(str(err)) from err
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    summary = summarise(rows)
    print(format_tables(summary))
    if args.out is not None:
        atomic_write_many({args.out / "rows.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
                           args.out / "summary.json": json.dumps(summary, indent=1)})
    return 0


_CONFIGURE = {"evaluate": _add_evaluate, "baseline": _add_baseline, "leaderboard": _add_leaderboard,
              "scorer-check": _add_scorer_check}



def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the flags of subcommand ``name`` (one of :data:`_CONFIGURE`) to ``parser``."""
    _CONFIGURE[name](parser)
