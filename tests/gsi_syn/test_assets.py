"""Tests of the versioned asset library (gsi_syn.assets)."""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gsi_syn.assets import (
    AssetEntry,
    AssetFetchError,
    AssetLibrary,
    AssetMesh,
    ensure_robosuite_assets,
    fetch,
    get_library,
)
from gsi_syn.assets.canonical import canonicalize, crease_normals, source_to_canonical
from gsi_syn.assets.generators import PROCEDURAL_VERSION
from gsi_bench.hashing import canonical_json, file_sha256
from gsi_syn.assets.hashing import mesh_sha256
from gsi_syn.assets.maintain import procedural_sha256
from gsi_syn.assets.manifest import MANIFEST_PATH, ManifestError, dump_manifest, parse_manifest, read_manifest
from gsi_syn.assets.objfile import load_obj
from gsi_syn.assets.procedural import GENERATORS
from gsi_syn.assets.shapes import box, sphere
from gsi_syn.assets.textures import MAX_TEXTURE_PX, load_uv_texture

LIB = AssetLibrary()
ENTRIES = LIB.entries()


def _robosuite_available() -> bool:
    """robosuite files are usable offline: already extracted, or a local wheel is configured."""
    expected = fetch.expected_robosuite_files(LIB.manifest)
    if fetch.is_complete(fetch.robosuite_dir(), expected):
        return True
    wheel = os.environ.get(fetch.ENV_WHEEL)
    return bool(wheel) and Path(wheel).is_file()


ROBOSUITE_SKIP = ("robosuite assets are not extracted and no local wheel is configured: run "
                  "`python -c 'from gsi_syn.assets import ensure_robosuite_assets as e; e()'` (needs PyPI) "
                  "or set GSI_BENCH_ROBOSUITE_WHEEL=/path/to/robosuite-1.5.2-py3-none-any.whl")


def _needs(entry_source: str) -> None:
    if entry_source == "robosuite" and not _robosuite_available():
        pytest.skip(ROBOSUITE_SKIP)


# -- manifest -----------------------------------------------------------------------------------

def test_manifest_is_versioned_and_parses():
    m = read_manifest()
    assert m["version"] == "1.0.0"
    assert set(m) >= {"version", "sources", "textures", "assets"}
    assets, textures = parse_manifest(m)
    assert len(assets) == len(m["assets"]) == len(ENTRIES)
    assert len(textures) >= 30
    assert m["sources"]["robosuite"]["version"] == "1.5.2"
    assert m["sources"]["procedural"]["version"] == PROCEDURAL_VERSION


def test_at_least_30_object_categories_and_required_receptacles_and_supports():
    objects = LIB.categories("object")
    assert len(objects) >= 30, objects
    assert {"mug", "duck", "teddy bear", "soccer ball", "can", "cereal box", "lemon", "teapot",
            "banana", "laptop"} <= set(objects)
    assert {"tray", "bowl", "plate", "box", "basket"} <= set(LIB.categories("receptacle"))
    assert {"table", "floor", "shelf", "cabinet", "counter", "sofa", "bed"} <= set(LIB.categories("support"))
    assert "wall" in LIB.categories("structure")
    assert LIB.categories(None) == sorted({e.category for e in ENTRIES})
    assert [e.id for e in LIB.entries(category="tray")] == ["pybullet/tray"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_entry_fields_are_consistent(entry: AssetEntry):
    assert isinstance(entry, AssetEntry)
    assert entry.license == {"pybullet_data": "zlib", "robosuite": "MIT", "procedural": "Apache-2.0"}[entry.source]
    assert entry.source_version == {"pybullet_data": "3.2.7", "robosuite": "1.5.2",
                                    "procedural": PROCEDURAL_VERSION}[entry.source]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.category_zh)
    assert entry.description and entry.category
    assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
    assert 0 < entry.size_range[0] <= 1 <= entry.size_range[1]
    for tid in entry.textures:
        assert tid in LIB.texture_ids("material") or tid in LIB.texture_ids()
    if entry.is_procedural:
        assert entry.source_path in GENERATORS
        assert (entry.canonical_up, entry.canonical_front) == ("+z", "-y")
    if entry.is_parametric:
        assert entry.role in ("support", "structure")
        assert entry.size_range == (1.0, 1.0)
    if entry.is_procedural:  # the manifest names exactly the generator's keyword parameters
        sig = inspect.signature(GENERATORS[entry.source_path].__wrapped__)
        assert set(sig.parameters) == set(entry.params)
    if entry.uv_texture == "palette":
        assert entry.is_procedural
    if entry.uv_texture is not None:  # a mesh with its own image is not re-textured by scenes
        assert entry.textures == ()


