"""Record schema: typed features, lossless round trips record → Parquet → record, validation."""

import dataclasses
import json
import math

import numpy as np
import pytest

from gsi_bench.hub_io import iter_records, list_shards, shard_path, write_shard_atomic
from gsi_bench.operations import EditParams
from gsi_bench.schema import (FIELD_DOCS, Box3D, Checks, EditRecord, ObjectRef, Provenance,
                              decode_image, depth_to_mm, encode_png, features, field_docs_markdown)


def make_record(seed: int = 0, h: int = 24, w: int = 32, op: str = "rotate") -> EditRecord:
    rng = np.random.default_rng(seed)
    inst = rng.integers(0, 65535, (h, w), dtype=np.uint16)
    return EditRecord(
        id=f"tabletop-test-0-{seed:06d}", subset="tabletop", split="test", operation=op, frame="object",
        instruction="Rotate the mug 90 degrees clockwise, as seen from above.",
        instruction_zh="从上方看，将杯子顺时针旋转90度。", template_id="rotate/0",
        target=ObjectRef(11, "mug", "杯子", "red mug", "", "pybullet/mug"), reference=ObjectRef(),
        params=EditParams(angle_deg=90.0, rotation_sense="clockwise"),
        transform_translation=[0.1, -0.2, 0.3], transform_rotation=np.eye(3).tolist(),
        transform_scale=[1.0, 1.0, 1.0],
        source_image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        target_image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        source_mask=rng.random((h, w)) > 0.5, target_mask=rng.random((h, w)) > 0.5,
        source_instances=inst, target_instances=inst[::-1].copy(),
        source_depth=rng.integers(0, 65535, (h, w), dtype=np.uint16),
        target_depth=np.full((h, w), 65535, np.uint16),
        K=[[100.0, 0, 15.5], [0, 100.0, 11.5], [0, 0, 1]],
        source_cam_from_world=np.eye(4).tolist(), target_cam_from_world=np.eye(4).tolist(),
        source_box=Box3D([0, 0, 1], [0.1, 0.1, 0.2], np.eye(3).tolist(), [0, 0, 1, 0.1, 0.2, 0.1, 0.0]),
        target_box=Box3D([0, 0, 1], [0.1, 0.1, 0.2], np.eye(3).tolist(), [0, 0, 1, 0.1, 0.2, 0.1, 0.5]),
        target_present=True, scene=json.dumps({"source": {}, "target": {}}),
        provenance=Provenance("gsi_syn.tabletop", "0.1.0", 0, seed, "ab" * 32, "gl", "cd" * 32),
        checks=Checks(visible_fraction_source=0.9, visible_fraction_target=0.8, visible_pixels_source=10,
                      visible_pixels_target=12, min_clearance_m=0.02, support_margin_m=0.1,
                      changed_pixel_fraction=0.01),
    )


