"""Rigid geometry shared by every GSI-Bench component.

Conventions (see DESIGN §2):

* **World frame** — right-handed, metres, ``+z`` up; support surfaces are horizontal.
* **Camera frame** — OpenCV: ``+x`` right, ``+y`` down, ``+z`` forward (along the optical axis).
* **Pixels** — ``(u, v)`` with ``u`` to the right and ``v`` down; the *centre* of pixel ``(i, j)``
  (column ``i``, row ``j``) is at ``(u, v) = (i, j)``, as in OpenCV.
* **Intrinsics** ``K`` — 3×3 float64, pixels.
* **Extrinsics** ``cam_from_world`` — 4×4 float64, maps homogeneous world points to camera points.
* **Yaw** — degrees about world ``+z``; positive is counter-clockwise seen from above.

All functions are pure and vectorised over leading dimensions where it is natural.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "rot_z",
    "rotation_angle_deg",
    "make_transform",
    "invert_transform",
    "transform_points",
    "look_at",
    "intrinsics_from_fov",
    "project_points",
    "pixels_to_camera",
    "backproject",
    "box_corners",
    "footprint_polygon",
    "signed_gap",
    "prism_iou",
    "upright_box_iou",
    "ground_direction",
    "ground_direction_cam",
]


def rot_z(angle_deg: float) -> np.ndarray:
    """Rotation matrix (3×3 float64) about ``+z`` by ``angle_deg`` degrees, counter-clockwise
    seen from above (right-handed).

    >>> np.round(rot_z(90) @ [1.0, 0.0, 0.0], 6).tolist()
    [0.0, 1.0, 0.0]
    """
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """Geodesic angle (degrees, in [0, 180]) of a 3×3 rotation matrix.

    >>> round(rotation_angle_deg(rot_z(-40)), 6)
    40.0
    """
    r = np.asarray(rotation, dtype=np.float64)
    cos = (np.trace(r) - 1.0) / 2.0
    sin = np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2.0
    return float(np.degrees(np.arctan2(sin, cos)))  # well conditioned near 0° and 180°


def make_transform(rotation: np.ndarray | None = None, translation: Sequence[float] | None = None,
                   scale: float | Sequence[float] = 1.0) -> np.ndarray:
    """4×4 float64 affine ``T`` with ``T @ [p, 1] = R @ (s * p) + t``.

    ``scale`` is a scalar or a 3-vector (per-axis, applied before the rotation).
    """
    out = np.eye(4)
    r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    out[:3, :3] = r * s[None, :]
    if translation is not None:
        out[:3, 3] = np.asarray(translation, dtype=np.float64)
    return out


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of a 4×4 affine transform (general, not only rigid)."""
    return np.linalg.inv(np.asarray(transform, dtype=np.float64))


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4×4 affine transform to points of shape ``(..., 3)``; returns float64 ``(..., 3)``."""
    t = np.asarray(transform, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return p @ t[:3, :3].T + t[:3, 3]


def look_at(eye: Sequence[float], target: Sequence[float],
            up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """``cam_from_world`` (4×4 float64) for an OpenCV camera at ``eye`` looking at ``target``.

    The camera's ``+y`` (image down) is aligned with ``-up`` as far as possible, so the horizon is
    level (no roll).

    >>> T = look_at([0, -2, 1], [0, 0, 1])
    >>> np.round(transform_points(T, [0, 0, 1]), 6).tolist()   # target straight ahead
    [0.0, 0.0, 2.0]
    """
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, dtype=np.float64)
    right = np.cross(forward, up)
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    right /= norm
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera axes expressed in world
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = -rotation @ eye
    return out


def intrinsics_from_fov(width: int, height: int, fov_x_deg: float) -> np.ndarray:
    """Pinhole ``K`` (3×3 float64, pixels) with square pixels, horizontal field of view
    ``fov_x_deg`` and the principal point at the image centre (OpenCV pixel centres).

    >>> np.round(intrinsics_from_fov(512, 512, 90.0)[0], 6).tolist()
    [256.0, 0.0, 255.5]
    """
    f = (width / 2.0) / math.tan(math.radians(fov_x_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def project_points(K: np.ndarray, cam_from_world: np.ndarray, points_world: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Project world points ``(N, 3)`` to pixels.

    Returns ``(uv, z)``: ``uv`` float64 ``(N, 2)`` pixel coordinates and ``z`` float64 ``(N,)``
    camera-frame depth in metres (points behind the camera have ``z <= 0`` and meaningless ``uv``).
    """
    pc = transform_points(cam_from_world, np.atleast_2d(points_world))
    z = pc[:, 2]
    safe = np.where(np.abs(z) < 1e-12, 1e-12, z)
    uv = (pc[:, :2] / safe[:, None]) @ np.asarray(K)[:2, :2].T + np.asarray(K)[:2, 2]
    return uv, z


