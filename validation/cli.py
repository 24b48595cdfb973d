"""``gsi-bench validate DATA``: integrity checks and the 3D-consistency re-run.

Exit status: 0 when every check holds, 1 when any fails, 2 when the input cannot be opened,
3 when the report cannot be written (the message names the path and the fix).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gsi_bench.argtypes import non_negative_int
from gsi_bench.cliargs import add_flags


def configure(name: str, v: argparse.ArgumentParser) -> None:
    """Add the flags of ``validate`` (the only command of this module) to ``v``."""
    assert name == "validate", name
    v.description = ("Validate a GSI-Bench dataset folder (Hub layout) or a Hub id from the local cache: "
                     "manifest, checksums, schema, split hygiene, 3D consistency. Writes a JSON report and "
                     "prints a summary; exit 0 only when everything holds, 1 when a check fails.")
    v.add_argument("data", help="dataset folder, or a Hub dataset id such as gsi-bench/syn[@revision]")
    add_flags(v, "out", "workers", out={"type": Path, "required": False, "default": Path("validation.json"),
                                        "help": "report path (JSON)"},
              workers={"help": "processes for the 3D re-run"})
    v.add_argument("--sample", type=non_negative_int, default=0,
                   help="re-run 3D consistency on K records chosen deterministically (0 = all)")
    v.add_argument("--integrity-only", action="store_true", help="skip the 3D-consistency re-run")
    v.add_argument("--skip-decode", action="store_true",
                   help="verify each PNG's structure (CRCs) but do not decode the images or compare source "
                        "and target over static regions (faster; misses images swapped between records)")
    add_flags(v, "renderer", renderer={"default": "raycast",
                                       "help": "raycast: GL-free re-render on a pixel subsample; gl: full "
                                               "resolution (exact; also compares RGB)"})
    v.add_argument("--stride", type=non_negative_int, default=0,
                   help="raycast: compare every N-th pixel in each direction (0 = about 128 across)")
    v.add_argument("--no-physics", action="store_true", help="do not re-simulate the settle drift of placements")
    add_flags(v, "quiet", quiet={"help": "print only the verdict line"})
    v.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from validation.consistency import Options
    from validation.runner import RunConfig, validate

    from gsi_bench.errors import InvalidInput

    out, src = Path(args.out), Path(args.data)
    if src.is_dir() and src.resolve() in out.resolve().parents:
        raise InvalidInput(f"--out {out} is inside the dataset folder {src}: the report would be shipped with "
                           "the data; write it elsewhere")
    cfg = RunConfig(sample=args.sample, workers=args.workers, integrity_only=args.integrity_only,
                    decode_images=not args.skip_decode,
                    options=Options(renderer=args.renderer, stride=args.stride, physics=not args.no_physics))
    report = validate(args.data, cfg)  # DataNotFound (exit 2) when the input cannot be opened
    path = report.write_json(args.out)  # OutputError (exit 3) when the report cannot be written
    text = report.summary()
    print(text.splitlines()[0] if args.quiet else text)
    info = report.info
    print(f"{info['records']} records ({info['records_rerun']} re-run in 3D) in {info['seconds']:.1f} s; "
          f"report: {path}")
    return 0 if report.passed else 1
