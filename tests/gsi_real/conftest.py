"""Shared fixtures of the GSI-Real tests: a tiny folder of review candidates."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from gsi_bench.hub_io import shard_path, update_checksums, write_shard_atomic
from gsi_bench.schema import Box3D, EditParams, EditRecord, ObjectRef, Provenance


def _review_record(i: int, rgb: np.ndarray, instruction: str = "Remove the cup.") -> EditRecord:
    """A minimal GSI-Real ``remove`` record ``real-test-0-{i:06d}`` whose source and target image are
    ``rgb`` (H×W×3 uint8) and whose source mask is a 4×4 square at (5, 5); no geometry beyond that."""
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[5:9, 5:9] = True
    box = Box3D([0, 0, 1], [0.1, 0.1, 0.1], np.eye(3).tolist(), [0, 0, 1, 0.1, 0.1, 0.1, 0])
    zeros16 = np.zeros((h, w), np.uint16)
    return EditRecord(
        id=f"real-test-0-{i:06d}", subset="real", split="test", operation="remove", frame="scene",
        instruction=instruction, instruction_zh="移除杯子。", template_id="remove/0",
        target=ObjectRef(instance_id=7, category="cup"), reference=ObjectRef(), params=EditParams(),
        transform_translation=[0, 0, 0], transform_rotation=np.eye(3).tolist(), transform_scale=[1, 1, 1],
        source_image=rgb, target_image=rgb, source_mask=mask, target_mask=np.zeros_like(mask),
        source_instances=zeros16, target_instances=zeros16, source_depth=zeros16, target_depth=zeros16,
        K=np.eye(3).tolist(), source_cam_from_world=np.eye(4).tolist(), target_cam_from_world=np.eye(4).tolist(),
        source_box=box, target_box=box, target_present=False,
        scene=json.dumps({"source": {}, "target": {}, "human_review": None}),
        provenance=Provenance("gsi_real.pipeline", "0", 0, i, "x", "forward_warp+harmonic", "y"))


@pytest.fixture()
def review_record() -> Callable[..., EditRecord]:
    """``review_record(i, rgb, instruction="Remove the cup.")``: see :func:`_review_record`."""
    return _review_record


@pytest.fixture()
def write_candidates() -> Callable[[Path, Sequence[EditRecord]], Path]:
    """``write_candidates(root, records)`` writes ``records`` as the one shard of the ``real`` test
    split under ``root`` (with its checksums) and returns ``root``."""

    def write(root: Path, records: Sequence[EditRecord]) -> Path:
        path = write_shard_atomic(shard_path(root, "real", "test", 0, 1), [r.to_example() for r in records])
        update_checksums(root, [path])
        return root

    return write
