"""Fixtures shared by test folders."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@dataclass
class ChatServer:
    """A loopback OpenAI-compatible ``/v1/chat/completions`` endpoint. ``url`` is its base URL
    (``http://127.0.0.1:PORT/v1``); ``calls`` holds every request body received, in order; the
    reply text of the n-th call (1-based) is ``answer(n)``."""

    answer: Callable[[int], str]
    url: str = ""
    calls: list[dict] = field(default_factory=list)


@pytest.fixture()
def chat_server() -> Iterator[Callable[[Callable[[int], str]], ChatServer]]:
    """``chat_server(answer)`` starts a :class:`ChatServer` on a free loopback port; every server
    started is shut down when the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[int], str]) -> ChatServer:
        chat = ChatServer(answer)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                chat.calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                data = json.dumps({"choices": [{"message": {"content": chat.answer(len(chat.calls))}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        chat.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return chat

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
