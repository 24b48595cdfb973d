"""``gsi-bench build syn|real | install-cache | publish | export-official | demo``.

Handlers raise :mod:`gsi_bench.errors` types for unusable input (exit 2); a partial result such
as rejected files returns 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsi_bench.argtypes import csv_list, non_negative_int, positive_int
from gsi_bench.cliargs import add_alias, add_flags, command
from gsi_bench.engine import add_engine_arguments, engine_from_args
from gsi_bench.errors import DataNotFound, InvalidInput

REAL_CONFIGS = ("real", "tabletop", "room")


# -- build -----------------------------------------------------------------------------------------
def _add_build(p: argparse.ArgumentParser) -> None:
    p.description = "Write a Hub folder (Parquet shards grouped by operation, README.md card, eval.yaml, checksums)."
    sub = p.add_subparsers(dest="source", required=True, metavar="{syn,real}")
    s = command(sub, "syn", "GSI-Syn: generate both splits of each config into a Hub folder")
    add_flags(s, "out", "configs", "operations", "per_op", out={"help": "output Hub folder"},
              configs={"default": "tabletop", "help": "comma-separated GSI-Syn configs: tabletop,room"},
              per_op={"default": 100, "type": non_negative_int, "help": "test records per operation (0 = no test split)"})
    add_alias(s, "--subsets", "--config", "config", type=csv_list)
    add_alias(s, "--test-per-op", "--per-op", "per_op", type=non_negative_int)
    s.add_argument("--train-per-op", type=non_negative_int, default=0, help="train records per operation (0 = no train split)")
    add_flags(s, "resolution", "seed", "renderer", "workers", "edits_per_scene", "shard_size", "repo_id", "quiet",
              repo_id={"default": "gsi-bench/syn", "help": "Hub dataset id named in the card"},
              renderer={"choices": ["gl", "raycast", "cycles"],
                        "help": "gl: fast GL (anti-aliased PBR photos); raycast: GL-free; cycles: GL labels + "
                                "Blender Cycles photos (needs gsi-bench[cycles])"})
    s.add_argument("--cycles-samples", type=positive_int, default=16, help="Cycles paths per pixel")
    add_engine_arguments(s)
    s.set_defaults(func=_build_syn)

    r = command(sub, "real", "GSI-Real: convert the paper's release, or regenerate from RGB-D captures")
    add_flags(r, "out", out={"help": "output Hub folder"})
    r.add_argument("--mode", default="official", choices=["official", "regenerate"],
                   help="official: convert the published release; regenerate: run the GSI-Real pipeline on captures")
    r.add_argument("--from", dest="source_path", required=True,
                   help="official: release folder or .zip, or 'hub' to download GSI-Bench/GSI-Bench; "
                        "regenerate: a capture folder (`gsi-bench real demo-captures` makes one)")
    add_flags(r, "config", "revision", "shard_size", "repo_id",
              config={"choices": REAL_CONFIGS,
                      "help": "official: put every record in this config (default: inferred from folder names)"},
              revision={"help": "official: Hub revision of the release"},
              repo_id={"default": "gsi-bench/real", "help": "Hub dataset id named in the card"})
    r.add_argument("--allow-rejects", action="store_true", help="exit 0 even when some files were rejected")
    r.set_defaults(func=_build_real)


def _build_syn(args: argparse.Namespace) -> int:
    from builders.gsi_syn import build_syn_folder, subset_operations

    known = subset_operations()
    bad = [s for s in args.config if s not in known]
    if bad:
        raise InvalidInput(f"--config {','.join(bad)}: unknown GSI-Syn config; pass some of {','.join(known)}")
    try:
        with engine_from_args(args) as engine:
            summary = build_syn_folder(args.out, subsets=args.config, test_per_op=args.per_op,
                                       train_per_op=args.train_per_op, resolution=args.resolution, seed=args.seed,
                                       renderer=args.renderer, operations=args.operations, workers=args.workers,
                                       shard_size=args.shard_size, edits_per_scene=args.edits_per_scene,
                                       repo_id=args.repo_id, progress=not args.quiet, engine=engine,
                                       cycles_samples=args.cycles_samples)
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    for (subset, split), n in summary.rows.items():
        print(f"{subset}/{split}: {n} records")
    print(f"wrote {len(summary.shards)} shard(s), README.md and eval.yaml in {summary.out_dir}")
    return 0


def _build_real(args: argparse.Namespace) -> int:
    from builders.gsi_real import REJECTS_FILE, build_real_folder

    if args.mode == "regenerate":
        from gsi_real.pipeline import run

        try:
            done = run(args.source_path, args.out)
        except (OSError, ValueError, RuntimeError) as err:
            raise InvalidInput(f"--from {args.source_path}: {err}") from err
        print(f"regenerate: {done['records']} records from {done['proposals']} proposals in {args.out}")
        return 0
    try:
        report = build_real_folder(args.source_path, args.out, subset=args.config, revision=args.revision,
                                   shard_size=args.shard_size, repo_id=args.repo_id)
    except (OSError, ValueError) as err:  # includes huggingface_hub's offline / not-found errors
        hint = " (downloading GSI-Bench/GSI-Bench needs network access; pass a local folder or zip)" \
            if args.source_path == "hub" else ""
        raise DataNotFound(f"--from {args.source_path}: {err}{hint}") from err
    for sub, n in sorted(report.converted.items()):
        print(f"{sub}: {n} records converted")
    if report.rejects:
        for r in report.rejects:
            print(f"rejected {r}", file=sys.stderr)
        print(f"{len(report.rejects)} file(s) rejected; see {Path(args.out) / REJECTS_FILE}", file=sys.stderr)
        return 0 if args.allow_rejects else 1
    if not report.converted:
        raise InvalidInput(f"--from {args.source_path}: no edits found; expected <img_id>_edit_<qid>.json files")
    return 0


# -- install-cache ---------------------------------------------------------------------------------
def _add_install_cache(p: argparse.ArgumentParser) -> None:
    p.description = ("Place a built Hub folder in the local Hugging Face caches so that "
                     "load_dataset(REPO_ID) and snapshot_download work offline.")
    p.add_argument("data", type=Path, help="a folder written by `gsi-bench build`")
    add_flags(p, "repo_id", "configs", "revision",
              repo_id={"default": "gsi-bench/syn"},
              configs={"help": "comma-separated configs to install (default: all in the card)"},
              revision={"default": "main", "help": "ref name of the hub snapshot"})
    add_alias(p, "--configs", "--config", "config", type=csv_list)
    p.add_argument("--no-snapshot", action="store_true", help="skip the huggingface_hub snapshot")
    p.set_defaults(func=_cmd_install_cache)


def _cmd_install_cache(args: argparse.Namespace) -> int:
    from builders.hub_cache import install_cache

    summary = install_cache(args.data, args.repo_id, configs=args.config or None,
                            revision_name=args.revision, snapshot=not args.no_snapshot)
    print(f"installed {len(summary.configs)} config(s) of {summary.repo_id} "
          f"(default {summary.default_config}) in {summary.arrow_dirs[0].parents[2]}")
    if summary.snapshot:
        print(f"hub snapshot: {summary.snapshot}")
    print(f'offline: HF_HUB_OFFLINE=1 python -c "from datasets import load_dataset; '
          f"print(load_dataset('{summary.repo_id}', '{summary.default_config}', split='test'))\"")
    return 0


# -- publish ---------------------------------------------------------------------------------------
def _add_publish(p: argparse.ArgumentParser) -> None:
    p.description = "Upload a built Hub folder: create the dataset repo, upload in one commit, tag it."
    p.add_argument("data", type=Path, help="a folder written by `gsi-bench build`")
    add_flags(p, "repo_id", "revision", repo_id={"required": True},
              revision={"help": "tag to create on the upload commit (e.g. v1.0.0)"})
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--dry-run", action="store_true", help="list files and sizes; no network")
    p.set_defaults(func=_cmd_publish)


def _cmd_publish(args: argparse.Namespace) -> int:
    from builders.publish import publish

    plan = publish(args.data, args.repo_id, revision=args.revision, private=args.private, dry_run=args.dry_run)
    print("\n".join(plan.lines()))
    print("dry run: nothing uploaded" if args.dry_run else "uploaded")
    return 0


# -- export-official -------------------------------------------------------------------------------
def _add_export_official(p: argparse.ArgumentParser) -> None:
    p.description = "Write records in the paper's flat evaluation layout (<img>_edit_<q>.json + images)."
    p.add_argument("data", help="dataset folder (Hub layout) or Hub dataset id namespace/name[@revision]")
    add_flags(p, "out", "config", "split",
              config={"help": "dataset config (subset folder data/<config>/; default: all)"})
    p.add_argument("--all-targets", action="store_true", help="write *_gtedit_* targets for every edit")
    p.set_defaults(func=_cmd_export_official)


def _cmd_export_official(args: argparse.Namespace) -> int:
    from builders.export_official import export_official
    from gsi_bench.datasource import resolve_dataset
    from gsi_bench.hub_io import iter_records, list_shards

    root = resolve_dataset(args.data, args.config, args.split).root
    if not list_shards(root, args.config, args.split):
        raise DataNotFound(f"no Parquet shards under {root / 'data'}{'/' + args.config if args.config else ''}"
                           f" for split {args.split}; build the folder first (`gsi-bench build syn --out DIR`)")
    summary = export_official(iter_records(root, args.config, args.split), args.out, all_targets=args.all_targets)
    print(f"wrote {summary.written} edit(s) in the official layout to {summary.out_dir}")
    if summary.rephrased:
        print(f"{len(summary.rephrased)} prompt(s) rephrased so the official scorer routes them correctly")
    for rid, why in summary.skipped.items():
        print(f"skipped {rid}: {why}", file=sys.stderr)
    return 1 if summary.skipped else 0


# -- demo ------------------------------------------------------------------------------------------
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.description = ("The main job: generate a test split of both GSI-Syn configs, validate it, run the "
                     "identity / cut-paste / oracle baselines, score them, print the leaderboard and write "
                     "OUT/leaderboard.html. Resumable.")
    add_flags(p, "out", "per_op", "resolution", "workers", "seed", "quiet",
              out={"required": False, "default": Path("out/demo")},
              per_op={"help": "test records per operation and config"},
              workers={"default": 2})
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from builders.demo import run_demo

    return run_demo(args.out, args.per_op, args.resolution, args.workers, args.seed, args.quiet)


# -- export train / train ---------------------------------------------------------------------------
def _add_export(p: argparse.ArgumentParser) -> None:
    from builders import export_train

    p.description = "Training-ready copies of a split (see `gsi-bench export train --help`)."
    export_train.register(p.add_subparsers(dest="export_kind", required=True, metavar="<format family>"))


def _add_train(p: argparse.ArgumentParser) -> None:
    from builders import train_lora

    train_lora.configure(p)


_CONFIGURE = {"build": _add_build, "install-cache": _add_install_cache, "publish": _add_publish,
              "export-official": _add_export_official, "export": _add_export, "train": _add_train,
              "demo": _add_demo}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the flags of subcommand ``name`` (one of :data:`_CONFIGURE`) to ``parser``."""
    _CONFIGURE[name](parser)
