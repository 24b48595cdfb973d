"""3D lifting of one RGB-D frame: support planes, per-object point clouds, oriented 3D boxes.

Everything here works in the **source camera frame** (OpenCV: x right, y down, z forward, metres)
and needs only depth, intrinsics and an instance map — no poses, no models:

1. :func:`estimate_up` — the gravity "up" direction from the dominant near-horizontal plane
   (RANSAC on the back-projected depth, then a least-squares refit on its inliers).
2. :func:`fit_support_plane` — for each object, the plane it rests on: RANSAC on the depth points
   in a ring around its mask, keeping planes roughly perpendicular to "up" that lie below the
   object (the floor behind a table does not win over the table top under a cup).
3. :func:`lift_object` — the object's points (eroded mask, depth outliers removed), their
   footprint on the support plane and its minimum-area rectangle → an oriented box whose
   z axis is the support normal and whose x axis is the rectangle side most aligned with the
   camera's x (sign-normalised, so "left" and "right" never flip with the object's yaw).

Single views see only the front and top of an object, so lifted boxes underestimate depth along
the viewing ray; the demo measures the error against the true boxes (see :mod:`gsi_real.demo`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from gsi_bench.geometry import backproject, pixels_to_camera
from gsi_bench.official_format import box_to_official_7vec

#: Camera-frame "up" when nothing better is known: −y (image up).
CAMERA_UP = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class LiftConfig:
    """Tunables of the lifting (m, px, degrees)."""

    ransac_iterations: int = 300
    plane_inlier_m: float = 0.012
    #: the global up plane must be within this angle of the camera's −y
    max_up_tilt_deg: float = 65.0
    #: a support plane's normal must be within this angle of "up"
    max_support_tilt_deg: float = 12.0
    min_object_points: int = 20
    #: erode masks by this many pixels before taking points (flying pixels at silhouettes)
    erode_px: int = 1
    #: points closer than this to the support plane belong to the support
    min_height_m: float = 0.004
    max_points: int = 20000


@dataclass
class Plane:
    """``n·p + d = 0`` with unit normal ``n`` pointing up (camera frame)."""

    normal: np.ndarray
    offset: float
    inliers: int = 0

    def height(self, points: np.ndarray) -> np.ndarray:
        """Signed height (m) of points above the plane."""
        return np.asarray(points) @ self.normal + self.offset

    def project(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) - np.outer(self.height(points), self.normal)

    def ray_hit_depth(self, K: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Camera-frame z where each pixel's ray meets the plane (0 where it does not, or behind)."""
        h, w = shape
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        rays = pixels_to_camera(u, v, np.ones_like(u), K)
        denom = rays @ self.normal
        with np.errstate(divide="ignore", invalid="ignore"):
            z = -self.offset / denom
        z[~np.isfinite(z) | (z <= 0)] = 0.0
        return z

    def to_dict(self) -> dict:
        return {"normal": [float(x) for x in self.normal], "offset": float(self.offset), "inliers": int(self.inliers)}


@dataclass
class LiftedObject:
    """One object lifted to 3D (camera frame).

    ``points``: float64 ``(N, 3)`` visible surface points; ``pixels``: int ``(N, 2)`` their
    (row, col); ``center``/``size``/``rotation``: the oriented box (rotation object→camera,
    columns x, y, z = up; size along them); ``plane``: its support plane.
    """

    instance_id: int
    category: str
    points: np.ndarray
    pixels: np.ndarray
    colors: np.ndarray
    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray
    plane: Plane
    mask_pixels: int
    touches_border: bool
    support_fit: str = "ring"
    extra: dict = field(default_factory=dict)

    @property
    def up(self) -> np.ndarray:
        return self.rotation[:, 2]

    @property
    def base_center(self) -> np.ndarray:
        """Footprint centre on the support plane."""
        return self.center - self.up * self.size[2] / 2.0

    def official_7vec(self) -> list[float]:
        return box_to_official_7vec(self.center, self.size, self.rotation)

    def footprint_corners(self) -> np.ndarray:
        """The 4 bottom corners (camera frame, ``(4, 3)``), counter-clockwise seen from above."""
        x, y = self.rotation[:, 0] * self.size[0] / 2, self.rotation[:, 1] * self.size[1] / 2
        b = self.base_center
        return np.array([b - x - y, b + x - y, b + x + y, b - x + y])


