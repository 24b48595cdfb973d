"""The ``gsi-bench`` command line: a dispatcher over the packages' own command modules.

Each package owns its commands (``gsi_syn.cli``, ``builders.cli``, ``validation.cli``,
``validation.evaluator.cli``, ``gsi_real.cli``); :data:`COMMANDS` names them explicitly and the
module of the chosen command is imported only when that command runs, so ``gsi-bench --help`` is
instant and the core imports none of the other packages at import time.

Handlers raise :class:`gsi_bench.errors.GsiBenchError` subclasses; :func:`main` prints
``error: <message>`` and returns the error's exit code (:data:`gsi_bench.errors.EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType

import gsi_bench
from gsi_bench.cliargs import HelpFormatter, Parser
from gsi_bench.errors import GsiBenchError, exit_codes_text, from_os_error


def _syn() -> ModuleType:
    from gsi_syn import cli

    return cli


def _builders() -> ModuleType:
    from builders import cli

    return cli


def _validation() -> ModuleType:
    from validation import cli

    return cli


def _evaluator() -> ModuleType:
    from validation.evaluator import cli

    return cli


def _results() -> ModuleType:
    from validation.evaluator import results_cli

    return results_cli


def _real() -> ModuleType:
    from gsi_real import cli

    return cli


#: subcommand → (one-line help, loader of the module whose ``configure(name, parser)`` adds its flags)
COMMANDS: dict[str, tuple[str, Callable[[], ModuleType]]] = {
    "generate": ("generate GSI-Syn edit records into the Hub layout", _syn),
    "preview": ("contact sheet (PNG) of records", _syn),
    "assets": ("prepare / list the asset library", _syn),
    "build": ("write a Hub folder: GSI-Syn (generated) or GSI-Real (converted)", _builders),
    "install-cache": ("place a built folder in the HF cache (offline load_dataset by repo id)", _builders),
    "publish": ("upload a built folder to the Hub (create repo, upload, tag)", _builders),
    "export-official": ("write records in the paper's flat evaluation layout", _builders),
    "export": ("training-ready exports of a split (export train --format diffusers|webdataset|jsonl)", _builders),
    "train": ("LoRA fine-tuning of a diffusers editing pipeline on a split", _builders),
    "demo": ("the main job: generate both configs, validate, run baselines, score, leaderboard", _builders),
    "validate": ("check a dataset: manifest, checksums, schema, split hygiene, 3D consistency", _validation),
    "evaluate": ("score predictions (IC / SA / EL / AC) and write reports", _evaluator),
    "baseline": ("run a baseline editor over a split, writing <id>.png predictions", _evaluator),
    "leaderboard": ("combine evaluation reports into one table + HTML", _evaluator),
    "results": ("turn summary.json into Hub .eval_results/*.yaml (write or push)", _results),
    "scorer-check": ("scorer validity suite: known-correct and known-wrong predictions × nuisances", _evaluator),
    "real": ("GSI-Real: RGB-D captures → verified edit triplets", _real),
}


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first non-option word), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; only the subcommand named in ``argv`` is configured (all when None)."""
    parser = Parser(prog="gsi-bench", formatter_class=HelpFormatter, epilog=exit_codes_text(),
                    description="GSI-Bench: generate, package, validate and score spatial image edits.\n"
                                "Run `gsi-bench <command> --help` for a command's flags and defaults.")
    parser.add_argument("--version", action="version", version=f"gsi-bench {gsi_bench.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    chosen = None if argv is None else _chosen(argv)
    for name, (help_text, load) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".",
                           formatter_class=HelpFormatter, epilog=exit_codes_text())
        if argv is None or name == chosen:
            load().configure(name, p)
    return parser


#: Commands that write shards and resume where an interrupted run stopped.
RESUMABLE_COMMANDS = frozenset({"generate", "build", "demo"})


def interrupt_message(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves behind, for the command that was interrupted."""
    if getattr(args, "command", None) in RESUMABLE_COMMANDS:
        return "interrupted; complete shards are kept, re-run the same command to resume"
    return "interrupted; nothing was half-written (outputs are written whole or not at all)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GsiBenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # `gsi-bench … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except OSError as err:
        mapped = from_os_error(err)
        if mapped is None:
            raise
        print(f"error: {mapped}", file=sys.stderr)
        return mapped.exit_code
    except KeyboardInterrupt:
        print(interrupt_message(args), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
