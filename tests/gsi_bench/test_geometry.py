"""Core geometry helpers: back-projection vs projection, upright box IoU, footprint gaps, ground
directions in the world and camera frames."""

import numpy as np
import pytest
from shapely.geometry import box as rect

from gsi_bench.geometry import (backproject, box_corners, ground_direction, ground_direction_cam, intrinsics_from_fov,
                                look_at, pixels_to_camera, prism_iou, project_points, rot_z, signed_gap,
                                transform_points, upright_box_iou)


def test_backprojection_round_trips_through_projection():
    rng = np.random.default_rng(0)
    K = intrinsics_from_fov(96, 72, 55.0)
    K[0, 0] *= 1.1  # non-square pixels catch swapped fx / fy
    C = look_at([0.3, -1.5, 1.2], [0.0, 0.2, 0.1])
    world = rng.uniform(-0.5, 0.5, (200, 3))
    uv, z = project_points(K, C, world)
    cam = pixels_to_camera(uv[:, 0], uv[:, 1], z, K)
    np.testing.assert_allclose(cam, transform_points(C, world), atol=1e-9)
    back = transform_points(np.linalg.inv(C), cam)
    np.testing.assert_allclose(back, world, atol=1e-9)


def test_backproject_depth_map_lands_on_its_pixels():
    K = intrinsics_from_fov(40, 30, 70.0)
    depth = np.random.default_rng(1).uniform(0.5, 4.0, (30, 40))
    depth[3, 5] = 0.0
    pts = backproject(depth, K)
    assert pts.shape == (30, 40, 3) and pts.dtype == np.float64
    uv, z = project_points(K, np.eye(4), pts.reshape(-1, 3)[depth.ravel() > 0])
    v, u = np.nonzero(depth > 0)
    np.testing.assert_allclose(uv, np.stack([u, v], axis=1), atol=1e-9)
    np.testing.assert_allclose(z, depth[depth > 0])
    assert np.all(pts[3, 5] == 0.0)


@pytest.mark.parametrize("shift, expected", [
    ((0.0, 0.0, 0.0), 1.0),            # identical
    ((1.0, 0.0, 0.0), 1.0 / 3.0),      # half overlap along x: 4 / (8 + 8 - 4)
    ((0.0, 0.0, 1.0), 1.0 / 3.0),      # half overlap along the up axis
    ((1.0, 1.0, 1.0), 1.0 / 15.0),     # an eighth: 1 / (16 - 1)
    ((2.5, 0.0, 0.0), 0.0),            # apart
])
def test_upright_iou_of_known_boxes(shift, expected):
    r = rot_z(30.0)
    c2 = np.asarray(shift) @ r.T  # shift expressed along the first box's own axes
    assert upright_box_iou([0, 0, 0], [2, 2, 2], r, c2, [2, 2, 2], r) == pytest.approx(expected, abs=1e-9)


def test_upright_iou_of_a_rotated_square():
    # a unit square and the same square turned 45°: intersection is the regular octagon,
    # area 2(√2 − 1); same height, so IoU = octagon / (2 − octagon)
    octagon = 2 * (np.sqrt(2) - 1)
    iou = upright_box_iou([0, 0, 0], [1, 1, 1], np.eye(3), [0, 0, 0], [1, 1, 1], rot_z(45.0))
    assert iou == pytest.approx(octagon / (2 - octagon), rel=1e-9)
    assert prism_iou(rect(0, 0, 1, 1), 0.0, 1.0, rect(0, 0, 1, 1), 2.0, 3.0) == 0.0


def test_box_corners_are_the_box():
    r = rot_z(20.0)
    corners = box_corners([1.0, 2.0, 3.0], [0.4, 0.2, 0.1], r)
    local = (corners - [1.0, 2.0, 3.0]) @ r
    np.testing.assert_allclose(np.sort(np.unique(np.abs(local).round(12))), [0.05, 0.1, 0.2])


def test_signed_gap_is_distance_apart_and_negative_overlapping():
    assert signed_gap(rect(0, 0, 1, 1), rect(1.25, 0, 2, 1)) == pytest.approx(0.25)
    assert signed_gap(rect(0, 0, 1, 1), rect(0.5, 0, 2, 1)) == pytest.approx(-np.sqrt(0.5))


@pytest.mark.parametrize("name", ["left", "right", "forward", "backward"])
def test_ground_direction_in_camera_frame_matches_world_frame(name):
    C = look_at([0.4, -2.0, 1.3], [0.0, 0.0, 0.2])
    up_cam = C[:3, :3] @ [0.0, 0.0, 1.0]
    world = ground_direction(C, name)
    cam = ground_direction_cam(up_cam, name)
    np.testing.assert_allclose(C[:3, :3] @ world, cam, atol=1e-12)
    assert abs(world[2]) == 0.0 and abs(cam @ up_cam) < 1e-12


def test_ground_direction_rejects_unknown_and_vertical():
    with pytest.raises(ValueError, match="unknown direction"):
        ground_direction_cam([0, -1, 0], "up")
    with pytest.raises(ValueError, match="vertical"):
        ground_direction_cam([0, 0, 1.0], "forward")
