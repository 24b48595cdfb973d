"""GL published images (:meth:`GLRenderer.photo`): supersampled colour aligned with the exact
1-sample instance map, PBR + image-based light from the HDRIs' SH irradiance, determinism."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tiny asset library of test_render (same folder)

from test_render import FakeLibrary, _box, _camera, _floor, shadow_scene  # noqa: E402

from gsi_syn.render.environment import HDRI_CHOICES, SH_TABLE, choose_hdri, irradiance  # noqa: E402
from gsi_syn.render.raycast import RaycastRenderer  # noqa: E402
from gsi_bench.scene import Light, Material, Scene, SceneObject  # noqa: E402


@pytest.fixture(scope="module")
def gl():
    from gsi_syn.render.gl import GLRenderer, gl_available

    ok, why = gl_available()
    if not ok:
        pytest.skip(f"no headless EGL/OpenGL context here: {why}")
    return GLRenderer(FakeLibrary())


def _white_box_scene(size: int = 96) -> Scene:
    """A white, rotated box on a dark floor, seen from straight above (only its flat-lit top
    shows): high-contrast silhouettes of uniform brightness."""
    floor = _floor()
    floor.material = Material(color=(0.05, 0.05, 0.05), specular=0.0)
    box = _box(7, (0.03, -0.02, 0.0), (0.3, 0.22, 0.2), color=(1.0, 1.0, 1.0))
    box.yaw_deg = 23.0
    box.material = Material(color=(1.0, 1.0, 1.0), specular=0.0)
    return Scene("tabletop", [floor, box], Light(direction=(0.0, 0.2, -1.0), ambient=0.5, intensity=0.8),
                 _camera(size, size, (0.03, -0.021, 1.2), (0.03, -0.02, 0.0), fov=30.0), background=(0, 0, 0))


def test_photo_is_antialiased_and_aligned_with_the_instance_map(gl):
    scene = _white_box_scene()
    ids = gl.render(scene).instances
    photo = gl.photo(scene).astype(np.float64).mean(axis=2)
    box = ids == 7
    # interior / exterior are flat; silhouette pixels take intermediate values (partial coverage)
    inner = box & np.roll(box, 1, 0) & np.roll(box, -1, 0) & np.roll(box, 1, 1) & np.roll(box, -1, 1)
    outer = ~box & ~np.roll(box, 1, 0) & ~np.roll(box, -1, 0) & ~np.roll(box, 1, 1) & ~np.roll(box, -1, 1)
    lo, hi = np.percentile(photo[outer], 95), np.percentile(photo[inner], 5)
    edge = ~inner & ~outer

    def intermediate(img: np.ndarray) -> np.ndarray:
        return (img > lo + 0.15 * (hi - lo)) & (img < hi - 0.15 * (hi - lo))

    from gsi_syn.render.gl import GLRenderer

    aliased = GLRenderer(FakeLibrary(), supersampling=1).photo(scene).astype(np.float64).mean(axis=2)
    n_aa, n_plain = np.count_nonzero(intermediate(photo) & edge), np.count_nonzero(intermediate(aliased) & edge)
    assert n_aa > 0.15 * np.count_nonzero(edge) and n_aa > 4 * max(n_plain, 1), (n_aa, n_plain)
    assert np.count_nonzero(intermediate(photo) & (inner | outer)) < 0.01 * box.size
    # no sub-pixel shift: the photo's coverage-weighted centroid = the instance mask's centroid
    cover = np.clip((photo - lo) / (hi - lo), 0, 1)
    rows, cols = np.mgrid[:box.shape[0], :box.shape[1]]
    c_photo = np.array([(rows * cover).sum(), (cols * cover).sum()]) / cover.sum()
    c_mask = np.array([rows[box].mean(), cols[box].mean()])
    assert np.abs(c_photo - c_mask).max() < 0.15, (c_photo, c_mask)


def test_photo_leaves_ids_exact_and_equal_to_raycast(gl):
    scene = shadow_scene(128, 128)
    before = gl.render(scene)
    gl.photo(scene)  # renders at 2x with other shaders / shadow filter: nothing may leak
    after = gl.render(scene)
    assert np.array_equal(before.instances, after.instances) and np.array_equal(before.rgb, after.rgb)
    ray = RaycastRenderer(FakeLibrary()).render(scene)
    differ = after.instances != ray.instances
    assert differ.mean() < 0.005  # only rasterisation ties at silhouettes


def test_photo_is_deterministic_and_lit_by_the_scene_hdri(gl):
    scene = _white_box_scene(64)
    a, b = gl.photo(scene), gl.photo(scene)
    assert a.tobytes() == b.tobytes()
    # another HDRI (a different light → another hash) tints the image differently
    tints = set()
    for dz in np.linspace(-1.0, -0.6, 12):
        s = Scene(scene.subset, scene.objects, Light(direction=(0.0, 0.2, float(dz)), ambient=0.5, intensity=0.0),
                  scene.camera, scene.background)
        rgb = gl.photo(s)[gl.render(s).instances == 7].mean(axis=0)
        tints.add((choose_hdri(s)[0], tuple(np.round(rgb / rgb.sum(), 2))))
    names = {n for n, _ in tints}
    assert len(names) >= 3 and len({t for _, t in tints}) >= len(names)


def test_sh_irradiance_is_brighter_from_the_sky():
    up, down = np.array([[0.0, 0.0, 1.0]]), np.array([[0.0, 0.0, -1.0]])
    for name in ("city", "courtyard", "forest", "sunrise", "sunset"):  # outdoor: the sky is above
        e_up, e_down = irradiance(name, 0.0, up)[0], irradiance(name, 0.0, down)[0]
        assert e_up.sum() > e_down.sum(), name
    # normalised: the mean irradiance over all directions has luminance 1
    rng = np.random.default_rng(0)
    d = rng.normal(size=(20000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    for name in HDRI_CHOICES:
        lum = irradiance(name, 37.0, d) @ [0.2126, 0.7152, 0.0722]
        assert abs(lum.mean() - 1.0) < 0.03, name


def test_sh_table_matches_the_hdris_in_the_bpy_wheel():
    pytest.importorskip("bpy")
    from gsi_syn.render.environment import compute_sh_table

    table = json.loads(SH_TABLE.read_text())["coefficients"]
    fresh = compute_sh_table()
    assert set(HDRI_CHOICES) <= set(fresh) and fresh.keys() == table.keys()
    for name in fresh:
        np.testing.assert_allclose(fresh[name], table[name], atol=1e-5)


def test_generated_records_publish_the_photo_and_record_its_settings():
    from gsi_syn.render.gl import GLRenderer
    from gsi_syn.sampler import GenerationConfig, generate_unit

    gl = GLRenderer()
    cfg = GenerationConfig(subset="tabletop", resolution=64, num=1, operations=("rotate",))
    (rec,) = generate_unit(cfg, 0, gl)
    spec = json.loads(rec.scene)
    src = Scene.from_dict(spec["source"])
    assert np.array_equal(rec.source_image, gl.photo(src))
    assert np.array_equal(rec.source_instances, gl.render(src).instances)
    assert spec["render"]["renderer"] == "gl" and spec["render"]["supersampling"] == 2
    assert spec["render"]["hdri"] == choose_hdri(src)[0]
    assert isinstance(src.objects[0], SceneObject)
