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


def _tiny_tokenizer(folder: Path):
    """A character-level CLIP BPE tokenizer (no merges) from a vocab.json + merges.txt written here."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789.,'°-":
        for tok in (c, c + "</w>"):
            vocab.setdefault(tok, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    # no model_max_length on purpose: the adapter must cap the tokenizer's sentinel length at the
    # text encoder's 77 positions (the fast tokenizer overflows on the default 1e30)
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="!")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, sample_size=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=128, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=16, bos_token_id=0, pad_token_id=1, eos_token_id=2))
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=_tiny_tokenizer(root / "vocab"), unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    out = root / "tiny-ip2p"
    pipe.save_pretrained(out)
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
