"""The ``diffusers`` baseline: any InstructPix2Pix-style instruction-editing pipeline.

``checkpoint`` is a Hub id or a local folder saved with ``save_pretrained`` (loaded offline when
``HF_HUB_OFFLINE=1``). The pipeline gets the record's English instruction and source image and
returns an image of the source size (resized back when the pipeline changes it).
"""

from __future__ import annotations

import numpy as np


class DiffusersEditor:
    def __init__(self, checkpoint: str, steps: int = 20, seed: int = 0, device: str = "cpu",
                 guidance_scale: float = 7.5, image_guidance_scale: float = 1.5, pipeline=None):
        self.checkpoint = checkpoint
        self.steps, self.seed, self.device = int(steps), int(seed), device
        self.guidance_scale, self.image_guidance_scale = guidance_scale, image_guidance_scale
        if pipeline is None:
            from diffusers import StableDiffusionInstructPix2PixPipeline

            pipeline = StableDiffusionInstructPix2PixPipeline.from_pretrained(checkpoint, safety_checker=None)
        self.pipe = pipeline.to(device)
        self.pipe.set_progress_bar_config(disable=True)

    def __call__(self, record) -> np.ndarray:
        import torch
        from PIL import Image

        src = Image.fromarray(record.source_image)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        out = self.pipe(record.instruction, image=src, num_inference_steps=self.steps,
                        guidance_scale=self.guidance_scale, image_guidance_scale=self.image_guidance_scale,
                        generator=gen).images[0]
        if out.size != src.size:
            out = out.resize(src.size, Image.Resampling.BICUBIC)
        return np.asarray(out.convert("RGB"), dtype=np.uint8)