def assert_records_equal(a: EditRecord, b: EditRecord) -> None:
    for f in dataclasses.fields(EditRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.dtype == bool:
                x = np.where(x, 255, 0).astype(np.uint8)
            assert y.dtype == x.dtype, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif dataclasses.is_dataclass(x):
            for k in x.__dataclass_fields__:
                xv, yv = getattr(x, k), getattr(y, k)
                if isinstance(xv, float) and math.isnan(xv):
                    assert math.isnan(yv), (f.name, k)
                else:
                    assert xv == yv, (f.name, k, xv, yv)
        else:
            assert x == y, f.name


def test_every_feature_is_documented():
    feats = features()
    documented = {d.name.split(".")[0] for d in FIELD_DOCS}
    assert set(feats) == documented
    # every leaf of every struct is documented too
    leaves = set()
    for name, f in feats.items():
        if isinstance(f, dict):
            for k, v in f.items():
                if isinstance(v, dict):
                    leaves |= {f"{name}.{k}.{kk}" for kk in v}
                else:
                    leaves.add(f"{name}.{k}")
        else:
            leaves.add(name)
    assert leaves == {d.name for d in FIELD_DOCS}
    md = field_docs_markdown()
    assert md.count("\n") == len(FIELD_DOCS) + 1


def test_png_round_trip_is_lossless_for_uint16():
    a = np.array([[0, 1, 65535], [1000, 40000, 7]], dtype=np.uint16)
    np.testing.assert_array_equal(decode_image(encode_png(a), "I;16"), a)
    assert encode_png(a) == encode_png(a.copy())


@pytest.mark.parametrize("level", [1, 3, 6])
def test_png_round_trip_is_lossless_for_uint8(level):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    mask = np.where(rng.random((17, 23)) > 0.7, 255, 0).astype(np.uint8)
    for a, mode in ((rgb, "RGB"), (mask, "L")):
        np.testing.assert_array_equal(decode_image(encode_png(a, level), mode), a)
        assert encode_png(a, level) == encode_png(a.copy(), level)


def test_arrow_schema_is_cached_with_its_metadata(tmp_path, monkeypatch):
    from gsi_bench import hub_io

    monkeypatch.setenv("GSI_BENCH_CACHE", str(tmp_path))
    path = hub_io._schema_cache_file()
    assert tmp_path in path.parents and not path.exists()
    built = hub_io.features_arrow_schema()
    assert path.is_file()
    cached = hub_io.features_arrow_schema()  # read back from the file
    expected = features().arrow_schema
    assert built.equals(expected, check_metadata=True) and cached.equals(expected, check_metadata=True)
    path.write_bytes(b"not a schema")  # a damaged cache file is rebuilt, not trusted
    assert hub_io.features_arrow_schema().equals(expected, check_metadata=True)


def test_depth_to_mm():
    d = np.array([[0.0, 1.2344, 70.0, np.nan]], dtype=np.float32)
    assert depth_to_mm(d).tolist() == [[0, 1234, 65535, 0]]


def test_parquet_round_trip_is_lossless(tmp_path):
    recs = [make_record(i) for i in range(3)]
    path = shard_path(tmp_path, "tabletop", "test", 0, 1)
    write_shard_atomic(path, [r.to_example() for r in recs], {"run": 1})
    assert list_shards(tmp_path) == [path]
    back = list(iter_records(tmp_path))
    assert len(back) == 3
    for a, b in zip(recs, back):
        assert_records_equal(a, b)


def test_datasets_load_restores_typed_features(tmp_path):
    from datasets import load_dataset

    recs = [make_record(i) for i in range(2)]
    write_shard_atomic(shard_path(tmp_path, "tabletop", "test", 0, 1), [r.to_example() for r in recs])
    ds = load_dataset(str(tmp_path / "data" / "tabletop"), split="test", cache_dir=str(tmp_path / "cache"))
    assert ds.features == features()
    row = ds[0]
    assert row["operation"] == features()["operation"].str2int("rotate")
    back = EditRecord.from_example(row)
    assert_records_equal(recs[0], back)


def test_invalid_records_are_refused():
    rec = make_record()
    rec.source_depth = rec.source_depth.astype(np.float32)
    with pytest.raises(ValueError, match="source_depth has dtype float32"):
        rec.to_example()
    rec = make_record()
    rec.operation = "teleport"
    with pytest.raises(ValueError, match="operation 'teleport'"):
        rec.validate()
    rec = make_record()
    rec.target_image = rec.target_image[:-1]
    with pytest.raises(ValueError, match="target_image has shape"):
        rec.validate()
    rec = make_record()
    rec.transform_translation = [0.0, math.nan, 0.0]
    with pytest.raises(ValueError, match="non-finite"):
        rec.validate()


def test_decompression_bomb_is_refused():
    from PIL import Image
    import io

    buf = io.BytesIO()
    Image.new("L", (9000, 8000)).save(buf, format="PNG")
    with pytest.raises(ValueError, match="exceeds"):
        decode_image(buf.getvalue(), "L")