@dataclass
class LiftedFrame:
    """The lifting of one frame: the camera-frame point map, up, and the objects."""

    points: np.ndarray
    valid: np.ndarray
    up: np.ndarray
    up_plane: Plane | None
    objects: dict[int, LiftedObject]


# ----------------------------------------------------------------------------------------------
def _plane_from3(p: np.ndarray) -> tuple[np.ndarray, float] | None:
    n = np.cross(p[1] - p[0], p[2] - p[0])
    norm = np.linalg.norm(n)
    if norm < 1e-9:
        return None
    n = n / norm
    return n, -float(n @ p[0])


def _refit(points: np.ndarray, up_hint: np.ndarray) -> tuple[np.ndarray, float]:
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[-1]
    if n @ up_hint < 0:
        n = -n
    return n, -float(n @ c)


def ransac_plane(points: np.ndarray, rng: np.random.Generator, *, iterations: int, inlier_m: float,
                 up_hint: np.ndarray, max_tilt_deg: float, accept=None) -> Plane | None:
    """Best plane (most inliers within ``inlier_m``) whose normal is within ``max_tilt_deg`` of
    ``up_hint``; ``accept(normal, offset)`` may veto candidates. Refitted on its inliers."""
    n_pts = len(points)
    if n_pts < 3:
        return None
    cos_max = np.cos(np.radians(max_tilt_deg))
    best, best_count = None, 0
    for _ in range(iterations):
        idx = rng.choice(n_pts, 3, replace=False)
        fit = _plane_from3(points[idx])
        if fit is None:
            continue
        n, d = fit
        if n @ up_hint < 0:
            n, d = -n, -d
        if n @ up_hint < cos_max or (accept is not None and not accept(n, d)):
            continue
        count = int(np.count_nonzero(np.abs(points @ n + d) < inlier_m))
        if count > best_count:
            best, best_count = (n, d), count
    if best is None:
        return None
    n, d = best
    inl = np.abs(points @ n + d) < inlier_m
    if inl.sum() >= 3:
        n2, d2 = _refit(points[inl], up_hint)
        if n2 @ up_hint >= cos_max and (accept is None or accept(n2, d2)):
            n, d = n2, d2
            inl = np.abs(points @ n + d) < inlier_m
    return Plane(np.asarray(n, dtype=np.float64), float(d), int(inl.sum()))


def estimate_up(points: np.ndarray, valid: np.ndarray, rng: np.random.Generator,
                cfg: LiftConfig = LiftConfig(), exclude: np.ndarray | None = None,
                objects: list[np.ndarray] | None = None, prior: np.ndarray | None = None
                ) -> tuple[np.ndarray, Plane | None]:
    """Up direction (unit, camera frame) and the plane it came from.

    With a ``prior`` (e.g. gravity from a gravity-aligned pose), the dominant plane within
    ``max_support_tilt_deg`` of it refines it. Without one, up to three near-horizontal planes
    (normal within ``max_up_tilt_deg`` of camera −y) are found by sequential RANSAC and the one
    that objects *rest on* wins: the most objects (``objects``: their point arrays) whose lowest
    points lie on it with their bulk above; ties go to more inliers. A wall facing a camera
    that looks steeply down can hold more points than the table, but nothing stands on it.
    Camera −y is returned when no plane is found.
    """
    sel = valid if exclude is None else valid & ~exclude
    pts = points[sel]
    if len(pts) > cfg.max_points:
        pts = pts[rng.choice(len(pts), cfg.max_points, replace=False)]
    if prior is not None:
        prior = np.asarray(prior, dtype=np.float64) / np.linalg.norm(prior)
        plane = ransac_plane(pts, rng, iterations=cfg.ransac_iterations, inlier_m=cfg.plane_inlier_m,
                             up_hint=prior, max_tilt_deg=cfg.max_support_tilt_deg)
        if plane is None or plane.inliers < 0.05 * len(pts):
            return prior, None
        return plane.normal.copy(), plane
    candidates: list[Plane] = []
    rest = pts
    for _ in range(3):
        if len(rest) < 50:
            break
        plane = ransac_plane(rest, rng, iterations=cfg.ransac_iterations, inlier_m=cfg.plane_inlier_m,
                             up_hint=CAMERA_UP, max_tilt_deg=cfg.max_up_tilt_deg)
        if plane is None or plane.inliers < 0.03 * len(pts):
            break
        candidates.append(plane)
        rest = rest[np.abs(plane.height(rest)) >= 2 * cfg.plane_inlier_m]
    if not candidates:
        return CAMERA_UP.copy(), None

    def resting(plane: Plane) -> int:
        count = 0
        for op in objects or []:
            h = plane.height(op)
            if -0.03 <= np.percentile(h, 3) <= 0.03 and np.median(h) > 0.005:
                count += 1
        return count

    best = max(candidates, key=lambda pl: (resting(pl), pl.inliers))
    return best.normal.copy(), best


