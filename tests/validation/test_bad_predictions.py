"""Predictions a careless user may hand the evaluator: FIFOs, huge sparse files, 16-bit greyscale,
alpha. Each finishes at once, with bounded memory, and is counted with a reason."""

from __future__ import annotations

import io
import os
import resource
import threading

import numpy as np
import pytest
from PIL import Image

from gsi_bench.fileio import UnreadableFile, read_regular_file
from validation.evaluator.imageops import (ALPHA_BACKGROUND, MAX_PREDICTION_BYTES, decode_prediction,
                                           decode_prediction_with_notes)
from validation.evaluator.predictions import index_folder


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def _finishes(fn, seconds: float = 5.0):
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - the test inspects it
            out["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the call hung"
    return out


def test_fifo_is_listed_not_opened(tmp_path):
    os.mkfifo(tmp_path / "rec-1.png")
    (tmp_path / "rec-2.png").write_bytes(_png(np.zeros((4, 4, 3), np.uint8)))
    index = _finishes(lambda: index_folder(tmp_path, {"rec-1", "rec-2"}))["value"]
    assert "rec-1" not in index.locators and "rec-2" in index.locators
    assert [(i["kind"], i["name"]) for i in index.issues] == [("not_regular_file", "rec-1.png")]


def test_fifo_swapped_in_after_indexing_does_not_block(tmp_path):
    path = tmp_path / "rec-1.png"
    path.write_bytes(b"x")
    index = index_folder(tmp_path, {"rec-1"})
    path.unlink()
    os.mkfifo(path)
    result = _finishes(lambda: index.read("rec-1"))
    assert isinstance(result.get("error"), UnreadableFile)


def test_huge_sparse_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "rec-1.png"
    with open(path, "wb") as f:
        f.truncate(2 * 1024 ** 3)  # 2 GiB, sparse: nothing on disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnreadableFile, match="over the"):
        read_regular_file(path, MAX_PREDICTION_BYTES)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 64


def test_sixteen_bit_grey_keeps_its_levels():
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    rgb, notes = decode_prediction_with_notes(_png(ramp))
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    expected = np.rint(ramp / 65535 * 255).astype(np.uint8)
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)
    assert 0 < rgb.mean() < 255  # not the pure white of a clipping conversion
    assert notes == ["16-bit greyscale scaled to 8 bits"]


def test_alpha_is_composited_and_noted():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0
    rgb, notes = decode_prediction_with_notes(_png(rgba, "RGBA"))
    assert tuple(rgb[0, 0]) == ALPHA_BACKGROUND and tuple(rgb[1, 1]) == (200, 0, 0)
    assert len(notes) == 1 and "alpha" in notes[0]
    rgba[0, 0, 3] = 255  # fully opaque: dropped losslessly, no note
    rgb, notes = decode_prediction_with_notes(_png(rgba, "RGBA"))
    assert notes == [] and tuple(rgb[0, 0]) == (200, 0, 0)
    assert np.array_equal(decode_prediction(_png(rgba, "RGBA")), rgb)
