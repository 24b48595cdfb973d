"""``gsi-bench validate DIR|HUB_ID``: integrity checks and the 3D-consistency re-run.

Exit status: 0 when every check holds, 1 when any fails, 2 when the input cannot be opened,
3 when the report cannot be written (the message names the path and the fix).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsi_bench.argtypes import non_negative_int, positive_int


def register(subparsers) -> None:
    """Add the ``validate`` subcommand to the ``gsi-bench`` parser."""
    v = subparsers.add_parser(
        "validate", help="check a dataset: manifest, checksums, schema, split hygiene, 3D consistency",
        description="Validate a GSI-Bench dataset folder (Hub layout) or a Hub id from the local cache. "
                    "Writes validation.json and prints a summary; exit 0 only when everything holds.")
    v.add_argument("source", help="dataset folder, or a Hub dataset id such as gsi-bench/syn")
    v.add_argument("--out", type=Path, default=Path("validation.json"), help="report path (default ./validation.json)")
    v.add_argument("--sample", type=non_negative_int, default=0,
                   help="re-run 3D consistency on K records chosen deterministically (default 0 = all)")
    v.add_argument("--workers", type=positive_int, default=1, help="processes for the 3D re-run")
    v.add_argument("--integrity-only", action="store_true", help="skip the 3D-consistency re-run")
    v.add_argument("--skip-decode", action="store_true",
                   help="verify each PNG's structure (CRCs) but do not decode the images or compare source "
                        "and target over static regions (faster; misses images swapped between records)")
    v.add_argument("--renderer", choices=["raycast", "gl"], default="raycast",
                   help="re-render with the GL-free raycast backend on a pixel subsample (default) or "
                        "with GL at full resolution (exact; also compares RGB)")
    v.add_argument("--stride", type=non_negative_int, default=0,
                   help="raycast: compare every N-th pixel in each direction (default 0 = about 128 across)")
    v.add_argument("--no-physics", action="store_true", help="do not re-simulate the settle drift of placements")
    v.add_argument("--quiet", action="store_true", help="print only the verdict line")
    v.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from validation.consistency import Options
    from validation.layout import InputError
    from validation.runner import RunConfig, validate

    from gsi_bench.fileio import OutputPathError

    out = Path(args.out)
    src = Path(args.source)
    if src.is_dir() and (src.resolve() == out.resolve().parent or src.resolve() in out.resolve().parents):
        print(f"error: --out {out} is inside the dataset folder {src}: the report would be shipped with the data; "
              "write it elsewhere", file=sys.stderr)
        return 2
    cfg = RunConfig(sample=args.sample, workers=args.workers, integrity_only=args.integrity_only,
                    decode_images=not args.skip_decode,
                    options=Options(renderer=args.renderer, stride=args.stride, physics=not args.no_physics))
    try:
        report = validate(args.source, cfg)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        path = report.write_json(args.out)
    except OutputPathError as err:
        print(f"error: {err.strerror or err}", file=sys.stderr)
        return 3
    text = report.summary()
    print(text.splitlines()[0] if args.quiet else text)
    info = report.info
    print(f"{info['records']} records ({info['records_rerun']} re-run in 3D) in {info['seconds']:.1f} s; "
          f"report: {path}")
    return 0 if report.passed else 1