def fit_support_plane(points: np.ndarray, valid: np.ndarray, mask: np.ndarray, obj_points: np.ndarray,
                      up: np.ndarray, rng: np.random.Generator, cfg: LiftConfig = LiftConfig(),
                      other_objects: np.ndarray | None = None) -> tuple[Plane, str]:
    """The plane an object rests on (see module docstring). Returns (plane, how) with ``how`` one
    of ``ring`` (fitted on the surroundings) or ``lowest`` (through the object's lowest points,
    normal = up, when the surroundings offer no plane)."""
    area = int(mask.sum())
    r = int(np.clip(0.6 * np.sqrt(area), 4, 40))
    outer = ndimage.binary_dilation(mask, iterations=r)
    inner = ndimage.binary_dilation(mask, iterations=1)
    ring = outer & ~inner & valid
    if other_objects is not None:
        ring &= ~other_objects
    ring_pts = points[ring]
    low = float(np.percentile(obj_points @ up, 3))  # the object's lowest heights along up

    def below(n: np.ndarray, d: float) -> bool:
        # the plane's height at the object's lowest points must be within 3 cm of them
        return -d <= low + 0.03 and -d >= low - 0.08

    plane = None
    if len(ring_pts) >= 30:
        plane = ransac_plane(ring_pts, rng, iterations=cfg.ransac_iterations // 2, inlier_m=cfg.plane_inlier_m,
                             up_hint=up, max_tilt_deg=cfg.max_support_tilt_deg, accept=below)
        if plane is not None and plane.inliers < 15:
            plane = None
    if plane is not None:
        return plane, "ring"
    return Plane(up.copy(), -low, 0), "lowest"


