"""Optional model backends (not used by default; loading code only, untested against weights here).

* :class:`DiffusersInpainter` — background inpainting with a ``diffusers`` inpainting pipeline,
  checkpoint by Hub id or local path (``--inpainter diffusers:<id or path>``).
* :class:`TransformersFill` — fills a frame's missing depth (``depth-estimation`` pipeline, e.g. a
  metric Depth-Anything checkpoint) and/or instances (``zero-shot-object-detection`` boxes per
  label, each box's pixels assigned by depth to the nearest surface), for use as ``fill=`` of
  :func:`gsi_real.captures.iter_frames`.

Both import their libraries lazily, so the package works without them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


class DiffusersInpainter:
    """``inpainter(rgb uint8 (H, W, 3), hole bool (H, W)) -> uint8 (H, W, 3)``; pixels outside the
    hole are kept exactly."""

    def __init__(self, checkpoint: str, prompt: str = "empty surface, background", steps: int = 20,
                 device: str | None = None, seed: int = 0):
        import torch
        from diffusers import AutoPipelineForInpainting

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.pipe = AutoPipelineForInpainting.from_pretrained(checkpoint).to(self.device)
        self.prompt, self.steps, self.seed = prompt, steps, seed

    def __call__(self, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        import torch

        h, w = hole.shape
        size = (max(64, (w + 7) // 8 * 8), max(64, (h + 7) // 8 * 8))
        img = Image.fromarray(rgb).resize(size, Image.BICUBIC)
        mask = Image.fromarray(np.where(hole, 255, 0).astype(np.uint8)).resize(size, Image.NEAREST)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        out = self.pipe(prompt=self.prompt, image=img, mask_image=mask, num_inference_steps=self.steps,
                        generator=gen, height=size[1], width=size[0]).images[0]
        out = np.asarray(out.convert("RGB").resize((w, h), Image.BICUBIC))
        return np.where(hole[..., None], out, rgb).astype(np.uint8)


class TransformersFill:
    """``fill(rgb, K, depth | None, instances | None, labels) -> (depth, instances, labels)``."""

    def __init__(self, depth_model: str | None = None, detector_model: str | None = None,
                 box_threshold: float = 0.35):
        from transformers import pipeline

        self.depth = pipeline("depth-estimation", model=depth_model) if depth_model else None
        self.detector = pipeline("zero-shot-object-detection", model=detector_model) if detector_model else None
        self.box_threshold = box_threshold

    def __call__(self, rgb, K, depth, instances, labels):
        img = Image.fromarray(rgb)
        if depth is None:
            if self.depth is None:
                raise ValueError("frame has no depth and no depth model was given")
            pred = self.depth(img)
            d = pred.get("predicted_depth")
            d = np.asarray(d.squeeze().cpu().numpy() if hasattr(d, "cpu") else pred["depth"], dtype=np.float32)
            depth = np.asarray(Image.fromarray(d).resize(img.size, Image.BILINEAR), dtype=np.float32)
        if instances is None:
            if self.detector is None or not labels:
                raise ValueError("frame has no instances and no detector / label vocabulary was given")
            instances = np.zeros(depth.shape, np.uint16)
            cats = {lab.category: iid for iid, lab in labels.items()}
            dets = self.detector(img, candidate_labels=sorted(cats))
            for det in sorted(dets, key=lambda x: -x["score"]):
                if det["score"] < self.box_threshold:
                    continue
                b = det["box"]
                x0, y0, x1, y1 = (int(round(b[k])) for k in ("xmin", "ymin", "xmax", "ymax"))
                region = depth[y0:y1, x0:x1]
                if region.size == 0:
                    continue
                near = region <= np.percentile(region[region > 0], 40) if (region > 0).any() else region > 0
                sub = instances[y0:y1, x0:x1]
                sub[(sub == 0) & near] = cats[det["label"]]
        return depth, instances, labels