def pixels_to_camera(u: np.ndarray, v: np.ndarray, z: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Back-project pixels to camera-frame points: the inverse of :func:`project_points` for a
    point at depth ``z``.

    ``u``/``v``: pixel coordinates (any broadcastable shape, OpenCV pixel centres); ``z``:
    camera-frame depth in metres (same shape; ``z = 1`` gives the ray direction through the
    pixel). Returns float64 ``(..., 3)`` points ``((u − cx)·z/fx, (v − cy)·z/fy, z)``.

    >>> K = intrinsics_from_fov(64, 48, 60.0)
    >>> p = pixels_to_camera(np.array([10.0]), np.array([20.0]), np.array([2.0]), K)
    >>> np.round(project_points(K, np.eye(4), p)[0], 9).tolist()
    [[10.0, 20.0]]
    """
    K = np.asarray(K, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    return np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=-1)


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points float64 ``(H, W, 3)`` of a depth map ``(H, W)`` (camera-frame z in
    metres, 0 = no surface; such pixels give the point ``(0, 0, 0)``)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    return pixels_to_camera(u, v, depth.astype(np.float64), K)


_UNIT_CORNERS = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)])


def box_corners(center: Sequence[float], size: Sequence[float], rotation: np.ndarray) -> np.ndarray:
    """The 8 corners (float64 ``(8, 3)``) of an oriented box ``center + R @ (size * u)``,
    ``u ∈ {±½}³``; the frame is whatever frame ``center`` and ``rotation`` are expressed in."""
    return np.asarray(center, dtype=np.float64) + (_UNIT_CORNERS * np.asarray(size)) @ np.asarray(rotation).T


def footprint_polygon(points: np.ndarray, e1: np.ndarray, e2: np.ndarray):
    """The convex hull (a shapely geometry) of ``points`` ``(N, 3)`` expressed in the plane
    spanned by the orthonormal vectors ``e1``, ``e2`` (e.g. a box's footprint seen from above)."""
    from shapely.geometry import MultiPoint

    pts = np.asarray(points, dtype=np.float64)
    return MultiPoint(np.stack([pts @ e1, pts @ e2], axis=1)).convex_hull


def signed_gap(a, b) -> float:
    """Horizontal gap (m) between two footprint polygons: the distance when they are apart,
    minus the square root of the overlap area when they overlap (so any overlap is negative).

    >>> from shapely.geometry import box
    >>> signed_gap(box(0, 0, 1, 1), box(1.5, 0, 2, 1)), signed_gap(box(0, 0, 1, 1), box(0.75, 0, 2, 1))
    (0.5, -0.5)
    """
    if a.intersects(b):
        return -float(np.sqrt(a.intersection(b).area))
    return float(a.distance(b))


def prism_iou(poly_a, low_a: float, high_a: float, poly_b, low_b: float, high_b: float) -> float:
    """IoU of two upright prisms: footprint polygons (shapely, same plane) extruded over the
    vertical ranges ``[low, high]`` along the shared up axis. 0 when the union is empty."""
    dz = max(0.0, min(high_a, high_b) - max(low_a, low_b))
    inter = poly_a.intersection(poly_b).area * dz
    union = poly_a.area * (high_a - low_a) + poly_b.area * (high_b - low_b) - inter
    return float(inter / union) if union > 0 else 0.0


def upright_box_iou(c1: Sequence[float], s1: Sequence[float], r1: np.ndarray,
                    c2: Sequence[float], s2: Sequence[float], r2: np.ndarray) -> float:
    """3D IoU of two oriented boxes (centre, size, rotation as in :func:`box_corners`) that share
    (approximately) the up axis ``r2[:, 2]``: footprint overlap × vertical overlap, each box
    taken as the prism of its corners' convex hull seen along that axis.

    >>> round(upright_box_iou([0, 0, 0], [2, 2, 2], np.eye(3), [1, 0, 0], [2, 2, 2], np.eye(3)), 6)
    0.333333
    """
    from shapely.geometry import Polygon

    r2 = np.asarray(r2, dtype=np.float64)
    up, e1 = r2[:, 2], r2[:, 0]
    e2 = np.cross(up, e1)
    prisms = []
    for c, s, r in ((c1, s1, r1), (c2, s2, r2)):
        corners = box_corners(c, s, r)
        poly = footprint_polygon(corners, e1, e2)
        if not isinstance(poly, Polygon):
            return 0.0
        hz = corners @ up
        prisms.append((poly, hz.min(), hz.max()))
    return prism_iou(*prisms[0], *prisms[1])


#: Camera-relative ground directions: (camera axis index, sign).
_DIRECTIONS = {"right": (0, 1.0), "left": (0, -1.0), "forward": (2, 1.0), "backward": (2, -1.0)}


def _camera_axis(axes: np.ndarray, name: str) -> np.ndarray:
    """``±`` column of ``axes`` (the camera axes as columns) naming direction ``name``."""
    if name not in _DIRECTIONS:
        raise ValueError(f"unknown direction {name!r}; expected one of {sorted(_DIRECTIONS)}")
    index, sign = _DIRECTIONS[name]
    return sign * axes[:, index]


def _unit(v: np.ndarray, name: str, tol: float, where: str) -> np.ndarray:
    n = np.linalg.norm(v)
    if n < tol:
        raise ValueError(f"direction {name!r} is vertical for this {where}")
    return v / n


def ground_direction(cam_from_world: np.ndarray, name: str) -> np.ndarray:
    """Unit world vector (float64 ``(3,)``, z = 0) for a camera-relative direction on the support
    plane: ``left``/``right`` = ∓ camera x, ``forward`` = + camera z (away from the viewer) and
    ``backward`` = − camera z, each projected onto the horizontal plane. For the same direction
    in the camera frame, on the plane ⟂ a camera-frame up, use :func:`ground_direction_cam`.

    >>> T = look_at([0, -2, 1], [0, 0, 0])
    >>> np.round(ground_direction(T, "left"), 6).tolist()
    [-1.0, 0.0, 0.0]
    >>> np.round(ground_direction(T, "forward"), 6).tolist()
    [0.0, 1.0, 0.0]
    """
    world_from_cam = np.asarray(cam_from_world, dtype=np.float64)[:3, :3].T  # columns = cam axes
    v = _camera_axis(world_from_cam, name).copy()
    v[2] = 0.0
    return _unit(v, name, 1e-9, "camera (looking straight down?)")


def ground_direction_cam(up: Sequence[float], name: str) -> np.ndarray:
    """:func:`ground_direction` in the camera frame: the camera axis projected onto the plane ⟂
    ``up`` (a camera-frame unit vector, e.g. a lifted support normal); float64 ``(3,)``.

    >>> np.round(ground_direction_cam([0.0, -1.0, 0.0], "forward"), 6).tolist()
    [0.0, 0.0, 1.0]
    """
    a = _camera_axis(np.eye(3), name) + 0.0  # + 0.0: no negative zeros
    up = np.asarray(up, dtype=np.float64)
    return _unit(a - (a @ up) * up, name, 1e-6, "view")
