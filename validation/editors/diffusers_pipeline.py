"""A generic ``diffusers`` image-editing adapter: any pipeline whose ``__call__`` takes ``image`` and
``prompt`` (InstructPix2Pix, FLUX.1 Kontext, Qwen-Image-Edit, …).

``DiffusersPipelineEditor("black-forest-labs/FLUX.1-Kontext-dev", dtype="bfloat16", device="cuda")`` loads
the checkpoint (Hub id or local folder written by ``save_pretrained``) with
``diffusers.DiffusionPipeline.from_pretrained``, which picks the pipeline class from ``model_index.json``.
The editor is the callable the Python API runs (``editor(image, instruction) -> PIL image``) and has a
batched form :meth:`edit_batch` (``batch_size`` samples per pipeline call).

Only the options the pipeline's ``__call__`` accepts are passed (``num_inference_steps``,
``guidance_scale``, ``generator``, ``height``/``width`` — the source size rounded down to the pipeline's
multiple, with ``max_area`` = that area where the pipeline would otherwise rescale to ~1 MP — plus any
``call_kwargs``), so one adapter serves pipelines with different signatures.
Outputs are resized back to the source size (bicubic) when the pipeline changes it.

Determinism: every sample's noise comes from a CPU ``torch.Generator`` seeded with ``seed`` afresh, so
a sample's output depends neither on its batch, its position in the batch, nor the device.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def load_any_pipeline(checkpoint: str, dtype: str | None = None, **kwargs: Any):
    """``DiffusionPipeline.from_pretrained`` with clear errors: ``FileNotFoundError`` (no such folder, not
    in the offline cache) or ``ValueError`` (not an image-editing pipeline), each naming the checkpoint."""
    try:
        import torch
        from diffusers import DiffusionPipeline
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the diffusers editor needs `torch`, `diffusers` and `transformers` "
                          "(pip install 'gsi-bench[models]')") from err
    path = Path(checkpoint).expanduser()
    looks_local = path.exists() or checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1
    if looks_local and not (path / "model_index.json").is_file():
        raise FileNotFoundError(f"diffusers checkpoint {checkpoint!r}: no model_index.json there "
                                "(pass a folder written by save_pretrained, or a Hub id)")
    if dtype is not None:
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"unknown torch dtype {dtype!r} (e.g. float32, float16, bfloat16)")
        kwargs["torch_dtype"] = getattr(torch, dtype)
    try:
        pipe = DiffusionPipeline.from_pretrained(str(path) if looks_local else checkpoint, **kwargs)
    except OSError as err:
        raise FileNotFoundError(f"diffusers checkpoint {checkpoint!r} could not be loaded: {err}") from err
    check_editing_pipeline(pipe, checkpoint)
    return pipe


def check_editing_pipeline(pipe, name: str = "pipeline") -> None:
    params = inspect.signature(pipe.__call__).parameters
    missing = [p for p in ("image", "prompt") if p not in params]
    if missing:
        raise ValueError(f"{name}: {type(pipe).__name__}.__call__ takes no {' / '.join(missing)}; "
                         "an image-editing pipeline takes `image` and `prompt`")


class DiffusersPipelineEditor:
    """``editor(image, instruction) -> PIL image`` around an image-editing ``diffusers`` pipeline.

    ``pipeline``: a checkpoint (Hub id / folder) or an already-built pipeline object. ``steps``,
    ``guidance_scale``, ``seed``: as in diffusers (``guidance_scale=None`` keeps the pipeline's
    default). ``size_multiple``: height/width are rounded down to it (default: the VAE scale factor
    × 2, the patch size of FLUX-style transformers). ``call_kwargs``: any further ``__call__``
    argument (``image_guidance_scale``, ``true_cfg_scale``, ``negative_prompt``…)."""

    def __init__(self, pipeline: Any, steps: int = 28, seed: int = 0, device: str = "cpu", dtype: str | None = None,
                 guidance_scale: float | None = None, batch_size: int = 1, size_multiple: int | None = None,
                 call_kwargs: dict | None = None, **load_kwargs: Any):
        if int(steps) < 1 or int(batch_size) < 1:
            raise ValueError(f"steps and batch_size must be ≥ 1 (got {steps}, {batch_size})")
        self.name = pipeline if isinstance(pipeline, str) else type(pipeline).__name__
        pipe = load_any_pipeline(pipeline, dtype, **load_kwargs) if isinstance(pipeline, str) else pipeline
        check_editing_pipeline(pipe, self.name)
        try:
            self.pipe = pipe.to(device)
        except (RuntimeError, AssertionError) as err:
            raise ValueError(f"cannot move the pipeline to device {device!r}: {err}") from err
        self.pipe.set_progress_bar_config(disable=True)
        from validation.baselines.diffusers_editor import _fix_tokenizer_length

        _fix_tokenizer_length(self.pipe)
        tok = getattr(self.pipe, "tokenizer", None)
        if tok is not None and getattr(self.pipe, "tokenizer_max_length", 0) > tok.model_max_length:
            self.pipe.tokenizer_max_length = tok.model_max_length  # cached at construction (FLUX-style)
        self.steps, self.seed, self.batch_size = int(steps), int(seed), int(batch_size)
        self.guidance_scale = guidance_scale
        self.call_kwargs = dict(call_kwargs or {})
        self.params = set(inspect.signature(self.pipe.__call__).parameters)
        vae_factor = int(getattr(self.pipe, "vae_scale_factor", 8) or 8)
        self.size_multiple = int(size_multiple or vae_factor * 2)
        self.__name__ = f"diffusers:{self.name}"

    def info(self) -> dict:
        return {"pipeline": type(self.pipe).__name__, "checkpoint": self.name, "steps": self.steps, "seed": self.seed,
                "guidance_scale": self.guidance_scale, "batch_size": self.batch_size, **self.call_kwargs}

    def _kwargs(self, sizes: Sequence[tuple[int, int]], n: int) -> dict:
        import torch

        kw: dict[str, Any] = {}
        if "num_inference_steps" in self.params:
            kw["num_inference_steps"] = self.steps
        if "guidance_scale" in self.params and self.guidance_scale is not None:
            kw["guidance_scale"] = float(self.guidance_scale)
        if "generator" in self.params:
            kw["generator"] = [torch.Generator(device="cpu").manual_seed(self.seed) for _ in range(n)]
        if "height" in self.params and "width" in self.params and len(set(sizes)) == 1:
            w, h = sizes[0]
            m = self.size_multiple
            kw["width"], kw["height"] = max(m, w // m * m), max(m, h // m * m)
            if "max_area" in self.params:  # FLUX.1 Kontext rescales height × width to max_area (1 MP default)
                kw["max_area"] = kw["width"] * kw["height"]
        if "_auto_resize" in self.params:
            kw["_auto_resize"] = False  # keep the source aspect and size (FLUX.1 Kontext would snap to ~1 MP)
        if "output_type" in self.params:
            kw["output_type"] = "pil"
        return {**kw, **{k: v for k, v in self.call_kwargs.items() if k in self.params}}

    def edit_batch(self, images: Sequence[Any], instructions: Sequence[str]) -> list:
        """Edit several images in one pipeline call (same-size images; others are split into calls)."""
        import torch
        from PIL import Image

        srcs = [_to_pil(im) for im in images]
        if len({im.size for im in srcs}) > 1:
            return [self.edit_batch([s], [i])[0] for s, i in zip(srcs, instructions)]
        with torch.inference_mode():
            out = self.pipe(image=srcs, prompt=[str(i or "") for i in instructions],
                            **self._kwargs([s.size for s in srcs], len(srcs))).images
        if len(out) != len(srcs):
            raise RuntimeError(f"{self.name} returned {len(out)} images for {len(srcs)} prompts")
        result = []
        for o, s in zip(out, srcs):
            o = _to_pil(o)
            result.append(o if o.size == s.size else o.resize(s.size, Image.Resampling.BICUBIC))
        return result

    def __call__(self, image: Any, instruction: str):
        return self.edit_batch([image], [instruction])[0]


def _to_pil(image: Any):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.dtype.kind == "f":
        arr = np.rint(np.clip(arr, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3], dtype=np.uint8)).convert("RGB")
