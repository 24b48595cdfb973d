"""Global geometric alignment and photometric normalisation of a prediction to the source image.

Editors regenerate the whole image: the result is often shifted by a few pixels, slightly zoomed,
re-toned. Before anything is compared, the prediction is brought back onto the source image's
pixel grid and tone, using only the *background* (pixels outside the dilated union of the
source/target object masks, which a correct object edit leaves alone):

1. **Geometry** (:func:`estimate_alignment`): an affine transform (similarity from ORB features +
   RANSAC, then refined by OpenCV's ECC maximisation on the masked luma), bounded — at most
   :data:`MAX_SHIFT_FRACTION` of the image side of translation, ±:data:`MAX_LOG_SCALE` of log
   scale, :data:`MAX_ROTATION_DEG` of rotation. A transform is kept only when it raises the
   background's gradient correlation with the source; otherwise the identity is used. The result
   is reported per sample (``alignment`` in ``per_sample.jsonl``) and marked ``reliable`` when the
   aligned background correlates with the source (:data:`RELIABLE_NCC`).
2. **Tone** (:func:`fit_colour`): a 3×4 colour transform fitted by least squares on the aligned
   background, mapping the prediction's colours to the source's, ridge-regularised towards a
   6-parameter global tone model (:func:`fit_tone`: luma gain/offset, chroma-plane similarity),
   which decides the colour directions the background does not span.

All images are uint8 or float32 ``(H, W, 3)`` RGB; transforms map prediction pixel coordinates
(x right, y down) to source pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SHIFT_FRACTION = 0.06
MAX_LOG_SCALE = 0.12
MAX_ROTATION_DEG = 5.0
RELIABLE_NCC = 0.5
#: background gradient correlation above which the prediction is taken as already aligned
ALREADY_ALIGNED_NCC = 0.985
ALIGN_SIZE = 256
MAX_COLOUR_SAMPLES = 20000


@dataclass
class Alignment:
    """``matrix``: 2×3 affine, prediction px → source px (full resolution); ``method``: identity /
    orb / ecc / orb+ecc; ``ncc_before`` / ``ncc_after``: gradient correlation of the background with
    the source before/after; ``reliable``: the aligned background matches the source."""

    matrix: np.ndarray
    method: str
    ncc_before: float
    ncc_after: float
    reliable: bool

    def to_json(self) -> dict:
        a = self.matrix
        scale = float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
        return {"method": self.method, "shift_px": [round(float(a[0, 2]), 2), round(float(a[1, 2]), 2)],
                "scale": round(scale, 4), "rotation_deg": round(float(np.degrees(np.arctan2(a[1, 0], a[0, 0]))), 3),
                "ncc_before": round(self.ncc_before, 4), "ncc_after": round(self.ncc_after, 4),
                "reliable": bool(self.reliable)}


def _luma(img: np.ndarray) -> np.ndarray:
    f = img.astype(np.float32)
    if f.max() > 1.5:
        f = f / 255.0
    return f @ np.array([0.299, 0.587, 0.114], np.float32)


def _grad(l: np.ndarray) -> np.ndarray:
    import cv2

    gx = cv2.Sobel(l, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(l, cv2.CV_32F, 0, 1, ksize=3)
    return np.stack([gx, gy], -1)


def gradient_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Normalised correlation of the luma gradients of two images over ``mask`` (−1…1; tone-invariant).

    >>> x = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    >>> round(gradient_ncc(x, 0.5 * x + 0.2, np.ones((32, 32), bool)), 3)
    1.0
    """
    ga, gb = _grad(_luma(a))[mask], _grad(_luma(b))[mask]
    if ga.size == 0:
        return float("nan")
    ga = ga - ga.mean(0)
    gb = gb - gb.mean(0)
    den = float(np.sqrt((ga * ga).sum() * (gb * gb).sum()))
    return float((ga * gb).sum() / den) if den > 1e-12 else 0.0


