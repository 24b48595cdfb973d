"""Scoring protocols, one module each, registered by name.

``default`` (:mod:`.default`): analysis-by-synthesis, IC/SA/EL/AC, one scorer per operation;
``official`` (:mod:`.official`): the paper's evaluator; GSI-Real pipeline records
(:mod:`.real_default`) and records converted from the paper's release (:mod:`.release_default`)
have their own default-protocol scorers. :data:`RECORD_SCORERS` maps ``(protocol, subset)`` to a
scorer, ``subset`` ``"*"`` meaning any.
"""

from __future__ import annotations

from typing import Callable

#: (protocol, subset) → ``score(record, pred, synth) -> dict``; subset ``"*"`` matches any subset.
RECORD_SCORERS: dict[tuple[str, str], Callable] = {}


def register(protocol: str, subset: str = "*"):
    """Decorator registering a record scorer for ``protocol`` (and ``subset``)."""
    def deco(fn: Callable) -> Callable:
        RECORD_SCORERS[(protocol, subset)] = fn
        return fn
    return deco


def scorer_for(protocol: str, subset: str) -> Callable:
    """The scorer registered for ``(protocol, subset)``, else ``(protocol, "*")``."""
    from validation.evaluator.protocols import default  # noqa: F401 - registers itself

    fn = RECORD_SCORERS.get((protocol, subset)) or RECORD_SCORERS.get((protocol, "*"))
    if fn is None:
        raise ValueError(f"no {protocol!r} scorer registered for subset {subset!r}")
    return fn
