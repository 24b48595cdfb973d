"""Record assembly from typed parts."""

import numpy as np
import pytest

from gsi_bench.assembly import EditView, InstructionText, Transform, assemble_record, render_instructions
from gsi_bench.geometry import intrinsics_from_fov, rot_z
from gsi_bench.official_format import box_to_official_7vec
from gsi_bench.operations import EditParams, parse_instruction
from gsi_bench.schema import Box3D, Checks, EditRecord, ObjectRef, Provenance


def _view(h=12, w=16, depth=0):
    return EditView(image=np.zeros((h, w, 3), np.uint8), mask=np.ones((h, w), bool),
                    instances=np.zeros((h, w), np.uint16), depth_mm=np.full((h, w), depth, np.uint16),
                    cam_from_world=np.eye(4))


def _assemble(op="scale", source=None, params=EditParams(scale_factor=2.0)):
    text = render_instructions(op, 0, params, target=("red mug", "红色的杯子"), referring="leftmost")
    box = Box3D.from_pose([0.1, 0.0, 1.0], [0.1, 0.2, 0.3], rot_z(30.0))
    return assemble_record(
        id="tabletop-test-0-000001", subset="tabletop", split="test", operation=op, params=params,
        instruction=text, target=ObjectRef(3, "mug"), reference=ObjectRef(),
        transform=Transform(np.eye(3), np.full(3, 2.0), np.array([0.0, 0.15, 0.0])),
        source=source or _view(), target_view=_view(depth=900), K=intrinsics_from_fov(16, 12, 60.0),
        source_box=box, target_box=box, target_present=True, scene="{}",
        provenance=Provenance("test", "0", 0, 1, "", "raycast", ""), checks=Checks())


def test_assembled_record_derives_frame_lists_and_instruction():
    rec = _assemble()
    assert isinstance(rec, EditRecord) and rec.frame == "object"
    assert rec.transform_scale == [2.0, 2.0, 2.0] and isinstance(rec.transform_translation, list)
    assert rec.template_id == "scale/0" and "leftmost red mug" in rec.instruction and "最左边的红色的杯子" in rec.instruction_zh
    parsed = parse_instruction(rec.instruction)
    assert parsed.operation == "scale" and parsed.params.scale_factor == 2.0
    assert rec.target_depth[0, 0] == 900 and rec.K[0][2] == 7.5
    row = rec.to_example()
    assert EditRecord.from_example(row).instruction == rec.instruction


def test_box_from_pose_carries_its_official_vector():
    box = Box3D.from_pose([0.1, 0.0, 1.0], [0.1, 0.2, 0.3], rot_z(30.0))
    assert box.official_7vec == box_to_official_7vec([0.1, 0.0, 1.0], [0.1, 0.2, 0.3], rot_z(30.0))
    assert isinstance(box.center, list) and len(box.rotation) == 3
    assert Box3D.zero().official_7vec == [0.0] * 7


def test_malformed_part_is_rejected_naming_the_field():
    bad = EditView(image=np.zeros((12, 16, 3), np.uint8), mask=np.ones((12, 16), bool),
                   instances=np.zeros((12, 15), np.uint16), depth_mm=np.zeros((12, 16), np.uint16),
                   cam_from_world=np.eye(4))
    with pytest.raises(ValueError, match="source_instances"):
        _assemble(source=bad)
    with pytest.raises(ValueError, match="unknown operation 'teleport'"):
        _assemble(op="teleport")
    with pytest.raises(ValueError, match="unknown operation 'teleport'"):
        assemble_record(id="x", subset="tabletop", split="test", operation="teleport", params=EditParams(),
                        instruction=InstructionText("a", "", "t/0"), target=ObjectRef(), reference=ObjectRef(),
                        transform=Transform.identity(), source=_view(), target_view=_view(), K=np.eye(3),
                        source_box=Box3D.zero(), target_box=Box3D.zero(), target_present=False, scene="{}",
                        provenance=Provenance("t", "0", 0, 0, "", "", ""), checks=Checks())
    assert InstructionText("a", "b", "c").template_id == "c"
