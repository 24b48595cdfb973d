"""Integrity and the consistency re-run enforce the decidability rules of issue 17 item 5 on
records: sense-free rotations state no sense (and only they), object-relative placements move at
least the floor, receptacle placements keep their image gap."""

import dataclasses
import math

import numpy as np
import pytest

from gsi_bench.operations import EditParams
from gsi_bench.checks import CheckThresholds, Measurements, failed_checks
from gsi_syn.edits import propose_object_relative_place, propose_rotate, unique_category_objects
from gsi_syn.tabletop import TabletopConfig, sample_tabletop_scene
from validation.consistency import TransformCase, Tolerances, _Ctx, RecordResult, TRANSFORM_CHECKS
from validation.integrity import check_params


def _param_findings(op, **kw):
    out = []
    check_params(op, dataclasses.asdict(EditParams(**kw)), lambda c, m, v=None: out.append(m))
    return out


@pytest.mark.parametrize("angle,sense,ok", [
    (30.0, "", False), (60.0, "", False), (180.0, "", True), (90.0, "", True), (45.0, "", True),
    (30.0, "clockwise", True), (180.0, "counterclockwise", True), (30.0, "sideways", False)])
def test_integrity_accepts_an_empty_sense_only_where_some_symmetry_hides_it(angle, sense, ok):
    assert (_param_findings("rotate", angle_deg=angle, rotation_sense=sense) == []) == ok


@pytest.fixture(scope="module")
def scene():
    return sample_tabletop_scene(np.random.default_rng(1003), 64, 64, TabletopConfig(), split="test")


def _case(scene, p, op, params, th=CheckThresholds()):
    row = {"params": dataclasses.asdict(params), "target": {"instance_id": p.target_id,
                                                           "asset_id": scene.get(p.target_id).asset_id},
           "reference": {"instance_id": p.reference_id}, "checks": {"thresholds": th.to_json()}}
    ctx = _Ctx(RecordResult(id="x", file="f"))
    W = np.asarray(p.world_transform)
    pos = np.asarray(scene.get(p.target_id).position, np.float64)
    return TransformCase(row, op, scene, p.target_scene, Tolerances(), ctx,
                         scene.camera.cam_from_world_array, W, pos, W[:3, :3] @ pos + W[:3, 3]), ctx


def test_rerun_checks_the_sense_against_the_object_symmetry(scene):
    from gsi_syn.assets import get_library

    lib = get_library()
    obj = next(o for o in unique_category_objects(scene) if lib.entry(o.asset_id).symmetry == "none")
    loose = CheckThresholds(min_clearance_m=-1.0, min_support_margin_m=-1.0)
    seen = set()
    for k in range(40):
        p = propose_rotate(scene, np.random.default_rng(k), loose, obj, "none")
        key = p.params.angle_deg == 180.0
        if key in seen:
            continue
        seen.add(key)
        case, ctx = _case(scene, p, "rotate", p.params)
        TRANSFORM_CHECKS["rotate"](case)
        assert ctx.r.findings == [], ctx.r.findings
        # flip the stated sense on / off: the re-run refuses the label
        flipped = dataclasses.replace(p.params, rotation_sense="" if p.params.rotation_sense else "clockwise")
        case, ctx = _case(scene, p, "rotate", flipped)
        TRANSFORM_CHECKS["rotate"](case)
        msgs = " ".join(f.message for f in ctx.r.findings)
        assert ("states a sense" if key else "states no sense") in msgs, msgs
    assert seen == {True, False}


def test_rerun_refuses_a_short_object_relative_move(scene):
    checked = 0
    for target in unique_category_objects(scene):
        for k in range(10):
            p = propose_object_relative_place(scene, np.random.default_rng(k), CheckThresholds(), target)
            if p is None:
                continue
            moved = float(np.linalg.norm(np.asarray(p.world_transform)[:3, 3]))
            for floor in (moved - 0.01, moved + 0.01):  # the record's own thresholds set the floor
                case, ctx = _case(scene, p, "object_relative_place", p.params,
                                  CheckThresholds(min_place_displacement_m=floor))
                TRANSFORM_CHECKS["object_relative_place"](case)
                refused = [f.message for f in ctx.r.findings if "moves only" in f.message]
                assert bool(refused) == (floor > moved), (moved, floor, ctx.r.findings)
                assert len(ctx.r.findings) == len(refused)  # the relation itself holds
            # data made before the floor existed states none: nothing to check against
            case, ctx = _case(scene, p, "object_relative_place", p.params)
            case.row["checks"]["thresholds"] = "{}"
            TRANSFORM_CHECKS["object_relative_place"](case)
            assert ctx.r.findings == []
            checked += 1
    assert checked >= 3


