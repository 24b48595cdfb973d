"""Where data lives: one resolver for "a folder or a Hub dataset id", one card reader, one repo-id
pattern and the cache folders — used by every package (generators, validation, evaluator, builders).

* :func:`resolve_dataset` turns ``spec`` (a Hub-layout folder, or ``namespace/name[@revision]``)
  into a :class:`DataSource`. A local path that exists wins over a Hub id of the same spelling.
  With ``HF_HUB_OFFLINE=1`` (read when called, not at import) a Hub id resolves from the local
  hub cache only (``snapshot_download(local_files_only=True)``); a snapshot placed there by
  ``gsi-bench install-cache`` or an earlier download works without network. Online, only the
  files needed are downloaded: the shards of the chosen config and split, the card, ``eval.yaml``
  and the checksum manifest. Anything unusable raises :class:`~gsi_bench.errors.DataNotFound`.
* :func:`card_metadata` reads a dataset card's YAML header with
  :func:`huggingface_hub.repocard.metadata_load`; :func:`card_configs` lists its ``configs``.
* :func:`hub_cache_dir` / :func:`datasets_cache_dir`: the caches named by the environment *now*
  (tests and ``install-cache`` change ``HF_HOME`` after ``huggingface_hub`` was imported), else
  the libraries' own defaults (:data:`huggingface_hub.constants.HF_HUB_CACHE`,
  :data:`datasets.config.HF_DATASETS_CACHE`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gsi_bench.errors import DataNotFound, InvalidInput

CARD_FILE = "README.md"

#: ``namespace/name`` with an optional ``@revision`` (branch, tag or commit).
#:
#: >>> REPO_ID_RE.fullmatch("gsi-bench/syn@v1.0").group("repo", "rev")
#: ('gsi-bench/syn', 'v1.0')
REPO_ID_RE = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<rev>[\w./-]+))?")
_TRUE = {"1", "true", "yes", "on"}


def check_repo_id(repo_id: str) -> tuple[str, str]:
    """Split ``namespace/name`` (no revision); raise :class:`InvalidInput` for anything else.

    >>> check_repo_id("gsi-bench/syn")
    ('gsi-bench', 'syn')
    """
    m = REPO_ID_RE.fullmatch(repo_id)
    if m is None or m.group("rev") is not None:
        raise InvalidInput(f"repo id {repo_id!r} must look like 'namespace/name' (e.g. gsi-bench/syn)")
    ns, name = repo_id.split("/")
    return ns, name


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` as set now, or huggingface_hub's own flag."""
    if any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _hf_home_env() -> Path | None:
    return Path(os.environ["HF_HOME"]).expanduser() if os.environ.get("HF_HOME") else None


def hub_cache_dir() -> Path:
    """``$HF_HUB_CACHE`` (or legacy ``HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``, else
    :data:`huggingface_hub.constants.HF_HUB_CACHE`."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if (home := _hf_home_env()) is not None:
        return home / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def datasets_cache_dir() -> Path:
    """``$HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``, else :data:`datasets.config.HF_DATASETS_CACHE`."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    if (home := _hf_home_env()) is not None:
        return home / "datasets"
    import datasets.config

    return Path(datasets.config.HF_DATASETS_CACHE)


# ----------------------------------------------------------------------------------------------
# folder or Hub id
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSource:
    """A resolved dataset: ``root`` is a local folder in the Hub layout (DESIGN §5)."""

    spec: str
    root: Path
    repo_id: str | None = None
    revision: str | None = None  # the snapshot's commit id for Hub datasets

    def describe(self) -> dict:
        """Fields for ``summary.json``; empty for a local folder (keeps folder reports unchanged)."""
        if self.repo_id is None:
            return {}
        return {"hub": {"repo_id": self.repo_id, "commit": self.revision}}

    def __str__(self) -> str:
        return str(self.root) if self.repo_id is None else f"{self.spec} (snapshot {self.root})"


def resolve_dataset(spec: str | os.PathLike, config: str | None = None, split: str | None = None) -> DataSource:
    """A :class:`DataSource` for a folder or a Hub dataset id (see module doc). Resolutions are
    cached per process, so the evaluator and its report resolve a Hub id once."""
    key = (str(spec), config, split, is_offline(), str(hub_cache_dir()))
    source = _resolve(*key)
    if not source.root.is_dir():  # the cache changed under us (e.g. a snapshot was removed)
        _resolve.cache_clear()
        source = _resolve(*key)
    return source


