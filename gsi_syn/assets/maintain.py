"""Maintainer tool: check (or refresh) the SHA-256 digests recorded in the asset manifest.

    python -m gsi_syn.assets.maintain            # report mismatches, exit 1 if any
    python -m gsi_syn.assets.maintain --update   # rewrite the digests in the manifest file

Digests covered: each packaged asset's source file, each texture file, and each procedural
asset's canonical mesh bytes at its default parameters (see :mod:`.hashing`). The robosuite
wheel member table (``sources.robosuite.files``) is checked against the extracted cache.
Bump the manifest ``version`` (and :data:`~gsi_syn.assets.generators.PROCEDURAL_VERSION` for
geometry changes) whenever a digest changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gsi_bench.hashing import file_sha256
from gsi_syn.assets.hashing import mesh_sha256
from gsi_syn.assets.library import AssetLibrary
from gsi_syn.assets.manifest import MANIFEST_PATH, AssetEntry, dump_manifest


def procedural_sha256(lib: AssetLibrary, entry: AssetEntry) -> str:
    """Digest of a procedural asset's canonical mesh at its default parameters (with its UVs
    and palette texture when it has one)."""
    m = lib.mesh(entry.id)
    if entry.uv_texture == "palette":
        return mesh_sha256(m.vertices, m.faces, m.uv, m.texture)
    return mesh_sha256(m.vertices, m.faces)


def actual_sha256(lib: AssetLibrary, entry: AssetEntry) -> str:
    """The digest an asset entry should record, computed from the files / generators."""
    if entry.is_procedural:
        return procedural_sha256(lib, entry)
    return file_sha256(lib.source_file(entry.source, entry.source_path))


def collect(lib: AssetLibrary) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Recomputed digests: asset id → sha, texture id → sha, robosuite member → sha."""
    assets = {e.id: actual_sha256(lib, e) for e in lib.entries()}
    textures = {tid: file_sha256(lib.source_file(t.source, t.source_path))
                for tid in lib.texture_ids() for t in [lib.texture_entry(tid)]}
    root = lib.robosuite_root()
    members = {p: file_sha256(root / p) for p in lib.manifest["sources"]["robosuite"]["files"]}
    return assets, textures, members


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    parser.add_argument("--update", action="store_true", help="rewrite mismatching digests in place")
    args = parser.parse_args(argv)
    lib = AssetLibrary(args.manifest, verify=False)
    assets, textures, members = collect(lib)
    data = json.loads(args.manifest.read_text(encoding="utf-8"))
    problems = []
    for raw in data["assets"]:
        if raw["sha256"] != assets[raw["id"]]:
            problems.append(f"asset {raw['id']}: {raw['sha256']} -> {assets[raw['id']]}")
            raw["sha256"] = assets[raw["id"]]
    for tid, raw in data["textures"].items():
        if raw["sha256"] != textures[tid]:
            problems.append(f"texture {tid}: {raw['sha256']} -> {textures[tid]}")
            raw["sha256"] = textures[tid]
    files = data["sources"]["robosuite"]["files"]
    for path, sha in members.items():
        if files[path] != sha:
            problems.append(f"robosuite file {path}: {files[path]} -> {sha}")
            files[path] = sha
    for line in problems:
        print(line)
    if args.update and problems:
        args.manifest.write_text(dump_manifest(data), encoding="utf-8")
        print(f"updated {len(problems)} digests in {args.manifest}")
        return 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
