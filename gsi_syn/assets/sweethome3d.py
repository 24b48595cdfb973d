"""Sweet Home 3D furniture libraries packaged by Debian (``sweethome3d-furniture``).

The package installs five ``.sh3f`` archives under :data:`FURNITURE_DIR` (zip files holding a
``PluginFurnitureCatalog.properties`` catalogue plus one folder of OBJ + MTL + textures per model)
and a machine-readable ``copyright`` file that gives each archive's licence. This module

* reads the catalogues (:func:`read_catalog`): id, name, category, creator, licence, width /
  depth / height (cm), model path, model rotation and the door-or-window / staircase flags;
* keeps only CC0 and CC-BY models (:func:`is_open_licence`; GPL-only, share-alike, non-commercial
  or unstated licences are excluded), and skips doors, windows, staircases and human figures
  (:func:`usable`);
* names each model as people do in instructions (:func:`plain_noun`: ``"Armchair 2"`` →
  ``"armchair"``);
* writes the versioned manifest ``data/sweethome3d.json`` (:func:`build_manifest`; one entry per
  model with its licence, author, size in metres and the SHA-256 of every file of its folder);
* extracts a model's folder into the asset cache on first use (:func:`extract_model`, verified
  against the manifest, installed atomically) and loads it with trimesh (:func:`load_model`):
  multi-part, multi-material meshes are merged and their materials packed into one texture
  atlas, the catalogue's model rotation is applied, Sweet Home 3D's y-up / front-+z frame becomes
  the canonical z-up / front-−y frame, and the mesh is scaled per axis to the catalogue size
  (cm → m), footprint centred and base at ``z = 0``.

Nothing extracted is committed; the cache is the robosuite one (:func:`.fetch.default_cache_dir`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from gsi_bench.hashing import bytes_sha256, file_sha256
from gsi_syn.assets.fetch import MAX_MEMBER_BYTES, default_cache_dir

#: Where Debian installs the furniture archives, and its copyright file (licence per archive).
FURNITURE_DIR = Path("/usr/share/sweethome3d/furniture")
COPYRIGHT_PATH = Path("/usr/share/doc/sweethome3d-furniture/copyright")
#: The manifest of the usable models, committed (small: metadata and digests only).
MANIFEST_PATH = Path(__file__).resolve().parent / "data" / "sweethome3d.json"
#: Manifest schema version (bump when the entry layout or the selection rules change).
MANIFEST_VERSION = "1.0.0"
SOURCE_URL = "https://packages.debian.org/sweethome3d-furniture"
CATALOG_NAME = "PluginFurnitureCatalog.properties"
CATALOG_NAME_ZH = "PluginFurnitureCatalog_zh_CN.properties"
#: Catalogue categories left out: human figures are not furniture or household objects.
EXCLUDED_CATEGORIES = frozenset({"Characters"})
#: Catalogue categories kept (licensed, listed) but not offered to indoor scenes (``scenes=()``).
OUTDOOR_CATEGORIES = frozenset({"Exterior", "Vehicles"})
#: A model is a tabletop-sized object when it is movable and no side exceeds this (m).
OBJECT_MAX_SIDE_M = 0.6


class SweetHome3DError(RuntimeError):
    """The Debian package is missing or its files do not match the manifest."""


# -- catalogue ------------------------------------------------------------------------------------
def parse_properties(text: str) -> dict[str, str]:
    """Key → value of a Java ``.properties`` text (comments, ``\\`` line continuations,
    ``\\uXXXX`` and ``\\t``-style escapes; ``=``, ``:`` or blank separators).

    >>> parse_properties("# c\\nname#1=Arm\\\\\\n  chair\\nx : caf\\\\u00e9")
    {'name#1': 'Armchair', 'x': 'café'}
    """
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        m = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$", line)
        if m:
            out[_unescape(m.group(1))] = _unescape(m.group(2))
    return out


def _continues(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _unescape(s: str) -> str:
    table = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5
                  else table.get(m.group(1), m.group(1)), s)


def debian_licences(copyright_text: str) -> dict[str, str]:
    """Archive name (e.g. ``"Scopia"``) → licence short name from a Debian machine-readable
    copyright file (its ``Files: <name>/*`` stanzas)."""
    out: dict[str, str] = {}
    for stanza in re.split(r"\n\s*\n", copyright_text):
        files = re.search(r"^Files:\s*(\S+)/\*\s*$", stanza, re.M)
        lic = re.search(r"^License:\s*(\S+)", stanza, re.M)
        if files and lic:
            out[files.group(1)] = lic.group(1)
    return out


def is_open_licence(licence: str | None) -> bool:
    """Whether a licence lets the dataset redistribute renders with attribution only:
    CC0 / public domain or plain CC-BY (no SA, NC or ND); GPL and unknown ones are excluded.

    >>> [is_open_licence(x) for x in ("CC0", "CC-BY-3.0-USA", "CC-BY-SA-3.0", "GPL-2+", None)]
    [True, True, False, False, False]
    """
    if not licence:
        return False
    lic = licence.strip().upper()
    if lic.startswith("CC0") or lic in ("PUBLIC DOMAIN", "PUBLIC-DOMAIN"):
        return True
    return re.fullmatch(r"CC-BY(-\d(\.\d)?)?(-[A-Z]{2,3})?", lic) is not None


@dataclass(frozen=True)
class CatalogEntry:
    """One model of a Sweet Home 3D catalogue (sizes in cm as the catalogue states them).

    ``model``: the OBJ's path inside the archive (no leading slash); ``model_rotation``: row-major
    3×3 matrix applied to the model's vertices before sizing (identity when absent);
    ``drop_on_top``: the catalogue's ``dropOnTopElevation`` (cm above the base at which objects
    dropped on it rest), ``None`` when absent.
    """

    archive: str
    index: int
    id: str
    name: str
    name_zh: str
    category: str
    creator: str
    licence: str | None
    width_cm: float
    depth_cm: float
    height_cm: float
    model: str
    model_rotation: tuple[float, ...]
    movable: bool
    door_or_window: bool
    staircase: bool
    drop_on_top: float | None


def read_catalog(archive: str | Path, licences: Mapping[str, str] | None = None) -> list[CatalogEntry]:
    """The entries of one ``.sh3f`` archive in catalogue order.

    Licence per entry: the entry's own ``license#N`` if any, else ``licences[archive stem]``
    (from the Debian copyright file), else the catalogue's ``license=`` header, else ``None``.
    """
    archive = Path(archive)
    with zipfile.ZipFile(archive) as zf:
        props = parse_properties(zf.read(CATALOG_NAME).decode("latin-1"))
        try:
            zh = parse_properties(zf.read(CATALOG_NAME_ZH).decode("latin-1"))
        except KeyError:
            zh = {}
    default = (licences or {}).get(archive.stem) or props.get("license")
    indices = sorted(int(k.split("#", 1)[1]) for k in props if k.startswith("id#"))
    out = []
    for n in indices:
        def get(key: str, fallback: str | None = None) -> str | None:
            return props.get(f"{key}#{n}", fallback)

        name = get("name") or get("id", "").split("#")[-1]
        rotation = tuple(float(x) for x in (get("modelRotation") or "1 0 0 0 1 0 0 0 1").split())
        drop = get("dropOnTopElevation")
        out.append(CatalogEntry(
            archive=archive.stem, index=n, id=get("id"), name=name.strip(),
            name_zh=zh.get(f"name#{n}", name).strip(), category=get("category", "Miscellaneous"),
            creator=(get("creator") or "").strip(), licence=get("license", default),
            width_cm=float(get("width")), depth_cm=float(get("depth")), height_cm=float(get("height")),
            model=get("model").lstrip("/"), model_rotation=rotation,
            movable=get("movable", "true") == "true", door_or_window=get("doorOrWindow", "false") == "true",
            staircase=get("staircaseCutOutShape") is not None,
            drop_on_top=None if drop is None else float(drop)))
    return out


def usable(entry: CatalogEntry) -> bool:
    """Open licence, an OBJ model, and neither a door / window, a staircase nor a human figure."""
    return (is_open_licence(entry.licence) and entry.model.lower().endswith(".obj")
            and not entry.door_or_window and not entry.staircase
            and entry.category not in EXCLUDED_CATEGORIES)


#: Leading words that describe an instance (size, shape, style, material, brand line), not the
#: kind of thing; dropped from the category while another word remains (kept in ``name``).
INSTANCE_MODIFIERS = frozenset({
    "small", "little", "large", "big", "modern", "contemporary", "classic", "old", "round", "rounded",
    "square", "oval", "black", "white", "blue", "clear", "oak", "wooden", "teck", "teak", "alder",
    "iron", "rattan", "plastic", "burlap", "painted", "concrete", "winchester", "osaka", "ryokan",
    "bended", "japanese", "woman", "technical", "bullet", "residential", "park"})
#: Catalogue names (after cleaning) whose everyday noun differs: brands, models, spelling.
NOUN_ALIASES = {
    "apple imac": "computer", "apple ibook": "laptop", "apple iphone": "mobile phone",
    "ford focus": "car", "chevrolet": "car", "peugeot cc": "car", "renault scenic": "car",
    "seat leon": "car", "smart car": "car", "vw new beetle": "car", "concept sedan": "car",
    "concept sedan sport": "car", "car model": "toy car", "yamaha yzr r6": "motorbike",
    "playstation": "game console", "tv :": "tv", "trunck": "trunk", "hashtray": "ashtray",
    "bike": "bicycle", "couch": "sofa", "refrigerator": "fridge", "dustbin": "trash can",
    "trashcan": "trash can", "toilets unit": "toilet", "lavatory": "washbasin",
    "frame chambord": "picture frame", "frame hôi an": "picture frame", "bill €": "banknote",
    "convertible sofa bz": "sofa bed", "opened convertible sofa bz": "sofa bed",
    "parking slot °": "parking slot", "white board": "whiteboard", "sofa seats": "sofa",
    "table with tablecloth": "table", "glass table": "table", "shoes": "shoes", "mp3 base": "speaker dock",
    "mp3 station": "speaker dock", "barnum": "party tent", "puff": "pouf", "flacon": "perfume bottle",
    "contemporary living room": "living room set", "full bookcase": "bookcase",
}


def plain_noun(name: str) -> str:
    """The category noun people use for a catalogue name: lower case, without numbering,
    sizes, bracketed remarks or leading instance modifiers, brands mapped to their noun.

    >>> [plain_noun(n) for n in ("Armchair", "Bed 140x190", "Chair 2", "Lamp (ceiling)", "TV-Unit",
    ...                          "Wooden alder table", "Ford Focus", "Coffee table")]
    ['armchair', 'bed', 'chair', 'lamp', 'tv unit', 'table', 'car', 'coffee table']
    """
    s = re.sub(r"\(.*?\)", " ", name.lower())
    s = re.sub(r"\b\d+(\.\d+)?\s*x\s*\d+(\.\d+)?(\s*cm)?\b", " ", s)
    s = re.sub(r"[_\-/]", " ", s)
    s = re.sub(r"\b\d+\b|#\d*", " ", s)
    s = re.sub(r"\s+", " ", s).strip() or name.lower().strip()
    if s in NOUN_ALIASES:
        return NOUN_ALIASES[s]
    words = s.split(" ")
    while len(words) > 1 and words[0] in INSTANCE_MODIFIERS:
        words = words[1:]
    s = " ".join(words)
    return NOUN_ALIASES.get(s, s)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _model_dir(entry: CatalogEntry) -> str:
    return str(PurePosixPath(entry.model).parent)


# -- manifest -------------------------------------------------------------------------------------
def package_present(furniture_dir: Path = FURNITURE_DIR) -> bool:
    """Whether the Debian archives are installed."""
    return furniture_dir.is_dir() and any(furniture_dir.glob("*.sh3f"))


def _require_package(furniture_dir: Path) -> None:
    if not package_present(furniture_dir):
        raise SweetHome3DError(f"no Sweet Home 3D furniture archives in {furniture_dir}; install them "
                               "with `apt-get install -y sweethome3d-furniture` (or `make setup`)")


def build_manifest(furniture_dir: Path = FURNITURE_DIR, copyright_path: Path = COPYRIGHT_PATH) -> dict[str, Any]:
    """The manifest dict of every usable model of the installed package (deterministic: archives
    and entries in sorted / catalogue order, files sorted by path)."""
    _require_package(furniture_dir)
    licences = debian_licences(copyright_path.read_text(encoding="utf-8")) if copyright_path.is_file() else {}
    archives: dict[str, Any] = {}
    assets: list[dict[str, Any]] = []
    excluded: dict[str, int] = {}
    for path in sorted(furniture_dir.glob("*.sh3f")):
        entries = read_catalog(path, licences)
        archives[path.stem] = {"file": path.name, "sha256": file_sha256(path),
                               "licence": licences.get(path.stem), "models": len(entries)}
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if not n.endswith("/"))
            for e in entries:
                if not usable(e):
                    reason = ("licence" if not is_open_licence(e.licence) else
                              "door_or_window" if e.door_or_window else
                              "staircase" if e.staircase else "category" if e.category in EXCLUDED_CATEGORIES
                              else "format")
                    excluded[reason] = excluded.get(reason, 0) + 1
                    continue
                folder = _model_dir(e) + "/"
                files = {n: bytes_sha256(zf.read(n)) for n in names if n.startswith(folder)}
                category = plain_noun(e.name)
                size_m = [round(e.width_cm / 100, 6), round(e.depth_cm / 100, 6), round(e.height_cm / 100, 6)]
                small = e.movable and max(size_m) <= OBJECT_MAX_SIDE_M
                assets.append({
                    "id": f"sh3d/{_slug(path.stem)}/{_slug(PurePosixPath(e.model).stem)}",
                    "catalog_id": e.id, "name": e.name, "category": category, "category_zh": e.name_zh,
                    "catalog_category": e.category, "kind": "object" if small else "furniture",
                    "archive": path.stem, "author": e.creator, "licence": e.licence,
                    "source": f"{SOURCE_URL} ({path.name})", "model": e.model,
                    "model_rotation": list(e.model_rotation), "size_m": size_m,
                    "drop_on_top": e.drop_on_top, "files": files})
    ids = [a["id"] for a in assets]
    if len(set(ids)) != len(ids):
        raise SweetHome3DError("two usable models map to the same asset id")
    return {"version": MANIFEST_VERSION, "package": "sweethome3d-furniture", "archives": archives,
            "excluded": dict(sorted(excluded.items())), "assets": assets}


def read_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The committed Sweet Home 3D manifest (plain dict)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_manifest(manifest: Mapping[str, Any], path: Path = MANIFEST_PATH) -> None:
    """Write ``manifest`` as compact, sorted-key JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def attribution(manifest: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per model for the dataset card: asset id, name, author, licence and source."""
    manifest = manifest if manifest is not None else read_manifest()
    return [{"id": a["id"], "name": a["name"], "author": a["author"] or "unknown",
             "licence": a["licence"], "source": a["source"]} for a in manifest["assets"]]


def attribution_markdown(manifest: Mapping[str, Any] | None = None) -> str:
    """The attribution list as a Markdown table (for the dataset card)."""
    rows = ["| Asset | Model | Author | Licence | Source |", "|---|---|---|---|---|"]
    rows += [f"| `{r['id']}` | {r['name']} | {r['author']} | {r['licence']} | {r['source']} |"
             for r in attribution(manifest)]
    return "\n".join(rows) + "\n"


# -- extraction -----------------------------------------------------------------------------------
def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``<cache>/sweethome3d-<manifest version>``."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"sweethome3d-{MANIFEST_VERSION}"


def extract_model(asset: Mapping[str, Any], cache_dir: str | Path | None = None,
                  furniture_dir: Path = FURNITURE_DIR) -> Path:
    """Path of the asset's extracted OBJ, extracting its folder on first use.

    Every file is checked against the manifest SHA-256 (:class:`SweetHome3DError` on mismatch);
    the folder is written to a temporary directory and renamed into place, so a half-written
    folder never appears. A folder already present is trusted only if its ``SHA256SUMS`` marker
    matches the manifest.
    """
    files: Mapping[str, str] = asset["files"]
    root = cache_root(cache_dir)
    folder = root / asset["id"].replace("/", "__")
    marker = "".join(f"{files[p]}  {p}\n" for p in sorted(files))
    if _complete(folder, marker):
        return folder / asset["model"]
    archive = furniture_dir / f"{asset['archive']}.sh3f"
    _require_package(furniture_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        with zipfile.ZipFile(archive) as zf:
            for name, sha in sorted(files.items()):
                info = zf.getinfo(name)
                if info.file_size > MAX_MEMBER_BYTES or ".." in PurePosixPath(name).parts:
                    raise SweetHome3DError(f"{archive}:{name} is not a plausible model file")
                data = zf.read(name)
                if bytes_sha256(data) != sha:
                    raise SweetHome3DError(f"{archive}:{name} differs from the manifest (sha256); the "
                                           f"installed package is not the one {MANIFEST_PATH.name} was built from")
                out = tmp / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
        (tmp / "SHA256SUMS").write_text(marker)
        if _complete(folder, marker):  # another process finished first
            shutil.rmtree(tmp)
            return folder / asset["model"]
        if folder.exists():  # stale or incomplete
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if _complete(folder, marker):  # lost a race to another process
            return folder / asset["model"]
        raise
    return folder / asset["model"]


def _complete(folder: Path, marker: str) -> bool:
    """Whether ``folder`` holds a finished extraction whose ``SHA256SUMS`` equals ``marker``."""
    path = folder / "SHA256SUMS"
    return path.is_file() and path.read_text() == marker


# -- loading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawModel:
    """A model merged into one mesh, still in Sweet Home 3D's frame (y up, front +z), after the
    catalogue's model rotation. ``vertices`` float64 ``(V, 3)``, ``faces`` int64 ``(F, 3)``,
    ``uv`` float64 ``(V, 2)`` in [0, 1] or ``None``, ``texture`` uint8 ``(H, W, 3)`` atlas or
    ``None``, ``color`` sRGB [0, 1]³ (the single material colour when there is no atlas)."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    texture: np.ndarray | None
    color: tuple[float, float, float]


def load_raw(obj_path: Path, model_rotation: tuple[float, ...] = (1, 0, 0, 0, 1, 0, 0, 0, 1),
             max_texture_px: int = 512) -> RawModel:
    """Load an OBJ with its MTL and textures through trimesh, merging every part and packing the
    materials into one atlas (multi-material models keep their per-part colours / images)."""
    import trimesh
    from PIL import Image

    scene = trimesh.load(str(obj_path), force="scene", process=False)
    if not scene.geometry:
        raise SweetHome3DError(f"{obj_path} holds no geometry")
    mesh = scene.to_geometry()
    vertices = np.asarray(mesh.vertices, dtype=np.float64) @ np.asarray(model_rotation, dtype=np.float64).reshape(3, 3).T
    faces = np.asarray(mesh.faces, dtype=np.int64)
    uv = texture = None
    color = (0.8, 0.8, 0.8)
    visual = mesh.visual
    if getattr(visual, "kind", None) == "texture":
        material = visual.material
        image = getattr(material, "image", None)
        if image is None and hasattr(material, "baseColorTexture"):
            image = material.baseColorTexture
        if image is not None and visual.uv is not None and len(visual.uv) == len(vertices):
            im = image.convert("RGB")
            if max(im.size) > max_texture_px:
                s = max_texture_px / max(im.size)
                im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.LANCZOS)
            texture = np.asarray(im, dtype=np.uint8)
            uv = np.clip(np.asarray(visual.uv, dtype=np.float64), 0.0, 1.0)
        else:
            diffuse = getattr(material, "diffuse", None)
            if diffuse is None and hasattr(material, "baseColorFactor"):
                diffuse = material.baseColorFactor
            if diffuse is not None:
                color = tuple(float(c) / 255.0 for c in np.asarray(diffuse)[:3])  # type: ignore[assignment]
    return RawModel(vertices, faces, uv, texture, color)


#: Version of the converted-mesh cache files (bump when :func:`load_model`'s output changes).
CONVERTED_VERSION = "1"


def load_model(asset: Mapping[str, Any], cache_dir: str | Path | None = None,
               furniture_dir: Path = FURNITURE_DIR):
    """The canonical :class:`~gsi_syn.assets.mesh.AssetMesh` of a manifest asset: z up, front
    −y, scaled per axis to ``size_m``, footprint centred, base at ``z = 0``.

    The converted arrays are kept next to the extracted model (``canonical-v<N>.npz``, written
    atomically), so later processes load them without parsing the OBJ again (bit-identical)."""
    from gsi_syn.assets.mesh import AssetMesh

    obj = extract_model(asset, cache_dir, furniture_dir)
    folder = obj.parents[len(PurePosixPath(asset["model"]).parts) - 1]
    key = bytes_sha256(json.dumps([asset["files"][asset["model"]], asset["size_m"], asset["model_rotation"]],
                                  sort_keys=True).encode())[:16]
    path = folder / f"canonical-v{CONVERTED_VERSION}-{key}.npz"
    arrays = _read_converted(path)
    if arrays is None:
        arrays = _convert(asset, obj)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npz")
        try:
            np.savez(tmp, **{k: v for k, v in arrays.items() if v is not None})
            os.replace(tmp, path)
        except OSError:  # a read-only cache: convert again next time
            tmp.unlink(missing_ok=True)

    def ro(a):
        if a is not None:
            a.setflags(write=False)
        return a

    color = tuple(float(c) for c in arrays["base_color"])
    return AssetMesh(vertices=ro(arrays["vertices"]), faces=ro(arrays["faces"]), normals=ro(arrays["normals"]),
                     uv=ro(arrays.get("uv")), texture=ro(arrays.get("texture")),
                     base_color=color)  # type: ignore[arg-type]


def _convert(asset: Mapping[str, Any], obj: Path) -> dict[str, np.ndarray | None]:
    """Arrays of the canonical mesh of ``asset`` parsed from its OBJ (see :func:`load_model`)."""
    from gsi_syn.assets.canonical import canonicalize

    raw = load_raw(obj, tuple(asset["model_rotation"]))
    with np.errstate(invalid="ignore", divide="ignore"):  # faces tiny after scaling: their unit normal
        # is NaN, which only makes their edges creases; vertex normals come from area-weighted sums
        canon = canonicalize(raw.vertices, raw.faces, raw.uv, up="+y", front="+z", size=tuple(asset["size_m"]))
    return {"vertices": canon.vertices.astype(np.float32), "faces": canon.faces.astype(np.int32),
            "normals": canon.normals.astype(np.float32),
            "uv": None if canon.uv is None else canon.uv.astype(np.float32),
            "texture": None if raw.texture is None else np.ascontiguousarray(raw.texture),
            "base_color": np.asarray((1.0, 1.0, 1.0) if raw.texture is not None else raw.color, np.float64)}


def _read_converted(path: Path) -> dict[str, np.ndarray | None] | None:
    """The arrays of a converted-mesh cache file, or ``None`` when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return {k: z[k] if k in z.files else None
                    for k in ("vertices", "faces", "normals", "uv", "texture", "base_color")}
    except (OSError, ValueError, KeyError):
        return None


# -- roles in scenes -------------------------------------------------------------------------------
#: The committed role table (:func:`build_roles`): per model its role, noun, groups, placement
#: and, for supports, the top surface verified on the mesh.
ROLES_PATH = Path(__file__).resolve().parent / "data" / "sweethome3d_roles.json"
ROLES_VERSION = "1.1.0"  # 1.1: objects' and receptacles' yaw symmetry
#: Receptacles must offer at least this much inner floor (m²) to take an object.
MIN_RECEPTACLE_FLOOR_M2 = 0.006


def build_roles(manifest: Mapping[str, Any] | None = None, cache_dir: str | Path | None = None
                ) -> dict[str, Any]:
    """The role table of every model :func:`.roles.describe` gives a role: ``{"version",
    "manifest_version", "assets": {id: {"role", "noun", "groups", "where", "faces"[, "top"]
    [, "symmetry"]}}, "rejected": {id: reason}}``. Supports keep their ray-cast top ``[z, x_min,
    x_max, y_min, y_max]`` (m, canonical frame; :func:`.roles.top_surface`) and are rejected without one;
    objects and receptacles their symmetry under yaw (:func:`.roles.yaw_symmetry`);
    receptacles without an inner floor become objects; models over :data:`.roles.MAX_FACES`
    triangles (objects: :data:`.roles.MAX_OBJECT_FACES`) are rejected. Deterministic (manifest order)."""
    from gsi_syn.assets import roles

    manifest = manifest if manifest is not None else read_manifest()
    out: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    for asset in manifest["assets"]:
        role = roles.describe(asset)
        if role is None:
            continue
        mesh = load_model(asset, cache_dir)
        row: dict[str, Any] = {"role": role.role, "noun": role.noun, "groups": list(role.groups),
                               "where": role.where, "faces": int(len(mesh.faces))}
        limit = roles.MAX_OBJECT_FACES if role.role in ("object", "receptacle") else roles.MAX_FACES
        if len(mesh.faces) > limit:
            rejected[asset["id"]] = f"{len(mesh.faces)} triangles"
            continue
        if role.role == "support":
            top = roles.top_surface(mesh.vertices, mesh.faces)
            if top is None:
                rejected[asset["id"]] = "no flat clear top"
                continue
            row["top"] = top.as_list()
        elif role.role == "receptacle" and roles.receptacle_floor_area(mesh.vertices, mesh.faces) < MIN_RECEPTACLE_FLOOR_M2:
            row["role"] = "object"
        if row["role"] in ("object", "receptacle"):
            row["symmetry"] = roles.yaw_symmetry(mesh)
        out[asset["id"]] = row
    return {"version": ROLES_VERSION, "manifest_version": manifest["version"], "assets": out,
            "rejected": rejected}


def read_roles(path: Path = ROLES_PATH) -> dict[str, Any]:
    """The committed role table (plain dict; see :func:`build_roles`)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# -- asset library --------------------------------------------------------------------------------
def asset_entry(asset: Mapping[str, Any], role: Mapping[str, Any] | None = None):
    """The :class:`~gsi_syn.assets.manifest.AssetEntry` of a manifest asset.

    With its row of the role table (``role``): that role (``furniture`` becomes ``structure``:
    it furnishes rooms but carries nothing) and noun, scenes ``tabletop`` and ``room`` for
    objects and receptacles, ``room`` for the rest. Without one (a model scenes do not use):
    small movable models are ``object``, the rest ``support``, and ``scenes=()``.
    """
    from gsi_syn.assets.manifest import AssetEntry

    if role is not None:
        kind = {"furniture": "structure"}.get(role["role"], role["role"])
        category = role["noun"]
        scenes: tuple[str, ...] = ("tabletop", "room") if kind in ("object", "receptacle") else ("room",)
    else:
        kind = "object" if asset["kind"] == "object" else "support"
        category, scenes = asset["category"], ()
    return AssetEntry(
        id=asset["id"], category=category, category_zh=asset["category_zh"],
        role=kind, source="sweethome3d", source_path=asset["model"],
        source_version=f"{asset['archive']} ({MANIFEST_VERSION})", license=asset["licence"],
        canonical_up="+y", canonical_front="+z", size_m=tuple(asset["size_m"]),  # type: ignore[arg-type]
        size_range=(0.9, 1.1) if kind in ("object", "receptacle") else (1.0, 1.0),
        symmetry=(role or {}).get("symmetry", "none"), recolorable=False, textures=(),
        description=f"{asset['name']} by {asset['author'] or 'unknown'} ({asset['licence']})",
        sha256=asset["files"][asset["model"]], base_color=(1.0, 1.0, 1.0), uv_texture=None, scenes=scenes)


def support_surfaces(role: Mapping[str, Any] | None):
    """The verified top of a support (its role-table row's ``top``) as one
    :class:`~gsi_syn.assets.generators.SupportSurface` (canonical frame, m); empty otherwise."""
    from gsi_syn.assets.generators import SupportSurface

    if role is None or "top" not in role:
        return ()
    z, x0, x1, y0, y1 = role["top"]
    return (SupportSurface(z=z, x_min=x0, x_max=x1, y_min=y0, y_max=y1),)


def summary(manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Counts of a manifest: usable models, categories (all, object-kind, furniture-kind, indoor),
    models per licence and exclusions by reason."""
    manifest = manifest if manifest is not None else read_manifest()
    assets = manifest["assets"]
    indoor = [a for a in assets if a["catalog_category"] not in OUTDOOR_CATEGORIES]
    licences: dict[str, int] = {}
    for a in assets:
        licences[a["licence"]] = licences.get(a["licence"], 0) + 1
    return {"models": len(assets), "categories": len({a["category"] for a in assets}),
            "object_categories": len({a["category"] for a in assets if a["kind"] == "object"}),
            "furniture_categories": len({a["category"] for a in assets if a["kind"] == "furniture"}),
            "indoor_models": len(indoor), "indoor_categories": len({a["category"] for a in indoor}),
            "licences": dict(sorted(licences.items())), "excluded": dict(manifest["excluded"])}


def main(argv: list[str] | None = None) -> int:
    """``python -m gsi_syn.assets.sweethome3d [--write] [--write-roles]``: print the counts of the
    committed manifest, or rebuild it (and the role table) from the installed Debian package
    first."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gsi_syn.assets.sweethome3d", description=main.__doc__)
    parser.add_argument("--write", action="store_true",
                        help=f"rebuild {MANIFEST_PATH.name} from the installed sweethome3d-furniture package")
    parser.add_argument("--write-roles", action="store_true",
                        help=f"rebuild {ROLES_PATH.name} (roles, verified support tops) from the models")
    args = parser.parse_args(argv)
    try:
        if args.write:
            write_manifest(build_manifest())
        if args.write or args.write_roles:
            write_manifest(build_roles(), ROLES_PATH)
    except SweetHome3DError as err:
        parser.exit(1, f"error: {err}\n")
    print(json.dumps(summary(), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
