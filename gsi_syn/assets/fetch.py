"""First-use extraction of robosuite's textured meshes and material textures.

robosuite (MIT) ships seven textured grocery meshes and about thirty texture images, but its
wheel is 157 MB, so nothing of it is committed or installed: on first use
:func:`ensure_robosuite_assets` downloads the pinned wheel with pip (or takes a pre-downloaded
one from ``$GSI_BENCH_ROBOSUITE_WHEEL``), extracts only

* ``robosuite/models/assets/objects/meshes/*.obj`` and ``*.mtl``,
* ``robosuite/models/assets/textures/*.png``,
* ``robosuite-1.5.2.dist-info/licenses/LICENSE`` and ``AUTHORS``,

checks every file's SHA-256 against the asset manifest, and installs them atomically (extract
into a temporary directory, then one rename) under ``<cache>/robosuite-1.5.2/`` keeping their
wheel paths. A ``SHA256SUMS`` marker written last lists the verified files; a directory without
a marker matching the manifest is treated as incomplete and rebuilt. Downloaded wheels are
deleted afterwards.

Cache directory: ``cache_dir`` argument, else the ``assets/`` folder of the project's cache
(:mod:`gsi_bench.cache`: ``$GSI_BENCH_CACHE/assets``, else ``~/.cache/gsi-bench/assets``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from gsi_bench.cache import cache_dir

ROBOSUITE_VERSION = "1.5.2"
ROBOSUITE_REQUIREMENT = f"robosuite=={ROBOSUITE_VERSION}"
ENV_WHEEL = "GSI_BENCH_ROBOSUITE_WHEEL"
MARKER_NAME = "SHA256SUMS"

_DIST_INFO = f"robosuite-{ROBOSUITE_VERSION}.dist-info/licenses"
#: Wheel directories extracted, with the file suffixes taken from each.
MEMBER_DIRS: dict[str, tuple[str, ...]] = {
    "robosuite/models/assets/objects/meshes": (".obj", ".mtl"),
    "robosuite/models/assets/textures": (".png",),
}
#: Individual wheel members extracted (licence and authors).
MEMBER_FILES = (f"{_DIST_INFO}/LICENSE", f"{_DIST_INFO}/AUTHORS")
#: Refuse any single member larger than this (bytes): a guard against corrupt or hostile wheels.
MAX_MEMBER_BYTES = 64 << 20


class AssetFetchError(RuntimeError):
    """The robosuite assets could not be obtained or failed verification."""


def default_cache_dir() -> Path:
    """The ``assets/`` folder of the project's cache (:func:`gsi_bench.cache.cache_dir`)."""
    return cache_dir("assets")


