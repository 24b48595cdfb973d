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


def _grey_table_with_red_object(seed=0):
    """A greyish textured 'table' (low chroma, the background) with a saturated red square
    (the object) — colours the background does not contain. float32 (64, 64, 3), object mask."""
    rng = np.random.default_rng(seed)
    img = np.repeat(0.45 + 0.15 * rng.random((64, 64, 1)), 3, axis=2)  # grey: no chroma spanned
    obj = np.zeros((64, 64), bool)
    obj[20:40, 24:44] = True
    img[obj] = [0.85, 0.35, 0.35]  # a red like the library's red objects
    return img.astype(np.float32), obj


def test_tone_normalisation_undoes_global_contrast_on_colours_the_background_lacks():
    img, obj = _grey_table_with_red_object()
    toned = np.clip(((img - 0.5) * 1.1 + 0.5) * 0.9, 0, 1)  # contrast +10 %, brightness −10 %
    M = alignment.fit_colour(toned, img, ~obj)  # fitted on the background only
    back = alignment.apply_colour(toned, M)
    assert np.abs(back[obj].mean(0) - img[obj].mean(0)).max() < 0.01
    assert np.abs(toned[obj].mean(0) - img[obj].mean(0)).max() > 0.03  # there was something to undo


def test_tone_model_recovers_a_chroma_rotation_and_saturation():
    from validation.evaluator.alignment import _YCC

    img, obj = _grey_table_with_red_object(1)
    img[:10] = [0.3, 0.6, 0.4]  # some chroma in the background (a green strip)
    ycc = img @ _YCC.T
    z = (ycc[..., 1] + 1j * ycc[..., 2]) * 1.2 * np.exp(1j * np.radians(8))  # +20 % saturation, 8° hue
    out = np.stack([ycc[..., 0], z.real, z.imag], -1) @ np.linalg.inv(_YCC).T
    M = alignment.fit_tone(out.astype(np.float32), img, ~obj)
    assert np.abs(alignment.apply_colour(out.astype(np.float32), M)[obj] - img[obj]).max() < 0.01


def test_appearance_is_invariant_to_small_global_retoning_but_not_to_recolouring():
    """AC after the protocol's tone normalisation (fitted on the background): a global 8° hue /
    +20 % saturation change (not affine in RGB: the fit cannot undo it exactly on a saturated
    object) costs < 10 points on this one object (the suite's mean drift is < 5); a 60° hue change
    of the object alone costs > 20."""
    from skimage.color import hsv2rgb, rgb2hsv

    img, obj = _grey_table_with_red_object(2)
    img[:10] = [0.3, 0.6, 0.4]  # the background has a little colour, as scenes do
    img[-10:] = [0.35, 0.4, 0.65]
    hsv = rgb2hsv(img)
    shifted = hsv.copy()
    shifted[..., 0] = (shifted[..., 0] + 8 / 360) % 1.0
    shifted[..., 1] = np.clip(shifted[..., 1] * 1.2, 0, 1)
    retoned = hsv2rgb(shifted).astype(np.float32)
    recoloured = img.copy()
    turned = hsv.copy()
    turned[..., 0] = (turned[..., 0] + 60 / 360) % 1.0
    recoloured[obj] = hsv2rgb(turned)[obj]

    def ac(pred):
        M = alignment.fit_colour(pred, img, ~imageops.dilate(obj, 2))
        return metrics.appearance(alignment.apply_colour(pred, M), img, obj).ac

    assert ac(img) == pytest.approx(100.0, abs=0.01)
    assert 100.0 - ac(retoned) < 10.0
    assert 100.0 - ac(recoloured) > 20.0
