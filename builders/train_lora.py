"""Fine-tune an InstructPix2Pix-style ``diffusers`` pipeline on a GSI split with LoRA (``gsi-bench train``).

The recipe (InstructPix2Pix's objective; only LoRA adapters on the UNet's attention projections
train, through ``peft``):

1. a batch of (source image, instruction, target image) from the split (a Hub-layout folder or a
   Hub dataset id), images resized to ``resolution`` and scaled to [-1, 1];
2. target latents ``z = vae.encode(target) · scaling_factor``, noise ``ε``, a random timestep
   ``t`` of the pipeline's noise schedule (as a DDPM scheduler), ``z_t = add_noise(z, ε, t)``;
3. the UNet sees ``concat(z_t, vae.encode(source).mode())`` (8 channels) and the text encoding of
   the instruction; with probability ``conditioning_dropout`` each of the text and the source
   latents is dropped (empty prompt / zeros), which classifier-free guidance needs at inference;
4. MSE between the UNet output and ``ε`` (or the velocity, per the scheduler's prediction type).

``accelerate`` runs it: ``accelerate launch -m gsi_bench.cli train ...`` uses every GPU (each process
reads its own stride of the data stream), ``--mixed-precision`` selects fp16/bf16. Data are
streamed one Parquet row group at a time, in a seeded order per epoch: memory does not grow with
the split. Every ``eval_every`` steps and at the end, the adapted pipeline edits the first
``eval_num`` records of the test split and the bundled scorer (default protocol) scores them.

Outputs in ``out``: ``pytorch_lora_weights.safetensors`` (load with ``pipe.load_lora_weights(out)``),
``pipeline/`` (the base pipeline with the LoRA fused: ``gsi-bench baseline diffusers --checkpoint
out/pipeline``), ``train_log.jsonl`` (loss per step, scores per evaluation) and ``README.md``, a
model card with the configuration and the scores.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

LORA_FILE = "pytorch_lora_weights.safetensors"
#: the attention projections that get adapters
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass(frozen=True)
class TrainConfig:
    """A LoRA fine-tuning run (see the module docstring)."""

    checkpoint: str
    data: str
    out: str
    config: str | None = None
    split: str = "train"
    language: str = "en"
    resolution: int = 256
    steps: int = 1000
    batch_size: int = 4
    gradient_accumulation: int = 1
    learning_rate: float = 1e-4
    rank: int = 8
    alpha: int | None = None
    conditioning_dropout: float = 0.05
    seed: int = 0
    mixed_precision: str = "no"
    eval_every: int = 0
    eval_split: str = "test"
    eval_num: int = 16
    eval_inference_steps: int = 20
    save_pipeline: bool = True

    def __post_init__(self) -> None:
        if self.language not in ("en", "zh"):
            raise ValueError(f"language must be en or zh, got {self.language!r}")
        for name in ("resolution", "steps", "batch_size", "gradient_accumulation", "rank", "eval_inference_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not 0.0 <= self.conditioning_dropout < 1.0:
            raise ValueError(f"conditioning_dropout must be in [0, 1), got {self.conditioning_dropout}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.eval_num < 0 or self.eval_every < 0:
            raise ValueError("eval_num and eval_every must be ≥ 0")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def _to_tensor(png: bytes, resolution: int):
    """PNG bytes → float32 tensor (3, resolution, resolution) in [-1, 1]."""
    import torch
    from PIL import Image

    from gsi_bench.schema import decode_image

    rgb = decode_image(png, "RGB")
    img = Image.fromarray(rgb).resize((resolution, resolution), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(img, np.float32) / 127.5 - 1.0).permute(2, 0, 1)


def pair_stream(shards: list[Path], resolution: int, language: str, seed: int, rank: int = 0,
                world: int = 1) -> Iterator[tuple]:
    """Endless (source tensor, instruction, target tensor) stream: each epoch visits the row groups
    and the rows inside each in a seeded order; process ``rank`` of ``world`` keeps every
    ``world``-th pair."""
    import pyarrow.parquet as pq

    text_col = "instruction" if language == "en" else "instruction_zh"
    groups = [(p, g) for p in shards for g in range(pq.ParquetFile(p).num_row_groups)]
    if not groups:
        raise ValueError("the training split has no rows")
    epoch, k = 0, 0
    while True:
        rng = np.random.default_rng([seed, epoch])
        for gi in rng.permutation(len(groups)):
            path, g = groups[gi]
            rows = pq.ParquetFile(path).read_row_group(g, columns=[text_col, "source_image", "target_image"]).to_pylist()
            for ri in rng.permutation(len(rows)):
                if k % world == rank:
                    row = rows[ri]
                    yield (_to_tensor(row["source_image"]["bytes"], resolution), row[text_col],
                           _to_tensor(row["target_image"]["bytes"], resolution))
                k += 1
        epoch += 1


# ----------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------
def add_lora(unet, rank: int, alpha: int | None, seed: int):
    """Freeze ``unet`` and add trainable LoRA adapters (``peft``) to its attention projections;
    returns the trainable parameters."""
    import torch
    from peft import LoraConfig

    unet.requires_grad_(False)
    torch.manual_seed(seed)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian",
                                target_modules=list(LORA_TARGETS)))
    params = [p for p in unet.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"the UNet has none of the attention projections {LORA_TARGETS} to adapt")
    return params


def lora_state_dict(unet) -> dict:
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    return convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))


def _encode_text(pipe, prompts: list[str], device):
    import torch

    tok = pipe.tokenizer(prompts, padding="max_length", truncation=True, max_length=pipe.tokenizer.model_max_length,
                         return_tensors="pt")
    with torch.no_grad():
        return pipe.text_encoder(tok.input_ids.to(device))[0]


def training_loss(pipe, unet, noise_scheduler, src, prompts: list[str], tgt, cfg: TrainConfig, generator):
    """The InstructPix2Pix denoising loss of one batch (scalar tensor)."""
    import torch
    import torch.nn.functional as F

    device = src.device
    vae = pipe.vae
    with torch.no_grad():
        latents = vae.encode(tgt).latent_dist.sample(generator) * vae.config.scaling_factor
        source_latents = vae.encode(src).latent_dist.mode()
    bsz = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator, device="cpu").to(device)
    t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (bsz,), generator=generator).to(device)
    noisy = noise_scheduler.add_noise(latents, noise, t)
    text = _encode_text(pipe, prompts, device)
    if cfg.conditioning_dropout > 0:
        u = torch.rand(bsz, generator=generator).to(device)
        empty = _encode_text(pipe, [""], device).expand_as(text)
        drop_text = (u < 2 * cfg.conditioning_dropout).view(bsz, 1, 1)
        text = torch.where(drop_text, empty, text)
        keep_image = 1.0 - ((u >= cfg.conditioning_dropout) & (u < 3 * cfg.conditioning_dropout)).float()
        source_latents = source_latents * keep_image.view(bsz, 1, 1, 1)
    pred = unet(torch.cat([noisy, source_latents], dim=1), t, text).sample
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, t)
    else:
        target = noise
    return F.mse_loss(pred.float(), target.float())


# ----------------------------------------------------------------------------------------------
# evaluation, card
# ----------------------------------------------------------------------------------------------
def evaluate_pipeline(pipe, cfg: TrainConfig, out: Path, tag: str) -> dict:
    """Edit the first ``eval_num`` records of the evaluation split with ``pipe`` and score them
    with the bundled scorer (default protocol); returns the overall scores."""
    from validation.baselines import run_baseline
    from validation.evaluator import EvalConfig, evaluate

    preds = out / "eval" / tag / "predictions"
    n = run_baseline("diffusers", cfg.data, str(preds), config=cfg.config, split=cfg.eval_split, limit=cfg.eval_num,
                     checkpoint=cfg.checkpoint, pipeline=pipe, steps=cfg.eval_inference_steps, seed=cfg.seed)
    summary = evaluate(EvalConfig(data=cfg.data, predictions=str(preds), out=str(out / "eval" / tag / "report"),
                                  config=cfg.config, split=cfg.eval_split, limit=n))
    overall = summary["overall"]
    return {k: float(overall[k]) for k in ("ic", "sa", "el", "ac", "avg")} | {"n": int(overall["n"])}


def write_card(out: Path, cfg: TrainConfig, losses: list[float], evals: list[dict]) -> Path:
    """``README.md``: a Hub model card (YAML header + configuration + scores)."""
    lines = ["---", "library_name: diffusers", f"base_model: {cfg.checkpoint}", "tags:", "- lora",
             "- instruct-pix2pix", "- image-editing", "- gsi-bench", "---", "",
             f"# LoRA for `{cfg.checkpoint}` fine-tuned on GSI-Bench", "",
             f"Fine-tuned with `gsi-bench train` on `{cfg.data}` (config `{cfg.config or 'all'}`, split "
             f"`{cfg.split}`, {cfg.language} instructions) for {cfg.steps} steps; LoRA rank {cfg.rank} on the UNet's "
             f"attention projections ({', '.join(LORA_TARGETS)}).", "",
             "```python", "from diffusers import StableDiffusionInstructPix2PixPipeline",
             f"pipe = StableDiffusionInstructPix2PixPipeline.from_pretrained({cfg.checkpoint!r})",
             "pipe.load_lora_weights('<this folder>')", "```", "",
             f"Training loss: first step {losses[0]:.4f}, mean of the last {min(10, len(losses))} steps "
             f"{float(np.mean(losses[-10:])):.4f}.", ""]
    if evals:
        lines += [f"## Scores on `{cfg.eval_split}` (first {cfg.eval_num} records, GSI-Bench default protocol)", "",
                  "| step | n | IC | SA | EL | AC | Avg |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {e['step']} | {e['n']} | {e['ic']:.1f} | {e['sa']:.1f} | {e['el']:.1f} | {e['ac']:.1f} | "
                  f"{e['avg']:.1f} |" for e in evals]
        lines.append("")
    lines += ["## Configuration", "", "```json", json.dumps(asdict(cfg), indent=2, sort_keys=True), "```", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    out: Path
    losses: list[float]
    evals: list[dict]


def train(cfg: TrainConfig, progress: bool = True) -> TrainResult:
    """Run the recipe; returns the per-step losses and the evaluations."""
    import torch
    from accelerate import Accelerator
    from diffusers import DDPMScheduler, StableDiffusionInstructPix2PixPipeline
    from tqdm.auto import tqdm

    from validation.baselines.diffusers_editor import _fix_tokenizer_length, load_pipeline
    from validation.evaluator.runner import resolve_data

    out = Path(cfg.out)
    shards = resolve_data(cfg.data, cfg.config, cfg.split)
    pipe = load_pipeline(cfg.checkpoint)
    _fix_tokenizer_length(pipe)
    scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    if cfg.resolution % scale:
        raise ValueError(f"resolution {cfg.resolution} must be a multiple of the VAE's scale factor {scale}")
    accelerator = Accelerator(gradient_accumulation_steps=cfg.gradient_accumulation, mixed_precision=cfg.mixed_precision)
    device = accelerator.device
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    pipe.vae.to(device)
    pipe.text_encoder.to(device)
    params = add_lora(pipe.unet, cfg.rank, cfg.alpha, cfg.seed)
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    unet, optimizer = accelerator.prepare(pipe.unet, optimizer)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    generator = torch.Generator().manual_seed(cfg.seed + accelerator.process_index)
    stream = pair_stream(shards, cfg.resolution, cfg.language, cfg.seed, accelerator.process_index,
                         accelerator.num_processes)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    log = open(out / "train_log.jsonl", "w", encoding="utf-8") if accelerator.is_main_process else None  # noqa: SIM115
    losses: list[float] = []
    evals: list[dict] = []
    bar = tqdm(total=cfg.steps, unit="step", desc="train (LoRA)", disable=not (progress and accelerator.is_main_process))
    try:
        unet.train()
        for step in range(1, cfg.steps + 1):
            for _ in range(cfg.gradient_accumulation):
                batch = [next(stream) for _ in range(cfg.batch_size)]
                src = torch.stack([b[0] for b in batch]).to(device)
                tgt = torch.stack([b[2] for b in batch]).to(device)
                with accelerator.accumulate(unet):
                    loss = training_loss(pipe, unet, noise_scheduler, src, [b[1] for b in batch], tgt, cfg, generator)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"the loss is not finite at step {step} ({loss.item()}); "
                                                 "lower --learning-rate")
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
            losses.append(float(loss.detach().item()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if log:
                log.write(json.dumps({"step": step, "loss": losses[-1]}) + "\n")
            if cfg.eval_num and cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps and accelerator.is_main_process:
                evals.append({"step": step, **_eval_now(pipe, accelerator, unet, cfg, out, f"step-{step}")})
                log.write(json.dumps({"step": step, "eval": evals[-1]}) + "\n")
        bar.close()
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            unwrapped = accelerator.unwrap_model(unet)
            StableDiffusionInstructPix2PixPipeline.save_lora_weights(out, unet_lora_layers=lora_state_dict(unwrapped),
                                                                     safe_serialization=True)
            if cfg.save_pipeline:
                _save_fused(cfg.checkpoint, out)
            if cfg.eval_num:
                evals.append({"step": cfg.steps, **_eval_now(pipe, accelerator, unet, cfg, out, "final")})
                log.write(json.dumps({"step": cfg.steps, "eval": evals[-1]}) + "\n")
            write_card(out, cfg, losses, evals)
    finally:
        if log:
            log.close()
    return TrainResult(out, losses, evals)


def _eval_now(pipe, accelerator, unet, cfg: TrainConfig, out: Path, tag: str) -> dict:
    pipe.unet = accelerator.unwrap_model(unet)
    pipe.unet.eval()
    try:
        return evaluate_pipeline(pipe, cfg, out, tag)
    finally:
        pipe.unet.train()


def _save_fused(checkpoint: str, out: Path) -> Path:
    """``out/pipeline``: the base pipeline with the saved LoRA fused in (a plain diffusers folder)."""
    from validation.baselines.diffusers_editor import load_pipeline

    pipe = load_pipeline(checkpoint)
    pipe.load_lora_weights(out, weight_name=LORA_FILE)
    pipe.fuse_lora()
    pipe.unload_lora_weights()
    target = out / "pipeline"
    tmp = out / ".pipeline.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


# ----------------------------------------------------------------------------------------------
# CLI (registered by builders.cli as `gsi-bench train`)
# ----------------------------------------------------------------------------------------------
def _cmd_train(args) -> int:
    try:
        cfg = TrainConfig(checkpoint=args.checkpoint, data=args.data, out=str(args.out), config=args.config,
                          split=args.split, language=args.language, resolution=args.resolution, steps=args.steps,
                          batch_size=args.batch_size, gradient_accumulation=args.gradient_accumulation,
                          learning_rate=args.learning_rate, rank=args.rank, seed=args.seed,
                          mixed_precision=args.mixed_precision, eval_every=args.eval_every, eval_num=args.eval_num,
                          eval_split=args.eval_split, eval_inference_steps=args.eval_inference_steps)
        result = train(cfg, progress=not args.quiet)
    except (FileNotFoundError, ValueError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    last = float(np.mean(result.losses[-10:]))
    print(f"trained {cfg.steps} steps: loss {result.losses[0]:.4f} → {last:.4f} (mean of the last 10); "
          f"LoRA in {result.out / LORA_FILE}" + ("" if not result.evals else
                                                 f"; final Avg {result.evals[-1]['avg']:.1f}"))
    return 0 if math.isfinite(last) else 1


def configure(t) -> None:
    """Add the flags of ``gsi-bench train`` to the parser ``t``."""
    from gsi_bench.argtypes import non_negative_int, positive_int

    t.description = ("LoRA fine-tuning (peft + accelerate) of an InstructPix2Pix-style diffusers pipeline on a "
                     "GSI-Syn split, scored with the bundled evaluator as it trains.")
    t.add_argument("--checkpoint", required=True, help="base pipeline: local folder (save_pretrained) or Hub id")
    t.add_argument("--data", required=True, help="Hub-layout folder or Hub dataset id")
    t.add_argument("--out", required=True, type=Path, help="output folder (LoRA weights, fused pipeline, card)")
    t.add_argument("--config", default=None, help="subset folder under data/ (default: all)")
    t.add_argument("--split", default="train", help="split to train on")
    t.add_argument("--language", default="en", choices=["en", "zh"], help="instruction language")
    t.add_argument("--resolution", type=positive_int, default=256, help="training resolution (px)")
    t.add_argument("--steps", type=positive_int, default=1000, help="optimiser steps")
    t.add_argument("--batch-size", type=positive_int, default=4, help="edits per step (per device)")
    t.add_argument("--gradient-accumulation", type=positive_int, default=1, help="steps accumulated per update")
    t.add_argument("--learning-rate", type=float, default=1e-4, help="AdamW learning rate")
    t.add_argument("--rank", type=positive_int, default=8, help="LoRA rank")
    t.add_argument("--seed", type=int, default=0, help="data order, noise and LoRA init seed")
    t.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"], help="accelerate precision")
    t.add_argument("--eval-every", type=non_negative_int, default=0, help="evaluate every N steps (0: only at the end)")
    t.add_argument("--eval-split", default="test", help="split scored during training")
    t.add_argument("--eval-num", type=non_negative_int, default=16, help="records scored per evaluation (0: none)")
    t.add_argument("--eval-inference-steps", type=positive_int, default=20, help="denoising steps when scoring")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)
