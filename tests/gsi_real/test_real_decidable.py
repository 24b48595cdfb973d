"""GSI-Real proposals state only decidable instructions (issue 17 item 5): 180° rotations carry
no sense and are realised counterclockwise; object-relative placements move at least the floor.
The proposer per operation comes from the ``REAL_PROPOSERS`` registry."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("moderngl")

from gsi_bench.operations import SENSES, operations_for_subset  # noqa: E402
from gsi_real.captures import iter_frames  # noqa: E402
from gsi_real.demo import make_demo_captures  # noqa: E402
from gsi_real.edits import REAL_PROPOSERS, propose, rotation_about_base  # noqa: E402
from gsi_real.pipeline import REAL_OPERATIONS, RealConfig, frame_rng, lift  # noqa: E402


@pytest.fixture(scope="module")
def lifted_frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("caps")
    make_demo_captures(root, num_captures=2, frames_per_capture=1, width=160, height=120, seed=5)
    cfg = RealConfig()
    out = []
    for i, frame in enumerate(iter_frames(root)):
        lifted = lift(frame, cfg, frame_rng(cfg, i))
        out.append((lifted, {j: frame.labels[j].category for j in frame.movable_ids()}))
    return out


def test_real_operations_come_from_the_table():
    assert REAL_OPERATIONS == operations_for_subset("real")
    assert set(REAL_PROPOSERS) == set(REAL_OPERATIONS)
    with pytest.raises(ValueError, match="not supported on single real frames"):
        propose("perspective", None, {}, np.random.default_rng(0))


def test_real_rotations_state_a_sense_unless_180(lifted_frames):
    kinds = set()
    for lifted, cats in lifted_frames:
        for k in range(40):
            p = propose("rotate", lifted, cats, np.random.default_rng(k))
            if p is None:
                continue
            obj = lifted.objects[p.target_id]
            angle, sense = p.params.angle_deg, p.params.rotation_sense
            assert (sense == "") == (angle == 180.0)
            assert sense in SENSES + ("",)
            # Φ3D: the stated sense (counterclockwise when none is stated) about the support normal
            R, _ = rotation_about_base(obj, -angle if sense == "clockwise" else angle)
            np.testing.assert_allclose(p.R, R, atol=1e-12)
            kinds.add(sense == "")
    assert kinds == {True, False}


def test_real_object_relative_moves_respect_the_floor(lifted_frames):
    moved = []
    for lifted, cats in lifted_frames:
        for k in range(40):
            p = propose("object_relative_place", lifted, cats, np.random.default_rng(k))
            if p is not None:
                moved.append(float(np.linalg.norm(p.t)))
            assert propose("object_relative_place", lifted, cats, np.random.default_rng(k),
                           min_displacement_m=10.0) is None
    assert moved and min(moved) >= 0.10
