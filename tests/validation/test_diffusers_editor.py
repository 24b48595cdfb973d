"""The ``diffusers`` baseline end to end with a tiny random InstructPix2Pix pipeline (no downloads):
build it from configs, ``save_pretrained`` it, load it through ``gsi-bench baseline diffusers
--checkpoint <folder>``, check the predictions (one PNG per record, source size, byte-identical
across runs and processes for a fixed seed), then score them with ``gsi-bench evaluate``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("moderngl")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from gsi_bench.cli import main as cli_main
from gsi_bench.hub_io import iter_records

RES = 64
NUM = 7


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("ddata")
    generate(GenerationConfig(subset="tabletop", split="test", num=NUM, seed=0, resolution=RES), out, progress=False)
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, make_tiny_ip2p) -> Path:
    # no model_max_length on purpose: the adapter must cap the tokenizer's sentinel length at the
    # text encoder's 77 positions (the fast tokenizer overflows on the default 1e30)
    out = make_tiny_ip2p(tmp_path_factory.mktemp("ckpt"), model_max_length=None)
    assert (out / "model_index.json").is_file()
    return out


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_diffusers_baseline_cli_deterministic_and_scored(data, checkpoint, tmp_path, capsys):
    from PIL import Image

    def args(out: Path) -> list[str]:
        return ["baseline", "diffusers", "--data", str(data), "--config", "tabletop", "--out", str(out),
                "--checkpoint", str(checkpoint), "--steps", "2", "--quiet"]

    first = tmp_path / "pred"
    assert cli_main(args(first)) == 0
    assert f"{NUM} predictions" in capsys.readouterr().out

    records = list(iter_records(data, "tabletop", "test"))
    assert len(records) == NUM
    preds = _pngs(first)
    assert sorted(preds) == sorted(f"{r.id}.png" for r in records)
    for r in records:
        with Image.open(first / f"{r.id}.png") as im:
            assert im.mode == "RGB" and im.size == (r.source_image.shape[1], r.source_image.shape[0])
            arr = np.asarray(im)
        assert arr.std() > 0  # really generated, not a blank fallback
    assert any(not np.array_equal(np.asarray(Image.open(first / f"{r.id}.png")), r.source_image) for r in records)

    # same seed, fresh process: the same bytes
    second = tmp_path / "pred2"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "gsi_bench.cli", *args(second)], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _pngs(second) == preds

    report = tmp_path / "report"
    assert cli_main(["evaluate", "--data", str(data), "--predictions", str(first), "--out", str(report),
                     "--quiet"]) == 0
    summary = json.loads((report / "summary.json").read_text())
    c = summary["counts"]
    assert c["total"] == NUM and c["ok"] == NUM
    assert c["missing"] == c["unreadable"] == c["unscorable"] == 0
    assert summary["overall"]["n"] == NUM
    lines = (report / "per_sample.jsonl").read_text().splitlines()
    assert len(lines) == NUM


def test_other_seed_changes_output(data, checkpoint, tmp_path):
    from validation.baselines import get_editor

    record = next(iter(iter_records(data, "tabletop", "test")))
    a = get_editor("diffusers", checkpoint=str(checkpoint), steps=1, seed=0)
    b = get_editor("diffusers", checkpoint=str(checkpoint), steps=1, seed=1, pipeline=a.pipe)
    out_a, out_b = a(record), b(record)
    assert out_a.shape == record.source_image.shape and out_a.dtype == np.uint8
    assert np.array_equal(out_a, a(record))  # reseeded per record
    assert not np.array_equal(out_a, out_b)
    assert a.info()["checkpoint"] == str(checkpoint)


def test_bad_checkpoints_exit_2(data, tmp_path, capsys):
    base = ["baseline", "diffusers", "--data", str(data), "--out", str(tmp_path / "p"), "--steps", "1", "--quiet"]
    missing = tmp_path / "no-such-pipeline"
    assert cli_main([*base, "--checkpoint", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main([*base, "--checkpoint", str(empty)]) == 2
    assert "model_index.json" in capsys.readouterr().err
    assert cli_main([*base]) == 2  # no --checkpoint at all
    assert "--checkpoint" in capsys.readouterr().err
    assert not list(tmp_path.glob("p/*.png"))