def _within_bounds(A: np.ndarray, size: int) -> bool:
    s = np.sqrt(abs(np.linalg.det(A[:, :2])))
    rot = np.degrees(np.arctan2(A[1, 0], A[0, 0]))
    c = (size - 1) / 2.0
    # displacement of the image centre
    shift = np.hypot(*(A[:, :2] @ [c, c] + A[:, 2] - [c, c]))
    return bool(s > 0 and abs(np.log(s)) <= MAX_LOG_SCALE and abs(rot) <= MAX_ROTATION_DEG
                and shift <= MAX_SHIFT_FRACTION * size)


def _orb(pred_l: np.ndarray, src_l: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    import cv2

    orb = cv2.ORB_create(nfeatures=800, fastThreshold=5, edgeThreshold=9, patchSize=15)
    m8 = mask.astype(np.uint8) * 255
    a8, b8 = (pred_l * 255).clip(0, 255).astype(np.uint8), (src_l * 255).clip(0, 255).astype(np.uint8)
    ka, da = orb.detectAndCompute(a8, m8)
    kb, db = orb.detectAndCompute(b8, m8)
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 8:
        return None
    pa = np.float32([ka[m.queryIdx].pt for m in matches])
    pb = np.float32([kb[m.trainIdx].pt for m in matches])
    A, inl = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC, ransacReprojThreshold=2.0, maxIters=2000,
                                         confidence=0.995)
    if A is None or inl is None or int(inl.sum()) < 8:
        return None
    return A.astype(np.float64)


