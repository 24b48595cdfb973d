"""Sweet Home 3D furniture import: catalogue parsing, licence filter, frames and sizes,
deterministic extraction, library listing.

Tests on synthetic archives run everywhere; those on the Debian archives skip when
``sweethome3d-furniture`` is not installed (``make setup`` installs it).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from gsi_bench.hashing import file_sha256
from gsi_syn.assets import sweethome3d as sh3d
from gsi_syn.assets.library import AssetLibrary

needs_package = pytest.mark.skipif(not sh3d.package_present(),
                                   reason="Debian package sweethome3d-furniture not installed "
                                          "(apt-get install -y sweethome3d-furniture)")

# A pyramid in Sweet Home 3D's frame: square base on y = 0, apex up (+y) and pushed to the
# front (+z), two materials (base red, sides green). Extents x 2, y(up) 3, z 1.
_OBJ = """mtllib m.mtl
v -1 0 -0.5
v 1 0 -0.5
v 1 0 0.5
v -1 0 0.5
v 0 3 0.5
usemtl red
f 1 2 3
f 1 3 4
usemtl green
f 1 5 2
f 2 5 3
f 3 5 4
f 4 5 1
"""
_MTL = "newmtl red\nKd 1 0 0\nnewmtl green\nKd 0 1 0\n"


def _entry(n: int, name: str, folder: str, extra: str = "") -> str:
    return (f"id#{n}=Test#{folder}\nname#{n}={name}\ncategory#{n}=Living room\n"
            f"model#{n}=/lib/{folder}/{folder}.obj\nwidth#{n}=20\ndepth#{n}=10\nheight#{n}=30\n"
            f"movable#{n}=true\ndoorOrWindow#{n}=false\ncreator#{n}=Someone\n{extra}")


def _make_package(root: Path, licence: str = "CC-BY-3.0") -> tuple[Path, Path]:
    """A furniture dir with one archive ``Test.sh3f`` (four entries) and a copyright file."""
    furniture = root / "furniture"
    furniture.mkdir()
    props = ("id=Test\nname=Test catalogue\n"
             + _entry(1, "Pyramid 2", "pyr")
             + _entry(2, "Gpl lamp", "gpl", "license#2=GPL-2+\n")
             + _entry(3, "Front door", "door", "doorOrWindow#3=true\n")
             + _entry(4, "Caf\\u00e9 table (round)", "cafe"))
    with zipfile.ZipFile(furniture / "Test.sh3f", "w") as zf:
        zf.writestr("PluginFurnitureCatalog.properties", props)
        for folder in ("pyr", "gpl", "door", "cafe"):
            zf.writestr(f"lib/{folder}/{folder}.obj", _OBJ)
            zf.writestr(f"lib/{folder}/m.mtl", _MTL)
    copyright_file = root / "copyright"
    copyright_file.write_text(f"Format: x\n\nFiles: Test/*\nCopyright: someone\nLicense: {licence}\n")
    return furniture, copyright_file


def test_properties_parser_handles_escapes_and_continuations():
    props = sh3d.parse_properties("# comment\n! also\nname#1=Arm\\\n   chair\nk : caf\\u00e9\nw#1 = 25.4\n")
    assert props == {"name#1": "Armchair", "k": "café", "w#1": "25.4"}


def test_licence_filter_keeps_cc0_ccby_only():
    assert sh3d.is_open_licence("CC0") and sh3d.is_open_licence("CC-BY-3.0-USA")
    for bad in ("GPL-2+", "CC-BY-SA-3.0", "CC-BY-NC-4.0", "", None, "Proprietary"):
        assert not sh3d.is_open_licence(bad)


def test_synthetic_catalogue_manifest_excludes_gpl_and_doors(tmp_path):
    furniture, copyright_file = _make_package(tmp_path)
    entries = sh3d.read_catalog(furniture / "Test.sh3f", sh3d.debian_licences(copyright_file.read_text()))
    assert [e.licence for e in entries] == ["CC-BY-3.0", "GPL-2+", "CC-BY-3.0", "CC-BY-3.0"]
    assert entries[0].width_cm == 20 and entries[0].height_cm == 30 and entries[0].creator == "Someone"
    manifest = sh3d.build_manifest(furniture, copyright_file)
    assert [a["id"] for a in manifest["assets"]] == ["sh3d/test/pyr", "sh3d/test/cafe"]
    assert manifest["excluded"] == {"door_or_window": 1, "licence": 1}
    assert [a["category"] for a in manifest["assets"]] == ["pyramid", "café table"]
    assert manifest["assets"][0]["files"]["lib/pyr/pyr.obj"] == file_sha256_bytes(_OBJ)
    # a package-wide GPL licence leaves nothing
    other = tmp_path / "gpl"
    other.mkdir()
    assert sh3d.build_manifest(*_make_package(other, "GPL-3+"))["assets"] == []


def file_sha256_bytes(text: str) -> str:
    from gsi_bench.hashing import bytes_sha256

    return bytes_sha256(text.encode())


def test_synthetic_model_frame_size_and_materials(tmp_path):
    furniture, copyright_file = _make_package(tmp_path)
    asset = sh3d.build_manifest(furniture, copyright_file)["assets"][0]
    mesh = sh3d.load_model(asset, tmp_path / "cache", furniture)
    np.testing.assert_allclose(mesh.size, [0.2, 0.1, 0.3], rtol=1e-5)
    v = mesh.vertices
    assert abs(v[:, 2].min()) < 1e-6                        # base on z = 0
    np.testing.assert_allclose((v[:, :2].min(0) + v[:, :2].max(0)) / 2, 0, atol=1e-6)  # footprint centred
    apex = v[np.argmax(v[:, 2])]
    assert abs(apex[0]) < 1e-5 and apex[1] < -0.049          # source +y up → z; front +z → −y
    # two materials packed into one atlas: both red and green texels present
    assert mesh.texture is not None and mesh.uv is not None
    colours = {tuple(c) for c in mesh.texture.reshape(-1, 3)}
    assert (255, 0, 0) in colours and (0, 255, 0) in colours


def test_extraction_verifies_digests(tmp_path):
    furniture, copyright_file = _make_package(tmp_path)
    asset = sh3d.build_manifest(furniture, copyright_file)["assets"][0]
    tampered = dict(asset, files=dict(asset["files"], **{"lib/pyr/m.mtl": "0" * 64}))
    with pytest.raises(sh3d.SweetHome3DError, match="differs from the manifest"):
        sh3d.extract_model(tampered, tmp_path / "c", furniture)
    assert not (sh3d.cache_root(tmp_path / "c") / "sh3d__test__pyr").exists()


def test_library_lists_sweethome3d_without_changing_core_listing():
    lib = AssetLibrary()
    core = lib.entries()
    assert all(not e.id.startswith("sh3d/") for e in core)
    models = lib.entries(source="sweethome3d")
    assert len(models) >= 300
    assert len(lib.categories(role=None, source="sweethome3d")) >= 100
    assert all(sh3d.is_open_licence(e.license) for e in models)
    e = lib.entry(models[0].id)
    assert e.source == "sweethome3d" and e.category == e.category.lower()
    assert "armchair" in lib.categories(role=None, source="sweethome3d")
    rows = sh3d.attribution()
    assert len(rows) == len(models) and all(r["licence"] and r["source"] for r in rows)
    assert sh3d.attribution_markdown().count("\n") == len(rows) + 2


@needs_package
def test_committed_manifest_matches_installed_package():
    assert sh3d.build_manifest() == sh3d.read_manifest()


@needs_package
def test_real_model_loads_at_catalogue_size_z_up(tmp_path):
    lib = AssetLibrary(cache_dir=tmp_path)
    entry = lib.entries(source="sweethome3d", category="armchair")[0]
    mesh = lib.mesh(entry.id)
    np.testing.assert_allclose(mesh.size, entry.size_m, rtol=0.01)
    assert abs(float(mesh.bounds[0, 2])) < 1e-6
    # up axis: before the per-axis rescale, the model's own proportions (y up → z) already
    # match the catalogue's width : depth : height for almost every model
    raw_manifest = {a["id"]: a for a in sh3d.read_manifest()["assets"]}
    errors = []
    for e in lib.entries(source="sweethome3d")[::60]:
        a = raw_manifest[e.id]
        raw = sh3d.load_raw(sh3d.extract_model(a, tmp_path), tuple(a["model_rotation"]))
        ext = np.ptp(raw.vertices, axis=0)[[0, 2, 1]]
        errors.append(np.abs(ext / ext.max() - np.array(a["size_m"]) / max(a["size_m"])).max())
    assert np.median(errors) < 0.01


@needs_package
def test_extraction_is_deterministic(tmp_path):
    asset = sh3d.read_manifest()["assets"][0]
    digests = []
    for cache in ("a", "b"):
        obj = sh3d.extract_model(asset, tmp_path / cache)
        folder = obj.parents[len(Path(asset["model"]).parts) - 1]
        digests.append({str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
                        if p.is_file() and p.name != "SHA256SUMS"})
    assert digests[0] == digests[1] == asset["files"]


def _single_model_scene(lib: AssetLibrary, category: str, px: int):
    from gsi_bench.geometry import intrinsics_from_fov, look_at
    from gsi_bench.scene import Camera, Light, Scene, SceneObject

    entry = lib.entries(source="sweethome3d", category=category)[0]
    h = entry.size_m[2]
    cam = Camera.create(intrinsics_from_fov(px, px, 50), look_at((0, -3.5, h / 2), (0, 0, h / 2)), px, px,
                        near=0.05, far=20.0)
    obj = SceneObject(1, entry.id, entry.category, (0.0, 0.0, 0.0), role="support")
    return entry, Scene("room", [obj], Light(), cam)


@needs_package
def test_gl_renders_multi_material_model_upright(tmp_path):
    from gsi_syn.render.gl import GLRenderer, gl_available

    ok, why = gl_available()
    if not ok:
        pytest.skip(f"no headless GL ({why})")
    lib = AssetLibrary(cache_dir=tmp_path)
    entry, scene = _single_model_scene(lib, "fridge", 96)
    w, d, h = entry.size_m
    renderer = GLRenderer(lib)
    out = renderer.render(scene)
    mask = out.instances == 1
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    # seen head-on at mid height: the silhouette's height : width is the catalogue's h : w
    ratio = (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)
    assert abs(ratio / (h / w) - 1) < 0.1
    assert out.rgb[mask].std(axis=0).max() > 5          # shaded, several materials / texels
    assert np.array_equal(renderer.render(scene).rgb, out.rgb)


def test_missing_package_is_a_clear_error(tmp_path):
    with pytest.raises(sh3d.SweetHome3DError, match="apt-get install -y sweethome3d-furniture"):
        sh3d.build_manifest(tmp_path, tmp_path / "copyright")
    asset = {"id": "sh3d/x/y", "archive": "X", "model": "x/y.obj", "files": {"x/y.obj": "0" * 64}}
    with pytest.raises(sh3d.SweetHome3DError, match="no Sweet Home 3D furniture archives"):
        sh3d.extract_model(asset, tmp_path / "cache", tmp_path)


@needs_package
def test_cycles_renders_model_aligned_with_gl_instances(tmp_path):
    from gsi_syn.render.cycles import CyclesRenderer, CyclesSettings, cycles_available

    ok, why = cycles_available()
    if not ok:
        pytest.skip(f"bpy not installed ({why})")
    lib = AssetLibrary(cache_dir=tmp_path)
    _, scene = _single_model_scene(lib, "sofa", 64)
    renderer = CyclesRenderer(library=lib, settings=CyclesSettings(samples=4))
    gl = renderer.render(scene).instances
    assert (gl == 1).sum() > 200
    assert (renderer.object_index(scene) == gl).mean() >= 0.999
    rgb = renderer.photo(scene)
    assert rgb.shape == (64, 64, 3) and rgb[gl == 1].std(axis=0).max() > 5
