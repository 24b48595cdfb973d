"""The asset library: manifest lookup plus canonical, cached meshes and textures.

>>> lib = get_library()                                   # doctest: +SKIP
>>> m = lib.mesh("proc/table", {"height": 0.72})           # doctest: +SKIP
>>> float(m.bounds[1, 2])                                  # top surface height (m)  # doctest: +SKIP
0.72

Every mesh comes out in the asset canonical frame (metres, ``+z`` up, footprint centred on the
origin, lowest point at ``z = 0``, front facing ``-y``): packaged meshes are rotated by their
manifest axes and scaled per axis to ``size_m``; procedural ones are generated at real size
(parametric ones at the size their parameters give). Textured meshes carry UVs in ``[0, 1]``
and their image (at most 512 px a side); the few sources whose UVs repeat get a baked copy
(:func:`~gsi_syn.assets.textures.load_uv_texture`). Meshes and textures are cached per process;
returned arrays are read-only and shared, so copy before modifying.

The Sweet Home 3D models (:mod:`.sweethome3d`, ids ``sh3d/…``) have their own manifest and are
listed only when asked for with ``source="sweethome3d"`` (``entries``, ``categories``), so the
core listing and ``manifest_sha256`` do not change with them; ``entry``, ``mesh`` and
``support_surfaces`` take their ids like any other. The scene samplers draw from both through
:mod:`.pool` (roles from the committed role table, :func:`.sweethome3d.build_roles`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gsi_syn.assets.canonical import canonicalize
from gsi_syn.assets.fetch import ensure_robosuite_assets
from gsi_bench.hashing import bytes_sha256, canonical_json, file_sha256
from gsi_syn.assets.manifest import MANIFEST_PATH, AssetEntry, TextureEntry, parse_manifest, read_manifest
from gsi_syn.assets.mesh import AssetMesh
from gsi_syn.assets.objfile import load_obj
from gsi_syn.assets.procedural import GENERATORS, SupportSurface
from gsi_syn.assets.textures import load_texture_image, load_uv_texture

#: Grid (m) that procedural vertices are rounded to before canonicalisation, so that last-bit
#: differences of sin/cos between platforms cannot change the mesh bytes.
PROCEDURAL_QUANTUM_DECIMALS = 7


class AssetIntegrityError(RuntimeError):
    """A packaged source file does not match the SHA-256 recorded in the manifest."""


def _readonly(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is not None:
        arr.setflags(write=False)
    return arr


class AssetLibrary:
    """The versioned asset library described by a manifest.

    ``manifest_path``: the manifest JSON (default: the one shipped in ``gsi_syn/assets/data``).
    ``cache_dir``: where robosuite files are extracted (default :func:`.fetch.default_cache_dir`:
    ``$GSI_BENCH_CACHE/assets`` or ``~/.cache/gsi-bench/assets``). ``verify``: check each packaged file's SHA-256 against the
    manifest the first time it is read (:class:`AssetIntegrityError` on mismatch).

    Attributes: ``manifest`` (the parsed JSON dict), ``manifest_sha256`` (hex SHA-256 of the
    manifest's canonical JSON bytes; recorded in every scene), ``version``.
    """

    def __init__(self, manifest_path: str | Path | None = None, *, cache_dir: str | Path | None = None,
                 verify: bool = True) -> None:
        self.manifest_path = Path(manifest_path) if manifest_path is not None else MANIFEST_PATH
        self.manifest: dict[str, Any] = read_manifest(self.manifest_path)
        self.manifest_sha256: str = bytes_sha256(canonical_json(self.manifest, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        self.version: str = self.manifest["version"]
        self._assets, self._textures = parse_manifest(self.manifest)
        self.cache_dir = cache_dir
        self.verify = verify
        self._lock = threading.RLock()
        self._meshes: dict[tuple, tuple[AssetMesh, tuple[SupportSurface, ...]]] = {}
        self._texture_cache: dict[str, np.ndarray] = {}
        self._verified: set[Path] = set()
        self._robosuite_root: Path | None = None
        self._sh3d: dict[str, tuple[AssetEntry, dict[str, Any], dict[str, Any] | None]] | None = None
        self._pool_sha256: str | None = None

    # -- manifest lookup ----------------------------------------------------------------------
    def entries(self, role: str | None = None, category: str | None = None, *,
                source: str | None = None) -> list[AssetEntry]:
        """Entries in manifest order, optionally filtered by ``role`` and / or ``category``.

        ``source``: ``None`` lists the core manifest; a source name lists only its entries;
        ``"sweethome3d"`` lists the Sweet Home 3D models (from their own manifest).
        """
        pool = ([v[0] for v in self._sweethome3d().values()] if source == "sweethome3d"
                else [e for e in self._assets.values() if source is None or e.source == source])
        return [e for e in pool
                if (role is None or e.role == role) and (category is None or e.category == category)]

    def _sweethome3d(self) -> dict[str, tuple[AssetEntry, dict[str, Any], dict[str, Any] | None]]:
        """Asset id → (entry, raw manifest dict, role-table row or ``None``) of the Sweet Home 3D
        models (loaded once; see :func:`.sweethome3d.build_roles`)."""
        from gsi_syn.assets import sweethome3d  # lazily: also runnable as a script

        with self._lock:
            if self._sh3d is None:
                raw = sweethome3d.read_manifest()["assets"]
                roles = sweethome3d.read_roles()["assets"] if sweethome3d.ROLES_PATH.is_file() else {}
                self._sh3d = {a["id"]: (sweethome3d.asset_entry(a, roles.get(a["id"])), a, roles.get(a["id"]))
                              for a in raw}
            return self._sh3d

    @property
    def pool_sha256(self) -> str:
        """Hex SHA-256 identifying everything a scene's asset ids refer to: the core manifest, the
        Sweet Home 3D manifest and its role table (canonical JSON of their three digests; the role
        table's digest is empty when it is absent). Recorded in every generated scene as
        ``asset_manifest_sha256``, so a change to any of the three changes the provenance."""
        from gsi_syn.assets import sweethome3d

        with self._lock:
            if self._pool_sha256 is None:
                def digest(doc: Any) -> str:
                    return bytes_sha256(canonical_json(doc, ensure_ascii=False, allow_nan=False).encode("utf-8"))

                roles = digest(sweethome3d.read_roles()) if sweethome3d.ROLES_PATH.is_file() else ""
                parts = {"core": self.manifest_sha256, "sweethome3d": digest(sweethome3d.read_manifest()),
                         "sweethome3d_roles": roles}
                self._pool_sha256 = digest(parts)
            return self._pool_sha256

    def scene_role(self, asset_id: str) -> dict[str, Any] | None:
        """The role-table row of a Sweet Home 3D model (role, noun, groups, where, top), or
        ``None`` for models scenes do not use and for core assets."""
        if not asset_id.startswith("sh3d/"):
            return None
        return self._sweethome3d()[asset_id][2]

    def entry(self, asset_id: str) -> AssetEntry:
        """The entry of ``asset_id``; :class:`KeyError` for unknown ids."""
        try:
            if asset_id.startswith("sh3d/"):
                return self._sweethome3d()[asset_id][0]
            return self._assets[asset_id]
        except KeyError:
            sample = ", ".join(list(self._assets)[:4])
            raise KeyError(f"unknown asset id {asset_id!r}; list valid ids with "
                           f"[e.id for e in get_library().entries()] (e.g. {sample}, …)") from None

    def categories(self, role: str | None = "object", *, source: str | None = None) -> list[str]:
        """Sorted distinct categories of the assets with ``role`` (``None``: all roles); ``source``
        as in :meth:`entries`."""
        return sorted({e.category for e in self.entries(role=role, source=source)})

    def texture_entry(self, texture_id: str) -> TextureEntry:
        """The manifest entry of a texture; :class:`KeyError` for unknown ids."""
        try:
            return self._textures[texture_id]
        except KeyError:
            raise KeyError(f"unknown texture id {texture_id!r}; valid ids: "
                           f"{', '.join(sorted(self._textures))}") from None

    def texture_ids(self, kind: str | None = None) -> list[str]:
        """Sorted texture ids, optionally only those of ``kind`` (``"material"`` or ``"uv"``)."""
        return sorted(t for t, e in self._textures.items() if kind is None or e.kind == kind)

    def resolve_params(self, asset_id: str, params: Mapping[str, float] | None = None) -> dict[str, float]:
        """The full parameter set of an asset: defaults overridden by ``params``.

        Raises :class:`ValueError` for parameters the asset does not take or values outside
        the manifest range.
        """
        entry = self.entry(asset_id)
        params = dict(params or {})
        unknown = sorted(set(params) - set(entry.params))
        if unknown:
            takes = ", ".join(entry.params) or "no parameters"
            raise ValueError(f"asset {asset_id!r} takes {takes}; got unknown {unknown}")
        full = dict(entry.params)
        for name, value in params.items():
            value = float(value)
            lo, hi = entry.param_ranges[name]
            if not lo <= value <= hi:
                raise ValueError(f"asset {asset_id!r}: {name}={value} outside [{lo}, {hi}]")
            full[name] = value
        return full

    # -- files ----------------------------------------------------------------------------------
    def robosuite_root(self) -> Path:
        """Root of the extracted robosuite files (extracting them on first call)."""
        with self._lock:
            if self._robosuite_root is None:
                self._robosuite_root = ensure_robosuite_assets(self.cache_dir)
            return self._robosuite_root

    def source_file(self, source: str, source_path: str, sha256: str | None = None) -> Path:
        """Absolute path of a packaged file, verified against ``sha256`` when given."""
        if source == "pybullet_data":
            import pybullet_data

            path = Path(pybullet_data.getDataPath()) / source_path
        elif source == "robosuite":
            path = self.robosuite_root() / source_path
        else:
            raise ValueError(f"{source!r} assets have no source file")
        if sha256 is not None and self.verify and path not in self._verified:
            if not path.is_file():
                raise AssetIntegrityError(f"missing asset source file {path}")
            digest = file_sha256(path)
            if digest != sha256:
                raise AssetIntegrityError(
                    f"{path} has sha256 {digest}, the asset manifest expects {sha256}; the installed "
                    f"{source} differs from the version the library was built with")
            self._verified.add(path)
        return path

    # -- textures ---------------------------------------------------------------------------------
    def texture(self, texture_id: str) -> np.ndarray:
        """uint8 ``(H, W, 3)`` sRGB texture (row 0 = top), at most 512 px a side; cached, read-only."""
        with self._lock:
            cached = self._texture_cache.get(texture_id)
            if cached is None:
                e = self.texture_entry(texture_id)
                cached = _readonly(load_texture_image(self.source_file(e.source, e.source_path, e.sha256)))
                self._texture_cache[texture_id] = cached
            return cached

    # -- meshes -----------------------------------------------------------------------------------
    def mesh(self, asset_id: str, params: Mapping[str, float] | None = None) -> AssetMesh:
        """The canonical :class:`AssetMesh` of an asset (parametric assets: with ``params``
        overriding the manifest defaults). Cached per (asset id, full parameter set)."""
        return self._build(asset_id, params)[0]

    def support_surfaces(self, asset_id: str, params: Mapping[str, float] | None = None
                         ) -> tuple[SupportSurface, ...]:
        """Horizontal rectangles (canonical frame, m) that objects can rest on — table tops,
        shelf boards, a sofa seat; empty for assets that do not report any."""
        return self._build(asset_id, params)[1]

    def _build(self, asset_id: str, params: Mapping[str, float] | None
               ) -> tuple[AssetMesh, tuple[SupportSurface, ...]]:
        full = self.resolve_params(asset_id, params)
        key = (asset_id, tuple(sorted(full.items())))
        with self._lock:
            hit = self._meshes.get(key)
            if hit is None:
                hit = self._make(self.entry(asset_id), full)
                self._meshes[key] = hit
            return hit

    def _make(self, entry: AssetEntry, params: dict[str, float]) -> tuple[AssetMesh, tuple[SupportSurface, ...]]:
        texture: np.ndarray | None = None
        surfaces: tuple[SupportSurface, ...] = ()
        if entry.source == "sweethome3d":
            from gsi_syn.assets import sweethome3d

            _, raw_asset, role = self._sweethome3d()[entry.id]
            return (sweethome3d.load_model(raw_asset, self.cache_dir), sweethome3d.support_surfaces(role))
        if entry.is_procedural:
            gen = GENERATORS[entry.source_path](**params)
            vertices = np.round(gen.part.vertices, PROCEDURAL_QUANTUM_DECIMALS)
            faces, uv = gen.part.faces, gen.part.uv
            if entry.uv_texture == "palette":
                texture = gen.texture
            else:
                uv = None
            surfaces = gen.surfaces
        else:
            raw = load_obj(self.source_file(entry.source, entry.source_path, entry.sha256))
            vertices, faces = raw.vertices, raw.faces
            uv = raw.uv if entry.uv_texture is not None else None
            if entry.uv_texture is not None:
                if uv is None:
                    raise ValueError(f"asset {entry.id!r}: {entry.source_path} has no UVs for {entry.uv_texture!r}")
                if uv.min() >= 0.0 and uv.max() <= 1.0:
                    texture = self.texture(entry.uv_texture)
                else:  # repeating UVs: bake this mesh's own tiled + cropped copy of the image
                    t = self.texture_entry(entry.uv_texture)
                    texture, uv = load_uv_texture(self.source_file(t.source, t.source_path, t.sha256), uv)
        size = None if entry.is_parametric else entry.size_m
        canon = canonicalize(vertices, faces, uv, up=entry.canonical_up, front=entry.canonical_front, size=size)
        surfaces = tuple(s.shifted(canon.offset) for s in surfaces)
        mesh = AssetMesh(
            vertices=_readonly(canon.vertices.astype(np.float32)),
            faces=_readonly(canon.faces.astype(np.int32)),
            normals=_readonly(canon.normals.astype(np.float32)),
            uv=_readonly(None if canon.uv is None else canon.uv.astype(np.float32)),
            texture=None if texture is None else _readonly(np.ascontiguousarray(texture, dtype=np.uint8)),
            base_color=entry.base_color,
        )
        return mesh, surfaces


_LIBRARY: AssetLibrary | None = None
_LIBRARY_LOCK = threading.Lock()


def get_library() -> AssetLibrary:
    """The process-wide :class:`AssetLibrary` over the shipped manifest (created on first use)."""
    global _LIBRARY
    with _LIBRARY_LOCK:
        if _LIBRARY is None:
            _LIBRARY = AssetLibrary()
        return _LIBRARY
