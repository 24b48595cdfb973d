"""Image helpers for the evaluator: safe decoding of untrusted predictions, resize policies,
masked SSIM / PSNR and small morphology. Pure numpy + scipy + Pillow, deterministic.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image
from scipy import ndimage

from gsi_bench.schema import MAX_IMAGE_PIXELS

#: Largest prediction file read (bytes); bigger files are refused before decoding.
MAX_PREDICTION_BYTES = 64 * 1024 * 1024

#: Resize policies for predictions whose size differs from the ground truth's.
RESIZE_POLICIES = {
    "stretch": "resize to the ground-truth width×height with bicubic filtering (aspect ratio not kept)",
    "crop": "centre-crop to the ground-truth aspect ratio, then bicubic resize to its width×height",
    "pad": "bicubic resize to fit inside width×height keeping the aspect ratio, pad with edge colour (0.5 grey)",
}


class PredictionError(ValueError):
    """A prediction that cannot be used; ``kind`` is ``unreadable``, ``too_large`` or ``not_image``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def decode_prediction(data: bytes) -> np.ndarray:
    """Decode untrusted image bytes to uint8 ``(H, W, 3)`` RGB.

    Refuses files over :data:`MAX_PREDICTION_BYTES`, images over
    :data:`gsi_bench.schema.MAX_IMAGE_PIXELS` pixels (checked from the header, before the pixel
    data are decoded: decompression bombs), and anything Pillow cannot fully decode.
    """
    if len(data) > MAX_PREDICTION_BYTES:
        raise PredictionError("too_large", f"file of {len(data)} bytes exceeds {MAX_PREDICTION_BYTES}")
    if not data:
        raise PredictionError("not_image", "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS or w < 1 or h < 1:
                raise PredictionError("too_large", f"image of {w}×{h} px exceeds the {MAX_IMAGE_PIXELS} px limit")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            img.load()
            rgb = img.convert("RGB")
    except PredictionError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise PredictionError("too_large", f"decompression bomb refused ({err})") from err
    except Image.UnidentifiedImageError as err:
        raise PredictionError("not_image", "not an image Pillow recognises") from err
    except Exception as err:
        raise PredictionError("unreadable", f"cannot decode image ({type(err).__name__}: {err})") from err
    return np.asarray(rgb, dtype=np.uint8)


def fit_to(image: np.ndarray, width: int, height: int, policy: str = "stretch") -> np.ndarray:
    """Bring a uint8 RGB prediction to ``height×width`` following a named resize policy
    (:data:`RESIZE_POLICIES`). Same-size inputs are returned unchanged."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    img = Image.fromarray(image)
    if policy == "stretch":
        return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC))
    if policy == "crop":
        target = width / height
        if w / h > target:  # too wide
            cw = max(1, round(h * target))
            x0 = (w - cw) // 2
            img = img.crop((x0, 0, x0 + cw, h))
        else:
            ch = max(1, round(w / target))
            y0 = (h - ch) // 2
            img = img.crop((0, y0, w, y0 + ch))
        return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC))
    if policy == "pad":
        s = min(width / w, height / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        canvas = Image.new("RGB", (width, height), (128, 128, 128))
        canvas.paste(img.resize((nw, nh), Image.Resampling.BICUBIC), ((width - nw) // 2, (height - nh) // 2))
        return np.asarray(canvas)
    raise ValueError(f"unknown resize policy {policy!r}; choose one of {sorted(RESIZE_POLICIES)}")


def downsample(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average (box filter) downsampling to float32 [0, 1] — the same filter for predictions
    and for nothing else (hypotheses are rendered at the small size directly)."""
    if image.shape[1] == width and image.shape[0] == height:
        out = image
    else:
        out = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BOX))
    return out.astype(np.float32) / 255.0


def to_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a bool mask by a square of side ``2·radius + 1`` (separable, fast)."""
    if radius <= 0 or not mask.any():
        return mask.astype(bool)
    size = 2 * int(radius) + 1
    return ndimage.maximum_filter(mask.astype(np.uint8), size=size, mode="constant") > 0


def ssim_map(a: np.ndarray, b: np.ndarray, win: int = 7) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004) with a ``win×win`` uniform window (the common 7×7
    variant), K1 = 0.01, K2 = 0.03, data range 1, of two float images in [0, 1]; colour images
    are compared on their luma ``0.299 R + 0.587 G + 0.114 B``. Returns float32 ``(H, W)``."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim == 3:
        w = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        a, b = a @ w, b @ w
    import cv2

    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def filt(x: np.ndarray) -> np.ndarray:  # uniform win×win mean, mirrored edges (scipy's "reflect")
        return cv2.blur(np.ascontiguousarray(x, dtype=np.float32), (win, win), borderType=cv2.BORDER_REFLECT)

    mx, my = filt(a), filt(b)
    sxx = filt(a * a) - mx * mx
    syy = filt(b * b) - my * my
    sxy = filt(a * b) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM over ``mask`` (whole image when None); NaN when the mask is empty."""
    m = ssim_map(a, b)
    if mask is None:
        return float(m.astype(np.float64).mean())
    if not mask.any():
        return float("nan")
    return float(m[mask].astype(np.float64).mean())


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, cap: float = 60.0) -> float:
    """PSNR (dB, data range 1) over ``mask``; identical pixels give ``cap``; NaN for an empty mask."""
    d = (np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2
    if d.ndim == 3:
        d = d.mean(axis=2)
    if mask is not None:
        if not mask.any():
            return float("nan")
        d = d[mask]
    mse = float(d.mean())
    if mse <= 10 ** (-cap / 10):
        return cap
    return float(min(cap, -10 * np.log10(mse)))


def bbox_of(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` half-open bounding box of a bool mask, padded and clipped; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h, w = mask.shape
    return (max(0, int(ys.min()) - pad), min(h, int(ys.max()) + 1 + pad),
            max(0, int(xs.min()) - pad), min(w, int(xs.max()) + 1 + pad))


def region_similarity(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(masked SSIM, colour similarity) of two float RGB images over ``mask``, computed on the
    mask's padded bounding box. Colour similarity = ``exp(−‖mean_pred − mean_ref‖₂ / 0.1)`` over
    the masked pixels (RGB in [0, 1]). Both NaN for an empty mask."""
    box = bbox_of(mask, pad=4)
    if box is None:
        return float("nan"), float("nan")
    y0, y1, x0, x1 = box
    p, r, m = pred[y0:y1, x0:x1], ref[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    ssim = masked_ssim(p, r, m) if min(p.shape[:2]) >= 7 else float("nan")
    colour = float(np.exp(-np.linalg.norm(p[m].mean(axis=0) - r[m].mean(axis=0)) / 0.1))
    if not np.isfinite(ssim):
        ssim = colour
    return ssim, colour
