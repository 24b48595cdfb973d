"""Safe file writing and reading: the one home for atomic writes, output-path checks and
bounded reads of untrusted files.

* :func:`atomic_write` — a file is either its old content or its complete new content, never
  half-written (temp file in the same folder + ``os.replace``). A path that exists and is not a
  regular file (``/dev/null``, a FIFO, a terminal) is written *in place* — it is never replaced by
  a regular file — and a directory is refused.
* :func:`atomic_write_many` — a *set* of files (a report: ``summary.json``, ``per_sample.jsonl``,
  ``report.html``) all written or none: every temp file is written first, then renamed.
* :func:`remove_stale_temps` — temp files left by a process killed with ``kill -9`` mid-write.
* :func:`check_output_dir` — refuse an output folder that is a file, is not writable, or lies
  inside the data folder, with a message that names the path and the fix.
* :func:`read_regular_file` — read an untrusted file only when it is a regular file under a size
  limit, checked with ``stat`` *before* opening (a FIFO never blocks, a 2 GiB sparse file is
  never read).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", "hello")
PosixPath('...a.txt')
>>> (d / "a.txt").read_text()
'hello'
>>> sorted(p.name for p in d.iterdir())
['a.txt']
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from gsi_bench.errors import OutputError, describe_os_error

__all__ = [
    "UnreadableFile", "atomic_write", "atomic_write_many", "remove_stale_temps",
    "check_output_dir", "read_regular_file", "TEMP_SUFFIX", "failpoint",
]

#: Environment variable naming a fail point at which the process kills itself (``SIGKILL``):
#: the fault-injection tests use it to crash a run at an exact phase of a shard commit.
FAILPOINT_ENV = "GSI_BENCH_FAILPOINT"


def failpoint(name: str) -> None:
    """Kill this process with ``SIGKILL`` when ``$GSI_BENCH_FAILPOINT == name`` (tests only;
    a no-op otherwise). Names in use: ``shard-temp-written``, ``shard-renamed``,
    ``checksums-updated``."""
    if os.environ.get(FAILPOINT_ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)

#: Every temp file of an atomic write is ``.<name>.<random>.tmp`` in the target's folder.
TEMP_SUFFIX = ".tmp"


class UnreadableFile(OSError):
    """An input file is not a regular file or is over the size limit."""


def _write_in_place(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _temp_for(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _classify(path: Path) -> str:
    """``"missing"``, ``"regular"``, ``"dir"`` or ``"special"`` (device, FIFO, socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISDIR(mode):
        return "dir"
    return "special"


def atomic_write(path: str | Path, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` (``str`` is UTF-8 encoded) to ``path`` atomically and return the path.

    Parent folders are created. A special file (``/dev/null``, FIFO) is written in place; a
    folder raises :class:`gsi_bench.errors.OutputError`. On any failure the temp file is removed and the old
    content stays.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        kind = _classify(path)
        if kind == "dir":
            raise OutputError(f"cannot write {path}: it is a folder; give a file path")
        if kind == "special":
            _write_in_place(path, payload)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_for(path)
        try:
            tmp.write_bytes(payload)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(describe_os_error(err, path)) from err
    return path


def atomic_write_many(files: Mapping[str | Path, bytes | str], *, mode: int = 0o644) -> list[Path]:
    """Write a set of files so that either all are new or none changed (up to the final renames,
    which cannot fail for space). Temp files are removed on failure."""
    staged: list[tuple[Path, Path | None, bytes]] = []
    try:
        for p, data in files.items():
            path = Path(p)
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            kind = _classify(path)
            if kind == "dir":
                raise OutputError(f"cannot write {path}: it is a folder; give a file path")
            if kind == "special":
                staged.append((path, None, payload))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_for(path)
            staged.append((path, tmp, payload))
            tmp.write_bytes(payload)
            os.chmod(tmp, mode)
        for path, tmp, payload in staged:
            if tmp is None:
                _write_in_place(path, payload)
            else:
                os.replace(tmp, path)
    except OutputError:
        _cleanup(staged)
        raise
    except BaseException as err:
        _cleanup(staged)
        if isinstance(err, OSError):
            where = next((p for p, t, _ in staged if t is not None and not t.exists()), None) or \
                (staged[-1][0] if staged else Path("."))
            raise OutputError(describe_os_error(err, where)) from err
        raise
    return [p for p, _, _ in staged]


def _cleanup(staged: Iterable[tuple[Path, Path | None, bytes]]) -> None:
    for _, tmp, _ in staged:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def remove_stale_temps(folder: str | Path, pattern: str = "*") -> list[Path]:
    """Delete temp files of interrupted atomic writes (``.<pattern>.*.tmp`` and the older
    ``.<name>.tmp``) directly in ``folder``; returns what was removed. Only call this while no
    other writer uses the folder (a run's own output at its start)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.glob(f".{pattern}{TEMP_SUFFIX}"):
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return sorted(removed)


def check_output_dir(out: str | Path, *, data_dir: str | Path | None = None) -> Path:
    """Return ``out`` as a folder that can be written, creating it; raise
    :class:`gsi_bench.errors.OutputError` (one line with the path and the fix) when it is a file, cannot be
    created or written, or lies inside ``data_dir`` (reports inside a dataset would be shipped
    with it)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder: choose a folder path")
    if data_dir is not None:
        data = Path(data_dir).resolve()
        res = out.resolve()
        if res == data or data in res.parents:
            raise OutputError(f"--out {out} is inside the data folder {data_dir}: "
                                                "choose a folder outside it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = _temp_for(out / "probe")
        probe.unlink()
    except OSError as err:
        raise OutputError(describe_os_error(err, out)) from err
    return out


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """Read ``path`` only when it is a regular file of at most ``max_bytes`` bytes.

    The type and size are checked with ``os.stat`` before the file is opened, and the file is
    opened with ``O_NONBLOCK`` so that a FIFO swapped in between cannot block; reading stops at
    ``max_bytes + 1`` bytes. Raises :class:`UnreadableFile` naming the path.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as err:
        raise UnreadableFile(err.errno, f"{path}: {err.strerror}") from err
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(errno.EINVAL, f"{path}: not a regular file")
    if st.st_size > max_bytes:
        raise UnreadableFile(errno.EFBIG, f"{path}: {st.st_size} bytes is over the {max_bytes}-byte limit")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableFile(errno.EINVAL, f"{path}: not a regular file")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise UnreadableFile(errno.EFBIG, f"{path}: over the {max_bytes}-byte limit")
    return data
