"""``gsi-bench train`` end to end on a tiny random InstructPix2Pix pipeline (built from configs, no
downloads): the loss is finite and falls on a tiny overfit set, the LoRA weights save, reload and
change the edits, the fused pipeline edits like the adapted one, the final evaluation scores it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("moderngl")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from builders.train_lora import LORA_FILE, TrainConfig, train
from gsi_bench.hub_io import iter_records


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread (two threads spin against other
    processes and run ~20× slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("tdata")
    for split in ("train", "test"):
        generate(GenerationConfig(split=split, num=2, seed=0, resolution=64), out, progress=False)
    return out


@pytest.fixture(scope="module")
def checkpoint(tiny_ip2p_checkpoint) -> Path:
    return tiny_ip2p_checkpoint


def _cfg(checkpoint, data, out, **kw) -> TrainConfig:
    base = dict(checkpoint=str(checkpoint), data=str(data), out=str(out), config="tabletop", resolution=32, steps=60,
                batch_size=2, learning_rate=5e-2, rank=4, conditioning_dropout=0.0, eval_num=2,
                eval_inference_steps=2)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(checkpoint, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora")
    return train(_cfg(checkpoint, data, out, eval_every=30), progress=False)


def _probe_loss(pipe, data) -> float:
    """The training loss on the two training pairs with fixed noise and timesteps (16 draws)."""
    import torch
    from diffusers import DDPMScheduler

    from builders.train_lora import pair_stream, training_loss
    from gsi_bench.hub_io import list_shards

    stream = pair_stream(list_shards(data, "tabletop", "train"), 32, "en", seed=0)
    batch = [next(stream) for _ in range(2)]
    src, tgt = torch.stack([b[0] for b in batch]), torch.stack([b[2] for b in batch])
    cfg = _cfg("x", data, "x")
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        return float(np.mean([training_loss(pipe, pipe.unet, scheduler, src, [b[1] for b in batch], tgt, cfg, gen).item()
                              for _ in range(16)]))


def test_loss_finite_and_falls_on_overfit_set(trained, checkpoint, data):
    from validation.baselines.diffusers_editor import load_pipeline

    losses = np.asarray(trained.losses)
    assert len(losses) == 60 and np.isfinite(losses).all()
    assert losses[-10:].mean() < losses[:10].mean()
    log = [json.loads(x) for x in (trained.out / "train_log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log if "loss" in x] == list(range(1, 61))
    # the saved adapter, reloaded, fits the training pairs better than the base model
    adapted = load_pipeline(str(checkpoint))
    adapted.load_lora_weights(trained.out, weight_name=LORA_FILE)
    assert _probe_loss(adapted, data) < 0.97 * _probe_loss(load_pipeline(str(checkpoint)), data)


def test_outputs_evaluations_and_card(trained):
    assert (trained.out / LORA_FILE).is_file() and (trained.out / "pipeline" / "model_index.json").is_file()
    assert [e["step"] for e in trained.evals] == [30, 60]
    assert all(e["n"] == 2 for e in trained.evals)
    summary = json.loads((trained.out / "eval" / "final" / "report" / "summary.json").read_text())
    assert summary["counts"]["ok"] == 2
    card = (trained.out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: diffusers") and f"| 60 | 2 | {trained.evals[-1]['ic']:.1f}" in card


def test_lora_reloads_and_changes_the_edit(trained, checkpoint, data):
    from validation.baselines.diffusers_editor import DiffusersEditor, load_pipeline

    record = next(iter(iter_records(data, "tabletop", "test")))
    base = DiffusersEditor(str(checkpoint), steps=2, pipeline=load_pipeline(str(checkpoint)))(record)
    adapted_pipe = load_pipeline(str(checkpoint))
    adapted_pipe.load_lora_weights(trained.out, weight_name=LORA_FILE)
    adapted = DiffusersEditor(str(checkpoint), steps=2, pipeline=adapted_pipe)(record)
    fused = DiffusersEditor(str(trained.out / "pipeline"), steps=2)(record)
    assert np.abs(adapted.astype(int) - base.astype(int)).mean() > 1.0  # the adapter changes the edit
    assert np.abs(fused.astype(int) - adapted.astype(int)).max() <= 2  # fused = adapted (float rounding)


def test_same_seed_same_losses(checkpoint, data, tmp_path):
    a = train(_cfg(checkpoint, data, tmp_path / "a", steps=3, eval_num=0, save_pipeline=False), progress=False)
    b = train(_cfg(checkpoint, data, tmp_path / "b", steps=3, eval_num=0, save_pipeline=False), progress=False)
    assert a.losses == b.losses
    assert (tmp_path / "a" / LORA_FILE).read_bytes() == (tmp_path / "b" / LORA_FILE).read_bytes()


def test_bad_inputs(checkpoint, data, tmp_path, capsys):
    from gsi_bench.cli import main

    with pytest.raises(ValueError, match="scale factor"):
        train(_cfg(checkpoint, data, tmp_path / "x", resolution=33), progress=False)
    with pytest.raises(ValueError, match="language"):
        _cfg(checkpoint, data, tmp_path / "x", language="fr")
    assert main(["train", "--checkpoint", str(tmp_path / "missing"), "--data", str(data), "--out",
                 str(tmp_path / "y"), "--quiet"]) == 2
    assert "missing" in capsys.readouterr().err
