"""Resolve ``--data``: a Hub-layout folder, or a Hub dataset id (``namespace/name`` or
``namespace/name@revision``) fetched with :func:`huggingface_hub.snapshot_download`.

* A local path that exists wins over a Hub id of the same spelling.
* ``HF_HUB_OFFLINE=1`` (read when called, not at import) resolves from the local Hub cache only
  (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default); a snapshot placed there
  by ``gsi-bench install-cache`` or an earlier download works without network.
* Online, only the files the evaluation needs are downloaded: the shards of the chosen config and
  split, the card, ``eval.yaml`` and the checksum manifest.
* Anything unusable raises :class:`FileNotFoundError` naming the spec (the CLI prints it and exits 2).

Resolutions are cached per process, so the evaluator and its report resolve a Hub id once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: ``namespace/name`` with an optional ``@revision`` (branch, tag or commit)
REPO_ID_RE = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<rev>[\w./-]+))?")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class DataSource:
    spec: str
    root: Path
    repo_id: str | None = None
    revision: str | None = None  # the snapshot's commit id for Hub datasets

    def describe(self) -> dict:
        """Fields for ``summary.json``; empty for a local folder (keeps folder reports unchanged)."""
        if self.repo_id is None:
            return {}
        return {"hub": {"repo_id": self.repo_id, "commit": self.revision}}


def is_offline() -> bool:
    if any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover
        return False


def hub_cache_dir() -> str | None:
    """The hub cache named by the environment now (None: huggingface_hub's own default)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return str(Path(os.environ[var]).expanduser())
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    return None


def resolve_dataset(spec: str | os.PathLike, config: str | None = None, split: str | None = None) -> DataSource:
    """A :class:`DataSource` for a folder or a Hub dataset id (see module doc)."""
    key = (str(spec), config, split, is_offline(), hub_cache_dir())
    source = _resolve(*key)
    if not source.root.is_dir():  # the cache changed under us (e.g. a snapshot was removed)
        _resolve.cache_clear()
        source = _resolve(*key)
    return source


@lru_cache(maxsize=32)
def _resolve(spec: str, config: str | None, split: str | None, offline: bool, cache_dir: str | None) -> DataSource:
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise FileNotFoundError(f"--data {spec}: not a folder (pass a Hub-layout dataset folder or a Hub id)")
        return DataSource(spec, path)
    m = REPO_ID_RE.fullmatch(spec)
    if m is None or spec.startswith((".", "/", "~")):
        raise FileNotFoundError(f"--data {spec!r}: no such folder, and not a Hub dataset id like 'gsi-bench/syn'")
    repo_id, revision = m.group("repo"), m.group("rev")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise FileNotFoundError(f"--data {spec!r}: huggingface_hub is needed to resolve a Hub id") from err
    kwargs: dict = {"repo_type": "dataset", "revision": revision, "cache_dir": cache_dir}
    if offline:
        kwargs["local_files_only"] = True
    else:
        sub = f"data/{config}/" if config else "data/*/"
        kwargs["allow_patterns"] = [f"{sub}{split or '*'}-*.parquet", "README.md", "eval.yaml", "gsi_checksums.json"]
    try:
        root = Path(snapshot_download(repo_id, **kwargs))
    except Exception as err:
        where = f"the local Hub cache ({cache_dir or 'default location'})"
        hint = (f"HF_HUB_OFFLINE is set and {where} has no snapshot of it: run `gsi-bench install-cache "
                f"<folder> --repo-id {repo_id}` or download it once with network access" if offline else
                "check the id, your network access and, for a private or gated dataset, your token")
        raise FileNotFoundError(f"--data {spec!r}: not a local folder, and Hub dataset {repo_id!r}"
                                f"{'@' + revision if revision else ''} could not be resolved "
                                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); {hint}") from err
    commit = root.name if root.parent.name == "snapshots" else revision
    return DataSource(spec, root, repo_id, commit)
