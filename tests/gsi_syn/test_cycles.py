"""The Cycles photo backend: renders, determinism, pixel alignment with the GL instance maps, and
the hybrid generation path (GL labels, Cycles RGB)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from gsi_syn.render.cycles import CyclesSettings, blender_camera_params, cycles_available
from gsi_syn.render.environment import choose_hdri
from gsi_syn.sampler import GenerationConfig, _sample_scene, generate_unit, unit_rng
from gsi_bench.scene import Camera

ok, why = cycles_available()
pytestmark = pytest.mark.skipif(not ok, reason=f"bpy not installed ({why})")

SETTINGS = CyclesSettings(samples=4)


def _scene(subset: str, unit: int = 0, resolution: int = 64):
    cfg = GenerationConfig(subset=subset, resolution=resolution)
    return _sample_scene(cfg, unit_rng(cfg, unit))


@pytest.fixture(scope="module")
def renderer():
    from gsi_syn.render.cycles import CyclesRenderer

    return CyclesRenderer(SETTINGS)


def test_photo_is_a_lit_image_aligned_with_gl(renderer):
    scene = _scene("tabletop")
    rgb = renderer.photo(scene)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    gl = renderer.render(scene)
    # lit, not black or blown out; objects differ from what is around them
    assert 20 < rgb.mean() < 235 and rgb.std() > 10
    ids = gl.instances
    movable = np.isin(ids, [o.instance_id for o in scene.movable()])
    assert movable.any()
    # the photo shows the same scene as the GL image: their per-instance mean colours correlate
    inst = [i for i in np.unique(ids) if np.count_nonzero(ids == i) >= 20]
    cyc = np.array([rgb[ids == i].mean() for i in inst])
    ras = np.array([gl.rgb[ids == i].mean() for i in inst])
    assert np.corrcoef(cyc, ras)[0, 1] > 0.5


def test_photo_is_deterministic_across_calls_and_processes(renderer):
    scene = _scene("room", unit=1)
    a = renderer.photo(scene)
    b = renderer.photo(scene)
    assert a.tobytes() == b.tobytes()
    code = (
        "import sys, json, numpy as np\n"
        "from gsi_bench.scene import Scene\n"
        "from gsi_syn.render.cycles import CyclesRenderer, CyclesSettings\n"
        "s = Scene.from_json(sys.stdin.read())\n"
        "sys.stdout.buffer.write(CyclesRenderer(CyclesSettings(samples=4)).photo(s).tobytes())\n")
    out = subprocess.run([sys.executable, "-c", code], input=scene.to_json().encode(), capture_output=True,
                         check=True)
    assert out.stdout == a.tobytes()


@pytest.mark.parametrize("subset,unit,shift", [("tabletop", 0, (0.0, 0.0)), ("room", 2, (0.0, 0.0)),
                                               ("tabletop", 3, (6.3, -4.7))])
def test_object_index_agrees_with_gl_instance_map(renderer, subset, unit, shift):
    """Cycles' object index through each pixel centre = the GL instance map on ≥ 99.9 % of pixels,
    also with the principal point moved off the image centre (it must move identically)."""
    scene = _scene(subset, unit)
    if shift != (0.0, 0.0):
        K = scene.camera.K_array.copy()
        K[0, 2] += shift[0]
        K[1, 2] += shift[1]
        cam = scene.camera
        scene = scene.with_camera(Camera.create(K, cam.cam_from_world_array, cam.width, cam.height,
                                                cam.near, cam.far))
    gl = renderer.render(scene).instances
    cyc = renderer.object_index(scene)
    assert len(np.unique(gl)) >= 3
    agreement = float(np.mean(cyc == gl))
    assert agreement >= 0.999, agreement


def test_camera_shift_follows_the_principal_point():
    K = np.array([[80.0, 0, 31.5], [0, 80.0, 31.5], [0, 0, 1]])
    centred = blender_camera_params(Camera.create(K, np.eye(4), 64, 64))
    assert centred["shift_x"] == 0 and centred["shift_y"] == 0
    K[0, 2], K[1, 2] = 41.5, 21.5  # the axis 10 px right of and 10 px above the centre
    moved = blender_camera_params(Camera.create(K, np.eye(4), 64, 64))
    # the film window moves the other way: left (-x) and down (-y, Blender's y is up)
    assert moved["shift_x"] == pytest.approx(-10 / 64) and moved["shift_y"] == pytest.approx(-10 / 64)
    with pytest.raises(ValueError, match="square pixels"):
        blender_camera_params(Camera.create(np.diag([80.0, 90.0, 1.0]), np.eye(4), 64, 64))


def test_hdri_is_shared_by_source_and_target():
    scene = _scene("tabletop")
    moved = scene.replace_object(dataclasses.replace(scene.movable()[0], yaw_deg=scene.movable()[0].yaw_deg + 30))
    assert choose_hdri(scene) == choose_hdri(moved)


def test_generate_unit_publishes_cycles_rgb_with_gl_labels(renderer):
    cfg = GenerationConfig(subset="tabletop", resolution=64, num=1, renderer="cycles", cycles=SETTINGS,
                           operations=("rotate",))
    (rec,) = generate_unit(cfg, 0, renderer)
    gl_cfg = dataclasses.replace(cfg, renderer="gl")
    (ref,) = generate_unit(gl_cfg, 0, renderer.gl)
    # same scene, same labels; different (path-traced) pixels
    assert np.array_equal(rec.source_instances, ref.source_instances)
    assert np.array_equal(rec.target_instances, ref.target_instances)
    assert not np.array_equal(rec.source_image, ref.source_image)
    assert rec.provenance.renderer == "cycles"
    spec = json.loads(rec.scene)
    assert spec["render"]["settings"]["samples"] == 4
    assert spec["render"]["hdri"] in ("city", "courtyard", "forest", "interior", "studio", "sunrise", "sunset")
