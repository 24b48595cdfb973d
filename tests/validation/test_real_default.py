"""Default protocol on GSI-Real pipeline records, without weights: the ground truth scores, the
unchanged image and the edit warped the wrong way do not, and the runner scores them end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("moderngl")

from gsi_real.demo import make_demo_captures  # noqa: E402
from gsi_real.pipeline import run  # noqa: E402
from gsi_real.synthesis import synthesize  # noqa: E402
from validation.evaluator.protocols.real_default import (  # noqa: E402
    _frame_and_object,
    _signed_angle_deg,
    is_real_capture,
    score_real,
)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    make_demo_captures(root / "caps", num_captures=2, frames_per_capture=1, width=160, height=120, seed=11)
    run(root / "caps", root / "data", seed=11)
    from gsi_bench.hub_io import iter_records

    return root, list(iter_records(root / "data", "real", "test"))


def _wrong_way(record) -> np.ndarray | None:
    """The edit's target synthesised with the inverse motion (None where there is no wrong way)."""
    frame, obj = _frame_and_object(record)
    R = np.asarray(record.transform_rotation)
    if record.operation == "remove":
        return None
    if record.operation == "rotate":
        n = obj.plane.normal / np.linalg.norm(obj.plane.normal)
        if abs(abs(_signed_angle_deg(R, n)) - 180.0) < 1.0:   # a half turn has no wrong way
            return None
        warp = (R.T, obj.center - R.T @ obj.center, 1.0)
    elif record.operation == "scale":
        s = record.transform_scale[0]
        warp = (np.eye(3), (1 - 1 / s) * obj.base_center, 1 / s)
    else:
        warp = (np.eye(3), -np.asarray(record.transform_translation), 1.0)
    return synthesize(frame, obj, warp).rgb


def test_oracle_identity_and_wrong_way(real_folder):
    _, records = real_folder
    assert records and all(is_real_capture(r) for r in records)
    assert len({r.operation for r in records}) >= 3
    oracle = [score_real(r, r.target_image)["ic"] for r in records]
    identity = [score_real(r, r.source_image)["ic"] for r in records]
    wrong = [score_real(r, w)["ic"] for r in records if (w := _wrong_way(r)) is not None]
    assert 100 * np.mean(oracle) >= 95
    assert 100 * np.mean(identity) <= 5
    assert wrong and sum(wrong) == 0


def test_runner_scores_real_records(real_folder, tmp_path):
    from PIL import Image

    from validation.evaluator import EvalConfig, evaluate

    root, records = real_folder
    (tmp_path / "p").mkdir()
    for r in records:
        Image.fromarray(r.target_image).save(tmp_path / "p" / f"{r.id}.png")
    s = evaluate(EvalConfig(data=str(root / "data"), config="real", predictions=str(tmp_path / "p"),
                            out=str(tmp_path / "r")), progress=False)
    assert s["counts"]["ok"] == len(records) and s["counts"]["unscorable"] == 0
    assert s["overall"]["ic"] >= 95
    rows = [json.loads(x) for x in (tmp_path / "r" / "per_sample.jsonl").read_text().splitlines()]
    assert all(r["realised"]["hypothesis"] for r in rows)