@lru_cache(maxsize=32)
def _resolve(spec: str, config: str | None, split: str | None, offline: bool, cache_dir: str) -> DataSource:
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DataNotFound(f"{spec}: not a folder (pass a Hub-layout dataset folder or a Hub id)")
        return DataSource(spec, path)
    m = REPO_ID_RE.fullmatch(spec)
    if m is None or spec.startswith((".", "/", "~")):
        raise DataNotFound(f"{spec!r}: no such folder, and not a Hub dataset id like 'gsi-bench/syn'")
    repo_id, revision = m.group("repo"), m.group("rev")
    from huggingface_hub import snapshot_download

    kwargs: dict[str, Any] = {"repo_type": "dataset", "revision": revision, "cache_dir": cache_dir}
    if offline:
        kwargs["local_files_only"] = True
    else:
        sub = f"data/{config}/" if config else "data/*/"
        kwargs["allow_patterns"] = [f"{sub}{split or '*'}-*.parquet", CARD_FILE, "eval.yaml", "gsi_checksums.json"]
    try:
        root = Path(snapshot_download(repo_id, **kwargs))
    except Exception as err:  # noqa: BLE001 - offline, unknown, gated: all mean "not available here"
        hint = (f"HF_HUB_OFFLINE is set and the local Hub cache ({cache_dir}) has no snapshot of it: run "
                f"`gsi-bench install-cache <folder> --repo-id {repo_id}` or download it once with network access"
                if offline else "check the id, your network access and, for a private or gated dataset, your token")
        first = str(err).splitlines()[0] if str(err) else ""
        raise DataNotFound(f"{spec!r}: not a local folder, and Hub dataset {repo_id!r}"
                           f"{'@' + revision if revision else ''} could not be resolved "
                           f"({type(err).__name__}: {first}); {hint}") from err
    commit = root.name if root.parent.name == "snapshots" else revision
    return DataSource(spec, root, repo_id, commit)


# ----------------------------------------------------------------------------------------------
# the dataset card
# ----------------------------------------------------------------------------------------------
def card_metadata(root: str | Path) -> dict[str, Any] | None:
    """The YAML header of ``root/README.md`` as a dict; None when there is no card or no header.
    Raises :class:`InvalidInput` naming the file when the header does not parse."""
    from huggingface_hub.repocard import metadata_load

    path = Path(root) / CARD_FILE
    if not path.is_file():
        return None
    try:
        data = metadata_load(path)
    except Exception as err:  # yaml.YAMLError or "metadata block should be a dict"
        raise InvalidInput(f"{path}: the YAML header does not parse ({err}); rebuild the card "
                           "with `gsi-bench build`") from err
    return data


def read_card_metadata(root: str | Path) -> dict[str, Any]:
    """Like :func:`card_metadata` but the card and its header must exist."""
    path = Path(root) / CARD_FILE
    if not path.is_file():
        raise DataNotFound(f"{path} is missing: build the folder with `gsi-bench build` (it writes the card)")
    data = card_metadata(root)
    if not data:
        raise InvalidInput(f"{path}: no YAML header (expected a block between '---' lines at the top)")
    return data


def card_configs(root: str | Path) -> dict[str, dict[str, list[str]]] | None:
    """The card's ``configs`` as ``{config_name: {split: [globs]}}`` (paths relative to ``root``),
    or None when there is no card or it lists no configs. Raises :class:`InvalidInput` on a
    malformed entry. Accepts the Hub's shorthands (``data_files: "glob"`` or ``["glob", …]`` mean
    split ``train``)."""
    meta = card_metadata(root)
    configs = meta.get("configs") if isinstance(meta, dict) else None
    if not configs:
        return None
    out: dict[str, dict[str, list[str]]] = {}
    for c in configs:
        if not isinstance(c, dict) or "config_name" not in c:
            raise InvalidInput(f"{Path(root) / CARD_FILE}: config entry without config_name: {c!r}")
        files = c.get("data_files", [])
        if isinstance(files, str):
            files = [files]
        splits: dict[str, list[str]] = {}
        for entry in files:
            if isinstance(entry, str):
                entry = {"split": "train", "path": entry}
            paths = entry.get("path", [])
            splits.setdefault(str(entry.get("split", "train")), []).extend(
                [paths] if isinstance(paths, str) else list(paths))
        out[str(c["config_name"])] = splits
    return out


def subset_configs(root: str | Path, split: str | None = None) -> list[str]:
    """Names of the folders ``data/<config>/`` that hold shards (of ``split`` when given), sorted."""
    from gsi_bench.hub_io import list_shards

    data = Path(root) / "data"
    if not data.is_dir():
        return []
    return sorted(p.name for p in data.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and list_shards(root, p.name, split))
