"""Issue 13 §4, generator side: only visible, decidable edits.

(a) a minimum target size and a visible-change floor (``CheckThresholds.min_target_area``,
``min_changed_fraction``), read back as "not applied" from records that predate them;
(b) receptacle placements drawn per record, so that no placement dominates;
(c) removals single out their target among >= 2 instances of its category with a referring
expression that holds on the 3D geometry *and* in the image;
(d) "on" a surface, "in" a container.
Each label is checked against geometry recomputed here, not against the generator's numbers.
"""

import dataclasses
import json
import math
from collections import Counter

import numpy as np
import pytest

from gsi_bench.checks import NOT_APPLIED, CheckThresholds, Measurements, failed_checks
from gsi_bench.geometry import ground_direction, project_points
from gsi_bench.operations import EditParams, parse_instruction, render_instruction, template_index
from gsi_bench.scene import SceneObject
from gsi_syn.edits import (draw_placement, propose_receptacle_place, propose_remove, referring_image_gap,
                           resolve_referring, unique_category_objects)
from gsi_syn.placement import object_box_world, receptacle_kind
from gsi_syn.room import RoomConfig, sample_room_scene
from gsi_syn.tabletop import TabletopConfig, sample_tabletop_scene

RES = 96


@pytest.fixture(scope="module")
def rooms():
    return [sample_room_scene(np.random.default_rng(500 + k), RES, RES, RoomConfig(), split="test")
            for k in range(12)]


# -- (a) size and change floors -------------------------------------------------------------------
def _measured(px_source: int, px_target: int, changed: float) -> Measurements:
    return Measurements(visible_fraction_source=1.0, visible_pixels_source=px_source, visible_fraction_target=1.0,
                        visible_pixels_target=px_target, min_clearance_m=0.05, support_margin_m=0.05,
                        changed_pixel_fraction=changed)


def test_a_small_target_fails_though_it_is_visible():
    area, th = 100 * 100, CheckThresholds()
    assert th.min_visible_area * area < 40 < th.min_target_area * area  # visible, but under the size floor
    assert failed_checks(_measured(40, 60, 0.01), area, th) == ["visible_source"]
    assert failed_checks(_measured(60, 40, 0.01), area, th) == ["visible_target"]
    assert failed_checks(_measured(60, 40, 0.01), area, th, target_present=False) == []  # removed: no target
    assert failed_checks(_measured(40, 40, 0.01), area, dataclasses.replace(th, min_target_area=0.0)) == []


def test_an_edit_changing_few_pixels_is_unchanged():
    area, th = 100 * 100, CheckThresholds()
    assert failed_checks(_measured(60, 60, 0.002), area, th) == ["unchanged"]  # 20 px of 10,000
    assert failed_checks(_measured(60, 60, 0.003), area, th) == []


def test_thresholds_a_record_predates_are_not_applied():
    old = json.loads(CheckThresholds().to_json())
    for k in NOT_APPLIED:
        del old[k]
    th = CheckThresholds.from_json(json.dumps(old))
    assert th.min_target_area == 0.0 and th.min_remove_instances == 1 and th.min_referring_gap == -math.inf
    assert CheckThresholds.from_json(CheckThresholds().to_json()) == CheckThresholds()
    with pytest.raises(ValueError, match="unknown keys"):
        CheckThresholds.from_json(json.dumps({"min_target_area": 0.01, "bogus": 1}))
    with pytest.raises(ValueError):
        CheckThresholds(min_remove_instances=0)


# -- (b) receptacle placements --------------------------------------------------------------------
def test_the_drawn_placement_is_the_one_made(rooms):
    th, made = CheckThresholds(), Counter()
    for k, scene in enumerate(rooms):
        rng = np.random.default_rng(k)
        for target in [o for o in unique_category_objects(scene) if o.role == "object"]:
            for placement in ("center", "nearest edge", "farthest edge", "leftmost", "rightmost"):
                p = propose_receptacle_place(scene, rng, th, target, None, placement=placement)
                if p is not None:
                    assert p.params.placement == placement
                    made[placement] += 1
                    rec = scene.get(p.reference_id)
                    moved = np.linalg.norm(np.subtract(p.target_scene.get(target.instance_id).position,
                                                       target.position))
                    if rec.instance_id == target.support_id:  # moved within its own support
                        assert moved >= th.min_place_displacement_m - 1e-9
    # on room furniture every placement is possible: the plan, not the receptacle, decides
    assert set(made) == {"center", "nearest edge", "farthest edge", "leftmost", "rightmost"}


def test_a_move_within_its_own_support_is_never_already_done(rooms):
    """Put on the furniture it already stands on, the object's source position must be nearer to
    another named placement than to the instructed one: otherwise the unchanged image would read
    as "done" (the evaluator found identity predictions credited before this rule)."""
    from gsi_syn.edits import placement_points, placement_vocabulary

    th, checked = CheckThresholds(), 0
    for k, scene in enumerate(rooms):
        rng = np.random.default_rng(100 + k)
        for target in [o for o in unique_category_objects(scene) if o.role == "object"]:
            support = scene.get(target.support_id)
            if support is None:
                continue
            points = placement_points(scene, support, target, th.min_support_margin_m)
            vocabulary = placement_vocabulary(scene, points, th.min_placement_gap)
            for placement in vocabulary:
                p = propose_receptacle_place(scene, rng, th, target, {support.instance_id}, placement=placement)
                if p is None or p.reference_id != support.instance_id:
                    continue
                here = np.asarray(target.position)
                nearest = min(vocabulary, key=lambda n: np.linalg.norm(points[n][:2] - here[:2]))
                assert nearest != placement
                assert np.linalg.norm(points[placement] - here) >= th.min_place_displacement_m
                checked += 1
    assert checked >= 5