def test_manifest_sha256_is_stable_and_layout_independent(tmp_path):
    a, b = AssetLibrary(), AssetLibrary()
    assert a.manifest_sha256 == b.manifest_sha256 == get_library().manifest_sha256
    raw = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert a.manifest_sha256 == hashlib.sha256(canonical_json(raw, ensure_ascii=False, allow_nan=False).encode()).hexdigest()
    relaid = tmp_path / "manifest.json"
    relaid.write_text(json.dumps(raw, indent=7, sort_keys=False, ensure_ascii=True), encoding="utf-8")
    assert AssetLibrary(relaid).manifest_sha256 == a.manifest_sha256
    changed = copy.deepcopy(raw)
    changed["assets"][0]["description"] += " (edited)"
    relaid.write_text(json.dumps(changed), encoding="utf-8")
    assert AssetLibrary(relaid).manifest_sha256 != a.manifest_sha256


def test_committed_manifest_uses_the_canonical_layout():
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    assert text == dump_manifest(json.loads(text))


def test_manifest_validation_rejects_bad_entries():
    raw = read_manifest()
    bad = copy.deepcopy(raw)
    bad["assets"].append(copy.deepcopy(bad["assets"][0]))
    with pytest.raises(ManifestError, match="duplicate"):
        parse_manifest(bad)
    bad = copy.deepcopy(raw)
    bad["assets"][0]["symmetry"] = "3fold"
    with pytest.raises(ManifestError, match="symmetry"):
        parse_manifest(bad)
    bad = copy.deepcopy(raw)
    bad["assets"][0]["textures"] = ["no-such-texture"]
    with pytest.raises(ManifestError, match="unknown texture"):
        parse_manifest(bad)
    bad = copy.deepcopy(raw)
    bad["assets"][0]["canonical_front"] = bad["assets"][0]["canonical_up"].replace("+", "-")
    with pytest.raises(ManifestError, match="different axes"):
        parse_manifest(bad)


def test_unknown_ids_raise_key_error():
    with pytest.raises(KeyError, match="entries()"):
        LIB.entry("pybullet/unicorn")
    with pytest.raises(KeyError, match="unknown asset id"):
        LIB.mesh("proc/unicorn")
    with pytest.raises(KeyError, match="unknown texture id"):
        LIB.texture("plaid")


# -- meshes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_every_entry_loads_in_the_canonical_frame(entry: AssetEntry):
    _needs(entry.source)
    m = LIB.mesh(entry.id)
    assert isinstance(m, AssetMesh)
    v, f, n = m.vertices, m.faces, m.normals
    assert v.dtype == np.float32 and v.ndim == 2 and v.shape[1] == 3 and len(v) >= 3
    assert f.dtype == np.int32 and f.ndim == 2 and f.shape[1] == 3 and len(f) >= 1
    assert n.dtype == np.float32 and n.shape == v.shape
    assert f.min() >= 0 and f.max() < len(v)
    assert len(np.unique(f)) == len(v), "unreferenced vertices"
    lo, hi = m.bounds
    assert abs(lo[2]) <= 1e-6
    assert abs(lo[0] + hi[0]) / 2 <= 1e-6 and abs(lo[1] + hi[1]) / 2 <= 1e-6
    np.testing.assert_allclose(m.size, entry.size_m, rtol=0.02, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(n.astype(np.float64), axis=1), 1.0, atol=1e-5)
    # Vertex normals agree with the face winding (outward, counter-clockwise faces).
    tri = v.astype(np.float64)[f]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    agree = np.einsum("ij,ij->i", face_n, n[f].astype(np.float64).sum(axis=1)) > 0
    assert agree.mean() > 0.99
    if entry.uv_texture is None:
        assert m.uv is None and m.texture is None
    else:
        assert m.uv is not None and m.uv.dtype == np.float32 and m.uv.shape == (len(v), 2)
        assert m.uv.min() >= 0.0 and m.uv.max() <= 1.0
        assert m.texture is not None and m.texture.dtype == np.uint8 and m.texture.ndim == 3
        assert m.texture.shape[2] == 3 and max(m.texture.shape[:2]) <= MAX_TEXTURE_PX
    assert tuple(m.base_color) == entry.base_color
    assert not v.flags.writeable and not f.flags.writeable, "cached arrays must be read-only"
    assert LIB.mesh(entry.id) is m, "meshes are cached"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.is_procedural], ids=lambda e: e.id)
