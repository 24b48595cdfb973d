"""The shared validity checks: measurements on instance maps / depth and the accept decision
(GSI-Syn's thresholds and GSI-Real's extension of them)."""

import json
import math

import numpy as np
import pytest

from gsi_bench.checks import (CheckThresholds, Measurements, changed_fraction, failed_checks, view_overlap,
                              visibility)
from gsi_bench.geometry import intrinsics_from_fov, look_at
from gsi_bench.schema import Checks

AREA = 100 * 100


def _good(**kw) -> Measurements:
    m = Measurements(visible_fraction_source=0.9, visible_pixels_source=400, visible_fraction_target=0.8,
                     visible_pixels_target=300, min_clearance_m=0.05, support_margin_m=0.04,
                     ambiguity_margin=math.inf, changed_pixel_fraction=0.02)
    for k, v in kw.items():
        setattr(m, k, v)
    return m


def test_measurements_are_the_record_checks():
    assert Measurements is Checks


def test_good_edit_is_accepted():
    assert failed_checks(_good(), AREA, CheckThresholds()) == []


@pytest.mark.parametrize("change, name", [
    ({"visible_fraction_source": 0.3}, "visible_source"),
    ({"visible_pixels_source": 10}, "visible_source"),       # < 0.0015 × 10,000 px
    ({"visible_fraction_target": math.nan}, "visible_target"),
    ({"min_clearance_m": -0.01}, "placement"),
    ({"support_margin_m": 0.0}, "placement"),
    ({"ambiguity_margin": 0.01}, "ambiguous"),
    ({"changed_pixel_fraction": 0.0}, "unchanged"),
    ({"changed_pixel_fraction": math.nan}, "unchanged"),
    ({"settle_drift_m": 0.05}, "unstable"),
])
def test_each_check_rejects_its_failure(change, name):
    assert failed_checks(_good(**change), AREA, CheckThresholds()) == [name]


def test_flags_select_the_checks_that_apply():
    th = CheckThresholds()
    gone = _good(visible_fraction_target=math.nan, min_clearance_m=math.nan)
    assert failed_checks(gone, AREA, th, target_present=False) == []           # remove
    camera = Measurements(changed_pixel_fraction=0.3, view_overlap=0.2)
    assert failed_checks(camera, AREA, th, object_edit=False, perspective=True) == ["view_overlap"]
    assert failed_checks(_good(min_clearance_m=-1.0), AREA, th, placement=False) == []


def test_thresholds_serialise_canonically():
    th = CheckThresholds(min_visible_fraction=0.6)
    text = th.to_json()
    assert json.loads(text)["min_visible_fraction"] == 0.6 and " " not in text
    assert CheckThresholds(**json.loads(text)) == th


def test_visibility_and_changed_fraction():
    full = np.zeros((10, 10), np.uint16)
    alone = np.zeros((10, 10), np.uint16)
    alone[2:6, 2:6] = 7          # 16 px unoccluded
    full[2:6, 2:4] = 7           # 8 px visible
    full[2:6, 4:6] = 9           # hidden behind object 9
    assert visibility(full, alone, 7) == (0.5, 8)
    assert visibility(full, alone, 3) == (0.0, 0)
    assert changed_fraction(full, alone) == pytest.approx(8 / 100)


def test_view_overlap_same_camera_is_full_and_turned_away_is_empty():
    K = intrinsics_from_fov(64, 48, 60.0)
    C = look_at([0, -2, 1], [0, 0, 0.5])
    depth = np.full((48, 64), 2.0)
    assert view_overlap(depth, K, C, C, depth) == 1.0
    away = look_at([0, -2, 1], [0, -4, 0.5])
    assert view_overlap(depth, K, C, away, depth) == 0.0
    assert view_overlap(np.zeros_like(depth), K, C, C, depth) == 0.0
