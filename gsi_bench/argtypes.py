"""argparse value types shared by every ``gsi-bench`` subcommand.

Each raises :class:`argparse.ArgumentTypeError` with a message naming the value and the fix, so
a bad value exits 2 with one line such as
``gsi-bench evaluate: error: argument --limit: -1 is not allowed: pass a whole number ≥ 1``.

>>> positive_int("3"), non_negative_int("0"), seed("7"), csv_list(" a, b,,c ")
(3, 0, 7, ['a', 'b', 'c'])
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 0 is not allowed: pass a whole number ≥ 1
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

#: Seeds feed ``numpy.random.SeedSequence`` and libraries that need 32-bit seeds.
MAX_SEED = 2**32 - 1


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number: pass digits such as 4") from None


def int_at_least(minimum: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type accepting integers ≥ ``minimum`` (``unit`` is named in the message)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        value = _whole(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not allowed: pass a whole number ≥ {minimum}{suffix}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


positive_int = int_at_least(1)
positive_int.__doc__ = "An integer ≥ 1 (argparse ``type=``)."
non_negative_int = int_at_least(0)
non_negative_int.__doc__ = "An integer ≥ 0 (argparse ``type=``)."
#: image sizes: smaller renders carry too little to label or score
resolution_px = int_at_least(64, "px")


def seed(text: str) -> int:
    """A random seed: an integer in [0, 2**32 − 1]."""
    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is not a valid seed: pass a whole number from 0 to {MAX_SEED}")
    return value


def positive_float(text: str) -> float:
    """A float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: pass one such as 0.5") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: pass a number > 0")
    return value


def unit_float(text: str) -> float:
    """A float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: pass one such as 0.5") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: pass a number from 0 to 1")
    return value


def csv_list(text: str) -> list[str]:
    """A comma-separated list (blanks dropped)."""
    return [t.strip() for t in text.split(",") if t.strip()]
