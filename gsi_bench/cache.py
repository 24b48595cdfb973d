"""The one place that says where GSI-Bench keeps what it can rebuild (extracted assets, the cached
Arrow schema): ``$GSI_BENCH_CACHE`` when set, else ``$XDG_CACHE_HOME/gsi-bench``, else
``~/.cache/gsi-bench``. Each user takes a sub-folder of it (``assets/``, ``schema/``); nothing
in it is ever committed or published, and deleting it only costs rebuilding.
"""

from __future__ import annotations

import os
from pathlib import Path

#: environment variable naming the cache root
ENV_CACHE = "GSI_BENCH_CACHE"


def cache_root() -> Path:
    """The cache root (not created): ``$GSI_BENCH_CACHE``, else ``$XDG_CACHE_HOME/gsi-bench``, else
    ``~/.cache/gsi-bench``."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gsi-bench"


def cache_dir(*parts: str) -> Path:
    """A sub-folder of :func:`cache_root` (not created), e.g. ``cache_dir("assets")``."""
    return cache_root().joinpath(*parts)
