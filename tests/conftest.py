"""Fixtures shared by test folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def save_tiny_instruct_pix2pix(root: Path, model_max_length: int | None = 77) -> Path:
    """Build a tiny random InstructPix2Pix pipeline from configs (no downloads; VAE scale factor 2,
    a character-level CLIP tokenizer) and ``save_pretrained`` it to ``root/tiny-ip2p``.
    ``model_max_length=None`` leaves the tokenizer's sentinel length (adapters must cap it at the
    text encoder's 77 positions)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789.,'°-":
        for tok in (c, c + "</w>"):
            vocab.setdefault(tok, len(vocab))
    (root / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (root / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    extra = {} if model_max_length is None else {"model_max_length": model_max_length}
    tokenizer = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"), pad_token="!", **extra)
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
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    out = root / "tiny-ip2p"
    pipe.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def make_tiny_ip2p():
    """:func:`save_tiny_instruct_pix2pix` itself, for tests that need their own variant."""
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    return save_tiny_instruct_pix2pix


@pytest.fixture(scope="session")
def tiny_ip2p_checkpoint(tmp_path_factory) -> Path:
    """A saved tiny random InstructPix2Pix pipeline folder (see :func:`save_tiny_instruct_pix2pix`)."""
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    return save_tiny_instruct_pix2pix(tmp_path_factory.mktemp("tiny-ip2p"))
