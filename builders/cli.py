"""``gsi-bench build | install-cache | publish | export-official``.

Each command returns an exit code; bad input ends with a message naming the file and the fix
and a non-zero code (2 for unusable input, 1 for a partial result such as rejected files).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsi_bench.argtypes import non_negative_int, positive_int


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


# -- build ---------------------------------------------------------------------------------------
def _cmd_build(args: argparse.Namespace) -> int:
    if args.source == "syn":
        return _build_syn(args)
    return _build_real(args)


def _build_syn(args: argparse.Namespace) -> int:
    from builders.gsi_syn import build_syn_folder, subset_operations

    known = subset_operations()
    bad = [s for s in args.subsets if s not in known]
    if bad:
        return _fail(f"unknown subsets {bad}; GSI-Syn has {', '.join(known)}")
    try:
        summary = build_syn_folder(args.out, subsets=args.subsets, test_per_op=args.test_per_op,
                                   train_per_op=args.train_per_op, resolution=args.resolution, seed=args.seed,
                                   renderer=args.renderer, operations=args.operations or (), workers=args.workers,
                                   shard_size=args.shard_size, edits_per_scene=args.edits_per_scene,
                                   repo_id=args.repo_id, progress=not args.quiet,
                                   cycles_samples=args.cycles_samples)
    except ValueError as err:
        return _fail(str(err))
    for (subset, split), n in summary.rows.items():
        print(f"{subset}/{split}: {n} records")
    print(f"wrote {len(summary.shards)} shard(s), README.md and eval.yaml in {summary.out_dir}")
    return 0


def _build_real(args: argparse.Namespace) -> int:
    from builders.gsi_real import (
        REJECTS_FILE,
        PipelineMissing,
        build_real_folder,
    )

    if args.config == "regenerate":
        if not args.source_path:
            return _fail("`build real --config regenerate` needs --from CAPTURES (a capture folder; "
                         "`gsi-bench real demo-captures --out CAPS` makes one)")
        try:
            from gsi_real.pipeline import run
        except ImportError as err:
            return _fail(str(PipelineMissing(f"the GSI-Real pipeline is not importable ({err})")))
        try:
            done = run(args.source_path, args.out)
        except (OSError, ValueError, RuntimeError) as err:
            return _fail(f"{args.source_path}: {err}")
        print(f"regenerate: {done['records']} records from {done['proposals']} proposals in {args.out}")
        return 0
    if not args.source_path:
        return _fail("`build real` needs --from PATH (release folder or zip) or --from hub")
    try:
        report = build_real_folder(args.source_path, args.out, subset=args.subset, revision=args.revision,
                                   shard_size=args.shard_size, repo_id=args.repo_id)
    except (OSError, ValueError) as err:  # includes huggingface_hub's offline / not-found errors
        hint = " (downloading GSI-Bench/GSI-Bench needs network access; pass a local folder or zip)" \
            if args.source_path == "hub" else ""
        return _fail(f"{err}{hint}")
    for sub, n in sorted(report.converted.items()):
        print(f"{sub}: {n} records converted")
    if report.rejects:
        for r in report.rejects:
            print(f"rejected {r}", file=sys.stderr)
        print(f"{len(report.rejects)} file(s) rejected; see {Path(args.out) / REJECTS_FILE}", file=sys.stderr)
        return 0 if args.allow_rejects else 1
    if not report.converted:
        return _fail(f"no edits found in {args.source_path}: expected <img_id>_edit_<qid>.json files")
    return 0


# -- install-cache ---------------------------------------------------------------------------------
def _cmd_install_cache(args: argparse.Namespace) -> int:
    from builders.hub_cache import install_cache

    try:
        summary = install_cache(args.dir, args.repo_id, configs=args.configs or None,
                                revision_name=args.revision, snapshot=not args.no_snapshot)
    except (FileNotFoundError, ValueError) as err:
        return _fail(str(err))
    print(f"installed {len(summary.configs)} config(s) of {summary.repo_id} "
          f"(default {summary.default_config}) in {summary.arrow_dirs[0].parents[2]}")
    if summary.snapshot:
        print(f"hub snapshot: {summary.snapshot}")
    print(f'offline: HF_HUB_OFFLINE=1 python -c "from datasets import load_dataset; '
          f"print(load_dataset('{summary.repo_id}', '{summary.default_config}', split='test'))\"")
    return 0


# -- publish -----------------------------------------------------------------------------------------
def _cmd_publish(args: argparse.Namespace) -> int:
    from builders.publish import publish

    try:
        plan = publish(args.dir, args.repo_id, revision=args.revision, private=args.private, dry_run=args.dry_run)
    except ValueError as err:
        return _fail(str(err))
    print("\n".join(plan.lines()))
    print("dry run: nothing uploaded" if args.dry_run else "uploaded")
    return 0


# -- export-official ---------------------------------------------------------------------------------
def _cmd_export_official(args: argparse.Namespace) -> int:
    from builders.export_official import export_official
    from gsi_bench.hub_io import iter_records, list_shards

    if not list_shards(args.dir, args.config, args.split):
        return _fail(f"no Parquet shards under {Path(args.dir) / 'data'}{'/' + args.config if args.config else ''}"
                     f"{' for split ' + args.split if args.split else ''}; build the folder first")
    summary = export_official(iter_records(args.dir, args.config, args.split), args.out, all_targets=args.all_targets)
    print(f"wrote {summary.written} edit(s) in the official layout to {summary.out_dir}")
    if summary.rephrased:
        print(f"{len(summary.rephrased)} prompt(s) rephrased so the official scorer routes them correctly")
    for rid, why in summary.skipped.items():
        print(f"skipped {rid}: {why}", file=sys.stderr)
    return 1 if summary.skipped else 0


def register(subparsers) -> None:
    """Add ``build``, ``install-cache``, ``publish`` and ``export-official``."""
    b = subparsers.add_parser("build", help="write a Hub folder: GSI-Syn (generated) or GSI-Real (converted)")
    b.add_argument("source", choices=["syn", "real"])
    b.add_argument("--out", required=True, type=Path, help="output Hub folder")
    b.add_argument("--repo-id", default=None, help="repo id named in the card (default gsi-bench/<source>)")
    b.add_argument("--shard-size", type=positive_int, default=200, help="rows per Parquet shard")
    b.add_argument("--quiet", action="store_true")
    g = b.add_argument_group("syn")
    g.add_argument("--subsets", type=_csv, default=["tabletop"], help="comma-separated (default tabletop)")
    g.add_argument("--operations", type=_csv, default=[], help="comma-separated subset of operations")
    g.add_argument("--test-per-op", type=non_negative_int, default=100, help="test records per operation")
    g.add_argument("--train-per-op", type=non_negative_int, default=0, help="train records per operation (0 = none)")
    g.add_argument("--resolution", type=positive_int, default=512, help="image width = height (px)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--renderer", default="gl", choices=["gl", "raycast", "cycles"],
                   help="cycles: GL labels + Blender Cycles RGB (needs gsi-bench[cycles])")
    g.add_argument("--cycles-samples", type=positive_int, default=16, help="Cycles paths per pixel (default 16)")
    g.add_argument("--workers", type=positive_int, default=1)
    g.add_argument("--edits-per-scene", type=positive_int, default=2)
    r = b.add_argument_group("real")
    r.add_argument("--config", default="official", choices=["official", "regenerate"])
    r.add_argument("--from", dest="source_path", default=None,
                   help="release folder or .zip, or 'hub' to download GSI-Bench/GSI-Bench")
    r.add_argument("--subset", default=None, choices=["real", "tabletop", "room"],
                   help="override the subset inferred from folder names")
    r.add_argument("--revision", default=None, help="Hub revision of the official release")
    r.add_argument("--allow-rejects", action="store_true", help="exit 0 even when some files were rejected")
    b.set_defaults(func=_cmd_build_defaults)

    c = subparsers.add_parser("install-cache", help="place a built folder in the HF cache (offline load by repo id)")
    c.add_argument("dir", type=Path)
    c.add_argument("--repo-id", default="gsi-bench/syn")
    c.add_argument("--configs", type=_csv, default=[], help="comma-separated configs (default: all in the card)")
    c.add_argument("--revision", default="main", help="ref name of the hub snapshot")
    c.add_argument("--no-snapshot", action="store_true", help="skip the huggingface_hub snapshot")
    c.set_defaults(func=_cmd_install_cache)

    p = subparsers.add_parser("publish", help="upload a built folder to the Hub (create repo, upload, tag)")
    p.add_argument("dir", type=Path)
    p.add_argument("--repo-id", required=True, help="ORG/NAME")
    p.add_argument("--revision", default=None, help="tag to create on the upload commit (e.g. v1.0.0)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="list files and sizes; no network")
    p.set_defaults(func=_cmd_publish)

    e = subparsers.add_parser("export-official", help="write records in the paper's flat evaluation layout")
    e.add_argument("dir", type=Path, help="a built Hub folder")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--config", default=None, help="subset folder under data/ (default: all)")
    e.add_argument("--split", default="test")
    e.add_argument("--all-targets", action="store_true", help="write *_gtedit_* targets for every edit")
    e.set_defaults(func=_cmd_export_official)


def _cmd_build_defaults(args: argparse.Namespace) -> int:
    if args.repo_id is None:
        args.repo_id = f"gsi-bench/{args.source}"
    return _cmd_build(args)
