"""The scene spec in the record: encode / decode round trip, EditRecord.scenes(), typed errors
for records that carry no GSI-Syn scene."""

import dataclasses
import json

import numpy as np
import pytest

from gsi_bench.assembly import EditView, InstructionText, Transform, assemble_record
from gsi_bench.geometry import intrinsics_from_fov, look_at
from gsi_bench.operations import EditParams
from gsi_bench.scene import (Camera, Light, Material, Scene, SceneFormatError, SceneObject, decode_scene_pair,
                             encode_scene_pair)
from gsi_bench.schema import Box3D, Checks, EditRecord, ObjectRef, Provenance


def _scene() -> Scene:
    cam = Camera.create(intrinsics_from_fov(32, 24, 60.0), look_at([0, -1.5, 1.0], [0, 0, 0.7]), 32, 24)
    table = SceneObject(1, "procedural/table", "table", (0.0, 0.0, 0.0), role="support",
                        params={"width": 1.2, "depth": 0.8, "height": 0.7})
    mug = SceneObject(2, "pybullet/mug", "mug", (0.1, -0.05, 0.7), yaw_deg=30.0, scale=1.1,
                      material=Material(color=(0.8, 0.1, 0.1), specular=0.3), category_zh="杯子",
                      description="red mug", description_zh="红色的杯子", support_id=1)
    return Scene(subset="tabletop", objects=[table, mug], light=Light(), camera=cam, asset_manifest_sha256="ab" * 32)


def _record(scene_json: str) -> EditRecord:
    h, w = 24, 32
    img = np.zeros((h, w, 3), np.uint8)
    z16 = np.zeros((h, w), np.uint16)
    view = EditView(image=img, mask=np.zeros((h, w), bool), instances=z16, depth_mm=z16, cam_from_world=np.eye(4))
    box = Box3D.from_pose([0, 0, 1.0], [0.1, 0.1, 0.1], np.eye(3))
    return assemble_record(
        id="tabletop-test-3-000000", subset="tabletop", split="test", operation="rotate",
        params=EditParams(angle_deg=90.0, rotation_sense="clockwise"),
        instruction=InstructionText("Rotate the red mug 90 degrees clockwise.", "", "rotate/0"),
        target=ObjectRef(2, "mug"), reference=ObjectRef(), transform=Transform.identity(), source=view,
        target_view=view, K=intrinsics_from_fov(w, h, 60.0), source_box=box, target_box=box, target_present=True,
        scene=scene_json, provenance=Provenance("test", "0", 3, 0, "", "raycast", ""), checks=Checks())


def test_scene_pair_round_trips_through_the_record():
    src = _scene()
    tgt = src.replace_object(dataclasses.replace(src.get(2), yaw_deg=120.0))
    text = encode_scene_pair(src, tgt)
    assert text == json.dumps({"source": src.to_dict(), "target": tgt.to_dict()}, sort_keys=True, separators=(",", ":"))
    rec = _record(text)
    got_src, got_tgt = rec.scenes()
    assert got_src == src and got_tgt == tgt
    assert got_tgt.get(2).yaw_deg == 120.0 and got_src.get(2).material.color == (0.8, 0.1, 0.1)
    assert encode_scene_pair(got_src, got_tgt) == text
    assert decode_scene_pair(text) == (src, tgt)


def test_scenes_are_decoded_once_and_follow_edits_of_the_field():
    src = _scene()
    rec = _record(encode_scene_pair(src, src))
    first = rec.scenes()
    assert rec.scenes() is first  # cached
    moved = src.replace_object(dataclasses.replace(src.get(2), position=(0.2, 0.0, 0.7)))
    rec.scene = encode_scene_pair(src, moved)
    assert rec.scenes()[1].get(2).position == (0.2, 0.0, 0.7)


@pytest.mark.parametrize("scene_json, message", [
    ('{"kind":"real","source":{"kind":"rgbd_capture"},"target":{"kind":"synthesized"}}', "GSI-Real"),
    ("{}", "no 'source' / 'target'"),
    ("[1, 2]", "expected an object"),
    ('{"source": {"format_version": 1}, "target": {}}', "does not load"),
])
def test_records_without_a_syn_scene_raise_a_typed_error(scene_json, message):
    rec = _record(scene_json)
    with pytest.raises(SceneFormatError, match=message):
        rec.scenes()


def test_other_format_version_is_a_typed_error_not_a_key_error():
    d = _scene().to_dict()
    d["format_version"] = 2
    with pytest.raises(SceneFormatError, match="format_version 2"):
        decode_scene_pair(json.dumps({"source": d, "target": d}))
    with pytest.raises(SceneFormatError, match="not valid JSON"):
        decode_scene_pair("{not json")
    assert issubclass(SceneFormatError, ValueError) and not issubclass(SceneFormatError, KeyError)