def test_procedural_meshes_are_modest_and_outward(entry: AssetEntry):
    m = LIB.mesh(entry.id)
    assert len(m.faces) < 5000
    tri = m.vertices.astype(np.float64)[m.faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    if entry.id == "proc/floor":
        assert volume == pytest.approx(0.0, abs=1e-9)
    else:
        assert volume > 0


def test_packaged_meshes_scale_uniformly_unless_stretched_on_purpose():
    # Only the lemon (robosuite stretches it 1.5× itself) and the flattened tray are anisotropic.
    for entry in LIB.entries():
        if entry.is_procedural or entry.source == "robosuite" and not _robosuite_available():
            continue
        raw = load_obj(LIB.source_file(entry.source, entry.source_path))
        ext = np.ptp(raw.vertices @ source_to_canonical(entry.canonical_up, entry.canonical_front).T, axis=0)
        factors = np.asarray(entry.size_m) / ext
        spread = factors.max() / factors.min()
        if entry.id in ("robosuite/lemon", "pybullet/tray"):
            assert spread > 1.05
        else:
            assert spread < 1.01, entry.id


# -- digests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_sha256_matches_source(entry: AssetEntry):
    _needs(entry.source)
    if entry.is_procedural:
        assert procedural_sha256(LIB, entry) == entry.sha256
    else:
        assert file_sha256(LIB.source_file(entry.source, entry.source_path)) == entry.sha256


def test_texture_sha256_and_decoding():
    for tid in LIB.texture_ids():
        t = LIB.texture_entry(tid)
        if t.source == "robosuite" and not _robosuite_available():
            continue
        assert file_sha256(LIB.source_file(t.source, t.source_path)) == t.sha256
    img = LIB.texture("duck")
    assert img.dtype == np.uint8 and img.shape == (512, 512, 3)
    assert LIB.texture("duck") is img and not img.flags.writeable
    domino = LIB.texture("domino")  # 2048 × 1024 JPEG, downsampled keeping its aspect
    assert domino.shape == (256, 512, 3)


def test_procedural_generation_is_deterministic():
    for name, gen in GENERATORS.items():
        entry = next(e for e in ENTRIES if e.source_path == name and e.is_procedural)
        a, b = gen(**entry.params), gen(**entry.params)
        assert a.part.vertices.tobytes() == b.part.vertices.tobytes(), name
        assert a.part.faces.tobytes() == b.part.faces.tobytes(), name
    first, second = AssetLibrary(), AssetLibrary()
    for entry in ENTRIES:
        if entry.is_procedural:
            m1, m2 = first.mesh(entry.id), second.mesh(entry.id)
            assert m1 is not m2
            assert mesh_sha256(m1.vertices, m1.faces) == mesh_sha256(m2.vertices, m2.faces)
            assert m1.normals.tobytes() == m2.normals.tobytes()


# -- parameters and support surfaces ---------------------------------------------------------------------

def test_parametric_table():
    m = LIB.mesh("proc/table", {"width": 1.0, "depth": 0.6, "height": 0.7, "top_thickness": 0.03})
    np.testing.assert_allclose(m.size, [1.0, 0.6, 0.7], atol=1e-6)
    (top,) = LIB.support_surfaces("proc/table", {"height": 0.7, "width": 1.0, "depth": 0.6, "top_thickness": 0.03})
    assert top.z == pytest.approx(0.7) and (top.x_min, top.x_max) == pytest.approx((-0.5, 0.5))
    assert LIB.mesh("proc/table", {"height": 0.75}) is LIB.mesh("proc/table")  # defaults fill in
    a = LIB.mesh("proc/table", {"width": 0.9, "height": 0.6})
    assert LIB.mesh("proc/table", {"height": 0.6, "width": 0.9}) is a
    with pytest.raises(ValueError, match="outside"):
        LIB.mesh("proc/table", {"height": 3.0})
    with pytest.raises(ValueError, match="unknown"):
        LIB.mesh("proc/table", {"colour": 1.0})
    with pytest.raises(ValueError, match="no parameters"):
        LIB.mesh("proc/bowl", {"width": 0.2})


def test_shelf_and_room_supports():
    surfaces = LIB.support_surfaces("proc/shelf", {"boards": 4, "height": 1.5})
    assert len(surfaces) == 4
    assert surfaces[-1].z == pytest.approx(1.5) and surfaces[0].z == pytest.approx(0.02)
    with pytest.raises(ValueError, match="whole number"):
        LIB.mesh("proc/shelf", {"boards": 2.5})
    floor = LIB.mesh("proc/floor", {"width": 3.0, "depth": 2.0})
    np.testing.assert_allclose(floor.size, [3.0, 2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(floor.normals, np.tile([0.0, 0.0, 1.0], (len(floor.normals), 1)), atol=1e-6)
    wall = LIB.mesh("proc/wall", {"width": 5.0, "height": 2.8, "thickness": 0.12})
    np.testing.assert_allclose(wall.size, [5.0, 0.12, 2.8], atol=1e-6)
    (seat,) = LIB.support_surfaces("proc/sofa")
    assert 0.4 < seat.z < 0.5
    for asset_id in ("proc/cabinet", "proc/counter", "proc/bed"):
        (top,) = LIB.support_surfaces(asset_id)
        lo, hi = LIB.mesh(asset_id).bounds
        assert lo[0] - 1e-6 <= top.x_min < top.x_max <= hi[0] + 1e-6
        assert lo[1] - 1e-6 <= top.y_min < top.y_max <= hi[1] + 1e-6
    assert LIB.support_surfaces("proc/bowl") == ()


# -- geometry helpers -----------------------------------------------------------------------------------

def test_axis_mapping_is_a_proper_rotation():
    axes = ["+x", "-x", "+y", "-y", "+z", "-z"]
    for up in axes:
        for front in axes:
            if up[1] == front[1]:
                with pytest.raises(ValueError):
                    source_to_canonical(up, front)
                continue
            r = source_to_canonical(up, front)
            assert np.linalg.det(r) == pytest.approx(1.0)
            unit = {a: np.eye(3)[i] for i, a in enumerate("xyz")}
            up_v = unit[up[1]] * (1 if up[0] == "+" else -1)
            front_v = unit[front[1]] * (1 if front[0] == "+" else -1)
            np.testing.assert_allclose(r @ up_v, [0, 0, 1])
            np.testing.assert_allclose(r @ front_v, [0, -1, 0])


def test_canonicalize_scales_centres_and_splits_creases():
    cube = box((2.0, 2.0, 2.0), (5.0, -3.0, 7.0))
    c = canonicalize(cube.vertices, cube.faces, None, up="+y", front="+x", size=(0.1, 0.2, 0.3))
    np.testing.assert_allclose(np.ptp(c.vertices, axis=0), [0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(c.vertices.min(axis=0), [-0.05, -0.1, 0.0], atol=1e-12)
    # Every cube corner is split into one copy per face direction; normals are axis-aligned.
    assert len(np.unique(np.round(c.normals, 9), axis=0)) == 6
    assert np.all(np.isclose(np.abs(c.normals).max(axis=1), 1.0))
    ball = sphere(1.0, sections=24, rings=12)
    v, f, _, n = crease_normals(ball.vertices, ball.faces, None)
    assert len(v) == len(ball.vertices)  # smooth: nothing split
    np.testing.assert_allclose(np.einsum("ij,ij->i", n, v / np.linalg.norm(v, axis=1, keepdims=True)), 1.0,
                               atol=0.01)


def test_uv_baking_keeps_texels(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    path = tmp_path / "t.png"
    from PIL import Image

    Image.fromarray(img).save(path)
    h, w = img.shape[:2]
    cols, rows = np.arange(w), np.arange(h)
    cc, rr = np.meshgrid(cols, rows)
    base_uv = np.stack([(cc.ravel() + 0.5) / w, 1.0 - (rr.ravel() + 0.5) / h], axis=1)
    shifted = base_uv + np.array([[-1.0, 2.0]]) * (np.arange(len(base_uv)) % 2)[:, None]  # repeat tiles
    baked, new_uv = load_uv_texture(path, shifted)
    assert new_uv.min() >= 0 and new_uv.max() <= 1
    bh, bw = baked.shape[:2]
    px = np.floor(new_uv[:, 0] * bw).astype(int)
    py = np.floor((1.0 - new_uv[:, 1]) * bh).astype(int)
    np.testing.assert_array_equal(baked[py, px], img[rr.ravel(), cc.ravel()])
    same, same_uv = load_uv_texture(path, base_uv)
    assert same.shape == img.shape and np.array_equal(same_uv, base_uv)


# -- robosuite extraction ------------------------------------------------------------------------------

def _fake_wheel(path: Path) -> dict[str, str]:
    """A tiny wheel with the member layout of robosuite's; returns the expected digests."""
    wanted = {
        "robosuite/models/assets/objects/meshes/thing.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
        "robosuite/models/assets/objects/meshes/thing.mtl": b"newmtl m\n",
        "robosuite/models/assets/textures/wood.png": b"\x89PNG fake",
        "robosuite-1.5.2.dist-info/licenses/LICENSE": b"MIT License\n",
        "robosuite-1.5.2.dist-info/licenses/AUTHORS": b"someone\n",
    }
    ignored = {
        "robosuite/__init__.py": b"",
        "robosuite/models/assets/objects/meshes/thing.stl": b"solid",
        "robosuite/models/assets/objects/meshes/deeper/other.obj": b"v 0 0 0\n",
        "robosuite/models/assets/objects/thing.xml": b"<mujoco/>",
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in {**wanted, **ignored}.items():
            zf.writestr(name, data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in wanted.items()}


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith("."))


def test_robosuite_extraction_is_atomic_and_idempotent(tmp_path, monkeypatch):
    wheel = tmp_path / "robosuite-1.5.2-py3-none-any.whl"
    expected = _fake_wheel(wheel)
    cache = tmp_path / "cache"
    monkeypatch.setenv(fetch.ENV_WHEEL, str(wheel))
    root = ensure_robosuite_assets(cache, expected=expected)
    assert root == cache / "robosuite-1.5.2"
    for name, digest in expected.items():
        assert file_sha256(root / name) == digest
    assert not (root / "robosuite/__init__.py").exists()
    assert not (root / "robosuite/models/assets/objects/meshes/thing.stl").exists()
    assert not (root / "robosuite/models/assets/objects/meshes/deeper").exists()
    assert (root / fetch.MARKER_NAME).read_text() == fetch.marker_text(expected)
    assert _leftovers(cache) == []
    stamp = (root / fetch.MARKER_NAME).stat().st_mtime_ns
    # Idempotent: a complete cache is used as is (the wheel is not even looked at).
    monkeypatch.setenv(fetch.ENV_WHEEL, str(tmp_path / "missing.whl"))
    assert ensure_robosuite_assets(cache, expected=expected) == root
    assert (root / fetch.MARKER_NAME).stat().st_mtime_ns == stamp
    # An incomplete directory (no marker, e.g. an interrupted copy) is rebuilt.
    (root / fetch.MARKER_NAME).unlink()
    (root / "junk.txt").write_text("partial")
    monkeypatch.setenv(fetch.ENV_WHEEL, str(wheel))
    assert ensure_robosuite_assets(cache, expected=expected) == root
    assert fetch.is_complete(root, expected) and not (root / "junk.txt").exists()
    assert _leftovers(cache) == []


def test_robosuite_extraction_rejects_altered_or_incomplete_wheels(tmp_path, monkeypatch):
    wheel = tmp_path / "robosuite-1.5.2-py3-none-any.whl"
    expected = _fake_wheel(wheel)
    cache = tmp_path / "cache"
    monkeypatch.setenv(fetch.ENV_WHEEL, str(wheel))
    tampered = dict(expected)
    tampered["robosuite/models/assets/textures/wood.png"] = "0" * 64
    with pytest.raises(AssetFetchError, match="sha256 mismatch"):
        ensure_robosuite_assets(cache, expected=tampered)
    assert not (cache / "robosuite-1.5.2").exists() and _leftovers(cache) == []
    more = dict(expected)
    more["robosuite/models/assets/textures/absent.png"] = "1" * 64
    with pytest.raises(AssetFetchError, match="missing"):
        ensure_robosuite_assets(cache, expected=more)
    fewer = dict(expected)
    del fewer["robosuite/models/assets/objects/meshes/thing.mtl"]
    with pytest.raises(AssetFetchError, match="unexpected"):
        ensure_robosuite_assets(cache, expected=fewer)
    not_zip = tmp_path / "broken.whl"
    not_zip.write_bytes(b"not a zip")
    monkeypatch.setenv(fetch.ENV_WHEEL, str(not_zip))
    with pytest.raises(AssetFetchError, match="not a readable wheel"):
        ensure_robosuite_assets(cache, expected=expected)
    assert not (cache / "robosuite-1.5.2").exists() and _leftovers(cache) == []


def test_robosuite_download_failure_explains_the_offline_route(tmp_path, monkeypatch):
    monkeypatch.delenv(fetch.ENV_WHEEL, raising=False)

    def offline(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"] and "robosuite==1.5.2" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(fetch.subprocess, "run", offline)
    with pytest.raises(AssetFetchError) as info:
        ensure_robosuite_assets(tmp_path / "cache", expected={"x": "0" * 64})
    text = str(info.value)
    assert "pip download" in text and fetch.ENV_WHEEL in text and "No matching distribution" in text
    assert _leftovers(tmp_path / "cache") == []


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    from gsi_bench import cache, hub_io

    monkeypatch.setenv(cache.ENV_CACHE, str(tmp_path / "c"))
    assert fetch.default_cache_dir() == tmp_path / "c" / "assets"
    assert fetch.robosuite_dir() == tmp_path / "c" / "assets" / "robosuite-1.5.2"
    assert hub_io._schema_cache_file().parent == tmp_path / "c" / "schema"  # one root for both
    monkeypatch.delenv(cache.ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fetch.default_cache_dir() == tmp_path / "xdg" / "gsi-bench" / "assets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fetch.default_cache_dir() == Path.home() / ".cache" / "gsi-bench" / "assets"


def test_manifest_lists_exactly_the_robosuite_members_it_extracts():
    files = LIB.manifest["sources"]["robosuite"]["files"]
    assert fetch.select_members(list(files)) == sorted(files)
    assert any(p.endswith("/LICENSE") for p in files) and any(p.endswith("/AUTHORS") for p in files)
    for entry in LIB.entries():
        if entry.source == "robosuite":
            assert files[entry.source_path] == entry.sha256
    for tid in LIB.texture_ids():
        t = LIB.texture_entry(tid)
        if t.source == "robosuite":
            assert files[t.source_path] == t.sha256


def test_pool_sha256_covers_the_sweethome3d_manifest_and_roles(monkeypatch, tmp_path):
    """The provenance hash of generated scenes changes when the Sweet Home 3D manifest or its role
    table changes, not only the core manifest."""
    from gsi_syn.assets import sweethome3d

    base = AssetLibrary().pool_sha256
    assert len(base) == 64 and base != AssetLibrary().manifest_sha256
    roles = sweethome3d.read_roles()
    roles["version"] = str(roles["version"]) + "-edited"
    edited = tmp_path / "roles.json"
    edited.write_text(json.dumps(roles), encoding="utf-8")
    monkeypatch.setattr(sweethome3d, "ROLES_PATH", edited)
    monkeypatch.setattr(sweethome3d, "read_roles", lambda path=edited: json.loads(edited.read_text("utf-8")))
    assert AssetLibrary().pool_sha256 != base
