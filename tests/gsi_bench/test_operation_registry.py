"""The operation table is the one place an operation is defined: a toy operation registered in
a test (its spec in :mod:`gsi_bench.operations`, its proposer in :mod:`gsi_syn.edits`) is picked up
by the parser, the GSI-Syn sampler and the integrity rules through their registries, and leaves
no trace once unregistered. (The third module a new operation touches is the scorer's registry in
``validation/evaluator``.)"""

import dataclasses
import math

import numpy as np
import pytest

from gsi_bench.geometry import make_transform
from gsi_bench.operations import (OPERATION_FRAME, OPERATION_SPECS, OPERATIONS, EditParams,
                                  OperationSpec, Template, num_templates, operation_spec,
                                  operations_for_subset, parse_instruction, register_operation,
                                  render_instruction, unregister_operation)

TOY = "lift"


def _toy_spec() -> OperationSpec:
    return OperationSpec(
        TOY, "object",
        (Template("Raise the {obj} by {cm} cm.", "把{obj}抬高{cm}厘米。"),
         Template("Lift the {obj} {cm} centimeters straight up.", "将{obj}竖直向上提起{cm}厘米。")),
        subsets=("tabletop",), required=("distance_m",), ranges={"distance_m": (0.02, 0.2)})


def _propose_lift(scene, rng, th, target, visible):
    from gsi_syn.edits import Proposal

    cm = int(rng.integers(2, 21))
    moved = dataclasses.replace(target, position=(target.position[0], target.position[1], target.position[2] + cm / 100))
    W = make_transform(translation=np.array([0.0, 0.0, cm / 100]))
    return Proposal(TOY, EditParams(distance_m=cm / 100), target.instance_id, scene.replace_object(moved), W)


@pytest.fixture
def toy():
    from gsi_syn.edits import SynOperation, register_proposer, unregister_proposer

    calls = []

    def propose(*args):
        calls.append(args[3])
        return _propose_lift(*args)

    register_operation(_toy_spec())
    register_proposer(TOY, SynOperation(propose, target_ok=lambda o: o.role == "object"))
    try:
        yield calls
    finally:
        unregister_proposer(TOY)
        unregister_operation(TOY)


def test_builtin_table_matches_the_benchmark():
    assert tuple(OPERATION_SPECS) == OPERATIONS
    assert {op: OPERATION_FRAME[op] for op in OPERATIONS} == {
        "camera_relative_move": "camera", "object_relative_place": "anchor", "receptacle_place": "receptacle",
        "rotate": "object", "scale": "object", "remove": "scene", "perspective": "camera"}
    assert operations_for_subset("real") == ("camera_relative_move", "object_relative_place", "rotate", "scale", "remove")
    assert len(operations_for_subset("tabletop")) == len(operations_for_subset("room")) == 7
    with pytest.raises(ValueError, match="benchmark operation"):
        unregister_operation("rotate")
    with pytest.raises(ValueError, match="already registered"):
        register_operation(operation_spec("rotate"))


def test_toy_operation_text_round_trips(toy):
    assert OPERATION_FRAME[TOY] == "object" and num_templates(TOY) == 2
    for lang, obj in (("en", "red mug"), ("zh", "红色的杯子")):
        for i in range(2):
            text = render_instruction(TOY, i, lang, EditParams(distance_m=0.07), target=obj)
            parsed = parse_instruction(text)
            assert (parsed.operation, parsed.template_id, parsed.target) == (TOY, f"{TOY}/{i}", obj)
            assert parsed.params.distance_m == pytest.approx(0.07)
    # the built-in operations still parse to themselves
    assert parse_instruction("Remove the red mug.").operation == "remove"


def test_sampler_picks_up_the_toy_operation(toy):
    from gsi_syn import sampler
    from gsi_bench.checks import CheckThresholds
    from gsi_syn.tabletop import TabletopConfig, sample_tabletop_scene

    assert sampler.SUBSET_OPERATIONS["tabletop"][-1] == TOY
    assert TOY not in sampler.SUBSET_OPERATIONS["room"]
    assert sampler.GenerationConfig(subset="tabletop", operations=(TOY,)).operations == (TOY,)
    with pytest.raises(ValueError, match="not generated for subset 'room'"):
        sampler.GenerationConfig(subset="room", operations=(TOY,))
    scene = sample_tabletop_scene(np.random.default_rng(3), 64, 64, TabletopConfig(), split="test")
    visible = {o.instance_id for o in scene.objects}
    p = sampler._propose(TOY, scene, np.random.default_rng(0), CheckThresholds(), visible)
    assert p is not None and p.operation == TOY
    # the sampler chose the target by the registered rule: a unique, visible object carrying nothing
    (target,) = toy
    assert target.role == "object" and target.instance_id in visible
    assert sum(o.category == target.category for o in scene.movable()) == 1
    assert all(o.support_id != target.instance_id for o in scene.objects)
    lifted = np.asarray(p.target_scene.get(target.instance_id).position) - np.asarray(target.position)
    np.testing.assert_allclose(lifted, [0, 0, p.params.distance_m], atol=1e-6)


def test_integrity_checks_toy_params_from_its_spec(toy):
    from validation.integrity import check_params

    def findings(**kw):
        out = []
        check_params(TOY, dataclasses.asdict(EditParams(**kw)), lambda c, m, v=None: out.append((c, m)))
        return out

    assert findings(distance_m=0.05) == []
    assert any("outside [0.02, 0.2]" in m for _, m in findings(distance_m=0.5))
    assert any(c == "finite" and "requires it" in m for c, m in findings(distance_m=math.nan))
    assert any("does not apply" in m for _, m in findings(distance_m=0.05, relation="left of"))


def test_unregistering_leaves_no_trace():
    from gsi_syn import sampler
    from gsi_syn.edits import PROPOSERS, SynOperation, register_proposer, unregister_proposer

    with pytest.raises(KeyError, match="register the spec"):
        register_proposer(TOY, SynOperation(_propose_lift))
    register_operation(_toy_spec())
    register_proposer(TOY, SynOperation(_propose_lift))
    text = render_instruction(TOY, 0, "en", EditParams(distance_m=0.1), target="cup")
    assert parse_instruction(text).operation == TOY
    unregister_proposer(TOY)
    unregister_operation(TOY)
    assert TOY not in OPERATION_SPECS and TOY not in PROPOSERS and TOY not in OPERATION_FRAME
    assert TOY not in sampler.SUBSET_OPERATIONS["tabletop"]
    with pytest.raises(ValueError, match="matches no known template"):
        parse_instruction(text)
    with pytest.raises(ValueError, match="not implemented by the sampler"):
        sampler._propose(TOY, None, np.random.default_rng(0), None, set())


def test_a_new_operation_touches_three_modules_at_most():
    """Everything the toy needed came from two registries (the scorer's is the third)."""
    from gsi_syn.edits import register_proposer

    used = {register_operation.__module__, register_proposer.__module__}
    assert used == {"gsi_bench.operations", "gsi_syn.edits"}
