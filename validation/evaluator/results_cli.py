"""``gsi-bench results write|push``: a run's ``summary.json`` → the Hub's ``.eval_results/*.yaml``
(registered by :mod:`gsi_bench.cli`; implementation in :mod:`validation.evaluator.hub_results`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gsi_bench.errors import InvalidInput


def _files(args: argparse.Namespace) -> dict:
    from validation.evaluator.hub_results import eval_results_files

    path = args.summary / "summary.json" if args.summary.is_dir() else args.summary
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (pass a report folder written by `gsi-bench evaluate` "
                         "or its summary.json)") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    return eval_results_files(summary, dataset_id=args.dataset_id, date=args.date, source_url=args.source_url,
                              source_name=args.source_name, user=args.user)


def _cmd_write(args: argparse.Namespace) -> int:
    from validation.evaluator.hub_results import write_eval_results

    try:
        paths = write_eval_results(_files(args), args.out)
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    for p in paths:
        print(f"wrote {p}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from validation.evaluator.hub_results import dump, push_eval_results

    try:
        files = _files(args)
        plan = push_eval_results(files, args.model, create_pr=not args.direct, dry_run=args.dry_run)
    except ValueError as err:
        raise InvalidInput(str(err)) from err
    if args.dry_run:
        for name, entries in files.items():
            print(f"# {args.model}: .eval_results/{name} (dry run, nothing uploaded)\n{dump(entries)}")
    else:
        print(f"pushed {', '.join(plan['paths'])} to {args.model}: {plan['commit_url']}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("summary", type=Path, help="report folder of `gsi-bench evaluate` (or its summary.json)")
    p.add_argument("--dataset-id", default=None,
                   help="benchmark dataset on the Hub (default: the Hub id the run was scored on)")
    p.add_argument("--date", default=None, help="ISO-8601 date of the evaluation (default: the commit time)")
    p.add_argument("--source-url", default=None, help="link to the run's reports / traces")
    p.add_argument("--source-name", default=None, help="name shown for --source-url")
    p.add_argument("--user", default=None, help="Hub user or org credited with the result")


def configure(name: str, r: argparse.ArgumentParser) -> None:
    """Add the ``results`` command group (``write``, ``push``)."""
    assert name == "results", name
    r.description = "Turn an evaluation's summary.json into the Hub's model-side .eval_results/*.yaml."
    sub = r.add_subparsers(dest="results_command", required=True, metavar="<action>")
    w = sub.add_parser("write", help="write <out>/.eval_results/*.yaml", formatter_class=r.formatter_class)
    _common(w)
    w.add_argument("--out", type=Path, default=Path("."), help="model repo folder")
    w.set_defaults(func=_cmd_write)
    p = sub.add_parser("push", help="upload .eval_results/*.yaml to a model repo (a pull request by default)",
                       formatter_class=r.formatter_class)
    _common(p)
    p.add_argument("--model", required=True, help="model repo id namespace/name")
    p.add_argument("--direct", action="store_true", help="commit to main instead of opening a pull request")
    p.add_argument("--dry-run", action="store_true", help="print the files; no network")
    p.set_defaults(func=_cmd_push)
