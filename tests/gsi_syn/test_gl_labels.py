"""GL labels without colour (:meth:`GLRenderer.labels`), photo and labels of one call
(:meth:`GLRenderer.photo_with_labels`) and ``only=`` renders limited to the drawn objects' pixel
rectangle (:func:`gsi_syn.render.gl.drawn_region`): all bit-identical to the separate passes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tiny asset library of test_render (same folder)

from test_render import FakeLibrary, _camera, cluttered_scene, shadow_scene  # noqa: E402

from gsi_bench.scene import Scene  # noqa: E402


@pytest.fixture(scope="module")
def gl(gl_module):
    return gl_module.GLRenderer(FakeLibrary(), shadow_map_size=512)


def _scenes() -> list[Scene]:
    close = cluttered_scene(128, 96)  # the camera close enough that an object crosses the border
    close = close.with_camera(_camera(128, 96, (0.1, -0.55, 0.45), (0.0, 0.05, 0.1), fov=60.0))
    return [cluttered_scene(128, 96), shadow_scene(96, 80), close]


ONLY = (None, [10], [13, 14], [21])  # 21: only in shadow_scene; elsewhere nothing is drawn


def _same_labels(a, b) -> bool:
    return np.array_equal(a.instances, b.instances) and a.depth.tobytes() == b.depth.tobytes()


def test_labels_are_render_labels_bit_for_bit_without_colour(gl):
    for scene in _scenes():
        for only in ONLY:
            ref, out = gl.render(scene, only=only), gl.labels(scene, only=only)
            assert _same_labels(ref, out), only
            assert out.instances.dtype == np.uint16 and out.depth.dtype == np.float32
            assert out.rgb.shape == ref.rgb.shape and not out.rgb.any()  # black: no colour pass
    assert (gl.labels(_scenes()[0]).instances > 0).mean() > 0.5  # not trivially empty


def test_photo_with_labels_is_photo_plus_render_labels(gl):
    for scene in _scenes():
        for only in ONLY:
            out = gl.photo_with_labels(scene, only=only)
            assert out.rgb.tobytes() == gl.photo(scene, only=only).tobytes(), only
            assert _same_labels(out, gl.render(scene, only=only)), only


def test_only_renders_equal_renders_of_the_objects_alone(gl_module):
    """A render with ``only=`` (drawn in the objects' rectangle, the rest filled with the cleared
    values) equals a whole-frame render of a scene holding just those objects."""
    flat = gl_module.GLRenderer(FakeLibrary(), shadow_map_size=0)  # no shadows: the rest of the scene is irrelevant
    for scene in _scenes():
        for only in ONLY[1:]:
            alone = Scene(scene.subset, [o for o in scene.objects if o.instance_id in only], scene.light,
                          scene.camera, scene.background)
            if not alone.objects:
                continue
            a, b = flat.photo_with_labels(scene, only=only), flat.photo_with_labels(alone)
            assert a.rgb.tobytes() == b.rgb.tobytes() and _same_labels(a, b), only
            assert _same_labels(flat.labels(scene, only=only), b)


def test_drawn_region_holds_the_objects_pixels(gl_module, gl):
    scene = cluttered_scene(128, 96)
    cam = scene.camera
    for iid in (10, 11, 12, 13, 14):
        obj = scene.get(iid)
        m = obj.world_from_object()
        lo, hi = FakeLibrary().mesh(obj.asset_id, obj.params).bounds
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        region = gl_module.drawn_region(cam, corners @ m[:3, :3].T + m[:3, 3])
        assert region is not None
        x, y, w, h = region
        mask = gl.render(scene, only=[iid]).instances == iid
        inside = np.zeros_like(mask)
        inside[y:y + h, x:x + w] = True
        assert mask.any() and not (mask & ~inside).any()
        assert w * h < 0.5 * cam.width * cam.height
    # a box reaching behind the camera has no bounded projection: the whole image
    eye = cam.position
    assert gl_module.drawn_region(cam, np.array([eye - 0.1, eye + [0.1, 0.1, -0.5]])) is None
