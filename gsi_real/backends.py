"""Optional model backends for GSI-Real (never used by default; the package works without them).

* :class:`DepthEstimator` — metric depth (metres, float32 ``(H, W)``) from RGB with any
  ``transformers`` depth-estimation checkpoint that predicts metres (metric Depth-Anything / -V2,
  ZoeDepth, Depth Pro…). Checkpoints that predict *relative* depth (MiDaS-style DPT, the relative
  Depth-Anything models) are refused: their output is an inverse depth of unknown scale, not metres.
* :class:`OpenVocabDetector` — open-vocabulary boxes for a list of category names with any
  ``AutoModelForZeroShotObjectDetection`` checkpoint (OWL-ViT, OWLv2, Grounding DINO…).
* :class:`TransformersFill` — the ``fill=`` hook of :func:`gsi_real.captures.iter_frames`: fills a
  frame's missing depth (depth model) and/or instances (detector boxes; each box's pixels are the
  connected surface at the depth of the box centre, so a box becomes an instance mask) and returns
  ``(depth m float32 (H, W), instances uint16 (H, W), labels)``.
* :class:`DiffusersInpainter` — disoccluded background with a ``diffusers`` inpainting pipeline
  (``AutoPipelineForInpainting``): ``inpainter(rgb uint8 (H, W, 3), hole bool (H, W)) -> uint8
  (H, W, 3)``; pixels outside the hole are returned unchanged, byte for byte.

Every checkpoint is a Hub id (resolved from the local Hugging Face cache when ``HF_HUB_OFFLINE=1``)
or a local folder written by ``save_pretrained``. An unusable checkpoint raises
:class:`BackendError` (a ``ValueError``) naming it, so the CLI exits with a message, not a
traceback. Outputs are deterministic: models run in eval mode, and the inpainter's noise comes from a
CPU ``torch.Generator`` seeded afresh on every call. ``transformers`` / ``diffusers`` / ``torch``
are imported lazily.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

#: model types whose depth head predicts metres whatever their config says
_METRIC_MODEL_TYPES = frozenset({"zoedepth", "depth_pro"})


class BackendError(ValueError):
    """A model backend cannot be loaded or used (the message names the checkpoint)."""


# ----------------------------------------------------------------------------------------------
# checkpoint resolution
# ----------------------------------------------------------------------------------------------
def resolve_checkpoint(checkpoint: str, kind: str, required_file: str) -> str:
    """A local folder (checked to hold ``required_file``) or a Hub id, as ``from_pretrained`` takes it."""
    if not checkpoint or not str(checkpoint).strip():
        raise BackendError(f"{kind}: no checkpoint given (a Hub id or a folder written by save_pretrained)")
    checkpoint = str(checkpoint)
    path = Path(checkpoint).expanduser()
    looks_local = path.exists() or checkpoint.startswith((".", "/", "~", "\\")) or checkpoint.count("/") > 1 \
        or (len(checkpoint) > 1 and checkpoint[1] == ":")
    if looks_local and not path.is_dir():
        raise BackendError(f"{kind} checkpoint {checkpoint!r}: no such folder "
                           "(pass a folder written by save_pretrained, or a Hub id)")
    if path.is_dir():
        if not (path / required_file).is_file():
            raise BackendError(f"{kind} checkpoint {checkpoint!r}: {path / required_file} is missing "
                               "(not a folder written by save_pretrained?)")
        return str(path)
    return checkpoint


def _load(fn, checkpoint: str, kind: str):
    try:
        return fn()
    except BackendError:
        raise
    except OSError as err:  # nothing at that id, not in the offline cache, missing files
        raise BackendError(f"{kind} checkpoint {checkpoint!r} could not be loaded (not a local folder, or not in "
                           f"the Hugging Face cache while offline?): {err}") from err
    except (ValueError, KeyError, TypeError, AttributeError) as err:  # another kind of model
        raise BackendError(f"{kind} checkpoint {checkpoint!r} is not a usable {kind} model: {err}") from err


def weights_info(checkpoint: str, model=None) -> dict:
    """Provenance of loaded weights: the checkpoint, its Hub revision when known, and the sha256 of
    the weight files of a local folder."""
    info: dict = {"checkpoint": str(checkpoint)}
    rev = getattr(getattr(model, "config", None), "_commit_hash", None)
    if rev:
        info["revision"] = rev
    path = Path(str(checkpoint)).expanduser()
    if path.is_dir():
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
                       and p.is_file())
        for p in files:
            h.update(p.relative_to(path).as_posix().encode())
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        if files:
            info["weights_sha256"] = h.hexdigest()
    return info


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _rgb_image(rgb: np.ndarray) -> Image.Image:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {a.dtype} {a.shape}")
    return Image.fromarray(np.ascontiguousarray(a))


# ----------------------------------------------------------------------------------------------
# depth
# ----------------------------------------------------------------------------------------------
def depth_kind(config) -> str:
    """``"metric"`` (predicts metres) or ``"relative"`` (inverse depth up to scale) for a
    depth-estimation model config."""
    if getattr(config, "depth_estimation_type", None) == "metric":
        return "metric"
    if getattr(config, "model_type", "") in _METRIC_MODEL_TYPES:
        return "metric"
    return "relative"


class DepthEstimator:
    """``depth(rgb uint8 (H, W, 3)) -> float32 (H, W)`` metres (0 = no estimate).

    ``metric=None`` (default) accepts only checkpoints known to predict metres; ``metric=True``
    trusts the caller that the checkpoint's output is in metres."""

    def __init__(self, checkpoint: str, device: str | None = None, metric: bool | None = None,
                 model=None, processor=None):
        import torch  # noqa: F401  (fail early with ImportError when torch is absent)
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.checkpoint = str(checkpoint)
        self.device = _device(device)
        if model is None or processor is None:
            src = resolve_checkpoint(self.checkpoint, "depth", "config.json")
            model = model or _load(lambda: AutoModelForDepthEstimation.from_pretrained(src), self.checkpoint, "depth")
            processor = processor or _load(lambda: AutoImageProcessor.from_pretrained(src), self.checkpoint, "depth")
        self.model = model.eval().to(self.device)
        self.processor = processor
        self.kind = depth_kind(self.model.config)
        if self.kind != "metric" and not metric:
            raise BackendError(
                f"depth checkpoint {self.checkpoint!r} ({self.model.config.model_type}) predicts relative depth "
                "(inverse depth of unknown scale), not metres; use a metric checkpoint (e.g. a "
                "Depth-Anything-V2-Metric model) or pass metric=True if it really outputs metres")

    def info(self) -> dict:
        return {"task": "depth-estimation", "kind": self.kind, **weights_info(self.checkpoint, self.model)}

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import torch

        img = _rgb_image(rgb)
        h, w = img.height, img.width
        inputs = self.processor(images=img, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model(**inputs)
        post = getattr(self.processor, "post_process_depth_estimation", None)
        pred = None
        if post is not None:
            kwargs = {"target_sizes": [(h, w)]}
            if "source_sizes" in inspect.signature(post).parameters:
                kwargs["source_sizes"] = [(h, w)]
            pred = post(out, **kwargs)[0]["predicted_depth"]
        if pred is None or tuple(pred.shape[-2:]) != (h, w):
            raw = out.predicted_depth if pred is None else pred
            raw = raw.reshape(1, 1, *raw.shape[-2:]).float()
            pred = torch.nn.functional.interpolate(raw, size=(h, w), mode="bilinear", align_corners=False)
        d = pred.reshape(h, w).float().cpu().numpy()
        d = np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0)
        return np.clip(d, 0.0, None).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# open-vocabulary detection
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in pixels (clipped to the image)
    score: float
    category: str


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class OpenVocabDetector:
    """``detector(rgb, categories) -> [Detection]`` (best first, class-agnostic NMS at ``nms_iou``)."""

    def __init__(self, checkpoint: str, device: str | None = None, threshold: float = 0.1,
                 nms_iou: float = 0.5, prompt: str = "a photo of a {}", model=None, processor=None):
        import torch  # noqa: F401
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.checkpoint = str(checkpoint)
        self.device = _device(device)
        if model is None or processor is None:
            src = resolve_checkpoint(self.checkpoint, "detector", "config.json")
            model = model or _load(lambda: AutoModelForZeroShotObjectDetection.from_pretrained(src),
                                   self.checkpoint, "detector")
            processor = processor or _load(lambda: AutoProcessor.from_pretrained(src), self.checkpoint, "detector")
        self.model = model.eval().to(self.device)
        self.processor = processor
        self.threshold, self.nms_iou, self.prompt = float(threshold), float(nms_iou), prompt
        tok = getattr(processor, "tokenizer", None)
        limit = getattr(getattr(self.model.config, "text_config", None), "max_position_embeddings", None)
        if tok is not None and limit and (not isinstance(tok.model_max_length, int) or tok.model_max_length > limit):
            tok.model_max_length = int(limit)  # tokenizers saved without it report a huge sentinel

    def info(self) -> dict:
        return {"task": "zero-shot-object-detection", "threshold": self.threshold, "prompt": self.prompt,
                **weights_info(self.checkpoint, self.model)}

    def __call__(self, rgb: np.ndarray, categories: list[str]) -> list[Detection]:
        import torch

        cats = list(dict.fromkeys(c for c in categories if c))
        if not cats:
            return []
        img = _rgb_image(rgb)
        h, w = img.height, img.width
        queries = [self.prompt.format(c) for c in cats]
        inputs = self.processor(text=[queries], images=img, return_tensors="pt", padding="max_length",
                                truncation=True).to(self.device)
        with torch.no_grad():
            out = self.model(**inputs)
        # OWLv2 pads the image to a square (bottom / right) before predicting boxes
        size = (max(h, w),) * 2 if self.model.config.model_type == "owlv2" else (h, w)
        post = self.processor.post_process_grounded_object_detection
        kwargs = {"threshold": self.threshold, "target_sizes": [size], "text_labels": [queries]}
        if "input_ids" in inspect.signature(post).parameters:
            kwargs["input_ids"] = inputs["input_ids"]
        res = post(out, **kwargs)[0]
        labels = res.get("text_labels", res.get("labels"))
        dets = []
        for i, (box, score) in enumerate(zip(res["boxes"].tolist(), res["scores"].tolist())):
            lab = labels[i]
            if hasattr(lab, "item") and not isinstance(lab, str):
                lab = int(lab.item())
            cat = cats[lab] if isinstance(lab, int) and 0 <= lab < len(cats) else self._match(str(lab), cats, queries)
            if cat is None or score < self.threshold:
                continue
            x0, y0, x1, y1 = (min(max(float(v), 0.0), float(lim)) for v, lim in zip(box, (w, h, w, h)))
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            dets.append(Detection((x0, y0, x1, y1), float(score), cat))
        dets.sort(key=lambda d: (-d.score, d.box))
        kept: list[Detection] = []
        for d in dets:
            if all(_iou(d.box, k.box) <= self.nms_iou for k in kept):
                kept.append(d)
        return kept

    @staticmethod
    def _match(text: str, cats: list[str], queries: list[str]) -> str | None:
        text = text.strip().lower()
        for c, q in zip(cats, queries):
            if text in (c.lower(), q.lower()):
                return c
        hits = [c for c in cats if c.lower() in text or text in c.lower()]
        return max(hits, key=len) if hits else None


