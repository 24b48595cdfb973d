"""``gsi-bench generate | preview | assets``: the GSI-Syn generator's commands.

Configured by :mod:`gsi_bench.cli` at dispatch (see :func:`configure`); handlers raise
:mod:`gsi_bench.errors` types, which the dispatcher turns into exit codes.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from gsi_bench.argtypes import int_at_least, positive_int
from gsi_bench.engine import add_engine_arguments, engine_from_args
from gsi_bench.cliargs import add_alias, add_flags
from gsi_bench.errors import DataNotFound, InvalidInput


def _subsets() -> tuple[str, ...]:
    from gsi_syn.sampler import SUBSET_OPERATIONS

    return tuple(SUBSET_OPERATIONS)


# -- generate --------------------------------------------------------------------------------------
def _add_generate(p: argparse.ArgumentParser) -> None:
    p.description = ("Generate GSI-Syn edit records (source/target images, masks, depth, scene and labels) "
                     "into Parquet shards data/<config>/<split>-NNNNN-of-MMMMM.parquet. Resumable: re-run "
                     "the same command to finish an interrupted run.")
    p.add_argument("source", choices=["syn"], help="what to generate (syn = GSI-Syn)")
    add_flags(p, "config", config={"default": "tabletop", "help": f"scene family: {' or '.join(_subsets())}"})
    add_alias(p, "--subset", "--config", "config")
    add_flags(p, "split")
    size = p.add_mutually_exclusive_group()
    add_flags(size, "per_op", per_op={"help": "records per operation (total = N × operations)"})
    size.add_argument("--preset", action="store_true",
                      help="the split's preset size per operation: 100 (test) or 1,500 (train)")
    add_flags(p, "seed", "out", "resolution", "workers", "renderer", "operations", "shard_size",
              "edits_per_scene", "quiet",
              out={"type": str, "help": "output folder (Hub layout): a path or an fsspec URI (s3://bucket/prefix)"},
              renderer={"choices": ["gl", "raycast", "cycles"],
                        "help": "gl: fast GL (anti-aliased PBR photos); raycast: GL-free; cycles: GL labels + "
                                "Blender Cycles photos (needs gsi-bench[cycles])"})
    p.add_argument("--cycles-samples", type=positive_int, default=16, help="Cycles paths per pixel")
    add_engine_arguments(p)
    p.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    from gsi_syn.pipeline import generate
    from gsi_syn.render.cycles import CyclesSettings
    from gsi_syn.sampler import SPLIT_PRESETS, SUBSET_OPERATIONS, GenerationConfig

    if args.config not in SUBSET_OPERATIONS:
        raise InvalidInput(f"--config {args.config!r} is not a GSI-Syn config; pass one of {', '.join(SUBSET_OPERATIONS)}")
    ops = tuple(args.operations)
    unknown = [o for o in ops if o not in SUBSET_OPERATIONS[args.config]]
    if unknown:
        raise InvalidInput(f"--operations {','.join(unknown)}: not generated for {args.config}; pass some of "
                           f"{','.join(SUBSET_OPERATIONS[args.config])}")
    per_op = SPLIT_PRESETS[args.split] if args.preset else args.per_op
    num = per_op * len(ops or SUBSET_OPERATIONS[args.config])
    try:
        cfg = GenerationConfig(subset=args.config, split=args.split, num=num, seed=args.seed,
                               resolution=args.resolution, renderer=args.renderer, operations=ops,
                               shard_size=args.shard_size, edits_per_scene=args.edits_per_scene,
                               cycles=CyclesSettings(samples=args.cycles_samples))
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    with engine_from_args(args) as engine:
        summary = generate(cfg, args.out, workers=args.workers, progress=not args.quiet, engine=engine)
    print(f"{summary.records} records in {summary.out_dir}/data/{cfg.subset} "
          f"({summary.shards_written} shard(s) written, {summary.shards_skipped} already complete; "
          f"{summary.records_per_s:.2f} edits/s)")
    return 0


# -- preview ---------------------------------------------------------------------------------------
def _add_preview(p: argparse.ArgumentParser) -> None:
    p.description = ("Contact sheet (PNG) of records: source | target | masks | instruction per row; with "
                     "--compare, the records' scenes re-rendered by two renderers side by side.")
    p.add_argument("data", help="dataset folder (Hub layout) or Hub dataset id namespace/name[@revision]")
    add_flags(p, "out", "config", "split", "limit",
              out={"help": "output PNG path"},
              config={"help": "dataset config (subset folder data/<config>/; default: all)"},
              split={"default": None, "help": "dataset split (default: all)"},
              limit={"default": 12, "help": "show the first N records"})
    add_alias(p, "--num", "--limit", "limit", type=positive_int)
    p.add_argument("--tile", type=int_at_least(32, "px"), default=256, help="tile size (px)")
    p.add_argument("--compare", action="store_true",
                   help="re-render each record's source and target scene with two renderers side by side: "
                        "GL photo vs Blender Cycles (GL photo vs GL fast shading when bpy is not installed), "
                        "at --tile px")
    p.add_argument("--cycles-samples", type=positive_int, default=8,
                   help="Cycles paths per pixel for --compare (low: a preview)")
    p.set_defaults(func=_cmd_preview)


def _cmd_preview(args: argparse.Namespace) -> int:
    from gsi_bench.datasource import resolve_dataset
    from gsi_bench.hub_io import iter_records, list_shards
    from gsi_syn.preview import comparison_sheet, contact_sheet

    root = resolve_dataset(args.data, args.config, args.split).root
    if not list_shards(root, args.config, args.split):
        raise DataNotFound(f"no Parquet shards under {root / 'data'}{'/' + args.config if args.config else ''}"
                           f"{' for split ' + args.split if args.split else ''}; run "
                           f"`gsi-bench generate syn --out {args.data}` first")
    records = itertools.islice(iter_records(root, args.config, args.split), args.limit)
    if args.compare:
        sheet = comparison_sheet(records, tile=args.tile, cycles_samples=args.cycles_samples)
    else:
        sheet = contact_sheet(records, tile=args.tile)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    sheet.save(tmp, format="PNG")
    tmp.replace(out)
    print(f"wrote {out} ({sheet.width}×{sheet.height})")
    return 0


# -- assets ----------------------------------------------------------------------------------------
def _add_assets(p: argparse.ArgumentParser) -> None:
    p.description = ("Prepare the versioned asset library (extracts the packaged robosuite meshes and "
                     "textures into the cache at first use) and optionally list it: the core assets and "
                     "the Sweet Home 3D models scenes draw from.")
    p.add_argument("--list", action="store_true",
                   help="list every asset (core and Sweet Home 3D) with its role, source and licence")
    p.set_defaults(func=_cmd_assets)


def _cmd_assets(args: argparse.Namespace) -> int:
    from gsi_syn.assets import ensure_robosuite_assets, get_library

    path = ensure_robosuite_assets()
    lib = get_library()
    core, sh3d = lib.entries(), lib.entries(source="sweethome3d")
    pool = [e for e in core + sh3d if e.scenes]  # what scenes draw from (the rest: unused models)
    print(f"assets ready: robosuite files in {path}; pool sha256 {lib.pool_sha256[:16]}… "
          f"(core manifest {lib.manifest_sha256[:16]}…)")
    print(f"scene pool: {len(pool)} models ({sum(e.source != 'sweethome3d' for e in pool)} core, "
          f"{sum(e.source == 'sweethome3d' for e in pool)} Sweet Home 3D, extracted on first use), "
          f"{len({e.category for e in pool})} categories; {len(sh3d)} Sweet Home 3D models catalogued")
    if args.list:
        for e in core + sh3d:
            print(f"{e.id:40s} {e.category:24s} {e.role:10s} {e.source:14s} {e.license}")
    return 0


_CONFIGURE = {"generate": _add_generate, "preview": _add_preview, "assets": _add_assets}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the flags of subcommand ``name`` (one of :data:`_CONFIGURE`) to ``parser``."""
    _CONFIGURE[name](parser)
