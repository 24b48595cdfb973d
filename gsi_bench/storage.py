"""Output folders on any filesystem: a local path, ``file://``, ``s3://bucket/prefix``, ``gs://``,
``memory://`` … (anything :mod:`fsspec` opens; pyarrow reads through the same object).

Writes are atomic: the bytes go to a hidden temporary name in the same folder, then are moved onto
the final name, so a reader (or a resumed run) sees a file complete or not at all. On object
stores the move is a server-side copy of a fully uploaded object, which is atomic per object.

>>> store = OutputStore("memory://gsi-doctest/run")
>>> store.write_atomic("data/a.txt", b"hello")
'data/a.txt'
>>> store.read_bytes("data/a.txt"), store.exists("data/b.txt")
(b'hello', False)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem


class OutputStore:
    """A folder (``uri``) on an fsspec filesystem; paths given to methods are relative to it."""

    def __init__(self, uri: str | Path):
        self.uri = str(uri)
        self.fs, self.root = fsspec.core.url_to_fs(self.uri)
        self.root = self.root.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, rel: str) -> str:
        """The filesystem path (no protocol) of ``rel``."""
        return f"{self.root}/{rel}" if rel else self.root

    def url(self, rel: str = "") -> str:
        """``rel`` as a URI readers can open (a plain path for local folders)."""
        path = self.path(rel)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self.path(rel))

    def remove_stale_temps(self, rel_dir: str, pattern: str) -> list[str]:
        """Delete temp files of interrupted writes (``.<pattern>.tmp``) in ``rel_dir``; only while no
        other writer uses that folder (a run's own output, at its start)."""
        found = self.fs.glob(f"{self.path(rel_dir)}/.{pattern}.tmp") if self.exists(rel_dir) else []
        for tmp in found:
            self.fs.rm(tmp)
        return sorted(found)

    def makedirs(self, rel: str = "") -> None:
        self.fs.makedirs(self.path(rel), exist_ok=True)

    def write_atomic(self, rel: str, data: bytes, on_temp_written: Callable[[], None] | None = None) -> str:
        """Write ``data`` to ``rel`` through a temporary name + move; returns ``rel``.
        ``on_temp_written``: called between the temp write and the move (fault-injection tests)."""
        final = self.path(rel)
        parent, name = final.rsplit("/", 1)
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
            if on_temp_written is not None:
                on_temp_written()
            if self.is_local:
                os.chmod(tmp, 0o644)
                os.replace(tmp, final)  # atomic on one filesystem
            else:
                self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        return rel


__all__ = ["OutputStore"]