def test_a_small_placement_gap_fails_the_checks():
    th = CheckThresholds()
    base = Measurements(changed_pixel_fraction=0.1)
    assert "placement_gap" in failed_checks(dataclasses.replace(base, placement_gap=0.01), 100, th, object_edit=False)
    assert "placement_gap" not in failed_checks(dataclasses.replace(base, placement_gap=0.2), 100, th, object_edit=False)
    assert "placement_gap" not in failed_checks(dataclasses.replace(base, placement_gap=math.inf), 100, th, object_edit=False)
    assert "placement_gap" not in failed_checks(base, 100, th, object_edit=False)  # not measured


# -- issue 13 §4: removals among >= 2, image-checked referring expressions -------------------------
def _remove_row(scene, tid, expr, th_json, margin):
    obj = scene.get(tid)
    return {"target": {"instance_id": tid, "category": obj.category, "referring_expression": expr},
            "checks": {"thresholds": th_json, "ambiguity_margin": margin}}


def _referring_findings(scene, row):
    from validation.consistency import _check_referring

    ctx = _Ctx(RecordResult(id="x", file="f"))
    _check_referring(row, scene, ctx)
    return [f.message for f in ctx.r.findings]


def test_rerun_refuses_a_removal_of_a_unique_category_unless_the_record_predates_the_rule():
    import json

    from gsi_bench.checks import NOT_APPLIED

    scenes = (sample_tabletop_scene(np.random.default_rng(seed), 64, 64, TabletopConfig(), split="test")
              for seed in range(7, 40))
    scene, single = next((s, u[0]) for s in scenes if (u := unique_category_objects(s)))
    msgs = _referring_findings(scene, _remove_row(scene, single.instance_id, "", CheckThresholds().to_json(), math.inf))
    assert any("fewer than min_remove_instances = 2" in m for m in msgs), msgs
    old = {k: v for k, v in json.loads(CheckThresholds().to_json()).items() if k not in NOT_APPLIED}
    assert _referring_findings(scene, _remove_row(scene, single.instance_id, "", json.dumps(old), math.inf)) == []


def test_rerun_refuses_a_leftmost_that_the_image_contradicts():
    from gsi_bench.geometry import ground_direction
    from gsi_syn.edits import resolve_referring

    scene = sample_tabletop_scene(np.random.default_rng(4), 64, 64, TabletopConfig(), split="test")
    a, b = scene.movable()[:2]
    C = scene.camera.cam_from_world_array
    right, forward = ground_direction(C, "right"), ground_direction(C, "forward")
    base = np.array([*scene.camera.position[:2], a.position[2]])
    far, near = base + forward * 3.0 - right * 0.9, base + forward * 0.8 - right * 0.5
    s = scene.replace_object(dataclasses.replace(a, category="cup", position=tuple(far)))
    s = s.replace_object(dataclasses.replace(b, category="cup", position=tuple(near)))
    tid, margin = resolve_referring(s, "cup", "leftmost")
    msgs = _referring_findings(s, _remove_row(s, tid, "leftmost", CheckThresholds().to_json(), margin))
    assert any("picks another instance" in m for m in msgs), msgs
    # nearest is judged by distance alone: the same pair is fine
    tid, margin = resolve_referring(s, "cup", "nearest")
    assert _referring_findings(s, _remove_row(s, tid, "nearest", CheckThresholds().to_json(), margin)) == []


def test_integrity_holds_recorded_measurements_to_the_recorded_floors():
    import json

    from gsi_bench.checks import NOT_APPLIED
    from validation.integrity import _check_measurements

    def findings(op, th_json, **kw):
        c = {"visible_fraction_source": 1.0, "visible_fraction_target": 1.0, "visible_pixels_source": 400,
             "visible_pixels_target": 400, "min_clearance_m": 0.1, "support_margin_m": 0.1,
             "ambiguity_margin": math.inf, "changed_pixel_fraction": 0.01, "view_overlap": math.nan,
             "settle_drift_m": 0.0, "placement_gap": math.nan, "thresholds": th_json, **kw}
        out = []
        _check_measurements(op, c, 256 * 256, lambda check, m, v=None: out.append(m))
        return out

    th = CheckThresholds().to_json()  # floor: 0.005 × 65,536 = 327.7 px; 0.25 % changed
    assert findings("scale", th) == []
    assert any("visible_pixels_target = 300 is under the minimum target size" in m
               for m in findings("scale", th, visible_pixels_target=300))
    assert findings("remove", th, visible_pixels_target=0) == []  # nothing left to measure
    assert any("visible-change floor" in m for m in findings("rotate", th, changed_pixel_fraction=0.002))
    old = json.dumps({k: v for k, v in json.loads(th).items() if k not in NOT_APPLIED})
    assert findings("scale", old, visible_pixels_target=300) == []  # predates the size floor
