"""Read-only, traversal-safe access to the files of a release: a folder, a zip, or a folder of
zips (what ``snapshot_download("GSI-Bench/GSI-Bench")`` gives).

Every file is named by a POSIX path relative to its container; for files inside a zip found in a
folder the name is ``<zip path>!<member>``. Names that could escape the container (absolute
paths, ``..`` parts, backslashes, drive letters), symlinks (in zips) and symlinks pointing
outside the folder are refused and reported, never opened.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Largest single file read from a release (bytes); larger members are refused (zip bombs).
MAX_MEMBER_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Refused:
    """A file that was not read, and why."""

    name: str
    reason: str


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` (a relative POSIX path from an archive) is unsafe, or ``None`` when it is fine.

    >>> unsafe_name_reason("a/b_edit_0.json") is None
    True
    >>> unsafe_name_reason("../b_edit_0.json")
    "path traversal: '..' in the name"
    """
    if not name:
        return "empty name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "path traversal: '..' in the name"
    if "\0" in name:
        return "NUL byte in the name"
    return None


class ReleaseFiles:
    """The readable files of one release container. Use :func:`open_release`."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, object]] = {}  # name → (kind, handle info)
        self.refused: list[Refused] = []
        self._zips: dict[str, zipfile.ZipFile] = {}
        #: name of the opened folder or zip (without .zip): the context for folder-name rules
        self.label = ""

    # -- construction ---------------------------------------------------------------------------
    def _add_zip(self, zip_path: Path, prefix: str) -> None:
        try:
            zf = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as err:
            self.refused.append(Refused(prefix.rstrip("!") or str(zip_path), f"not a readable zip file ({err})"))
            return
        self._zips[str(zip_path)] = zf
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = prefix + info.filename
            reason = unsafe_name_reason(info.filename)
            if reason is None and stat.S_ISLNK(info.external_attr >> 16):
                reason = "symbolic link inside the zip"
            if reason is None and info.file_size > MAX_MEMBER_BYTES:
                reason = f"declares {info.file_size} bytes (> {MAX_MEMBER_BYTES}); refusing a possible zip bomb"
            if reason:
                self.refused.append(Refused(name, reason))
            else:
                self.files[name] = ("zip", (str(zip_path), info.filename))

    def _add_folder(self, root: Path) -> None:
        real_root = root.resolve()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                rel = p.relative_to(root).as_posix()
                if p.is_symlink():
                    try:
                        p.resolve().relative_to(real_root)
                    except ValueError:
                        self.refused.append(Refused(rel, "symbolic link pointing outside the release folder"))
                        continue
                if fn.lower().endswith(".zip"):
                    self._add_zip(p, rel + "!")
                elif fn.startswith("."):
                    continue
                else:
                    self.files[rel] = ("file", str(p))

    # -- access -----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.files)

    def size(self, name: str) -> int:
        kind, where = self.files[name]
        if kind == "file":
            return os.path.getsize(where)
        zip_path, member = where
        return self._zips[zip_path].getinfo(member).file_size

    def read(self, name: str) -> bytes:
        """The bytes of ``name`` (refuses files over :data:`MAX_MEMBER_BYTES`)."""
        if self.size(name) > MAX_MEMBER_BYTES:
            raise ValueError(f"{name}: larger than {MAX_MEMBER_BYTES} bytes")
        kind, where = self.files[name]
        if kind == "file":
            return Path(where).read_bytes()
        zip_path, member = where
        with self._zips[zip_path].open(member) as f:
            data = f.read(MAX_MEMBER_BYTES + 1)
        if len(data) > MAX_MEMBER_BYTES:
            raise ValueError(f"{name}: decompresses to more than {MAX_MEMBER_BYTES} bytes")
        return data

    def close(self) -> None:
        for zf in self._zips.values():
            zf.close()
        self._zips.clear()

    def __enter__(self) -> ReleaseFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def open_release(path: str | Path) -> ReleaseFiles:
    """Open a release folder (zips inside it are opened too) or a single zip."""
    path = Path(path)
    rel = ReleaseFiles()
    rel.label = path.name[:-4] if path.name.lower().endswith(".zip") else path.name
    if path.is_dir():
        rel._add_folder(path)
    elif path.is_file() and zipfile.is_zipfile(path):
        rel._add_zip(path, "")
    elif path.exists():
        raise ValueError(f"{path} is neither a folder nor a zip file: pass the unpacked release folder or its .zip")
    else:
        raise FileNotFoundError(f"{path} does not exist: pass the release folder, a .zip of it, or 'hub'")
    return rel
