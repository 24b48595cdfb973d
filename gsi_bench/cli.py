"""The ``gsi-bench`` command line.

Subcommands import their implementation lazily, so ``gsi-bench --help`` is instant and the core
package does not depend on the generators at import time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gsi_bench
from gsi_bench.argtypes import positive_int


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.source != "syn":
        raise SystemExit(f"error: unknown source {args.source!r}; only 'syn' is generated here")
    from gsi_syn.pipeline import generate
    from gsi_syn.render.cycles import CyclesSettings
    from gsi_syn.sampler import SPLIT_PRESETS, SUBSET_OPERATIONS, GenerationConfig

    ops = tuple(o.strip() for o in args.operations.split(",")) if args.operations else ()
    num = args.num
    if args.preset:
        if args.subset not in SUBSET_OPERATIONS:
            raise SystemExit(f"error: unknown subset {args.subset!r}; choose one of {sorted(SUBSET_OPERATIONS)}")
        num = SPLIT_PRESETS[args.split] * len(ops or SUBSET_OPERATIONS[args.subset])
    try:
        cfg = GenerationConfig(subset=args.subset, split=args.split, num=num, seed=args.seed,
                               resolution=args.resolution, renderer=args.renderer, operations=ops,
                               shard_size=args.shard_size, edits_per_scene=args.edits_per_scene,
                               cycles=CyclesSettings(samples=args.cycles_samples))
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    summary = generate(cfg, args.out, workers=args.workers, progress=not args.quiet)
    print(f"{summary.records} records in {summary.out_dir / 'data' / cfg.subset} "
          f"({summary.shards_written} shard(s) written, {summary.shards_skipped} already complete)")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    import itertools

    from gsi_bench.hub_io import iter_records, list_shards
    from gsi_syn.preview import contact_sheet

    if not list_shards(args.dir, args.config, args.split):
        raise SystemExit(f"error: no Parquet shards under {Path(args.dir) / 'data'}"
                         f"{'/' + args.config if args.config else ''}; run `gsi-bench generate syn --out {args.dir}` first")
    records = itertools.islice(iter_records(args.dir, args.config, args.split), args.num)
    sheet = contact_sheet(records, tile=args.tile)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    sheet.save(tmp, format="PNG")
    tmp.replace(out)
    print(f"wrote {out} ({sheet.width}×{sheet.height})")
    return 0


def _cmd_assets(args: argparse.Namespace) -> int:
    from gsi_syn.assets import ensure_robosuite_assets, get_library

    path = ensure_robosuite_assets()
    lib = get_library()
    cats = lib.categories()
    print(f"assets ready: robosuite files in {path}; manifest sha256 {lib.manifest_sha256[:16]}…; "
          f"{len(cats)} object categories")
    if args.list:
        for e in lib.entries():
            print(f"{e.id:32s} {e.category:16s} {e.role:10s} {e.source:14s} {e.license}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsi-bench", description="GSI-Bench: generate, package, validate and score spatial image edits.")
    parser.add_argument("--version", action="version", version=f"gsi-bench {gsi_bench.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate GSI-Syn edit samples into the Hub layout")
    g.add_argument("source", choices=["syn"], help="what to generate (syn = GSI-Syn)")
    g.add_argument("--subset", default="tabletop", help="tabletop (default) or room")
    g.add_argument("--split", default="test", choices=["train", "test"])
    size = g.add_mutually_exclusive_group()
    size.add_argument("--num", type=positive_int, default=40, help="number of edit records (default 40)")
    size.add_argument("--preset", action="store_true",
                      help="the split's preset size: 100 (test) or 1,500 (train) records per operation")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, type=Path, help="output folder (Hub layout)")
    g.add_argument("--resolution", type=positive_int, default=512, help="image width = height (px)")
    g.add_argument("--workers", type=positive_int, default=1)
    g.add_argument("--renderer", default="gl", choices=["gl", "raycast", "cycles"],
                   help="cycles: GL labels + Blender Cycles RGB (needs gsi-bench[cycles])")
    g.add_argument("--cycles-samples", type=positive_int, default=16, help="Cycles paths per pixel (default 16)")
    g.add_argument("--operations", default="", help="comma-separated subset of operations (default: all of the subset's)")
    g.add_argument("--shard-size", type=positive_int, default=200, help="records per Parquet shard")
    g.add_argument("--edits-per-scene", type=positive_int, default=2)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate)

    p = sub.add_parser("preview", help="contact sheet of generated samples (PNG)")
    p.add_argument("dir", type=Path, help="a folder written by `gsi-bench generate`")
    p.add_argument("--out", required=True, type=Path, help="output PNG path")
    p.add_argument("--config", default=None, help="subset folder under data/ (default: all)")
    p.add_argument("--split", default=None)
    p.add_argument("--num", type=positive_int, default=12, help="how many records")
    p.add_argument("--tile", type=positive_int, default=256, help="tile size (px)")
    p.set_defaults(func=_cmd_preview)

    a = sub.add_parser("assets", help="fetch / list the asset library (extracts packaged assets at first use)")
    a.add_argument("--list", action="store_true", help="list every asset with its source and licence")
    a.set_defaults(func=_cmd_assets)

    for module_name in COMMAND_MODULES:
        module = _optional_module(module_name)
        if module is not None:
            module.register(sub)
    return parser


#: Modules that add subcommands: each has ``register(subparsers)`` adding its parsers (with
#: ``set_defaults(func=...)``). Listed here so the command set is explicit.
COMMAND_MODULES = (
    "builders.cli",        # build, install-cache, publish, export-official
    "validation.cli",      # validate
    "validation.evaluator.cli",  # evaluate, baseline
    "gsi_real.cli",        # real ...
)


def _optional_module(name: str):
    """Import a command module; a component that is not installed yet adds no commands."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; complete shards are kept, re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