def min_area_rectangle(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Minimum-area enclosing rectangle of 2D points: (centre (2,), extents (2,), angle rad of
    the first side)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.asarray(xy, dtype=np.float64)
    try:
        hull = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        hull = pts
    best = None
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    for a in angles if len(angles) else [0.0]:
        c, s = np.cos(a), np.sin(a)
        rot = np.array([[c, s], [-s, c]])  # world → rectangle frame
        q = hull @ rot.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        area = float(np.prod(hi - lo))
        if best is None or area < best[0]:
            centre = ((lo + hi) / 2) @ rot
            best = (area, centre, hi - lo, float(a))
    return best[1], best[2], best[3]


def _trim(points: np.ndarray, k: float = 4.0) -> np.ndarray:
    """Keep points whose depth is within ``k`` robust deviations (+ 3 cm) of the median: drops
    pixels that see the background through mask errors and sensor outliers."""
    z = points[:, 2]
    med = np.median(z)
    mad = np.median(np.abs(z - med)) * 1.4826
    return np.abs(z - med) <= k * mad + 0.03


def lift_object(frame_points: np.ndarray, valid: np.ndarray, instances: np.ndarray, instance_id: int,
                up: np.ndarray, rng: np.random.Generator, cfg: LiftConfig = LiftConfig(),
                rgb: np.ndarray | None = None, category: str = "",
                other_objects: np.ndarray | None = None) -> LiftedObject | None:
    """Lift one instance; ``None`` when it has too few valid depth points."""
    mask = instances == instance_id
    area = int(mask.sum())
    if area == 0:
        return None
    core = ndimage.binary_erosion(mask, iterations=cfg.erode_px) if cfg.erode_px and area > 60 else mask
    sel = core & valid
    if sel.sum() < cfg.min_object_points:
        return None
    rows, cols = np.nonzero(sel)
    pts = frame_points[rows, cols]
    keep = _trim(pts)
    rows, cols, pts = rows[keep], cols[keep], pts[keep]
    if len(pts) < cfg.min_object_points:
        return None
    others = other_objects if other_objects is not None else None
    plane, how = fit_support_plane(frame_points, valid, mask, pts, up, rng, cfg, others)
    n = plane.normal
    h = plane.height(pts)
    above = h > cfg.min_height_m
    if above.sum() >= cfg.min_object_points:
        rows, cols, pts, h = rows[above], cols[above], pts[above], h[above]
    # footprint in a plane basis whose first axis is the camera x projected on the plane
    e1 = np.array([1.0, 0.0, 0.0]) - n[0] * n
    if np.linalg.norm(e1) < 1e-6:
        e1 = np.array([0.0, 0.0, 1.0]) - n[2] * n
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)  # = up × right: toward the camera when looking horizontally
    base = plane.project(pts)
    xy = np.stack([base @ e1, base @ e2], axis=1)
    centre2, ext, angle = min_area_rectangle(xy)
    c, s = np.cos(angle), np.sin(angle)
    a1, a2 = c * e1 + s * e2, -s * e1 + c * e2
    # x axis: the rectangle side most aligned with the camera's right, pointing right
    cand = [(a1, ext[0]), (a2, ext[1])]
    k = int(np.argmax([abs(v @ e1) for v, _ in cand]))
    x_axis, sx = cand[k]
    y_len = cand[1 - k][1]
    if x_axis @ e1 < 0:
        x_axis = -x_axis
    y_axis = np.cross(n, x_axis)
    height = float(max(np.percentile(h, 99), 0.01))
    foot = centre2[0] * e1 + centre2[1] * e2 - plane.offset * n  # on the plane
    center = foot + n * height / 2
    rotation = np.stack([x_axis, y_axis, n], axis=1)
    colors = rgb[rows, cols].astype(np.uint8) if rgb is not None else np.zeros((len(pts), 3), np.uint8)
    h_img, w_img = mask.shape
    border = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    return LiftedObject(instance_id=instance_id, category=category, points=pts,
                        pixels=np.stack([rows, cols], axis=1), colors=colors, center=center,
                        size=np.array([float(sx), float(y_len), height]), rotation=rotation, plane=plane,
                        mask_pixels=area, touches_border=border, support_fit=how)


def lift_frame(depth: np.ndarray, K: np.ndarray, instances: np.ndarray, object_ids: list[int],
               rng: np.random.Generator, cfg: LiftConfig = LiftConfig(), rgb: np.ndarray | None = None,
               categories: dict[int, str] | None = None, up_prior: np.ndarray | None = None) -> LiftedFrame:
    """Lift every id in ``object_ids`` (the movable objects of a frame). ``up_prior``: gravity
    in the camera frame when the capture knows it (gravity-aligned poses, IMU)."""
    pts = backproject(depth, K)
    valid = depth > 0
    objects_mask = np.isin(instances, object_ids)
    obj_pts = []
    for iid in object_ids:
        p = pts[(instances == iid) & valid]
        if len(p) >= cfg.min_object_points:
            obj_pts.append(p[_trim(p)])
    up, up_plane = estimate_up(pts, valid, rng, cfg, exclude=objects_mask, objects=obj_pts, prior=up_prior)
    out: dict[int, LiftedObject] = {}
    for iid in object_ids:
        others = objects_mask & (instances != iid)
        lo = lift_object(pts, valid, instances, iid, up, rng, cfg, rgb=rgb,
                         category=(categories or {}).get(iid, ""), other_objects=others)
        if lo is not None:
            out[iid] = lo
    return LiftedFrame(points=pts, valid=valid, up=up, up_plane=up_plane, objects=out)


# ----------------------------------------------------------------------------------------------
# Box comparison (used to measure lifting against ground truth)
# ----------------------------------------------------------------------------------------------
def yaw_error_deg(rot_a: np.ndarray, rot_b: np.ndarray, period: float = 90.0) -> float:
    """Angle (deg) between the x axes of two boxes about ``rot_b``'s up axis, modulo ``period``
    (a rectangle is symmetric under 90° once its sides are matched), in [0, period/2]."""
    up = rot_b[:, 2]
    xa = rot_a[:, 0] - (rot_a[:, 0] @ up) * up
    xb = rot_b[:, 0]
    ang = np.degrees(np.arctan2(np.cross(xb, xa) @ up, xa @ xb))
    r = np.mod(ang, period)
    return float(min(r, period - r))
