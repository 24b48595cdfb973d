"""Scoring protocols, one module each, registered by name.

``default`` (:mod:`.default`): analysis-by-synthesis, IC/SA/EL/AC. The official protocol
(currently :mod:`validation.evaluator.official`) and protocols for other record kinds (e.g. a
GSI-Real default-protocol scorer) register here too: :data:`RECORD_SCORERS` maps
``(protocol, subset)`` to a scorer, ``subset`` ``"*"`` meaning any.
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
