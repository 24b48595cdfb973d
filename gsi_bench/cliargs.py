"""The one flag vocabulary of ``gsi-bench``: every flag that names the same thing in several
subcommands is defined once here and added with :func:`add_flags`.

=====================  ==========================================================================
flag                   meaning (in every subcommand that has it)
=====================  ==========================================================================
``--config``           dataset config = subset folder ``data/<config>/`` (tabletop, room, real);
                       a comma list where several make sense (``build syn``, ``install-cache``)
``--split``            dataset split (test, train)
``--per-op N``         records *per operation* to generate (``generate``, ``build syn``, ``demo``)
``--limit N``          use only the first N records of an existing split
``--num N``            how many non-record items to make (``real demo-captures``: captures)
``--operations``       comma list of operations (default: all of the config's)
``--seed``             random seed, 0 … 2**32−1 (same seed → same bytes)
``--workers``          worker processes
``--out``              output folder (or file, where stated)
``--resolution``       image width = height in px
``--renderer``         gl | raycast
``--revision``         a Hub revision (branch, tag or commit)
``--repo-id``          a Hub dataset id ``namespace/name``
``--quiet``            no progress bars
=====================  ==========================================================================

Every parser uses :class:`Parser`: ``--help`` shows defaults, and an error is one line
``gsi-bench <cmd>: error: <what> (see gsi-bench <cmd> --help)`` with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from gsi_bench.argtypes import csv_list, positive_int, resolution_px, seed

RENDERERS = ("gl", "raycast")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: …)`` after each flag's help (except empty ones: None, False, []);
    descriptions and epilogs keep their line breaks and each line is wrapped to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            margin = len(line) - len(line.lstrip())
            lead = indent + " " * margin
            hang = lead + "     " if margin else lead  # indented lines are table rows: hang their wraps
            lines.append(textwrap.fill(line.strip(), width, initial_indent=lead, subsequent_indent=hang)
                         if line.strip() else "")
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default == [] \
                or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage dump) and exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


#: name → (option strings, add_argument keywords). Subcommands override ``help``/``default``/
#: ``required`` per use, never the flag's meaning.
FLAGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "config": (("--config",), {"default": None, "help": "dataset config (subset folder data/<config>/)"}),
    "configs": (("--config",), {"dest": "config", "type": csv_list, "default": None, "metavar": "CONFIG[,CONFIG…]",
                                 "help": "comma-separated dataset configs"}),
    "split": (("--split",), {"default": "test", "help": "dataset split"}),
    "per_op": (("--per-op",), {"type": positive_int, "default": 4, "help": "records per operation"}),
    "limit": (("--limit",), {"type": positive_int, "default": None,
                             "help": "use only the first N records of the split (default: all)"}),
    "operations": (("--operations",), {"type": csv_list, "default": [], "metavar": "OP[,OP…]",
                                       "help": "comma-separated operations (default: all of the config's)"}),
    "seed": (("--seed",), {"type": seed, "default": 0, "help": "random seed (same seed → same bytes)"}),
    "workers": (("--workers",), {"type": positive_int, "default": 1, "help": "worker processes"}),
    "out": (("--out",), {"type": Path, "required": True, "help": "output folder"}),
    "resolution": (("--resolution",), {"type": resolution_px, "default": 512, "help": "image width = height (px, ≥ 64)"}),
    "renderer": (("--renderer",), {"default": "gl", "choices": RENDERERS,
                                   "help": "gl (moderngl, shaded) or raycast (GL-free, flat)"}),
    "revision": (("--revision",), {"default": None, "help": "Hub revision (branch, tag or commit)"}),
    "repo_id": (("--repo-id",), {"default": None, "help": "Hub dataset id namespace/name"}),
    "shard_size": (("--shard-size",), {"type": positive_int, "default": 200, "help": "records per Parquet shard"}),
    "edits_per_scene": (("--edits-per-scene",), {"type": positive_int, "default": 2,
                                                 "help": "edits sampled from each generated scene"}),
    "quiet": (("--quiet",), {"action": "store_true", "help": "no progress bars"}),
}


def add_flags(parser: argparse.ArgumentParser | Any, *names: str, **overrides: dict[str, Any]) -> None:
    """Add the vocabulary flags ``names`` to ``parser`` (a parser or argument group);
    ``overrides[name]`` replaces keywords such as ``help``, ``default`` or ``required``."""
    for name in names:
        strings, kwargs = FLAGS[name]
        if name == "split":  # the schema's splits; imported here, not when --help lists the commands
            from gsi_bench.schema import SPLITS

            kwargs = {**kwargs, "choices": SPLITS}
        parser.add_argument(*strings, **{**kwargs, **overrides.get(name, {})})


class DeprecatedAlias(argparse.Action):
    """An old spelling kept for scripts: stores into the new flag's ``dest`` and warns once."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        print(f"warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_alias(parser: argparse.ArgumentParser | Any, old: str, new: str, dest: str, type: Any = None) -> None:
    """Accept ``old`` as a hidden, warning alias of the flag ``new`` (same ``dest``)."""
    parser.add_argument(old, dest=dest, action=DeprecatedAlias, new=new, type=type, default=argparse.SUPPRESS)


def command(subparsers: Any, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the shared formatter (defaults in ``--help``)."""
    return subparsers.add_parser(name, help=help, description=description or help[:1].upper() + help[1:] + ".",
                                 formatter_class=HelpFormatter)


__all__ = ["FLAGS", "HelpFormatter", "Parser", "add_alias", "add_flags", "command"]
