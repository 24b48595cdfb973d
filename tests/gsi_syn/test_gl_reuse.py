"""Reuse of kept renders (:meth:`gsi_syn.render.gl.GLRenderer._reusable`): a render of a scene
that differs from a recent one in a few objects is patched from it — and must be, bit for bit,
what a whole render gives (ids, depth and photo), shadows included."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tiny asset library of test_render (same folder)

from test_render import FakeLibrary, _box, _camera, cluttered_scene, shadow_scene  # noqa: E402

from gsi_bench.scene import Light, Material, Scene, SceneObject  # noqa: E402


def _moved(scene: Scene, iid: int, dx: float = 0.0, dy: float = 0.0, yaw: float = 0.0) -> Scene:
    obj = scene.get(iid)
    x, y, z = obj.position
    return scene.replace_object(dataclasses.replace(obj, position=(x + dx, y + dy, z), yaw_deg=obj.yaw_deg + yaw))


def _without(scene: Scene, iid: int) -> Scene:
    return dataclasses.replace(scene, objects=[o for o in scene.objects if o.instance_id != iid])


def _with(scene: Scene, obj: SceneObject) -> Scene:
    return dataclasses.replace(scene, objects=[*scene.objects, obj])


def _recoloured(scene: Scene, iid: int, **material) -> Scene:
    obj = scene.get(iid)
    return scene.replace_object(dataclasses.replace(obj, material=dataclasses.replace(obj.material, **material)))


def table_scene(width: int = 128, height: int = 96) -> Scene:
    """A table (a support: it fixes where the shadow map lies) with three objects on it, the sun
    low enough that their shadows fall across each other and over the table's edge."""
    table = dataclasses.replace(_box(2, (0.0, 0.0, 0.0), (0.9, 0.6, 0.4), color=(0.6, 0.5, 0.4)), role="support")
    objs = [table, _box(30, (-0.2, 0.0, 0.4), (0.1, 0.1, 0.25)), _box(31, (0.0, 0.05, 0.4), (0.12, 0.08, 0.1), yaw=30),
            SceneObject(32, "sphere", "ball", (0.25, -0.1, 0.4), params={"r": 0.06}, material=Material(color=(0.9, 0.8, 0.1)))]
    return Scene("tabletop", [*shadow_scene().objects[:1], *objs], Light(direction=(0.7, 0.1, -0.6), ambient=0.3),
                 _camera(width, height, (0.2, -1.1, 1.1), (0.0, 0.0, 0.4)))


def _edits() -> list[tuple[str, Scene, Scene, bool | None]]:
    """(name, source, target, whether the target can be patched from the source; None: either)."""
    c, s = cluttered_scene(128, 96), shadow_scene(112, 112)
    close = c.with_camera(_camera(128, 96, (0.1, -0.55, 0.45), (0.0, 0.05, 0.1), fov=60.0))
    return [
        ("move", c, _moved(c, 10, 0.05, 0.03), True),
        ("turn", c, _moved(c, 11, yaw=30.0), True),
        ("remove", c, _without(c, 13), True),
        ("add", c, _with(c, _box(15, (-0.3, -0.3, 0.0), (0.1, 0.1, 0.2), color=(0.9, 0.9, 0.2))), True),
        ("recolour", c, _recoloured(c, 12, color=(0.9, 0.1, 0.1)), True),
        ("texture", c, _recoloured(c, 12, texture="two_tone", texture_scale=4.0), True),
        ("two at once", c, _moved(_moved(c, 13, 0.04), 14, -0.03, 0.02), True),
        ("moved shadow", s, _moved(s, 20, 0.05, -0.04), True),
        ("into a shadow", s, _moved(s, 21, 0.5, -0.35), True),
        ("across the border", close, _moved(close, 10, 0.1), None),  # near: may redraw too much to patch
        ("camera", c, c.with_camera(_camera(128, 96, (0.4, -1.3, 0.9), (0.0, 0.1, 0.15))), False),
        ("light", s, dataclasses.replace(s, light=Light(direction=(0.5, 0.2, -0.8), ambient=0.3)), False),
        ("nothing", c, cluttered_scene(128, 96), True),
        ("shadow across another", table_scene(), _moved(table_scene(), 30, 0.08, 0.02), True),
        ("shadow over the edge", table_scene(), _moved(table_scene(), 32, 0.12), True),
    ]


def _same(a, b) -> bool:
    return a.tobytes() == b.tobytes()