def box_to_mask(depth: np.ndarray, K: np.ndarray, box, free: np.ndarray | None = None,
                rel_tol: float = 0.6, min_tol_m: float = 0.04, max_tol_m: float = 0.5) -> np.ndarray:
    """The pixels of ``box`` that belong to the object it frames: the connected surface around the
    box centre whose depth stays within a tolerance of the centre depth (the tolerance is
    ``rel_tol`` × the box's metric width, clamped to [min_tol_m, max_tol_m])."""
    from scipy import ndimage

    h, w = depth.shape
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out = np.zeros((h, w), bool)
    if x1 <= x0 or y1 <= y0:
        return out
    region = depth[y0:y1, x0:x1].astype(np.float64)
    ok = region > 0
    if free is not None:
        ok &= free[y0:y1, x0:x1]
    if not ok.any():
        return out
    bh, bw = region.shape
    cy0, cy1 = bh // 4, max(bh - bh // 4, bh // 4 + 1)
    cx0, cx1 = bw // 4, max(bw - bw // 4, bw // 4 + 1)
    centre = region[cy0:cy1, cx0:cx1][ok[cy0:cy1, cx0:cx1]]
    z0 = float(np.median(centre if centre.size else region[ok]))
    tol = float(np.clip(rel_tol * bw * z0 / float(K[0, 0]), min_tol_m, max_tol_m))
    near = ok & (np.abs(region - z0) <= tol)
    lab, n = ndimage.label(near)
    if n == 0:
        return out
    core = lab[cy0:cy1, cx0:cx1]
    ids = core[core > 0]
    keep = np.bincount(ids).argmax() if ids.size else np.bincount(lab[lab > 0]).argmax()
    out[y0:y1, x0:x1] = lab == keep
    return out


