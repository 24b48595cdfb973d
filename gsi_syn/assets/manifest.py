"""The versioned asset manifest (``data/manifest.json``): schema, parsing and validation.

The manifest is plain JSON with four top-level sections:

* ``version`` — semantic version of the asset library;
* ``sources`` — where packaged files come from (``pybullet_data``, ``robosuite`` with the exact
  list of wheel members and their SHA-256, ``procedural``);
* ``textures`` — texture id → source file, licence, SHA-256, pixel size and kind
  (``"material"``: a tileable surface texture for tri-planar mapping; ``"uv"``: an image mapped
  by one mesh's own UVs);
* ``assets`` — one entry per asset (see :class:`AssetEntry`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: The manifest shipped with the package.
MANIFEST_PATH = Path(__file__).resolve().parent / "data" / "manifest.json"

ROLES = ("object", "receptacle", "support", "structure")
#: ``sweethome3d`` entries come from :mod:`.sweethome3d` (their own manifest, licence per model),
#: never from ``manifest.json``.
SOURCES = ("pybullet_data", "robosuite", "procedural", "sweethome3d")
LICENSES = {"pybullet_data": "zlib", "robosuite": "MIT", "procedural": "Apache-2.0"}
SYMMETRIES = ("none", "rotational", "2fold", "4fold")
AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
SCENE_TYPES = ("tabletop", "room")
TEXTURE_KINDS = ("material", "uv")


class ManifestError(ValueError):
    """The manifest is malformed or inconsistent."""


@dataclass(frozen=True)
class TextureEntry:
    """One texture image of the library.

    ``id``: texture id (used by :class:`gsi_bench.scene.Material`); ``source``: ``pybullet_data``
    or ``robosuite``; ``source_path``: file path inside that source; ``license``; ``sha256`` of
    the file bytes; ``size_px``: original ``(width, height)`` in pixels (loaded images are
    downsampled to at most 512 px a side); ``kind``: ``"material"`` or ``"uv"``;
    ``description``: what it shows.
    """

    id: str
    source: str
    source_path: str
    license: str
    sha256: str
    size_px: tuple[int, int]
    kind: str
    description: str


@dataclass(frozen=True)
class AssetEntry:
    """One asset of the library, as recorded in the manifest.

    Identity and naming: ``id`` (e.g. ``"pybullet/duck"``, ``"proc/table"``), ``category``
    (English name used in instructions), ``category_zh`` (Chinese name), ``description`` (short
    English phrase), ``role`` (``object`` | ``receptacle`` | ``support`` | ``structure``),
    ``scenes`` (scene types it suits: ``tabletop`` and/or ``room``).

    Provenance: ``source`` (``pybullet_data`` | ``robosuite`` | ``procedural`` | ``sweethome3d``),
    ``source_path`` (file inside the package / wheel, or the generator function name),
    ``source_version``, ``license``, ``sha256`` (of the source file bytes; for procedural
    assets of the canonical mesh bytes at default parameters, see :mod:`.hashing`).

    Canonicalisation: ``canonical_up`` / ``canonical_front`` — the source-mesh axes (e.g.
    ``"+y"``, ``"-z"``) that become the canonical ``+z`` (up) and ``-y`` (front);
    ``size_m`` — ``(w, d, h)`` metres along canonical x, y, z after canonicalisation (every
    non-parametric mesh is scaled per axis to exactly this size; for parametric assets it is
    the size at the default parameters); ``size_range`` — plausible per-instance uniform scale
    factors ``(min, max)``.

    Appearance: ``symmetry`` of the shape under yaw (``none`` | ``rotational`` | ``2fold`` |
    ``4fold``), ``recolorable`` (a scene may tint ``base_color``), ``base_color`` (sRGB [0, 1]³,
    multiplied with the texture), ``uv_texture`` (texture id mapped by the mesh's own UVs:
    a library texture id, ``"palette"`` for a generated palette, or ``None``), ``textures``
    (library texture ids suitable for tri-planar mapping; may be empty).

    Parameters (parametric procedural assets only): ``params`` — name → default (m, or a count),
    ``param_ranges`` — name → ``(min, max)``.
    """

    id: str
    category: str
    category_zh: str
    role: str
    source: str
    source_path: str
    source_version: str
    license: str
    canonical_up: str
    canonical_front: str
    size_m: tuple[float, float, float]
    size_range: tuple[float, float]
    symmetry: str
    recolorable: bool
    textures: tuple[str, ...]
    description: str
    sha256: str
    base_color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    uv_texture: str | None = None
    scenes: tuple[str, ...] = ("tabletop",)
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    param_ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: MappingProxyType({}),
                                                           hash=False)

    @property
    def is_procedural(self) -> bool:
        """Whether the mesh comes from one of our generators."""
        return self.source == "procedural"

    @property
    def is_parametric(self) -> bool:
        """Whether the asset takes parameters (its size then comes from them, not ``size_m``)."""
        return bool(self.params)


_ASSET_REQUIRED = ("id", "category", "category_zh", "role", "source", "source_path", "source_version",
                   "license", "canonical_up", "canonical_front", "size_m", "size_range", "symmetry",
                   "recolorable", "textures", "description", "sha256")
_ASSET_OPTIONAL = ("base_color", "uv_texture", "scenes", "params", "param_ranges")
_TEXTURE_REQUIRED = ("source", "source_path", "license", "sha256", "size_px", "kind", "description")


def read_manifest(path: str | Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest file parsed as a plain dict (not validated)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def dump_manifest(manifest: Mapping[str, Any]) -> str:
    """Readable JSON text for a manifest dict: one-space indentation, lists of scalars on one
    line, non-ASCII kept, trailing newline. (The digest does not depend on this layout.)"""

    def fmt(obj: Any, depth: int) -> str:
        pad, inner = " " * depth, " " * (depth + 1)
        if isinstance(obj, Mapping):
            if not obj:
                return "{}"
            items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {fmt(v, depth + 1)}" for k, v in obj.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(obj, list) and any(isinstance(v, (Mapping, list)) for v in obj):
            return "[\n" + ",\n".join(inner + fmt(v, depth + 1) for v in obj) + "\n" + pad + "]"
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)

    return fmt(manifest, 0) + "\n"


def _check_keys(where: str, data: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    missing = [k for k in required if k not in data]
    unknown = [k for k in data if k not in required and k not in optional]
    if missing or unknown:
        raise ManifestError(f"{where}: missing keys {missing}, unknown keys {unknown}")


def parse_texture(texture_id: str, data: Mapping[str, Any]) -> TextureEntry:
    """A :class:`TextureEntry` from its manifest dict."""
    _check_keys(f"texture {texture_id!r}", data, _TEXTURE_REQUIRED, ())
    if data["kind"] not in TEXTURE_KINDS:
        raise ManifestError(f"texture {texture_id!r}: kind must be one of {TEXTURE_KINDS}")
    w, h = data["size_px"]
    return TextureEntry(id=texture_id, source=data["source"], source_path=data["source_path"],
                        license=data["license"], sha256=data["sha256"], size_px=(int(w), int(h)),
                        kind=data["kind"], description=data["description"])


def parse_asset(data: Mapping[str, Any]) -> AssetEntry:
    """An :class:`AssetEntry` from its manifest dict (field-level checks only)."""
    where = f"asset {data.get('id', '?')!r}"
    _check_keys(where, data, _ASSET_REQUIRED, _ASSET_OPTIONAL)

    def choice(key: str, allowed: tuple[str, ...]) -> str:
        if data[key] not in allowed:
            raise ManifestError(f"{where}: {key} must be one of {allowed}, got {data[key]!r}")
        return data[key]

    entry = AssetEntry(
        id=data["id"], category=data["category"], category_zh=data["category_zh"],
        role=choice("role", ROLES), source=choice("source", SOURCES), source_path=data["source_path"],
        source_version=data["source_version"], license=data["license"],
        canonical_up=choice("canonical_up", AXES), canonical_front=choice("canonical_front", AXES),
        size_m=tuple(float(s) for s in data["size_m"]),  # type: ignore[arg-type]
        size_range=tuple(float(s) for s in data["size_range"]),  # type: ignore[arg-type]
        symmetry=choice("symmetry", SYMMETRIES), recolorable=bool(data["recolorable"]),
        textures=tuple(data["textures"]), description=data["description"], sha256=data["sha256"],
        base_color=tuple(float(c) for c in data.get("base_color", (0.8, 0.8, 0.8))),  # type: ignore[arg-type]
        uv_texture=data.get("uv_texture"),
        scenes=tuple(data.get("scenes", ("tabletop",))),
        params=MappingProxyType({k: float(v) for k, v in data.get("params", {}).items()}),
        param_ranges=MappingProxyType({k: (float(v[0]), float(v[1]))
                                       for k, v in data.get("param_ranges", {}).items()}),
    )
    if entry.canonical_up[1] == entry.canonical_front[1]:
        raise ManifestError(f"{where}: canonical_up and canonical_front must be different axes")
    if len(entry.size_m) != 3 or min(entry.size_m[:2]) <= 0 or entry.size_m[2] < 0:
        raise ManifestError(f"{where}: size_m must be [w > 0, d > 0, h >= 0] metres")
    lo, hi = entry.size_range
    if not 0 < lo <= 1 <= hi:
        raise ManifestError(f"{where}: size_range must satisfy 0 < min <= 1 <= max")
    if entry.source not in LICENSES:
        raise ManifestError(f"{where}: {entry.source} assets are listed by their own manifest, not this one")
    if entry.license != LICENSES[entry.source]:
        raise ManifestError(f"{where}: a {entry.source} asset has licence {LICENSES[entry.source]}")
    if any(s not in SCENE_TYPES for s in entry.scenes):
        raise ManifestError(f"{where}: scenes must be drawn from {SCENE_TYPES}")
    if set(entry.params) != set(entry.param_ranges):
        raise ManifestError(f"{where}: params and param_ranges must name the same parameters")
    for name, default in entry.params.items():
        a, b = entry.param_ranges[name]
        if not a <= default <= b:
            raise ManifestError(f"{where}: default {name}={default} outside its range [{a}, {b}]")
    return entry


def parse_manifest(manifest: Mapping[str, Any]) -> tuple[dict[str, AssetEntry], dict[str, TextureEntry]]:
    """Parse and cross-check a manifest dict: asset id → entry (manifest order) and texture id
    → entry. Raises :class:`ManifestError` on any inconsistency."""
    for key in ("version", "sources", "textures", "assets"):
        if key not in manifest:
            raise ManifestError(f"manifest lacks the {key!r} section")
    textures = {tid: parse_texture(tid, t) for tid, t in manifest["textures"].items()}
    assets: dict[str, AssetEntry] = {}
    for raw in manifest["assets"]:
        entry = parse_asset(raw)
        if entry.id in assets:
            raise ManifestError(f"duplicate asset id {entry.id!r}")
        for tid in entry.textures:
            if tid not in textures:
                raise ManifestError(f"asset {entry.id!r} names unknown texture {tid!r}")
        if entry.uv_texture not in (None, "palette") and entry.uv_texture not in textures:
            raise ManifestError(f"asset {entry.id!r} names unknown uv_texture {entry.uv_texture!r}")
        assets[entry.id] = entry
    return assets, textures
