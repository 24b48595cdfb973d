"""Place a built Hub folder in the local Hugging Face caches, as if it had been downloaded.

Afterwards, with ``HF_HUB_OFFLINE=1``::

    load_dataset("gsi-bench/syn", "tabletop", split="test")
    load_dataset("gsi-bench/syn")                     # the card's default config
    load_dataset("gsi-bench/syn", "tabletop", split="test", streaming=True)
    huggingface_hub.snapshot_download("gsi-bench/syn", repo_type="dataset")

What ``datasets`` 5.2 does offline (read from its ``load.py`` / ``packaged_modules/cache``):
a Hub id resolves **only** through the prepared Arrow cache
``$HF_DATASETS_CACHE/<ns>___<name>/<config>/0.0.0/<hash>/`` (``<name>-<split>.arrow`` +
``dataset_info.json``); it never looks at the hub snapshot cache while offline. Without a config
name it takes the most recently modified ``<config>/<version>/<hash>`` directory, and refuses if
several configs share that version and hash. So this module:

1. prepares every config of the card with ``datasets`` itself from a folder named ``<name>``
   (so the Arrow files are named ``<name>-<split>.arrow``, as after a download);
2. moves each prepared directory under ``<ns>___<name>/<config>/0.0.0/<hash>`` with a hash
   unique per config (derived from the folder's checksums and the config name);
3. touches the card's default config last, so a config-less load picks it;
4. also writes a hub snapshot (``datasets--<ns>--<name>/{blobs,snapshots,refs}``) for
   ``huggingface_hub`` users.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gsi_bench.datasource import check_repo_id, datasets_cache_dir, hub_cache_dir, read_card_metadata
from gsi_bench.errors import DataNotFound, InvalidInput
from gsi_bench.hashing import file_sha256
from gsi_bench.hub_io import CHECKSUMS_FILE

ARROW_VERSION = "0.0.0"


def folder_revision(root: Path) -> str:
    """A stable 40-hex commit-like id for a folder: sha1 over its card, eval.yaml and checksums."""
    h = hashlib.sha1()
    for name in ("README.md", "eval.yaml", CHECKSUMS_FILE):
        p = root / name
        if p.exists():
            h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass
class InstallSummary:
    repo_id: str
    configs: list[str] = field(default_factory=list)
    default_config: str = ""
    arrow_dirs: list[Path] = field(default_factory=list)
    snapshot: Path | None = None


def _card_configs(root: Path) -> tuple[list[str], str]:
    meta = read_card_metadata(root)
    configs = [c.get("config_name") for c in meta.get("configs") or []]
    if not configs or not all(isinstance(c, str) for c in configs):
        raise InvalidInput(f"{root / 'README.md'}: the YAML has no 'configs' list with config_name entries; "
                         "re-run `gsi-bench build` to regenerate the card")
    default = next((c["config_name"] for c in meta["configs"] if c.get("default")), configs[0])
    return configs, default


def install_arrow_cache(root: Path, repo_id: str, configs: list[str], default: str,
                        cache_dir: Path | None = None) -> list[Path]:
    """Prepare ``configs`` of the folder with ``datasets`` and install them as the prepared
    cache of ``repo_id`` (see module doc). Returns the installed directories."""
    import datasets

    ns, name = check_repo_id(repo_id)
    from datasets.naming import camelcase_to_snakecase

    cache_dir = cache_dir or datasets_cache_dir()
    target_root = cache_dir / f"{ns}___{camelcase_to_snakecase(name)}"
    revision = folder_revision(root)
    installed: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="gsi-install-") as tmp:
        link = Path(tmp) / name
        link.symlink_to(root.resolve(), target_is_directory=True)
        scratch = Path(tmp) / "cache"
        order = [c for c in configs if c != default] + [default]
        for config in order:
            builder = datasets.load_dataset_builder(str(link), config, cache_dir=str(scratch))
            builder.download_and_prepare()
            prepared = Path(builder.cache_dir)
            info = json.loads((prepared / "dataset_info.json").read_text())
            if info.get("config_name") != config:
                raise RuntimeError(f"datasets prepared config {info.get('config_name')!r} for {config!r}")
            unique = hashlib.sha256(f"{revision}/{config}".encode()).hexdigest()[:16]
            dest = target_root / config / ARROW_VERSION / unique
            if (target_root / config).exists():  # replace earlier installs of this config
                shutil.rmtree(target_root / config)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(prepared), str(dest))
            installed.append(dest)
    now = time.time()
    for i, d in enumerate(installed):  # default last = most recent
        os.utime(d, (now + i, now + i))
    return installed


def install_hub_snapshot(root: Path, repo_id: str, revision_name: str = "main",
                         cache_dir: Path | None = None) -> Path:
    """Copy the folder into the hub cache as ``datasets--<ns>--<name>``: files as content-addressed
    blobs (sha256), the snapshot as relative symlinks (copies where symlinks are unsupported),
    and ``refs/<revision_name>`` pointing at a folder-derived commit id. Returns the snapshot."""
    ns, name = check_repo_id(repo_id)
    cache_dir = cache_dir or hub_cache_dir()
    repo_dir = cache_dir / f"datasets--{ns}--{name}"
    commit = folder_revision(root)
    snapshot = repo_dir / "snapshots" / commit
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for src in sorted(upload_files(root)):
        rel = src.relative_to(root)
        blob = blobs / file_sha256(src)
        if not blob.exists():
            tmp = blob.with_name(blob.name + ".incomplete")
            shutil.copyfile(src, tmp)
            tmp.replace(blob)
        dst = snapshot / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        try:
            dst.symlink_to(os.path.relpath(blob, dst.parent))
        except OSError:
            shutil.copyfile(blob, dst)
    refs = repo_dir / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / revision_name).write_text(commit)
    return snapshot


def upload_files(root: Path) -> list[Path]:
    """Files of a Hub folder that belong in the repo: everything except hidden files/folders
    (staging, temp files) and the generator's run file."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts) and rel.name != "gsi_generation.json":
            out.append(p)
    return out


def install_cache(folder: str | Path, repo_id: str = "gsi-bench/syn", configs: list[str] | None = None,
                  revision_name: str = "main", snapshot: bool = True) -> InstallSummary:
    """Make ``load_dataset(repo_id, ...)`` work offline from the built Hub folder ``folder``.

    ``configs``: which of the card's configs to install (default: all). Raises
    ``FileNotFoundError`` / ``ValueError`` naming the file and the fix for unusable folders.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataNotFound(f"{root} is not a folder: pass the output of `gsi-bench build`")
    check_repo_id(repo_id)
    card_configs, default = _card_configs(root)
    chosen = configs or card_configs
    unknown = [c for c in chosen if c not in card_configs]
    if unknown:
        raise InvalidInput(f"configs {unknown} are not in {root / 'README.md'} (available: {', '.join(card_configs)})")
    if default not in chosen:
        default = chosen[0]
    summary = InstallSummary(repo_id, list(chosen), default)
    summary.arrow_dirs = install_arrow_cache(root, repo_id, list(chosen), default)
    if snapshot:
        summary.snapshot = install_hub_snapshot(root, repo_id, revision_name)
    return summary