def robosuite_dir(cache_dir: str | Path | None = None) -> Path:
    """Where the extracted robosuite files live: ``<cache>/robosuite-1.5.2``."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"robosuite-{ROBOSUITE_VERSION}"


def expected_robosuite_files(manifest: Mapping | None = None) -> dict[str, str]:
    """Wheel member path → SHA-256 of every file to extract, from the asset manifest."""
    if manifest is None:
        from gsi_syn.assets.manifest import read_manifest

        manifest = read_manifest()
    return dict(manifest["sources"]["robosuite"]["files"])


def marker_text(expected: Mapping[str, str]) -> str:
    """Contents of the ``SHA256SUMS`` marker: ``"<sha256>  <path>"`` lines sorted by path."""
    return "".join(f"{expected[p]}  {p}\n" for p in sorted(expected))


def is_complete(root: str | Path, expected: Mapping[str, str]) -> bool:
    """Whether ``root`` holds a finished extraction of exactly ``expected``."""
    root = Path(root)
    marker = root / MARKER_NAME
    try:
        if marker.read_text(encoding="utf-8") != marker_text(expected):
            return False
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return False
    return all((root / p).is_file() for p in expected)


def select_members(names: list[str]) -> list[str]:
    """The wheel members to extract (see module docstring), sorted."""
    chosen = []
    for name in names:
        path = PurePosixPath(name)
        if name in MEMBER_FILES or path.suffix.lower() in MEMBER_DIRS.get(str(path.parent), ()):
            chosen.append(name)
    return sorted(chosen)


def extract_wheel(wheel: str | Path, dest: str | Path, expected: Mapping[str, str]) -> Path:
    """Extract the selected members of ``wheel`` into ``dest``, atomically, verifying each
    against ``expected`` (member path → SHA-256).

    The wheel must contain exactly the expected members among the selected ones; any missing,
    unexpected or altered file raises :class:`AssetFetchError` and leaves ``dest`` untouched.
    If another process completed ``dest`` meanwhile, its result is kept. Returns ``dest``.
    """
    wheel, dest = Path(wheel), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        try:
            zf = zipfile.ZipFile(wheel)
        except (zipfile.BadZipFile, OSError) as exc:
            raise AssetFetchError(f"{wheel} is not a readable wheel (zip) file: {exc}") from exc
        with zf:
            members = select_members(zf.namelist())
            missing = sorted(set(expected) - set(members))
            unexpected = sorted(set(members) - set(expected))
            if missing or unexpected:
                raise AssetFetchError(
                    f"{wheel.name} does not match the asset manifest: missing {missing[:5]}"
                    f"{'…' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                    f"{'…' if len(unexpected) > 5 else ''} (is it robosuite {ROBOSUITE_VERSION}?)")
            for name in members:
                if zf.getinfo(name).file_size > MAX_MEMBER_BYTES:
                    raise AssetFetchError(f"{wheel.name}: member {name} is implausibly large")
                data = zf.read(name)
                digest = hashlib.sha256(data).hexdigest()
                if digest != expected[name]:
                    raise AssetFetchError(
                        f"{wheel.name}: sha256 mismatch for {name}: manifest {expected[name]}, file {digest}")
                out = tmp.joinpath(*PurePosixPath(name).parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
        (tmp / MARKER_NAME).write_text(marker_text(expected), encoding="utf-8")
        os.chmod(tmp, 0o755)
        _install(tmp, dest, expected)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _install(tmp: Path, dest: Path, expected: Mapping[str, str]) -> None:
    """Move the finished ``tmp`` directory to ``dest`` (replacing an incomplete one)."""
    if dest.exists():
        if is_complete(dest, expected):
            return
        stale = dest.with_name(f".{dest.name}.stale-{uuid.uuid4().hex}")
        try:
            os.replace(dest, stale)
        except FileNotFoundError:
            pass
        else:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, dest)
    except OSError:
        if not is_complete(dest, expected):  # lost a race to a concurrent extraction?
            raise


def download_wheel(dest_dir: str | Path) -> Path:
    """Download the pinned robosuite wheel into ``dest_dir`` with pip; returns its path."""
    dest_dir = Path(dest_dir)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           ROBOSUITE_REQUIREMENT, "-d", str(dest_dir)]
    shown = " ".join(cmd)
    help_text = (f"If this machine is offline, run `pip download --no-deps {ROBOSUITE_REQUIREMENT}` on "
                 f"one that is online, copy the .whl here and set {ENV_WHEEL}=/path/to/the.whl "
                 f"(or copy a complete {robosuite_dir().name}/ cache directory into "
                 f"{default_cache_dir()}).")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise AssetFetchError(f"could not run `{shown}`: {exc}. {help_text}") from exc
    wheels = sorted(dest_dir.glob(f"robosuite-{ROBOSUITE_VERSION}-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout or "").strip()[-800:]
        raise AssetFetchError(
            f"downloading robosuite {ROBOSUITE_VERSION} (textured grocery meshes and material textures, "
            f"MIT) failed: `{shown}` exited with {proc.returncode}:\n{tail}\n{help_text}")
    return wheels[0]


def ensure_robosuite_assets(cache_dir: str | Path | None = None, *,
                            expected: Mapping[str, str] | None = None) -> Path:
    """Make sure the robosuite asset files are extracted and verified; return their root.

    Files keep their wheel paths under the returned directory (e.g.
    ``<root>/robosuite/models/assets/textures/ceramic.png``). Does nothing when the cache is
    already complete. Otherwise uses the wheel named by ``$GSI_BENCH_ROBOSUITE_WHEEL`` if set,
    else downloads it with ``python -m pip download`` (the downloaded wheel is deleted).
    ``expected`` overrides the manifest's member → SHA-256 table (tests).
    """
    expected = dict(expected) if expected is not None else expected_robosuite_files()
    root = robosuite_dir(cache_dir)
    if is_complete(root, expected):
        return root
    wheel_env = os.environ.get(ENV_WHEEL)
    if wheel_env:
        wheel = Path(wheel_env).expanduser()
        if not wheel.is_file():
            raise AssetFetchError(f"{ENV_WHEEL}={wheel_env!r} does not name a wheel file")
        return extract_wheel(wheel, root, expected)
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=root.parent) as tmp:
        wheel = download_wheel(tmp)
        return extract_wheel(wheel, root, expected)
