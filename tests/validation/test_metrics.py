"""Unit tests of the default-protocol formulas, masked similarity measures and alignment."""

import math

import numpy as np
import pytest

from validation.evaluator import alignment, imageops, metrics
from validation.evaluator.synthesis import Realised


@pytest.mark.parametrize("t, ic", [((0.2, 0, 0), 1), ((0.11, 0.0, 0), 1), ((0.09, 0, 0), 0), ((0.41, 0, 0), 0),
                                   ((0.14, 0.15, 0), 0), ((0.2, 0.19, 0), 1), ((-0.2, 0, 0), 0)])
def test_move_decision_angle_and_ratio(t, ic):
    assert metrics.move_decision(np.array(t), np.array([0.2, 0.0, 0.0])).ic == ic


def test_move_sa_is_gaussian_of_error():
    d = metrics.move_decision(np.array([0.25, 0, 0]), np.array([0.2, 0, 0]))
    assert d.error == pytest.approx(0.05)
    assert d.sa == pytest.approx(math.exp(-(0.05 / 0.1) ** 2))


def test_rotation_tolerance_and_symmetry():
    assert metrics.rotation_decision(30.0, 45.0).ic == 1          # tol = min(22.5, 20) = 20
    assert metrics.rotation_decision(20.0, 45.0).ic == 0
    assert metrics.rotation_decision(-45.0, 45.0).ic == 0         # wrong sense
    assert metrics.rotation_decision(-45.0, 45.0, 90.0).ic == 1   # 4-fold: -45 ≡ 45
    assert metrics.rotation_decision(170.0, -170.0).error == pytest.approx(20.0)  # geodesic, wraps
    assert metrics.rotation_decision(90.0, 90.0).sa == 1.0


def test_scale_log_ratio():
    assert metrics.scale_decision(1.5, 2.0).ic == 1
    assert metrics.scale_decision(1.3, 2.0).ic == 0               # ln1.3/ln2 = 0.38
    assert metrics.scale_decision(0.6, 0.5).ic == 1
    assert metrics.scale_decision(1.5, 0.5).ic == 0
    assert metrics.scale_decision(2.4, 2.0).sa == pytest.approx(math.exp(-(math.log(1.2) / 0.3) ** 2))


def test_masked_measures_ignore_pixels_outside_the_mask():
    rng = np.random.default_rng(0)
    a = rng.random((32, 32, 3)).astype(np.float32)
    b = a.copy()
    b[:, 16:] = 1.0 - b[:, 16:]
    left = np.zeros((32, 32), bool)
    left[:, :10] = True
    assert imageops.masked_psnr(a, b, left) == 60.0
    assert imageops.masked_ssim(a, b, left) > 0.99
    assert imageops.masked_ssim(a, b) < 0.7
    assert math.isnan(imageops.masked_ssim(a, b, np.zeros((32, 32), bool)))
    assert metrics.edit_locality(a, b, left).el == pytest.approx(100.0)
    assert metrics.edit_locality(a, b, ~left).el < 50.0
    assert metrics.appearance(a, a * 0.5, left).colour < metrics.appearance(a, a * 0.95, left).colour


def _textured(h=128, w=128, seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((h, w, 3)), sigma=(2, 2, 0))
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def test_alignment_recovers_shift_and_gain():
    import cv2

    src = _textured()
    A = np.array([[1.0, 0, 3.0], [0, 1.0, -2.0]])
    pred = cv2.warpAffine(src, A, (128, 128), borderMode=cv2.BORDER_REFLECT101)
    pred = np.clip(pred.astype(np.float32) * 0.9 + 12, 0, 255).astype(np.uint8)
    bg = np.ones((128, 128), bool)
    n = alignment.normalise(pred, src, bg)
    assert n.alignment.reliable and n.alignment.method != "identity"
    back = n.alignment.matrix
    assert back[0, 2] == pytest.approx(-3.0, abs=0.5) and back[1, 2] == pytest.approx(2.0, abs=0.5)
    inner = np.zeros_like(bg)
    inner[8:-8, 8:-8] = True
    err = np.abs(n.image - src / 255.0)[inner].mean()
    assert err < 0.02 < np.abs(pred / 255.0 - src / 255.0)[inner].mean()


def test_alignment_is_bounded():
    src = _textured(seed=1)
    other = _textured(seed=2)  # unrelated image: no transform may be claimed reliable
    n = alignment.normalise(other, src, np.ones((128, 128), bool))
    assert not n.alignment.reliable
    s = float(np.sqrt(abs(np.linalg.det(n.alignment.matrix[:, :2]))))
    assert abs(math.log(s)) <= alignment.MAX_LOG_SCALE + 1e-6


def test_confidence_margins_and_low_flag():
    r = Realised("object", distance=0.10, unchanged_distance=0.20, runner_up_distance=0.101)
    c = r.confidence()
    assert c["margin_unchanged"] == pytest.approx(0.5)
    assert c["low"]  # the runner-up is within 1 %
    assert not Realised("object", distance=0.10, unchanged_distance=0.2, runner_up_distance=0.2).confidence()["low"]
