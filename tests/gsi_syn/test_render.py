"""Renderer backends: projection and depth against the geometry module, GL vs ray-casting
agreement, instance maps, shadows, ``only=``, textures and determinism.

The scenes use a tiny in-test asset library (trimesh primitives), so these tests do not depend on
the real asset library.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from gsi_bench.geometry import intrinsics_from_fov, look_at, project_points, rot_z
from gsi_bench.scene import Camera, Light, Material, Scene, SceneObject
from gsi_syn.assets.mesh import AssetMesh
from gsi_syn.render.base import RenderOutput, get_renderer
from gsi_syn.render.raycast import RaycastRenderer, pixel_rays

FLOOR = 1
TEXTURE_QUADRANTS = {  # sRGB, image quadrant → colour (row 0 = top of the image)
    "top_left": (220, 30, 30), "top_right": (30, 200, 40),
    "bottom_left": (30, 40, 220), "bottom_right": (240, 240, 240)}


# ---------------------------------------------------------------------------------------------
# A tiny asset library
# ---------------------------------------------------------------------------------------------

def _canonical(mesh: trimesh.Trimesh, **kw) -> AssetMesh:
    """An AssetMesh in the canonical frame: footprint centre at the origin, lowest point z = 0."""
    v = np.asarray(mesh.vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    v = v - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]
    return AssetMesh(v.astype(np.float32), np.asarray(mesh.faces, np.int32),
                     np.asarray(mesh.vertex_normals, np.float32), **kw)


def _quadrant_texture(n: int = 8) -> np.ndarray:
    img = np.zeros((n, n, 3), np.uint8)
    h = n // 2
    img[:h, :h] = TEXTURE_QUADRANTS["top_left"]
    img[:h, h:] = TEXTURE_QUADRANTS["top_right"]
    img[h:, :h] = TEXTURE_QUADRANTS["bottom_left"]
    img[h:, h:] = TEXTURE_QUADRANTS["bottom_right"]
    return img


class FakeLibrary:
    """``box`` (x/y/z sizes, flat normals), ``sphere`` (r), ``plane`` (open w×w square at z = 0,
    facing up), ``quad`` (1×1 m plane with UVs and its own quadrant texture); textures
    ``two_tone`` (left half red, right half blue) and ``quadrants``."""

    def mesh(self, asset_id: str, params: dict | None = None) -> AssetMesh:
        p = dict(params or {})
        if asset_id == "box":
            m = trimesh.creation.box((p.get("x", 1.0), p.get("y", 1.0), p.get("z", 1.0)))
            m.unmerge_vertices()
            return _canonical(m)
        if asset_id == "sphere":
            return _canonical(trimesh.creation.icosphere(subdivisions=3, radius=p.get("r", 0.1)))
        if asset_id in ("plane", "quad"):
            w = p.get("w", 1.0) / 2
            v = np.array([[-w, -w, 0], [w, -w, 0], [w, w, 0], [-w, w, 0]], np.float32)
            f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
            n = np.tile(np.array([0, 0, 1], np.float32), (4, 1))
            if asset_id == "plane":
                return AssetMesh(v, f, n)
            uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
            return AssetMesh(v, f, n, uv=uv, texture=_quadrant_texture(), base_color=(1.0, 1.0, 1.0))
        raise KeyError(asset_id)

    def texture(self, texture_id: str) -> np.ndarray:
        if texture_id == "quadrants":
            return _quadrant_texture()
        if texture_id == "two_tone":
            img = np.zeros((8, 8, 3), np.uint8)
            img[:, :4] = (220, 30, 30)
            img[:, 4:] = (30, 40, 220)
            return img
        raise KeyError(texture_id)


# ---------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------

def _floor(specular: float = 0.0, color=(0.7, 0.7, 0.7)) -> SceneObject:
    return SceneObject(FLOOR, "plane", "floor", (0.0, 0.0, 0.0), params={"w": 6.0}, role="structure",
                       material=Material(color=color, specular=specular))


def _camera(width: int, height: int, eye, target, fov: float = 50.0, K: np.ndarray | None = None) -> Camera:
    K = intrinsics_from_fov(width, height, fov) if K is None else K
    return Camera.create(K, look_at(eye, target), width, height, near=0.05, far=20.0)


def _box(iid: int, pos, size=(0.2, 0.2, 0.3), yaw: float = 0.0, color=(0.8, 0.3, 0.2), **mat) -> SceneObject:
    return SceneObject(iid, "box", "box", tuple(pos), yaw_deg=yaw,
                       params={"x": size[0], "y": size[1], "z": size[2]},
                       material=Material(color=color, **mat), support_id=FLOOR)


def cluttered_scene(width: int = 128, height: int = 96) -> Scene:
    """Floor, three boxes and two spheres, several partly hiding others from the camera."""
    objs = [_floor(specular=0.1),
            _box(10, (0.0, 0.0, 0.0), (0.3, 0.2, 0.35), yaw=20),
            _box(11, (0.12, 0.35, 0.0), (0.25, 0.25, 0.5), yaw=-10, color=(0.2, 0.6, 0.3)),
            _box(12, (-0.35, 0.25, 0.0), (0.2, 0.4, 0.25), yaw=45, color=(0.3, 0.3, 0.8)),
            SceneObject(13, "sphere", "ball", (-0.12, -0.22, 0.0), params={"r": 0.09},
                        material=Material(color=(0.9, 0.8, 0.1))),
            SceneObject(14, "sphere", "ball", (0.3, -0.05, 0.0), scale=1.5, params={"r": 0.07},
                        material=Material(color=(0.7, 0.2, 0.7)))]
    return Scene("tabletop", objs, Light(direction=(0.4, 0.5, -0.77)),
                 _camera(width, height, (0.35, -1.3, 0.9), (0.0, 0.1, 0.15)))


LIGHT_X = Light(direction=(0.6, 0.0, -0.8), ambient=0.3)  # sun towards +x, 53° above the horizon


def shadow_scene(width: int = 128, height: int = 128, with_b: bool = True) -> Scene:
    """Box A (0.2×0.2×0.3 m) at the origin with the sun along +x: its shadow on the floor covers
    x ∈ [0.1, 0.325], y ∈ [-0.1, 0.1]. Box B sits well away from it."""
    objs = [_floor(), _box(20, (0.0, 0.0, 0.0))]
    if with_b:
        objs.append(_box(21, (-0.45, 0.4, 0.0), (0.15, 0.15, 0.15), color=(0.2, 0.5, 0.8)))
    camera = _camera(width, height, (0.05, -0.9, 1.2), (0.0, 0.05, 0.0), fov=45.0)
    return Scene("tabletop", objs, LIGHT_X, camera)


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

def _gl_or_skip():
    from gsi_syn.render.gl import GLRenderer, gl_available

    ok, reason = gl_available()
    if not ok:
        pytest.skip(f"no headless EGL/OpenGL context here: {reason}")
    return GLRenderer


@pytest.fixture(scope="module")
def library() -> FakeLibrary:
    return FakeLibrary()


@pytest.fixture(scope="module")
def gl(library):
    return _gl_or_skip()(library)


@pytest.fixture(scope="module")
def ray(library):
    return RaycastRenderer(library)


@pytest.fixture(params=["gl", "raycast"])
def renderer(request, gl_lazy, ray):
    return gl_lazy() if request.param == "gl" else ray


@pytest.fixture(scope="module")
def gl_lazy(library):
    """A factory, so that raycast-parametrised tests run even without GL."""
    made = {}

    def make():
        if "r" not in made:
            made["r"] = _gl_or_skip()(library)
        return made["r"]

    return make


def _pixel(scene: Scene, point) -> tuple[int, int]:
    """(row, column) of the pixel whose centre is nearest to the projection of a world point."""
    uv, _ = project_points(scene.camera.K_array, scene.camera.cam_from_world_array, np.array([point], float))
    return round(float(uv[0, 1])), round(float(uv[0, 0]))


def _luma(out: RenderOutput, rc: tuple[int, int]) -> float:
    return float(out.rgb[rc].astype(np.float64).mean())


def _ray_box_depth(scene: Scene, obj: SceneObject, size, row: int, col: int) -> float:
    """Camera z of the first intersection of the ray through pixel (row, col) with an oriented box
    (slab method in the box frame)."""
    origin, dirs = pixel_rays(scene.camera)
    d = dirs[row * scene.camera.width + col]
    m = obj.world_from_object()
    inv = np.linalg.inv(m)
    o_box = inv[:3, :3] @ origin + inv[:3, 3]
    d_box = inv[:3, :3] @ d
    lo = np.array([-size[0] / 2, -size[1] / 2, 0.0])
    hi = np.array([size[0] / 2, size[1] / 2, size[2]])
    with np.errstate(divide="ignore"):
        t1, t2 = (lo - o_box) / d_box, (hi - o_box) / d_box
    t_near = np.max(np.minimum(t1, t2))
    assert t_near <= np.min(np.maximum(t1, t2)), "the ray misses the box"
    hit = origin + t_near * d
    T = scene.camera.cam_from_world_array
    return float(T[2, :3] @ hit + T[2, 3])


# ---------------------------------------------------------------------------------------------
# Projection, depth, instance maps
# ---------------------------------------------------------------------------------------------

def test_unit_cube_projects_where_geometry_says(renderer):
    # non-square image and an off-centre principal point catch transposed or half-pixel errors
    K = np.array([[88.0, 0.0, 52.3], [0.0, 88.0, 37.6], [0.0, 0.0, 1.0]])
    cube = _box(7, (0.1, 0.2, 0.0), (1.0, 1.0, 1.0), yaw=30.0)
    scene = Scene("tabletop", [cube], Light(), _camera(112, 80, (1.2, -3.0, 2.2), (0.1, 0.2, 0.5), K=K))
    out = renderer.render(scene)

    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (0.0, 1.0)])
    corners = corners @ rot_z(30.0).T + [0.1, 0.2, 0.0]
    uv, _ = project_points(K, scene.camera.cam_from_world_array, corners)
    rows, cols = np.nonzero(out.mask(7))
    assert cols.min() == pytest.approx(uv[:, 0].min(), abs=1.0)
    assert cols.max() == pytest.approx(uv[:, 0].max(), abs=1.0)
    assert rows.min() == pytest.approx(uv[:, 1].min(), abs=1.0)
    assert rows.max() == pytest.approx(uv[:, 1].max(), abs=1.0)

    r, c = _pixel(scene, [0.1, 0.2, 0.5])
    assert out.instances[r, c] == 7
    assert out.depth[r, c] == pytest.approx(_ray_box_depth(scene, cube, (1, 1, 1), r, c), abs=1e-3)


def test_frontal_face_depth_is_camera_z_not_ray_length(renderer):
    cube = _box(3, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    scene = Scene("tabletop", [cube], Light(), _camera(64, 64, (0.0, -2.5, 0.5), (0.0, 0.0, 0.5), fov=40))
    out = renderer.render(scene)
    face = out.depth[out.instances == 3]
    # the front face y = -0.5 is parallel to the image plane: every pixel on it has z = 2.0 m
    assert np.median(face) == pytest.approx(2.0, abs=1e-4)
    assert np.abs(out.depth[20:44, 20:44] - 2.0).max() < 1e-4


def test_instance_map_dtypes_and_background(renderer):
    scene = cluttered_scene(96, 72)
    out = renderer.render(scene)
    assert out.rgb.dtype == np.uint8 and out.rgb.shape == (72, 96, 3)
    assert out.instances.dtype == np.uint16 and out.instances.shape == (72, 96)
    assert out.depth.dtype == np.float32 and out.depth.shape == (72, 96)
    assert set(np.unique(out.instances)) <= {0} | {o.instance_id for o in scene.objects}
    hit = out.instances > 0
    assert 0 < hit.mean() < 1  # the sky above the horizon is background
    assert np.all(out.depth[~hit] == 0) and np.all(out.depth[hit] > scene.camera.near)
    bg = np.round(np.asarray(scene.background) * 255).astype(np.uint8)
    assert np.all(out.rgb[~hit] == bg)


def test_gl_and_raycast_agree_on_masks_and_depth(gl, ray):
    for width, height in ((128, 96), (64, 64)):
        scene = cluttered_scene(width, height)
        a, b = gl.render(scene), ray.render(scene)
        assert (a.instances == b.instances).mean() >= 0.98
        # disagreements only at silhouettes: every differing pixel has a differing 4-neighbour
        diff = a.instances != b.instances
        edge = np.zeros_like(diff)
        ids = a.instances
        edge[1:, :] |= ids[1:, :] != ids[:-1, :]
        edge[:-1, :] |= ids[:-1, :] != ids[1:, :]
        edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
        edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
        assert not np.any(diff & ~edge)
        same = (a.instances == b.instances) & (a.instances > 0)
        err = np.abs(a.depth[same].astype(np.float64) - b.depth[same])
        assert np.median(err) < 1e-3
        assert np.percentile(err, 95) < 3e-3
        for iid in (10, 11, 12, 13, 14):  # every object is visible, some only in part
            assert a.mask(iid).sum() > 0


def test_only_renders_the_given_instances(renderer):
    scene = cluttered_scene(96, 72)
    out = renderer.render(scene, only=[11, 13])
    assert set(np.unique(out.instances)) <= {0, 11, 13}
    full = renderer.render(scene)
    # box 10 stands in front of box 11: alone, box 11 shows more pixels
    assert out.mask(11).sum() > full.mask(11).sum()
    assert renderer.render(scene, only=[]).instances.max() == 0


# ---------------------------------------------------------------------------------------------
# Shadows
# ---------------------------------------------------------------------------------------------

def test_shadow_of_a_box_darkens_the_floor(renderer):
    scene = shadow_scene()
    out = renderer.render(scene)
    # the last point is 1.5 cm from the box's base: no peter-panning
    shadowed = [(0.2, 0.0, 0.0), (0.3, 0.05, 0.0), (0.115, -0.08, 0.0)]
    lit = [(0.45, 0.0, 0.0), (-0.2, -0.2, 0.0), (0.2, 0.2, 0.0), (0.2, -0.2, 0.0)]
    lit_luma = []
    for p in lit:
        rc = _pixel(scene, p)
        assert out.instances[rc] == FLOOR
        lit_luma.append(_luma(out, rc))
    for p in shadowed:
        rc = _pixel(scene, p)
        assert out.instances[rc] == FLOOR
        assert _luma(out, rc) < 0.7 * min(lit_luma)


def test_no_shadow_acne_on_lit_floor(gl):
    scene = shadow_scene(160, 160)
    out = gl.render(scene)
    # floor pixels well away from both shadows (and from the boxes' own outlines) are lit evenly:
    # the floor is flat, untextured and has no specular, so they must all have one colour
    rows, cols = np.nonzero(out.instances == FLOOR)
    origin, dirs = pixel_rays(scene.camera)
    d = dirs[rows * scene.camera.width + cols]
    t = -origin[2] / d[:, 2]
    x, y = origin[0] + t * d[:, 0], origin[1] + t * d[:, 1]
    near_a = (x > -0.15) & (x < 0.4) & (np.abs(y) < 0.15)
    near_b = (np.abs(x + 0.45) < 0.2) & (np.abs(y - 0.4) < 0.2)
    far = ~near_a & ~near_b
    assert far.sum() > 3000
    colours = out.rgb[rows[far], cols[far]].astype(int)
    assert np.ptp(colours, axis=0).max() <= 1


def test_only_hides_other_objects_and_their_shadows(renderer):
    scene = shadow_scene()
    full = renderer.render(scene)
    alone = renderer.render(scene, only=[FLOOR, 21])  # box A (id 20) and its shadow are gone
    assert not np.any(alone.instances == 20)
    floor_both = (full.instances == FLOOR) & (alone.instances == FLOOR)
    brighter = alone.rgb.astype(int).mean(axis=2) - full.rgb.astype(int).mean(axis=2)
    assert brighter[floor_both].min() >= -1  # nothing gets darker
    for p in [(0.2, 0.0, 0.0), (0.3, 0.05, 0.0)]:  # where A's shadow was
        rc = _pixel(scene, p)
        assert brighter[rc] > 20
    # box B's shadow is still there
    rc = _pixel(scene, (-0.3, 0.4, 0.0))
    assert alone.instances[rc] == FLOOR and brighter[rc] <= 1


def test_moving_one_object_leaves_other_shadows_in_place(renderer):
    scene = shadow_scene(160, 160)
    before = renderer.render(scene)
    moved = scene.replace_object(_box(21, (-0.5, 0.15, 0.0), (0.15, 0.15, 0.15), color=(0.2, 0.5, 0.8)))
    after = renderer.render(moved)
    # pixels away from box B's old and new places (and their shadows) do not change at all,
    # box A's shadow included: the shadow map's texel grid does not depend on where B stands
    origin, dirs = pixel_rays(scene.camera)
    t = -origin[2] / np.where(dirs[:, 2] < 0, dirs[:, 2], -1e-9)
    x = (origin[0] + t * dirs[:, 0]).reshape(160, 160)
    y = (origin[1] + t * dirs[:, 1]).reshape(160, 160)
    away = (x > -0.2) & (y < 0.05) & (before.instances != 21) & (after.instances != 21)
    assert away.sum() > 4000
    assert np.array_equal(before.rgb[away], after.rgb[away])
    a_shadow = (x > 0.12) & (x < 0.3) & (np.abs(y) < 0.08) & (before.instances == FLOOR)
    assert a_shadow.sum() > 50 and before.rgb[a_shadow].mean() < 0.7 * before.rgb[away].mean()


def test_tent_shadow_filter(library):
    GLRenderer = _gl_or_skip()
    tent = GLRenderer(library, shadow_filter="tent")
    scene = shadow_scene()
    out, ref = tent.render(scene), GLRenderer(library).render(scene)
    for p in [(0.2, 0.0, 0.0), (0.3, 0.05, 0.0)]:
        rc = _pixel(scene, p)
        assert _luma(out, rc) == pytest.approx(_luma(ref, rc), abs=1.0)  # umbra: same darkness
    assert 0 < np.count_nonzero(out.rgb != ref.rgb) < 0.05 * out.rgb.size  # only penumbrae differ
    with pytest.raises(ValueError):
        GLRenderer(library, shadow_filter="pcss")


def test_shadows_can_be_switched_off(library):
    GLRenderer = _gl_or_skip()
    flat = GLRenderer(library, shadow_map_size=0)
    scene = shadow_scene()
    out = flat.render(scene)
    assert _luma(out, _pixel(scene, (0.2, 0.0, 0.0))) == _luma(out, _pixel(scene, (0.45, 0.0, 0.0)))
    assert isinstance(flat.device, str) and flat.device  # names the OpenGL driver in use
    with pytest.raises(ValueError):
        GLRenderer(library, shadow_map_size=4)


# ---------------------------------------------------------------------------------------------
# Textures
# ---------------------------------------------------------------------------------------------

def _top_down(objs: list[SceneObject], size: int = 96) -> Scene:
    return Scene("tabletop", objs, Light(direction=(0.0, 0.1, -1.0), ambient=0.4, intensity=0.8),
                 _camera(size, size, (0.0, -0.05, 1.6), (0.0, 0.0, 0.0), fov=45.0),
                 background=(0.0, 0.0, 0.0))


def _colour_at(scene: Scene, out: RenderOutput, p) -> np.ndarray:
    return out.rgb[_pixel(scene, p)].astype(int)


def test_uv_texture_is_mapped_the_right_way_round(gl):
    quad = SceneObject(5, "quad", "poster", (0.0, 0.0, 0.0),
                       material=Material(color=(1.0, 1.0, 1.0), specular=0.0))
    scene = _top_down([quad])
    out = gl.render(scene)
    # uv (0, 0) is the image's bottom-left: world (-x, -y) corner of the quad
    expect = {(-0.25, 0.25): "top_left", (0.25, 0.25): "top_right",
              (-0.25, -0.25): "bottom_left", (0.25, -0.25): "bottom_right"}
    for (x, y), name in expect.items():
        got = _colour_at(scene, out, (x, y, 0.0))
        want = np.array(TEXTURE_QUADRANTS[name])
        assert np.argmax(got) == np.argmax(want) or name == "bottom_right", (name, got)
        cos = got @ want / (np.linalg.norm(got) * np.linalg.norm(want))
        assert cos > 0.97, (name, got)


def test_material_texture_is_mapped_triplanar(gl):
    box = _box(6, (0.0, 0.0, 0.0), (1.0, 1.0, 0.1), color=(1.0, 1.0, 1.0), texture="two_tone",
               texture_scale=1.0, specular=0.0)
    scene = _top_down([box])
    out = gl.render(scene)
    # top face: object (x, y) → texture (u, v) at one repeat per metre; u ∈ [0, .5) red, [.5, 1) blue
    red = _colour_at(scene, out, (0.25, 0.0, 0.1))
    blue = _colour_at(scene, out, (-0.25, 0.0, 0.1))
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0]
    pixels = out.rgb[out.mask(6)].astype(int)
    assert (pixels[:, 0] > 2 * pixels[:, 2]).mean() > 0.3 and (pixels[:, 2] > 2 * pixels[:, 0]).mean() > 0.3


def test_textured_objects_in_raycast_use_mean_colour(ray):
    box = _box(6, (0.0, 0.0, 0.0), (1.0, 1.0, 0.1), color=(1.0, 1.0, 1.0), texture="two_tone")
    out = ray.render(_top_down([box]))
    pixels = out.rgb[out.mask(6)].astype(int)
    assert np.ptp(pixels, axis=0).max() <= 1  # flat top, one mean colour: purple-ish
    assert pixels[0, 0] > pixels[0, 1] and pixels[0, 2] > pixels[0, 1]


# ---------------------------------------------------------------------------------------------
# Determinism, caches, interface
# ---------------------------------------------------------------------------------------------

def _digest(out: RenderOutput) -> str:
    h = hashlib.sha256()
    for a in (out.rgb, out.instances, out.depth):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def scene_digests() -> list[str]:
    """Digests of a few GL renders (used in-process and from a subprocess)."""
    from gsi_syn.render.gl import GLRenderer

    r = GLRenderer(FakeLibrary())
    return [_digest(r.render(cluttered_scene())), _digest(r.render(shadow_scene(), only=[FLOOR, 20])),
            _digest(r.render(_top_down([SceneObject(5, "quad", "poster", (0.0, 0.0, 0.0))])))]


def test_renders_are_deterministic(gl, ray, library):
    scene = cluttered_scene()
    assert _digest(gl.render(scene)) == _digest(gl.render(scene))
    assert _digest(ray.render(scene)) == _digest(ray.render(scene))
    here = scene_digests()
    assert here == scene_digests()
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('t', sys.argv[1]); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print(','.join(m.scene_digests()))")
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve())], cwd=root,
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PYTHONPATH": str(root), "LP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().split(",") == here  # another process, another llvmpipe thread count


def test_mesh_cache_eviction_keeps_rendering_right(library):
    GLRenderer = _gl_or_skip()
    ref = GLRenderer(FakeLibrary())  # a library of its own: its meshes are not shared with `small`
    small, tiny = GLRenderer(library, cache_size=1), GLRenderer(library, cache_bytes=1)
    scenes = [cluttered_scene(64, 48), shadow_scene(64, 64), cluttered_scene(64, 48)]
    for scene in scenes:
        assert _digest(small.render(scene)) == _digest(ref.render(scene))
        # meshes the last render used stay; older ones beyond cache_size are released
        assert len(small._meshes) <= len(scene.objects)
    ref_only = GLRenderer(FakeLibrary())  # alone on its library (the limits count every library's meshes)
    for scene in scenes:
        ref_only.render(scene)
    assert len(ref_only._meshes) == 8
    for scene in scenes:
        # over the byte budget (which counts every library's meshes): the same
        assert _digest(tiny.render(scene)) == _digest(ref.render(scene))
        assert len(tiny._meshes) <= len(scene.objects)
    small.close()
    assert not small._meshes and not tiny._meshes  # one library: the renderers share its meshes
    assert ref._meshes


def test_renderers_of_a_thread_share_meshes(library):
    GLRenderer = _gl_or_skip()
    a, b = GLRenderer(library), GLRenderer(library, shadow_map_size=0)
    scene = cluttered_scene(64, 48)
    a.render(scene)
    uploaded = dict(a._meshes)
    b.render(scene)
    assert b._meshes == uploaded and all(b._meshes[k] is v for k, v in uploaded.items())


def test_closed_mesh_detection():
    from gsi_syn.render.gl import _is_closed_outward

    lib = FakeLibrary()
    box = lib.mesh("box")
    assert _is_closed_outward(box.vertices, box.faces)  # unwelded vertices, still closed
    assert not _is_closed_outward(box.vertices, box.faces[:, ::-1])  # inside out
    assert not _is_closed_outward(box.vertices, box.faces[:-1])  # a hole
    plane = lib.mesh("plane")
    assert not _is_closed_outward(plane.vertices, plane.faces)


def test_shadow_frustum_helpers():
    from gsi_syn.render.gl import (
        light_clip_from_world,
        plan_shadow_grid,
        shadow_casters,
        visible_region_vertices,
    )

    # the floor (top at z = 0) lies below everything else: it cannot shadow anything
    keep = shadow_casters(np.array([-0.02, 0.0, 0.75]), np.array([0.0, 0.75, 0.9]),
                          np.array([0.3, 0.4, -0.87]))
    assert keep.tolist() == [False, True, True]
    assert shadow_casters(np.array([-0.02, 0.0]), np.array([0.0, 0.75]), np.array([1.0, 0.0, 0.0])).all()

    scene = shadow_scene()
    region = visible_region_vertices(scene.camera, np.array([-3.0, -3.0, 0.0]), np.array([3.0, 3.0, 0.3]))
    assert len(region) >= 4
    uv, z = project_points(scene.camera.K_array, scene.camera.cam_from_world_array, region)
    assert np.all(z >= scene.camera.near - 1e-6)
    assert np.all((uv >= -0.5 - 1e-6) & (uv <= 127.5 + 1e-6))

    light = np.array([0.6, 0.0, -0.8])
    box = np.array([[x, y, z] for x in (-0.1, 0.1) for y in (-0.1, 0.1) for z in (0.0, 0.3)])
    floor = np.array([[x, y, z] for x in (-3, 3) for y in (-3, 3) for z in (0.0, 0.0)])
    grid = plan_shadow_grid(scene.camera, light, np.stack([floor, box]), ["structure", "object"], 1024)
    assert 0 < grid.texel < 0.002  # the box's footprint (with its shadow), not the 6 m floor
    clip, texel = light_clip_from_world(grid, box, region, 1024)
    assert texel == grid.texel
    ndc = np.c_[box, np.ones(8)] @ clip.T
    assert np.all(np.abs(ndc[:, :2]) <= 1.0)
    # windows of different renders sit on the same texel grid: texel centres map to each other
    moved, _ = light_clip_from_world(grid, box + [0.3, 0.1, 0.0], region, 1024)
    shift = (np.array([0.05, 0.02, 0.1, 1.0]) @ (moved - clip).T)[:2] / 2 * 1024
    assert np.allclose(shift, np.round(shift), atol=1e-6)
    assert light_clip_from_world(grid, box + [50.0, 0, 0], region, 1024) is None


def test_get_renderer_and_lazy_default_library():
    from gsi_syn.render.gl import GLRenderer

    gl = get_renderer("gl")
    assert isinstance(gl, GLRenderer) and gl.name == "gl" and gl._library is None
    ray = get_renderer("raycast")
    assert isinstance(ray, RaycastRenderer) and ray.name == "raycast" and ray._library is None
    with pytest.raises(ValueError):
        get_renderer("vulkan")


def test_opencv_projection_puts_points_on_pixel_centres():
    from gsi_syn.render.gl import opencv_projection

    K = np.array([[70.0, 0.5, 30.2], [0.0, 75.0, 20.7], [0.0, 0.0, 1.0]])
    P = opencv_projection(K, 64, 40, 0.1, 10.0)
    pts = np.array([[0.1, -0.2, 1.0], [-0.3, 0.25, 2.5], [0.0, 0.0, 0.1], [0.4, 0.1, 10.0]])
    clip = np.c_[pts, np.ones(4)] @ P.T
    ndc = clip[:, :3] / clip[:, 3:]
    # GL window coordinates of pixel centres are i + 0.5; GL row r is image row r (rendered upside down)
    col = (ndc[:, 0] + 1) / 2 * 64 - 0.5
    row = (ndc[:, 1] + 1) / 2 * 40 - 0.5
    uv = (pts[:, :2] / pts[:, 2:]) @ K[:2, :2].T + K[:2, 2]
    assert np.allclose(col, uv[:, 0]) and np.allclose(row, uv[:, 1])
    assert np.allclose(ndc[[2, 3], 2], [-1.0, 1.0])


def test_module_is_importable_without_moderngl_for_raycast():
    code = ("import sys; sys.modules['moderngl'] = None; "
            "from gsi_syn.render.raycast import RaycastRenderer; print('ok')")
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                         check=False, env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


if importlib.util.find_spec("embreex") is None:  # pragma: no cover - embreex is a hard dependency
    pytestmark = pytest.mark.skip(reason="embreex is not installed")
