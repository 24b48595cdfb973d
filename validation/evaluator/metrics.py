"""Default-protocol metrics as pure functions on arrays, with typed results.

The formulas are documented in :mod:`validation.evaluator.scoring` (which applies them to a
record and a realised edit); here they stand alone so each can be tested and reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from validation.evaluator import imageops

MOVE_ANGLE_TOL_DEG = 45.0
RATIO_RANGE = (0.5, 2.0)
SIGMA_ROT_DEG = 30.0
ROTATE_TOL_MAX_DEG = 20.0
SIGMA_LOG_SCALE = 0.3
EL_PSNR_CAP_DB = 40.0


@dataclass(frozen=True)
class Decision:
    """IC (0/1), SA (0–1) and the error behind SA (units of the operation)."""

    ic: int
    sa: float
    error: float


@dataclass(frozen=True)
class Locality:
    """EL (0–100) with its masked SSIM and PSNR (dB)."""

    el: float
    ssim: float
    psnr: float


@dataclass(frozen=True)
class Appearance:
    """AC (0–100) with its masked SSIM and colour similarity (0–1)."""

    ac: float
    ssim: float
    colour: float


def gaussian_score(error: float, sigma: float) -> float:
    """``exp(−(error/σ)²)``.

    >>> gaussian_score(0.0, 1.0), round(gaussian_score(1.0, 1.0), 3)
    (1.0, 0.368)
    """
    return float(math.exp(-(error / sigma) ** 2))


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (deg) between two vectors; 180 when either is ~zero.

    >>> angle_deg(np.array([1.0, 0, 0]), np.array([0, 2.0, 0]))
    90.0
    """
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-9 or nb < 1e-9:
        return 180.0
    return float(np.degrees(np.arccos(np.clip(float(a @ b) / (na * nb), -1.0, 1.0))))


def wrap_deg(deg: float) -> float:
    """Angle wrapped to (−180, 180].

    >>> wrap_deg(190.0), wrap_deg(-180.0)
    (-170.0, 180.0)
    """
    a = (float(deg) + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


def move_decision(t: np.ndarray, t_star: np.ndarray) -> Decision:
    """Camera-relative move: IC when the realised displacement ``t`` is within 45° of the
    instructed ``t*`` and ``0.5 ≤ |t|/|t*| ≤ 2``; SA ``exp(−(‖t − t*‖/σ)²)``,
    ``σ = 0.5·max(|t*|, 5 cm)``. Vectors in metres (any common frame).

    >>> move_decision(np.array([0.2, 0, 0]), np.array([0.2, 0, 0])).ic
    1
    >>> move_decision(np.array([-0.2, 0, 0]), np.array([0.2, 0, 0])).ic
    0
    >>> move_decision(np.array([0.09, 0, 0]), np.array([0.2, 0, 0])).ic
    0
    """
    d = float(np.linalg.norm(t_star))
    err = float(np.linalg.norm(np.asarray(t) - np.asarray(t_star)))
    ratio = float(np.linalg.norm(t)) / max(d, 1e-9)
    ic = int(angle_deg(np.asarray(t), np.asarray(t_star)) <= MOVE_ANGLE_TOL_DEG and RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1])
    return Decision(ic, gaussian_score(err, 0.5 * max(d, 0.05)), err)


def rotation_decision(delta_deg: float, instructed_deg: float, period_deg: float = 360.0) -> Decision:
    """Rotation: error = geodesic yaw error modulo the symmetry period; IC when error ≤
    ``min(θ/2, 20°)``; SA ``exp(−(e/30°)²)``.

    >>> rotation_decision(88.0, 90.0).ic, rotation_decision(-90.0, 90.0).ic
    (1, 0)
    >>> rotation_decision(-90.0, 90.0, period_deg=180.0).ic  # 2-fold symmetric: the same image
    1
    >>> rotation_decision(0.0, 90.0, period_deg=0.0).error  # rotationally symmetric: any yaw
    0.0
    """
    if period_deg <= 0.0:
        err = 0.0
    else:
        err = min(abs(wrap_deg(delta_deg + k * period_deg - instructed_deg)) for k in range(-4, 5))
    tol = min(abs(instructed_deg) / 2.0, ROTATE_TOL_MAX_DEG)
    return Decision(int(err <= tol), gaussian_score(err, SIGMA_ROT_DEG), float(err))


def scale_decision(s: float, s_star: float) -> Decision:
    """Scale: IC when ``0.5 ≤ ln s / ln s* ≤ 2``; SA ``exp(−(|ln(s/s*)|/0.3)²)``.

    >>> scale_decision(1.9, 2.0).ic, scale_decision(0.5, 2.0).ic, scale_decision(1.0, 2.0).ic
    (1, 0, 0)
    """
    err = abs(math.log(s / s_star))
    ratio = math.log(s) / math.log(s_star)
    return Decision(int(RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]), gaussian_score(err, SIGMA_LOG_SCALE), err)


def edit_locality(pred: np.ndarray, target: np.ndarray, keep: np.ndarray) -> Locality:
    """EL = ``100·(½·SSIM + ½·min(PSNR, 40 dB)/40)`` of two float [0, 1] images over ``keep``;
    an empty mask gives 100.

    >>> x = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    >>> edit_locality(x, x, np.ones((16, 16), bool)).el
    100.0
    """
    ssim = imageops.masked_ssim(pred, target, keep)
    psnr = imageops.masked_psnr(pred, target, keep)
    if not math.isfinite(ssim):
        return Locality(100.0, 1.0, 60.0)
    el = 100.0 * (0.5 * max(0.0, ssim) + 0.5 * min(psnr, EL_PSNR_CAP_DB) / EL_PSNR_CAP_DB)
    return Locality(float(el), float(ssim), float(psnr))


def appearance(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> Appearance:
    """AC = ``100·(½·SSIM + ½·colour)`` over ``mask`` (see :func:`imageops.region_similarity`:
    luma SSIM, and the perceptual colour similarity of the median CIELAB colours).

    >>> x = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    >>> round(appearance(x, x, np.ones((16, 16), bool)).ac, 6)
    100.0
    """
    ssim, colour = imageops.region_similarity(pred, ref, mask)
    return Appearance(100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour), float(ssim), float(colour))
