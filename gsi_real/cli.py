"""``gsi-bench real ...``: demo captures, the pipeline, its evaluation, review and export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gsi_bench.argtypes import positive_int


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


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
        opts["operations"] = tuple(o.strip() for o in args.operations.split(","))
    if args.labels:
        opts["detector_labels"] = tuple(x.strip() for x in args.labels.split(",") if x.strip())
    try:
        summary = run(args.captures, args.out, device=args.device, **opts)
    except (CaptureError, ValueError, RuntimeError) as err:
        return _fail(str(err))
    except ImportError as err:
        return _fail(f"{err} (model backends need torch + transformers, and diffusers for inpainting)")
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
        return _fail(f"no ground truth under {args.captures} (only demo captures carry gt/)")
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
        return _fail(str(err))
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
    except (FileNotFoundError, ValueError) as err:
        return _fail(str(err))
    # the card and eval.yaml make the folder a complete Hub dataset (publish / validate accept it);
    # the card writer is the builders' (imported here, in the command, not by the library)
    from builders.card import write_card

    written = write_card(args.out, args.repo_id, kind="real")
    print(f"exported {s['accepted']} accepted record(s) to {args.out} "
          f"({s['rejected']} rejected, {s['undecided']} undecided); wrote {', '.join(p.name for p in written)}")
    return 0


def register(subparsers) -> None:
    real = subparsers.add_parser("real", help="GSI-Real: RGB-D captures → verified edit triplets")
    sub = real.add_subparsers(dest="real_command", required=True)

    d = sub.add_parser("demo-captures", help="render demo RGB-D captures (GSI-Syn rooms + depth noise)")
    d.add_argument("--out", required=True, type=Path)
    d.add_argument("--num", type=positive_int, default=3, help="captures (rooms)")
    d.add_argument("--frames", type=positive_int, default=2, help="frames per capture")
    d.add_argument("--width", type=positive_int, default=256)
    d.add_argument("--height", type=positive_int, default=192)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--renderer", default="gl", choices=["gl", "raycast"])
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("run", help="run the pipeline on captures; writes candidate records")
    r.add_argument("captures", type=Path, help="a capture folder (generic or ScanNet++ layout) or a folder of them")
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--split", default="test", choices=["train", "test"])
    r.add_argument("--edits-per-frame", type=positive_int, default=3)
    r.add_argument("--operations", default="", help="comma-separated subset of camera_relative_move, "
                   "object_relative_place, rotate, scale, remove")
    r.add_argument("--inpainter", default="harmonic", help="harmonic (default) or diffusers:<checkpoint id or path>")
    r.add_argument("--inpaint-steps", type=positive_int, default=20, help="denoising steps of a diffusers inpainter")
    r.add_argument("--depth-model", default="", help="transformers metric depth-estimation checkpoint (Hub id or "
                   "folder) that fills frames without depth")
    r.add_argument("--detector", default="", help="transformers zero-shot object detector (Hub id or folder; "
                   "OWL-ViT / OWLv2 / Grounding DINO) that fills frames without instance maps")
    r.add_argument("--labels", default="", help="comma-separated categories for --detector (default: the movable "
                   "categories of the capture's labels.json)")
    r.add_argument("--box-threshold", type=float, default=0.1, help="minimum detector score")
    r.add_argument("--mllm-gate", default="", help="MLLM gate: openai:<model>@<base_url> (OpenAI-compatible endpoint) "
                   "or transformers:<hub id or folder>; verdict + rationale stored per record (default: none)")
    r.add_argument("--device", default=None, help="device of the model backends (default: cuda when available)")
    r.add_argument("--pose-gravity", action="store_true", help="take 'up' from gravity-aligned poses when known")
    r.set_defaults(func=_cmd_run)

    e = sub.add_parser("evaluate", help="measure lifting and filters against demo ground truth")
    e.add_argument("captures", type=Path)
    e.add_argument("--proposals", type=positive_int, default=3, help="raw proposals per operation and frame")
    e.add_argument("--json", default=None, help="write the full report (per object / per candidate) here")
    e.set_defaults(func=_cmd_evaluate)

    v = sub.add_parser("review", help="serve the human review page on 127.0.0.1")
    v.add_argument("dir", type=Path, help="a folder written by `gsi-bench real run`")
    v.add_argument("--port", type=int, default=8765, help="0 = any free port")
    v.add_argument("--decisions", type=Path, default=None, help="decisions JSONL (default DIR/review/decisions.jsonl)")
    v.set_defaults(func=_cmd_review)

    x = sub.add_parser("export", help="write only the accepted records to a new Hub folder")
    x.add_argument("dir", type=Path)
    x.add_argument("--out", required=True, type=Path)
    x.add_argument("--decisions", type=Path, default=None, help="decisions JSONL (default DIR/review/decisions.jsonl)")
    x.add_argument("--repo-id", default="gsi-bench/real", help="repo id named in the card (default: %(default)s)")
    x.set_defaults(func=_cmd_export)
