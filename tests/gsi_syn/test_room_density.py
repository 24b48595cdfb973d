"""Room scenes are furnished and cluttered, and their views show several objects."""

from __future__ import annotations

import numpy as np

from gsi_syn.room import RoomConfig, sample_room_scene


def _scenes(n: int, size: int = 96):
    rng = np.random.default_rng(2024)  # not the generator's seeds: statistics on unseen scenes
    return [sample_room_scene(rng, size, size, split="test") for _ in range(n)]


def test_rooms_hold_several_pieces_of_furniture_with_objects_on_them():
    cfg = RoomConfig()
    scenes = _scenes(24)
    furniture = [sum(o.role == "support" for o in s.objects) for s in scenes]
    movable = [len(s.movable()) for s in scenes]
    assert min(furniture) >= 2 and np.median(furniture) >= cfg.num_furniture[0]
    assert np.median(movable) >= 8
    # every piece of furniture carries something
    for s in scenes:
        supports = {o.instance_id for o in s.objects if o.role == "support"}
        carried = {o.support_id for o in s.movable()}
        assert np.mean([i in carried for i in supports]) >= 0.5


def test_room_views_show_several_movable_objects():
    from gsi_bench.checks import CheckThresholds
    from gsi_syn.render.base import get_renderer

    gl = get_renderer("gl")
    th = CheckThresholds()
    visible = []
    for s in _scenes(10, 128):
        ids, n = np.unique(gl.render(s).instances, return_counts=True)
        movable = {o.instance_id for o in s.movable()}
        visible.append(sum(1 for i, c in zip(ids, n) if int(i) in movable and c >= th.min_visible_area * 128 * 128))
    assert np.median(visible) >= 3, visible
