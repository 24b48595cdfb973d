"""``gsi-bench real ...``: demo captures, the pipeline, its evaluation, review and export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gsi_bench.argtypes import csv_list, int_at_least, positive_int, unit_float
from gsi_bench.cliargs import add_flags, command
from gsi_bench.errors import DataNotFound, InvalidInput


def _cmd_demo(args) -> int:
    from gsi_real.demo import make_demo_captures

    folders = make_demo_captures(args.out, args.num, args.frames, args.width, args.height, args.seed, args.renderer)
    print(f"wrote {len(folders)} demo capture(s) under {args.out}")
    return 0


def _cmd_run(args) -> int:
    from gsi_real.captures import CaptureError
    from gsi_real.pipeline import run

    opts = {"seed": args.seed, "split": args.split, "edits_per_frame": args.edits_per_frame,
            "inpainter": args.inpainter, "inpaint_steps": args.inpaint_steps, "use_pose_gravity": args.pose_gravity,
            "depth_model": args.depth_model, "detector": args.detector, "box_threshold": args.box_threshold,
            "mllm_gate": args.mllm_gate}
    if args.operations:
        opts["operations"] = tuple(args.operations)
    if args.labels:
        opts["detector_labels"] = tuple(args.labels)
    try:
        summary = run(args.captures, args.out, device=args.device, **opts)
    except (CaptureError, ValueError, RuntimeError) as err:
        raise InvalidInput(str(err)) from err
    except ImportError as err:
        raise InvalidInput(f"{err} (model backends need torch + transformers, and diffusers for inpainting)") from err
    print(f"{summary['records']} candidate record(s) from {summary['proposals']} proposals "
          f"({summary['rejected']} rejected by the filters) in {Path(args.out) / 'data' / 'real'}; "
          f"review with `gsi-bench real review {args.out}`")
    if summary.get("mllm_gate"):
        g = summary["mllm_gate"]
        print(f"MLLM gate: {g['asked']} asked, {g['passed']} passed, {g['failed']} failed, "
              f"{g['parse_failed']} unparseable (kept for review)")
    return 0


def _cmd_evaluate(args) -> int:
    from gsi_real.evaluate import filter_report, lifting_report

    lift = lifting_report(args.captures)
    filt = filter_report(args.captures, proposals_per_op=args.proposals)
    if lift["objects"] == 0:
        raise DataNotFound(f"no ground truth under {args.captures} (only demo captures carry gt/)")
    report = {"lifting": {k: v for k, v in lift.items() if k != "rows"},
              "filters": {k: v for k, v in filt.items() if k != "items"}}
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        full = {"lifting": lift, "filters": filt}
        out.write_text(json.dumps(full, indent=1, default=float))
    print(json.dumps(report, indent=1, default=float))
    return 0


def _cmd_review(args) -> int:
    from gsi_real.review import make_server

    try:
        srv = make_server(args.dir, args.port, args.decisions)
    except FileNotFoundError as err:
        raise DataNotFound(str(err)) from err
    host, port = srv.server_address[:2]
    log = args.decisions or Path(args.dir) / "review" / "decisions.jsonl"
    print(f"review page on http://{host}:{port}/ (decisions → {log}); Ctrl-C to stop", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


def _cmd_export(args) -> int:
    from gsi_real.review import export_accepted

    try:
        s = export_accepted(args.dir, args.out, args.decisions)
    except FileNotFoundError as err:
        raise DataNotFound(str(err)) from err
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    # the card and eval.yaml make the folder a complete Hub dataset (publish / validate accept it);
    # the card writer is the builders' (imported here, in the command, not by the library)
    from builders.card import write_card

    written = write_card(args.out, args.repo_id, kind="real")
    print(f"exported {s['accepted']} accepted record(s) to {args.out} "
          f"({s['rejected']} rejected, {s['undecided']} undecided); wrote {', '.join(p.name for p in written)}")
    return 0


def configure(name: str, real: argparse.ArgumentParser) -> None:
    """Add the ``real`` command group (``demo-captures``, ``run``, ``evaluate``, ``review``, ``export``)."""
    assert name == "real", name
    real.description = "GSI-Real: RGB-D captures → lifted 3D objects → filtered, reviewable edit triplets."
    sub = real.add_subparsers(dest="real_command", required=True, metavar="<step>")

    d = command(sub, "demo-captures", "render demo RGB-D captures (GSI-Syn rooms + depth noise)")
    add_flags(d, "out", out={"help": "output folder of capture folders"})
    d.add_argument("--num", type=positive_int, default=3, help="how many captures (rooms)")
    d.add_argument("--frames", type=positive_int, default=2, help="frames per capture")
    d.add_argument("--width", type=int_at_least(64, "px"), default=256, help="frame width (px)")
    d.add_argument("--height", type=int_at_least(64, "px"), default=192, help="frame height (px)")
    add_flags(d, "seed", "renderer")
    d.set_defaults(func=_cmd_demo)

    r = command(sub, "run", "run the pipeline on captures; writes candidate records")
    r.add_argument("captures", type=Path, help="a capture folder (generic or ScanNet++ layout) or a folder of them")
    add_flags(r, "out", "seed", "split", out={"help": "output Hub folder of candidate records"})
    r.add_argument("--edits-per-frame", type=positive_int, default=3, help="edits proposed per frame")
    add_flags(r, "operations", operations={"help": "comma-separated subset of camera_relative_move, "
                                                   "object_relative_place, rotate, scale, remove (default: all)"})
    r.add_argument("--inpainter", default="harmonic", help="harmonic or diffusers:<checkpoint id or path>")
    r.add_argument("--inpaint-steps", type=positive_int, default=20, help="denoising steps of a diffusers inpainter")
    r.add_argument("--depth-model", default="", help="transformers metric depth-estimation checkpoint (Hub id or "
                   "folder) that fills frames without depth (default: none)")
    r.add_argument("--detector", default="", help="transformers zero-shot object detector (Hub id or folder; "
                   "OWL-ViT / OWLv2 / Grounding DINO) that fills frames without instance maps (default: none)")
    r.add_argument("--labels", type=csv_list, default=[], help="comma-separated categories for --detector "
                   "(default: the movable categories of the capture's labels.json)")
    r.add_argument("--box-threshold", type=unit_float, default=0.1, help="minimum detector score (0–1)")
    r.add_argument("--mllm-gate", default="", help="MLLM gate: openai:<model>@<base_url> (OpenAI-compatible endpoint) "
                   "or transformers:<hub id or folder>; verdict + rationale stored per record (default: none)")
    r.add_argument("--device", default=None, help="device of the model backends (default: cuda when available)")
    r.add_argument("--pose-gravity", action="store_true", help="take 'up' from gravity-aligned poses when known")
    r.set_defaults(func=_cmd_run)

    e = command(sub, "evaluate", "measure lifting and filters against demo ground truth")
    e.add_argument("captures", type=Path, help="demo captures (with gt/)")
    e.add_argument("--proposals", type=positive_int, default=3, help="raw proposals per operation and frame")
    e.add_argument("--json", default=None, help="write the full report (per object / per candidate) here")
    e.set_defaults(func=_cmd_evaluate)

    v = command(sub, "review", "serve the human review page on 127.0.0.1")
    v.add_argument("dir", type=Path, help="a folder written by `gsi-bench real run`")
    v.add_argument("--port", type=_port, default=8765, help="TCP port (0 = any free port)")
    v.add_argument("--decisions", type=Path, default=None, help="decisions JSONL (default: DIR/review/decisions.jsonl)")
    v.set_defaults(func=_cmd_review)

    x = command(sub, "export", "write only the accepted records to a new Hub folder (records, card, eval.yaml)")
    x.add_argument("dir", type=Path, help="a folder written by `gsi-bench real run`")
    add_flags(x, "out", out={"help": "output Hub folder"})
    x.add_argument("--decisions", type=Path, default=None, help="decisions JSONL (default: DIR/review/decisions.jsonl)")
    x.add_argument("--repo-id", default="gsi-bench/real", help="repo id named in the card")
    x.set_defaults(func=_cmd_export)


def _port(text: str) -> int:
    value = int_at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port: pass 0 … 65535")
    return value
