"""Torch-friendly arrays: depth in metres (float32) and instance maps int64 that torch can reduce,
compare and ``unique`` — checked against the record's own decoding on a generated split."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("moderngl")

from gsi_bench import arrays
from gsi_bench.hub_io import iter_records, list_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("arrays")
    generate(GenerationConfig(subset="tabletop", split="test", num=2, seed=3, resolution=64), out, progress=False)
    return out


def test_with_transform_gives_torch_dtypes_that_work(data):
    import datasets

    ds = datasets.load_dataset("parquet", data_files=[str(p) for p in list_shards(data, "tabletop", "test")],
                               split="train").with_transform(arrays.torch_transform)
    record = next(iter_records(data, "tabletop", "test"))
    row = ds[0]
    depth, inst = row["source_depth"], row["source_instances"]
    assert depth.dtype == torch.float32 and inst.dtype == torch.int64
    assert row["source_mask"].dtype == torch.bool and row["source_image"].shape == (3, 64, 64)
    # the same values as the stored encoding: mm / 1000, ids unchanged
    np.testing.assert_allclose(depth.numpy(), record.source_depth.astype(np.float64) / 1000.0, rtol=1e-6)
    assert 0.1 < float(depth.max()) < 20.0  # metres, not millimetres
    assert set(torch.unique(inst).tolist()) == set(np.unique(record.source_instances).tolist())
    assert int(inst.max()) == int(record.source_instances.max()) > 0
    target = record.target.instance_id
    assert torch.equal(inst == target, torch.from_numpy(record.source_instances == target))
    assert row["id"] == record.id  # other columns pass through


def test_helpers_reject_wrong_inputs_and_map_invalid():
    mm = np.array([[0, 2500]], np.uint16)
    assert np.isnan(arrays.depth_metres(mm, invalid=np.nan)[0, 0])
    assert arrays.instance_ids(mm, np.int32).dtype == np.int32
    with pytest.raises(TypeError, match="uint16"):
        arrays.depth_metres(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="int32 or int64"):
        arrays.instance_ids(mm, np.uint16)
    assert doctest.testmod(arrays).failed == 0