# ----------------------------------------------------------------------------------------------
# the fill hook
# ----------------------------------------------------------------------------------------------
class TransformersFill:
    """``fill(rgb, K, depth | None, instances | None, labels) -> (depth, instances, labels)``.

    * missing depth → ``depth_model`` (:class:`DepthEstimator`; metres).
    * missing instances → ``detector_model`` (:class:`OpenVocabDetector`) queried with
      ``vocabulary`` (or, when empty, the movable categories of the capture's labels); each kept
      box becomes one instance (new ids 1, 2, … best score first) whose label carries the
      category (and its Chinese name when the capture's labels give one).
    """

    def __init__(self, depth_model: str | None = None, detector_model: str | None = None,
                 box_threshold: float = 0.1, vocabulary: tuple[str, ...] | list[str] = (),
                 device: str | None = None, min_pixels: int = 30, depth: DepthEstimator | None = None,
                 detector: OpenVocabDetector | None = None):
        self.depth = depth or (DepthEstimator(depth_model, device=device) if depth_model else None)
        self.detector = detector or (OpenVocabDetector(detector_model, device=device, threshold=box_threshold)
                                     if detector_model else None)
        self.vocabulary = tuple(v.strip() for v in vocabulary if v and v.strip())
        self.min_pixels = int(min_pixels)

    def info(self) -> dict:
        out = {}
        if self.depth is not None:
            out["depth"] = self.depth.info()
        if self.detector is not None:
            out["instances"] = self.detector.info()
        return out

    def __call__(self, rgb, K, depth, instances, labels):
        from gsi_real.captures import FIXED_CATEGORIES, Label

        if depth is None:
            if self.depth is None:
                raise BackendError("a frame has no depth and no depth model was given (--depth-model)")
            depth = self.depth(rgb)
        if instances is None:
            if self.detector is None:
                raise BackendError("a frame has no instance map and no detector was given (--detector)")
            known = {lab.category: lab for lab in (labels or {}).values()}
            vocab = list(self.vocabulary) or sorted(c for c, lab in known.items()
                                                    if lab.movable and c not in FIXED_CATEGORIES)
            if not vocab:
                raise BackendError("a frame has no instance map and no category vocabulary to detect "
                                   "(give labels.json or --labels)")
            instances = np.zeros(depth.shape, np.uint16)
            new_labels = {}
            for det in self.detector(rgb, vocab):
                m = box_to_mask(depth, K, det.box, free=instances == 0)
                if int(m.sum()) < self.min_pixels:
                    continue
                iid = len(new_labels) + 1
                instances[m] = iid
                src = known.get(det.category)
                new_labels[iid] = Label(category=det.category, category_zh=src.category_zh if src else "",
                                        description=det.category,
                                        description_zh=src.category_zh if src else "", movable=True)
            labels = new_labels
        return depth, instances, labels


