"""The ``diffusers`` baseline: any InstructPix2Pix-style instruction-editing pipeline.

``checkpoint`` is a Hub id or a local folder saved with ``save_pretrained`` (loaded offline when
``HF_HUB_OFFLINE=1``, from the local Hub cache). The pipeline gets the record's English instruction
and source image and returns an image of the source size (resized back with bicubic resampling when
the pipeline changes it, e.g. when it rounds the size down to a multiple of the VAE's scale factor).

Deterministic for a fixed ``seed``: the initial noise comes from a CPU ``torch.Generator`` seeded
afresh for every record, so a record's output depends neither on the order of the records nor on
the device the noise would otherwise be drawn on.

Unusable checkpoints raise ``FileNotFoundError`` (nothing at that path / not in the cache while
offline) or ``ValueError`` (not a pipeline of the expected kind), each naming the checkpoint, so
``gsi-bench baseline diffusers`` ends with a message and exit code 2 instead of a traceback.
"""

from __future__ import annotations


import numpy as np

#: CLIP text encoders take at most this many tokens when a tokenizer does not say otherwise
_DEFAULT_MAX_TOKENS = 77


def load_pipeline(checkpoint: str, dtype: str | None = None):
    """Load ``StableDiffusionInstructPix2PixPipeline`` from a local folder or a Hub id (through the
    generic loader :func:`validation.editors.diffusers_pipeline.load_any_pipeline`, which names the
    checkpoint in its errors), and check it is an InstructPix2Pix-style pipeline."""
    from validation.editors.diffusers_pipeline import load_any_pipeline

    try:
        pipe = load_any_pipeline(checkpoint, dtype, safety_checker=None, requires_safety_checker=False)
    except (TypeError, KeyError, AttributeError) as err:  # another pipeline's components
        raise ValueError(f"diffusers checkpoint {checkpoint!r} is not an InstructPix2Pix-style pipeline: {err}") from err
    unet = getattr(pipe, "unet", None)
    in_ch = getattr(getattr(unet, "config", None), "in_channels", None)
    if in_ch is not None and in_ch != 8:
        raise ValueError(f"diffusers checkpoint {checkpoint!r}: its UNet takes {in_ch} input channels; an "
                         "InstructPix2Pix pipeline needs 8 (4 noisy latents + 4 image latents)")
    return pipe


def _fix_tokenizer_length(pipe) -> None:
    """Tokenizers saved without ``model_max_length`` report a huge sentinel (~1e30) that overflows
    the fast tokenizer's truncation; cap it at the text encoder's position-embedding count."""
    tok = getattr(pipe, "tokenizer", None)
    if tok is None:
        return
    limit = getattr(getattr(getattr(pipe, "text_encoder", None), "config", None), "max_position_embeddings", None)
    limit = int(limit or _DEFAULT_MAX_TOKENS)
    if not isinstance(tok.model_max_length, int) or tok.model_max_length > limit:
        tok.model_max_length = limit


class DiffusersEditor:
    def __init__(self, checkpoint: str, steps: int = 20, seed: int = 0, device: str = "cpu",
                 guidance_scale: float = 7.5, image_guidance_scale: float = 1.5, pipeline=None,
                 dtype: str | None = None):
        if int(steps) < 1:
            raise ValueError(f"--steps must be ≥ 1 (got {steps})")
        self.checkpoint = checkpoint
        self.steps, self.seed, self.device = int(steps), int(seed), device
        self.guidance_scale, self.image_guidance_scale = float(guidance_scale), float(image_guidance_scale)
        if pipeline is None:
            pipeline = load_pipeline(checkpoint, dtype)
        try:
            self.pipe = pipeline.to(device)
        except (RuntimeError, AssertionError) as err:  # e.g. cuda asked for on a CPU-only torch
            raise ValueError(f"cannot move the diffusers pipeline to device {device!r}: {err}") from err
        self.pipe.set_progress_bar_config(disable=True)
        _fix_tokenizer_length(self.pipe)

    def info(self) -> dict:
        """What produced the predictions (for run records)."""
        return {"checkpoint": str(self.checkpoint), "steps": self.steps, "seed": self.seed,
                "guidance_scale": self.guidance_scale, "image_guidance_scale": self.image_guidance_scale,
                "pipeline": type(self.pipe).__name__}

    def __call__(self, record) -> np.ndarray:
        import torch
        from PIL import Image

        arr = np.asarray(record.source_image)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        src = Image.fromarray(np.ascontiguousarray(arr[..., :3], dtype=np.uint8)).convert("RGB")
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        with torch.inference_mode():
            out = self.pipe(record.instruction or "", image=src, num_inference_steps=self.steps,
                            guidance_scale=self.guidance_scale, image_guidance_scale=self.image_guidance_scale,
                            generator=gen, output_type="pil").images[0]
        out = out.convert("RGB")
        if out.size != src.size:
            out = out.resize(src.size, Image.Resampling.BICUBIC)
        return np.asarray(out, dtype=np.uint8)
