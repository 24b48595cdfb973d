"""Typed errors raised by library code; the ``gsi-bench`` dispatcher maps them to exit codes.

Library functions never call ``sys.exit``: they raise one of these, and
:func:`gsi_bench.cli.main` prints ``error: <message>`` (one line naming the value and the fix)
and exits with :attr:`GsiBenchError.exit_code`.

The data classes also derive from the matching built-in (``FileNotFoundError``,
``ValueError``, ``OSError``) so callers that catch the built-in keep working.

>>> issubclass(DataNotFound, FileNotFoundError), DataNotFound.exit_code
(True, 2)
>>> str(InvalidInput("--limit -1: must be ≥ 1"))
'--limit -1: must be ≥ 1'
"""

from __future__ import annotations

import errno

#: Exit codes of every ``gsi-bench`` command (listed in ``gsi-bench --help``).
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "checks failed or the result is partial (validate found problems, files were rejected)",
    2: "bad input: a flag value, data that cannot be found or read, predictions that match nothing",
    3: "a file-system error on a path (permission denied, read-only, not a folder, disk full)",
    130: "interrupted (Ctrl-C); finished work is kept, re-run the same command to resume",
}


class GsiBenchError(Exception):
    """Base class of every error ``gsi-bench`` reports to a person; ``exit_code`` is its status."""

    exit_code: int = 2


class InvalidInput(GsiBenchError, ValueError):
    """A value, file or combination of options cannot be used as given."""


class DataNotFound(GsiBenchError, FileNotFoundError):
    """A dataset folder, Hub id, card or shard set does not exist where it was looked for."""


class NothingScored(InvalidInput):
    """An evaluation matched no prediction to the split (wrong ``--config`` / ``--split`` / folder)."""


class OutputError(GsiBenchError, OSError):
    """A path cannot be written (or read) for a file-system reason; also what
    :func:`from_os_error` turns permission / read-only / disk-full errors into."""

    exit_code = 3


#: errno values that mean "this path cannot be used", not a bug
FILESYSTEM_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                               errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG})


_FIXES = {
    errno.ENOSPC: "the disk is full: free space or choose another --out",
    errno.EDQUOT: "the disk quota is exhausted: free space or choose another --out",
    errno.EROFS: "the file system is read-only: choose a writable --out",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.EISDIR: "it is a folder: pass a file path",
    errno.ENOTDIR: "a part of it is a file, not a folder: pass a folder path",
    errno.EEXIST: "a file is in the way: remove it or choose another path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
}


def describe_os_error(err: OSError, path: object = None) -> str:
    """One line naming ``path`` (default: the error's own file name) and the fix, for the OS
    errors people actually hit."""
    where = path if path is not None else (err.filename or "a path")
    return f"cannot write {where}: {_FIXES.get(err.errno or 0, err.strerror or str(err))}"


def from_os_error(err: OSError) -> OutputError | None:
    """An :class:`OutputError` naming the path and the fix for a file-system ``err``; None for
    other OS errors (those stay tracebacks: they are bugs to report)."""
    if isinstance(err, OutputError):
        return err
    if err.errno not in FILESYSTEM_ERRNOS:
        return None
    return OutputError(describe_os_error(err))


def exit_codes_text() -> str:
    """The exit-code table as shown at the end of ``gsi-bench --help``."""
    return "exit codes:\n" + "\n".join(f"  {code:<4d} {what}" for code, what in EXIT_CODES.items())