def test_record_plans_draw_placements_uniformly():
    rng = np.random.default_rng(0)
    drawn = Counter(draw_placement(rng)["placement"] for _ in range(2000))
    assert len(drawn) == 5 and max(drawn.values()) / 2000 < 0.25


# -- (c) removals ---------------------------------------------------------------------------------
def test_removals_single_out_their_target_among_two_or_more(rooms):
    th = CheckThresholds()
    made = 0
    for k, scene in enumerate(rooms):
        rng = np.random.default_rng(k)
        for _ in range(10):
            p = propose_remove(scene, rng, th)
            if p is None:
                continue
            made += 1
            target = scene.get(p.target_id)
            group = [o for o in scene.movable() if o.category == target.category]
            assert len(group) >= 2 and p.referring in ("leftmost", "rightmost", "nearest", "farthest")
            # recomputed here: image x of the projected box centres, distance of the box centre
            cam = scene.camera
            centres = np.stack([object_box_world(o).center for o in group])
            uv, _ = project_points(cam.K_array, cam.cam_from_world_array, centres)
            dist = np.linalg.norm(centres - cam.position, axis=1)
            value = {"leftmost": -uv[:, 0], "rightmost": uv[:, 0], "nearest": -dist, "farthest": dist}[p.referring]
            winner = group[int(np.argmax(value))]
            assert winner.instance_id == p.target_id, (k, p.referring)
            if p.referring in ("leftmost", "rightmost"):
                runner_up = np.sort(value)[-2]
                assert (value.max() - runner_up) / cam.width >= th.min_referring_gap
            assert p.ambiguity_margin >= th.min_ambiguity_margin_m
    assert made >= 5


def test_unique_categories_are_removed_only_when_allowed(rooms):
    allowed = dataclasses.replace(CheckThresholds(), min_remove_instances=1)
    singles = 0
    for k, scene in enumerate(rooms):
        rng = np.random.default_rng(k)
        for _ in range(10):
            p = propose_remove(scene, rng, allowed)
            if p is not None and not p.referring:
                singles += 1
                assert sum(o.category == scene.get(p.target_id).category for o in scene.movable()) == 1
    assert singles > 0


def test_image_and_ground_order_can_disagree():
    """A near object slightly left and a far object farther left on the ground: the ground
    ranks the far one leftmost, the image the near one — the expression is refused."""
    scene = sample_tabletop_scene(np.random.default_rng(4), RES, RES, TabletopConfig(), split="test")
    a, b = [o for o in scene.movable()][:2]
    C = scene.camera.cam_from_world_array
    right, forward = ground_direction(C, "right"), ground_direction(C, "forward")
    eye = scene.camera.position
    base = np.array([eye[0], eye[1], a.position[2]])
    far = base + forward * 3.0 - right * 0.9
    near = base + forward * 0.8 - right * 0.5
    moved = scene.replace_object(dataclasses.replace(a, category="cup", position=tuple(far)))
    moved = moved.replace_object(dataclasses.replace(b, category="cup", position=tuple(near)))
    winner, margin = resolve_referring(moved, "cup", "leftmost")
    assert winner == a.instance_id and margin > 0.3
    assert referring_image_gap(moved, "cup", "leftmost") < 0
    assert referring_image_gap(moved, "cup", "nearest") == math.inf


# -- (d) on / in ----------------------------------------------------------------------------------
def _entry(category: str, role: str) -> SceneObject:
    from gsi_syn.assets import get_library

    (e, *_) = get_library().entries(role=role, category=category)
    return SceneObject(7, e.id, e.category, (0.0, 0.0, 0.0), role=role)


@pytest.mark.parametrize("category,role,kind", [("bowl", "receptacle", "container"),
                                                ("box", "receptacle", "container"),
                                                ("plate", "receptacle", "surface"),
                                                ("table", "support", "surface")])
def test_receptacle_kind(category, role, kind):
    assert receptacle_kind(_entry(category, role)) == kind


@pytest.mark.parametrize("kind,word", [("surface", " on"), ("container", " in")])
def test_phrasings_suit_the_receptacle_and_parse_back(kind, word):
    from gsi_bench.operations import drawn_for_reference

    p = EditParams(placement="leftmost")
    for drawn in range(6):
        i = template_index("receptacle_place", drawn_for_reference("receptacle_place", drawn, p, kind), p)
        text = render_instruction("receptacle_place", i, "en", p, target="red mug", reference="sofa")
        assert f"{word} the sofa" in text or f"{word}to the sofa" in text, text
        parsed = parse_instruction(text)
        assert (parsed.operation, parsed.target, parsed.reference, parsed.params.placement) == \
            ("receptacle_place", "red mug", "sofa", "leftmost")
        assert parsed.template_id == f"receptacle_place/{i}"
        zh = render_instruction("receptacle_place", i, "zh", p, target="杯子", reference="沙发")
        assert parse_instruction(zh).template_id == f"receptacle_place/{i}"
