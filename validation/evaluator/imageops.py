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
    """Decode untrusted image bytes to uint8 ``(H, W, 3)`` RGB (see :func:`decode_prediction_with_notes`)."""
    return decode_prediction_with_notes(data)[0]


def decode_prediction_with_notes(data: bytes) -> tuple[np.ndarray, list[str]]:
    """Decode untrusted image bytes to uint8 ``(H, W, 3)`` RGB, plus notes on what was converted.

    Refuses files over :data:`MAX_PREDICTION_BYTES`, images over
    :data:`gsi_bench.schema.MAX_IMAGE_PIXELS` pixels (checked from the header, before the pixel
    data are decoded: decompression bombs), and anything Pillow cannot fully decode.
    Conversions (each noted): 16-bit and 32-bit greyscale are scaled to 8 bits (not clipped —
    Pillow's own conversion turns them white); a float image is read as 0–1 when its maximum is
    ≤ 1, else 0–255; an alpha channel that is not fully opaque is composited over mid grey
    (``ALPHA_BACKGROUND``); an opaque one is dropped.
    """
    if len(data) > MAX_PREDICTION_BYTES:
        raise PredictionError("too_large", f"file of {len(data)} bytes exceeds {MAX_PREDICTION_BYTES}")
    if not data:
        raise PredictionError("not_image", "empty file")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS or w < 1 or h < 1:
                raise PredictionError("too_large", f"image of {w}×{h} px exceeds the {MAX_IMAGE_PIXELS} px limit")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
                notes.append(f"animated image: first of {img.n_frames} frames used")
            img.load()
            rgb = _to_rgb8(img, notes)
    except PredictionError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise PredictionError("too_large", f"decompression bomb refused ({err})") from err
    except Image.UnidentifiedImageError as err:
        raise PredictionError("not_image", "not an image Pillow recognises") from err
    except Exception as err:
        raise PredictionError("unreadable", f"cannot decode image ({type(err).__name__}: {err})") from err
    return rgb, notes


#: Background an image with transparency is composited over (RGB, uint8).
ALPHA_BACKGROUND = (128, 128, 128)


def _to_rgb8(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow image → uint8 ``(H, W, 3)``, appending a note for each lossy conversion."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(img).astype(np.float64)
        bits = 16 if img.mode.startswith("I;16") or grey.max(initial=0) <= 65535 else 32
        grey = np.clip(np.rint(grey / (2 ** bits - 1) * 255.0), 0, 255).astype(np.uint8)
        notes.append(f"{bits}-bit greyscale scaled to 8 bits")
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "F":
        grey = np.asarray(img).astype(np.float64)
        scale = 255.0 if np.nanmax(grey, initial=0.0) <= 1.0 else 1.0
        grey = np.clip(np.rint(np.nan_to_num(grey) * scale), 0, 255).astype(np.uint8)
        notes.append("floating-point greyscale read as " + ("0–1" if scale > 1 else "0–255"))
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"))
        alpha = rgba[..., 3:].astype(np.float64) / 255.0
        if (rgba[..., 3] == 255).all():
            return np.ascontiguousarray(rgba[..., :3])
        bg = np.asarray(ALPHA_BACKGROUND, np.float64)
        out = rgba[..., :3].astype(np.float64) * alpha + bg * (1.0 - alpha)
        notes.append(f"alpha channel ({float((rgba[..., 3] < 255).mean()) * 100:.1f} % of pixels not opaque) "
                     f"composited over grey {ALPHA_BACKGROUND[0]}")
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


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


#: Colour difference (CIELAB ΔE*ab) at which AC's colour similarity falls to 1/e: about twice the
#: difference a viewer notices at a glance (ΔE ≈ 10) and a fifth of a change of colour name
#: (red → orange, ΔE ≈ 50–100). Global re-toning that the background fit cannot undo on an object's
#: own colours (ΔE 1–6 for JPEG, ±10 % tone, blur, an 8° hue / 20 % saturation change) costs
#: < 10 % of the colour half; a 30° hue change of a coloured object (ΔE 15–35) most of it.
COLOUR_DELTA_E = 20.0


def object_colour_similarity(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> float:
    """``exp(−(ΔE*ab / COLOUR_DELTA_E)²)`` of the *median* CIELAB colours of two float RGB [0, 1]
    images over ``mask`` (sRGB, D65; median: robust to pixels at the mask's edge that mix with the
    background after blur, JPEG or a sub-pixel offset). NaN for an empty mask.

    >>> x = np.full((4, 4, 3), 0.5, np.float32); m = np.ones((4, 4), bool)
    >>> object_colour_similarity(x, x, m)
    1.0
    """
    from skimage.color import rgb2lab

    if not mask.any():
        return float("nan")
    lab_p = rgb2lab(np.clip(pred[mask], 0, 1)[None].astype(np.float64))[0]
    lab_r = rgb2lab(np.clip(ref[mask], 0, 1)[None].astype(np.float64))[0]
    de = float(np.linalg.norm(np.median(lab_p, axis=0) - np.median(lab_r, axis=0)))
    return float(np.exp(-(de / COLOUR_DELTA_E) ** 2))


def region_similarity(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(masked SSIM, colour similarity) of two float RGB images over ``mask``, computed on the
    mask's padded bounding box. SSIM is on luma (local mean and contrast normalised: structure and
    texture); colour similarity is :func:`object_colour_similarity` (perceptual difference of the
    median colours). Both NaN for an empty mask."""
    box = bbox_of(mask, pad=4)
    if box is None:
        return float("nan"), float("nan")
    y0, y1, x0, x1 = box
    p, r, m = pred[y0:y1, x0:x1], ref[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    ssim = masked_ssim(p, r, m) if min(p.shape[:2]) >= 7 else float("nan")
    colour = object_colour_similarity(p, r, m)
    if not np.isfinite(ssim):
        ssim = colour
    return ssim, colour


def nearest_image(pred: np.ndarray, source: np.ndarray, images: list[np.ndarray],
                  dilation_px: int) -> tuple[int, list[float]]:
    """Which of ``images`` (uint8 ``(H, W, 3)`` hypotheses) ``pred`` is nearest to, compared only
    where the hypotheses differ from ``source`` (dilated by ``dilation_px``): ``(index, mean
    absolute differences in [0, 1])``; ties go to the first. ValueError when no hypothesis
    changes the image (nothing to localise)."""
    src = source.astype(np.int16)
    changed = np.zeros(src.shape[:2], bool)
    for img in images:
        changed |= np.abs(img.astype(np.int16) - src).max(axis=2) > 0
    zone = dilate(changed, dilation_px)
    if not zone.any():
        raise ValueError("no hypothesis changes the image: the edit cannot be localised")
    p = pred.astype(np.float64)[zone] / 255.0
    distances = [float(np.abs(p - img.astype(np.float64)[zone] / 255.0).mean()) for img in images]
    return min(range(len(images)), key=lambda i: (distances[i], i)), distances
