"""Canonical JSON and SHA-256 digests: the one definition every GSI-Bench component uses.

*Canonical JSON* is ``json.dumps`` with sorted keys and no insignificant whitespace
(``(",", ":")`` separators), so equal values give equal strings and equal digests. It names
configs (``config_sha256``), scene specs, thresholds and shard metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["canonical_json", "file_sha256", "bytes_sha256"]

_CHUNK = 1 << 20


def canonical_json(obj: Any, *, ensure_ascii: bool = True, allow_nan: bool = True) -> str:
    """Sorted-keys, compact JSON of ``obj`` (``ensure_ascii`` / ``allow_nan`` as in ``json.dumps``).

    >>> canonical_json({"b": 1, "a": [1.5, "x"]})
    '{"a":[1.5,"x"],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=allow_nan)


def file_sha256(path: str | Path, chunk: int = _CHUNK) -> str:
    """Hex SHA-256 of a file's bytes (read in ``chunk``-byte blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> bytes_sha256(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()
