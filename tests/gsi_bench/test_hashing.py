"""Canonical JSON and sha256 helpers."""

import hashlib
import json

import pytest

from gsi_bench.hashing import bytes_sha256, canonical_json, file_sha256


def test_canonical_json_ignores_key_order_and_whitespace():
    a = canonical_json({"b": [1, 2.5], "a": {"y": "猫", "x": None}})
    assert a == canonical_json(json.loads(json.dumps({"a": {"x": None, "y": "猫"}, "b": [1, 2.5]}, indent=3)))
    assert a == '{"a":{"x":null,"y":"\\u732b"},"b":[1,2.5]}'
    assert canonical_json({"y": "猫"}, ensure_ascii=False) == '{"y":"猫"}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")}, allow_nan=False)


def test_file_sha256_matches_hashlib_across_chunks(tmp_path):
    data = bytes(range(256)) * 1000
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path, chunk=1000) == file_sha256(path) == hashlib.sha256(data).hexdigest() == bytes_sha256(data)