# ----------------------------------------------------------------------------------------------
# inpainting
# ----------------------------------------------------------------------------------------------
class DiffusersInpainter:
    """``inpainter(rgb uint8 (H, W, 3), hole bool (H, W)) -> uint8 (H, W, 3)``.

    The frame is resized to the pipeline's native resolution (longer side = UNet sample size × VAE
    scale factor, e.g. 512 for Stable Diffusion 1.x; sides multiples of the UNet's total
    downsampling), inpainted, resized back; only hole pixels take the result."""

    def __init__(self, checkpoint: str, prompt: str = "empty surface, background",
                 negative_prompt: str = "object, person, text, watermark", steps: int = 20,
                 device: str | None = None, seed: int = 0, guidance_scale: float = 7.5, pipeline=None):
        import torch

        if int(steps) < 1:
            raise ValueError(f"inpainting steps must be ≥ 1 (got {steps})")
        self.checkpoint = str(checkpoint)
        self.device = _device(device)
        if pipeline is None:
            from diffusers import AutoPipelineForInpainting

            src = resolve_checkpoint(self.checkpoint, "inpainting", "model_index.json")
            index = Path(src) / "model_index.json"
            kwargs = {}
            if not index.is_file() or "safety_checker" in json.loads(index.read_text()):
                # a safety checker blanks "unsafe" outputs: never wanted for background fill
                kwargs = {"safety_checker": None, "requires_safety_checker": False}
            if self.device.startswith("cuda"):
                kwargs["torch_dtype"] = torch.float16
            pipeline = _load(lambda: AutoPipelineForInpainting.from_pretrained(src, **kwargs),
                             self.checkpoint, "inpainting")
            pipeline = pipeline.to(self.device)
        self.pipe = pipeline
        if hasattr(self.pipe, "set_progress_bar_config"):
            self.pipe.set_progress_bar_config(disable=True)
        tok = getattr(self.pipe, "tokenizer", None)
        limit = getattr(getattr(getattr(self.pipe, "text_encoder", None), "config", None), "max_position_embeddings", 77)
        if tok is not None and (not isinstance(tok.model_max_length, int) or tok.model_max_length > int(limit)):
            tok.model_max_length = int(limit)
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.steps, self.seed, self.guidance_scale = int(steps), int(seed), float(guidance_scale)

    def info(self) -> dict:
        return {"task": "inpainting", "steps": self.steps, "seed": self.seed, "prompt": self.prompt,
                **weights_info(self.checkpoint, getattr(self.pipe, "unet", None))}

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        vae_f = int(getattr(self.pipe, "vae_scale_factor", 8) or 8)
        unet = getattr(self.pipe, "unet", None)
        cfg = getattr(unet, "config", None)
        n_down = len(getattr(cfg, "down_block_types", ()) or ()) or 4
        mult = vae_f * 2 ** max(n_down - 1, 0)
        sample = getattr(cfg, "sample_size", None)
        sample = sample[0] if isinstance(sample, (list, tuple)) else sample
        native = int(sample) * vae_f if sample else 512
        scale = native / max(width, height)
        return (max(mult, round(width * scale / mult) * mult),
                max(mult, round(height * scale / mult) * mult))

    def __call__(self, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        import torch

        img = _rgb_image(rgb)
        hole = np.asarray(hole, bool)
        if hole.shape != np.asarray(rgb).shape[:2]:
            raise ValueError(f"hole {hole.shape} and image {np.asarray(rgb).shape[:2]} differ in size")
        if not hole.any():
            return np.asarray(rgb, np.uint8).copy()
        h, w = hole.shape
        size = self.working_size(w, h)
        work = img.resize(size, Image.BICUBIC)
        # any coverage of a working pixel by the hole makes it a hole pixel (never shrink the hole)
        mask = Image.fromarray(np.where(hole, 255, 0).astype(np.uint8)).resize(size, Image.BILINEAR)
        mask = Image.fromarray(np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8))
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        out = self.pipe(prompt=self.prompt, negative_prompt=self.negative_prompt, image=work, mask_image=mask,
                        num_inference_steps=self.steps, guidance_scale=self.guidance_scale, generator=gen,
                        height=size[1], width=size[0]).images[0]
        out = np.asarray(out.convert("RGB").resize((w, h), Image.BICUBIC))
        return np.where(hole[..., None], out, np.asarray(rgb)).astype(np.uint8)
