"""GSI-Real's filters extend the shared thresholds, measurements and decision of gsi_bench.checks."""

import json
import math
from types import SimpleNamespace

from gsi_bench.checks import CheckThresholds
from gsi_bench.schema import Checks
from gsi_real.filters import RealMeasurements, RealThresholds, failed_filters


def _passing() -> RealMeasurements:
    return RealMeasurements(visible_fraction_source=1.0, visible_pixels_source=500, visible_fraction_target=0.9,
                            visible_pixels_target=450, changed_pixel_fraction=0.02, inpainted_fraction=0.01,
                            object_hole_fraction=0.0, in_frame_fraction=1.0, center_error_m=0.005,
                            yaw_error_deg=1.0, point_error_m=0.004, min_clearance_m=0.1, intruding_points=0,
                            support_fraction=1.0)


def test_real_thresholds_and_measurements_are_the_shared_types():
    th = RealThresholds()
    assert isinstance(th, CheckThresholds) and isinstance(_passing(), Checks)
    assert th.min_clearance_m == 0.0 and th.min_visible_fraction == CheckThresholds().min_visible_fraction
    recorded = json.loads(th.to_json())
    assert "max_center_error_m" in recorded and "min_view_overlap" not in recorded and "max_settle_drift_m" not in recorded
    assert math.isinf(RealMeasurements().min_clearance_m)
    assert "thresholds" not in _passing().filter_values() and "center_error_m" in _passing().filter_values()


def test_real_decision_is_the_shared_one_plus_3d_filters():
    th, present = RealThresholds(), SimpleNamespace(target_present=True)
    area = 160 * 120
    assert failed_filters(_passing(), present, area, th, 1.0) == []
    m = _passing()
    m.visible_fraction_source, m.changed_pixel_fraction, m.center_error_m = 0.0, 0.0, 0.5
    assert failed_filters(m, present, area, th, 1.0) == ["visible_source", "unchanged", "pose"]
    m = _passing()
    m.min_clearance_m, m.support_fraction, m.support_margin_m = -0.02, 0.5, -0.05  # placement: collision/support
    assert failed_filters(m, present, area, th, 1.0) == ["collision", "support"]
    gone = RealMeasurements(visible_fraction_source=1.0, visible_pixels_source=500, changed_pixel_fraction=0.02,
                            inpainted_fraction=0.2)
    assert failed_filters(gone, SimpleNamespace(target_present=False), area, th, 1.0) == ["holes"]