def _ecc(pred_l: np.ndarray, src_l: np.ndarray, mask: np.ndarray, init: np.ndarray) -> np.ndarray | None:
    """ECC refinement; ECC's warp maps *template* (source) coordinates to *input* (prediction)
    coordinates, so we pass the inverse of ``init`` and invert the result."""
    import warnings

    import cv2

    W = _invert(init).astype(np.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, W = cv2.findTransformECC(src_l.astype(np.float32), pred_l.astype(np.float32), W, cv2.MOTION_AFFINE,
                                        (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5),
                                        mask.astype(np.uint8), 5)
    except cv2.error:
        return None
    return _invert(W.astype(np.float64))


def _invert(A: np.ndarray) -> np.ndarray:
    M = np.vstack([A, [0, 0, 1]])
    return np.linalg.inv(M)[:2]


def warp(image: np.ndarray, A: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` resampled onto the source grid through ``A`` (prediction px → source px).
    Returns (warped float32 [0, 1] or uint8 like the input, bool validity mask ``(H, W)``)."""
    import cv2

    out = cv2.warpAffine(image, A, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(image.shape[:2], np.uint8)
    valid = cv2.warpAffine(ones, A, (width, height), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return out, valid


def estimate_alignment(pred: np.ndarray, source: np.ndarray, background: np.ndarray) -> Alignment:
    """Bounded affine alignment of ``pred`` to ``source`` (same size) over ``background`` (bool)."""
    import cv2

    h, w = source.shape[:2]
    f = min(1.0, ALIGN_SIZE / max(h, w))
    sw, sh = max(8, round(w * f)), max(8, round(h * f))
    pl = cv2.resize(_luma(pred), (sw, sh), interpolation=cv2.INTER_AREA)
    sl = cv2.resize(_luma(source), (sw, sh), interpolation=cv2.INTER_AREA)
    m = cv2.resize(background.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    m = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ident = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    if m.sum() < 64:
        return Alignment(_scale_affine(ident, 1.0), "identity", float("nan"), float("nan"), False)
    smooth = lambda x: cv2.GaussianBlur(x, (0, 0), 1.0)
    pls, sls = smooth(pl), smooth(sl)
    base = gradient_ncc(pls[..., None].repeat(3, -1), sls[..., None].repeat(3, -1), m)

    def score(A: np.ndarray) -> float:
        wp = cv2.warpAffine(pls, A, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(np.ones_like(m, np.uint8), A, (sw, sh), flags=cv2.INTER_NEAREST) > 0
        mm = m & cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        return gradient_ncc(wp[..., None].repeat(3, -1), sls[..., None].repeat(3, -1), mm)

    best, best_s, method = ident, base, "identity"
    if base >= ALREADY_ALIGNED_NCC:
        return Alignment(_scale_affine(ident, f), method, float(base), float(base), True)
    orb = _orb(pl, sl, m)
    inits = [("ecc", ident)]
    if orb is not None and _within_bounds(orb, max(sw, sh)):
        s = score(orb)
        if s > best_s:
            best, best_s, method = orb, s, "orb"
        inits.insert(0, ("orb+ecc", orb))
    for name, init in inits:
        A = _ecc(pls, sls, m, init)
        if A is None or not _within_bounds(A, max(sw, sh)):
            continue
        s = score(A)
        if s > best_s + 1e-4:
            best, best_s, method = A, s, name
            break
    return Alignment(_scale_affine(best, f), method, float(base), float(best_s), bool(best_s >= RELIABLE_NCC))


def _scale_affine(A: np.ndarray, f: float) -> np.ndarray:
    """An affine on an image scaled by ``f`` expressed on the full-size image (pixel centres)."""
    S = np.array([[f, 0, 0.5 * f - 0.5], [0, f, 0.5 * f - 0.5], [0, 0, 1]])
    M = np.vstack([A, [0, 0, 1]])
    return (np.linalg.inv(S) @ M @ S)[:2]


#: RGB → (Y, Cb, Cr) (BT.601, full range, no offsets): luma and two opponent chroma axes.
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


#: Residual (sum of |ΔRGB| over the channels, [0, 1] units) below which a sample is never trimmed
#: as an outlier: one 8-bit level per channel.
RESIDUAL_FLOOR = 3.0 / 255.0


def _trimmed(Xa: np.ndarray, Y: np.ndarray, solve) -> np.ndarray:
    """``solve(Xa, Y) -> M`` (3×4) run twice, the second time without the worst 20 % residuals
    (those above :data:`RESIDUAL_FLOOR`: a sample the first fit explains to quantisation is no
    outlier, however the others fare)."""
    M = solve(Xa, Y)
    r = np.abs(Xa @ M.T - Y).sum(1)
    keep = (r <= np.quantile(r, 0.8)) | (r <= RESIDUAL_FLOOR)
    return solve(Xa[keep], Y[keep])


def _tone_solve(Xa: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares global tone model as a 3×4 RGB transform (see :func:`fit_tone`)."""
    T = _YCC
    xs, ys = Xa[:, :3] @ T.T, Y @ T.T
    # luma: y' = a·y + b
    A = np.stack([xs[:, 0], np.ones(len(xs))], 1)
    a, b = np.linalg.lstsq(A, ys[:, 0], rcond=None)[0]
    # chroma: z' = α·z + β in the (Cb, Cr) plane, α complex (rotation + scale), β complex
    z, zt = xs[:, 1] + 1j * xs[:, 2], ys[:, 1] + 1j * ys[:, 2]
    B = np.stack([z, np.ones(len(z))], 1)
    al, be = np.linalg.lstsq(B, zt, rcond=None)[0]
    if not (0.25 <= abs(al) <= 4.0) or not np.isfinite(al):  # no usable chroma in the sample: no chroma change
        al, be = 1.0 + 0j, complex(np.mean(zt - z))
    L = np.array([[a, 0.0, 0.0], [0.0, al.real, -al.imag], [0.0, al.imag, al.real]])
    Ti = np.linalg.inv(T)
    return np.hstack([Ti @ L @ T, (Ti @ np.array([b, be.real, be.imag]))[:, None]])


def fit_tone(pred: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Global tone model ``source ≈ [pred, 1] @ M.T`` fitted over ``mask``: luma gain and offset
    (exposure, contrast) and a similarity of the (Cb, Cr) chroma plane (white-balance shift,
    saturation scale, hue rotation) — 6 parameters, the adjustments a camera pipeline or an
    editor's global re-toning applies to every colour alike. Unlike a free 3×4 fit it
    extrapolates to colours the mask does not contain (a saturated object on a grey table).
    Trimmed least squares (the worst 20 % residuals dropped). Returns float64 ``(3, 4)``.

    >>> rng = np.random.default_rng(0)
    >>> s = rng.random((20, 20, 3)) * 0.5 + 0.25
    >>> M = fit_tone(0.8 * s + 0.1, s, np.ones((20, 20), bool))
    >>> np.allclose(apply_colour(0.8 * s + 0.1, M), s, atol=1e-3)
    True
    """
    X, Y = _samples(pred, source, mask)
    if len(X) < 32:
        return np.hstack([np.eye(3), np.zeros((3, 1))])
    return _trimmed(np.hstack([X, np.ones((len(X), 1))]), Y, _tone_solve)


def _samples(pred: np.ndarray, source: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 ``(N, 3)`` colours of ``pred`` and ``source`` over ``mask`` (a regular subsample of at
    most :data:`MAX_COLOUR_SAMPLES`: the fits need thousands, not 10⁵)."""
    X, Y = pred[mask], source[mask]
    if len(X) > MAX_COLOUR_SAMPLES:
        idx = np.linspace(0, len(X) - 1, MAX_COLOUR_SAMPLES).astype(np.int64)
        X, Y = X[idx], Y[idx]
    return X.astype(np.float64), Y.astype(np.float64)


def fit_colour(pred: np.ndarray, source: np.ndarray, mask: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """3×4 colour transform ``M`` with ``source ≈ [pred, 1] @ M.T`` over ``mask`` (float [0, 1]
    images), robust (two passes, the worst 20 % residuals dropped), ridge-regularised towards the
    global tone model :func:`fit_tone` fitted on the same pixels: where the mask's colours
    determine the transform the free fit wins; in the colour directions they do not span (the
    chroma of a saturated object on a grey table) the transform is the tone model's, not the
    identity — so a global exposure / contrast / saturation / hue change is undone on the object
    too. Returns float64 ``(3, 4)``.

    >>> rng = np.random.default_rng(0)
    >>> s = rng.random((20, 20, 3)).astype(np.float32)
    >>> M = fit_colour(0.8 * s + 0.1, s, np.ones((20, 20), bool))
    >>> np.allclose(apply_colour(0.8 * s + 0.1, M), s, atol=0.01)
    True
    """
    X, Y = _samples(pred, source, mask)
    I = np.hstack([np.eye(3), np.zeros((3, 1))])
    if len(X) < 32:
        return I
    Xa = np.hstack([X, np.ones((len(X), 1))])
    prior = _trimmed(Xa, Y, _tone_solve)

    def solve(Xk: np.ndarray, Yk: np.ndarray) -> np.ndarray:
        lam = ridge * len(Xk)
        return np.linalg.solve(Xk.T @ Xk + lam * np.eye(4), Xk.T @ Yk + lam * prior.T).T

    return _trimmed(Xa, Y, solve)


def apply_colour(img: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Apply a :func:`fit_colour` transform to a float [0, 1] image (clipped to [0, 1])."""
    f = img.astype(np.float32)
    return np.clip(f @ M[:, :3].T.astype(np.float32) + M[:, 3].astype(np.float32), 0.0, 1.0)


@dataclass
class Normalised:
    """The prediction on the source grid and tone. ``image`` float32 [0, 1] ``(H, W, 3)`` (pixels
    outside the warp filled from the source), ``valid`` bool ``(H, W)``."""

    image: np.ndarray
    valid: np.ndarray
    alignment: Alignment
    colour: np.ndarray


def normalise(pred: np.ndarray, source: np.ndarray, background: np.ndarray, align: bool = True) -> Normalised:
    """Align (when ``align``) and colour-normalise a uint8 prediction to a uint8 source image."""
    h, w = source.shape[:2]
    src_f = source.astype(np.float32) / 255.0
    if align:
        al = estimate_alignment(pred, source, background)
    else:
        al = Alignment(np.array([[1.0, 0, 0], [0, 1.0, 0]]), "identity", float("nan"), float("nan"), True)
    if al.method == "identity":
        img, valid = pred.astype(np.float32) / 255.0, np.ones((h, w), bool)
    else:
        warped, valid = warp(pred, al.matrix, w, h)
        img = warped.astype(np.float32) / 255.0
    M = fit_colour(img, src_f, background & valid)
    img = apply_colour(img, M)
    img[~valid] = src_f[~valid]
    return Normalised(img, valid, al, M)