@pytest.mark.parametrize("settings", [{}, {"shadow_map_size": 512, "shadow_filter": "tent"}, {"shadow_map_size": 0}])
def test_patched_renders_equal_whole_renders(gl_module, settings):
    reuse = gl_module.GLRenderer(FakeLibrary(), **settings)
    whole = gl_module.GLRenderer(FakeLibrary(), reuse=False, **settings)
    patched, photos = [], []
    real = reuse._reusable

    def spy(frame, **kw):
        kept, rect = real(frame, **kw)
        patched.append(kept is not None)
        return kept, rect

    reuse._reusable = spy
    for name, source, target, can in _edits():
        for call in ("labels", "photo", "photo_with_labels"):
            reuse._kept.clear()
            if call == "photo_with_labels":
                getattr(reuse, call)(source)
            else:  # as the generator does: labels of the source, then its photo
                reuse.labels(source)
                reuse.photo(source)
            patched.clear()
            out, ref = getattr(reuse, call)(target), getattr(whole, call)(target)
            if call == "photo":
                assert _same(out, ref), (name, call)
            else:
                assert _same(out.instances, ref.instances) and _same(out.depth, ref.depth), (name, call)
                assert _same(out.rgb, ref.rgb), (name, call)
            if can is None:
                continue
            if call == "labels" or not can:
                assert patched == [can], (name, call)
            else:  # a photo is patched unless the edit moves the shadow map (or redraws most of it)
                photos.append((name, call, patched == [True]))
    print(photos)
    if settings.get("shadow_map_size") == 0:
        assert all(p for *_, p in photos)
    else:
        assert sum(p for *_, p in photos) >= len(photos) // 2


def test_reuse_returns_fresh_arrays(gl_module):
    gl = gl_module.GLRenderer(FakeLibrary())
    scene = cluttered_scene(96, 72)
    first = gl.photo_with_labels(scene)
    ref = (first.rgb.copy(), first.instances.copy(), first.depth.copy())
    first.rgb[:] = 0
    first.instances[:] = 7
    first.depth[:] = -1
    again = gl.photo_with_labels(scene)  # nothing changed: the kept render
    assert _same(again.rgb, ref[0]) and _same(again.instances, ref[1]) and _same(again.depth, ref[2])
    assert again.rgb.flags.writeable and again.instances.flags.writeable


def test_only_renders_are_not_kept_nor_patched(gl_module):
    gl = gl_module.GLRenderer(FakeLibrary())
    scene = cluttered_scene(96, 72)
    gl.labels(scene, only=[10])
    assert not gl._kept
    gl.labels(scene)
    alone = gl.labels(_moved(scene, 10, 0.02), only=[10])
    ref = gl_module.GLRenderer(FakeLibrary(), reuse=False).labels(_moved(scene, 10, 0.02), only=[10])
    assert _same(alone.instances, ref.instances) and _same(alone.depth, ref.depth)


def test_kept_renders_are_bounded(gl_module):
    gl = gl_module.GLRenderer(FakeLibrary())
    scene = cluttered_scene(64, 48)
    for k in range(3 * gl_module._KEEP):
        gl.labels(_moved(scene, 10, 0.01 * k))
    assert sum(len(v) for v in gl._kept.values()) == gl_module._KEEP


def test_material_is_part_of_the_object_key(gl_module):
    a = SceneObject(1, "box", "box", (0.0, 0.0, 0.0), material=Material(color=(0.5, 0.5, 0.5)))
    b = dataclasses.replace(a, material=Material(color=(0.5, 0.5, 0.5), texture="two_tone"))
    assert gl_module._object_key(a) != gl_module._object_key(b)
    assert gl_module._object_key(a) == gl_module._object_key(dataclasses.replace(a, description="a box"))


def test_random_edits_patch_bit_for_bit(gl_module):
    """Hypotheses of an analysis-by-synthesis search: one object at many poses in turn, each
    render patched from the previous ones."""
    rng = np.random.default_rng(7)
    reuse = gl_module.GLRenderer(FakeLibrary(), shadow_map_size=512)
    whole = gl_module.GLRenderer(FakeLibrary(), shadow_map_size=512, reuse=False)
    base, count = table_scene(96, 72), 0
    real = reuse._reusable

    def spy(frame, **kw):
        nonlocal count
        kept, rect = real(frame, **kw)
        count += kept is not None
        return kept, rect

    reuse._reusable = spy
    for _ in range(12):
        iid = int(rng.choice([30, 31, 32]))
        scene = _moved(base, iid, *rng.uniform(-0.15, 0.15, 2), yaw=float(rng.uniform(0, 90)))
        out, ref = reuse.photo_with_labels(scene), whole.photo_with_labels(scene)
        assert _same(out.rgb, ref.rgb) and _same(out.instances, ref.instances) and _same(out.depth, ref.depth)
    assert count >= 6
