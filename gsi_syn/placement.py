"""Footprints and 3D boxes of scene objects, and the placement quantities built on them.

Objects in GSI-Syn rest upright on horizontal supports, so two objects on the same support
interpenetrate exactly when their footprints (the convex hull of the mesh projected on the
support plane) overlap, and an object rests on its support when its footprint lies inside the
support's top. All quantities are in metres in the world frame (``+z`` up).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon

from gsi_bench.geometry import box_corners, rot_z, signed_gap, transform_points
from gsi_bench.scene import Scene, SceneObject
from gsi_syn.assets import get_library


@dataclass(frozen=True)
class ObjectBox:
    """An object's oriented 3D box: ``center`` (3,) and ``rotation`` (3×3, object→frame) in some
    frame, ``size`` (3,) extents along the object's x, y, z (m)."""

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray

    def corners(self) -> np.ndarray:
        """float64 ``(8, 3)`` corners, in the box's frame."""
        return box_corners(self.center, self.size, self.rotation)


def _params_key(params: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(params.items()))


@lru_cache(maxsize=2048)
def _canonical_hull(asset_id: str, params_key: tuple[tuple[str, float], ...]) -> np.ndarray:
    """float64 ``(N, 2)`` convex hull (counter-clockwise) of the canonical mesh's xy (read-only).

    GEOS takes the vertices as one line string: the same coordinate sequence and hull as a
    multipoint of them, without building one point geometry per vertex (14× faster on the
    Sweet Home 3D models)."""
    mesh = get_library().mesh(asset_id, dict(params_key))
    hull = shapely.convex_hull(shapely.linestrings(mesh.vertices[:, :2].astype(np.float64)))
    out = np.asarray(hull.exterior.coords, dtype=np.float64)[:-1]
    out.flags.writeable = False
    return out


@lru_cache(maxsize=512)
def _canonical_bounds(asset_id: str, params_key: tuple[tuple[str, float], ...]) -> np.ndarray:
    return get_library().mesh(asset_id, dict(params_key)).bounds


def footprint_xy(obj: SceneObject) -> np.ndarray:
    """float64 ``(N, 2)`` vertices (world xy, m, counter-clockwise) of :func:`footprint`."""
    return posed_hull_xy(obj.asset_id, obj.params, obj.scale, obj.yaw_deg, obj.position[:2])


def posed_hull_xy(asset_id: str, params: dict[str, float], scale: float, yaw_deg: float,
                  xy: tuple[float, float]) -> np.ndarray:
    """float64 ``(N, 2)`` footprint vertices (world xy, m) of an asset posed at ``xy`` (m) with
    ``yaw_deg`` and ``scale``, without a :class:`SceneObject` (placement loops test many poses)."""
    hull = _canonical_hull(asset_id, _params_key(params)) * scale
    return hull @ rot_z(yaw_deg)[:2, :2].T + np.asarray(xy)


def footprint(obj: SceneObject) -> Polygon:
    """The object's footprint on the horizontal plane (world xy, m)."""
    return Polygon(footprint_xy(obj))


def top_height(obj: SceneObject) -> float:
    """World z (m) of the object's highest point."""
    return float(obj.position[2] + _canonical_bounds(obj.asset_id, _params_key(obj.params))[1, 2] * obj.scale)


def object_box_world(obj: SceneObject) -> ObjectBox:
    """The object's 3D box in the world frame (axis-aligned in the object's canonical frame)."""
    b = _canonical_bounds(obj.asset_id, _params_key(obj.params))
    center_obj = (b[0] + b[1]) / 2.0
    center = transform_points(obj.world_from_object(), center_obj)
    return ObjectBox(center=center, size=(b[1] - b[0]) * obj.scale, rotation=rot_z(obj.yaw_deg))


def box_in_camera(box_world: ObjectBox, cam_from_world: np.ndarray) -> ObjectBox:
    """Express a world box in a camera frame."""
    c = np.asarray(cam_from_world, dtype=np.float64)
    return ObjectBox(center=transform_points(c, box_world.center), size=box_world.size,
                     rotation=c[:3, :3] @ box_world.rotation)


@lru_cache(maxsize=256)
def _receptacle_floor(asset_id: str, params_key: tuple[tuple[str, float], ...]) -> tuple[np.ndarray, float]:
    """Inner floor of a receptacle in its canonical frame: (convex hull xy ``(N, 2)``, height z).

    Found by casting rays straight down on a grid over the footprint: the floor is the region
    whose first hit lies within 4 mm of the lowest hit in the central half (a tray's or box's
    bottom, a plate's top, a bowl's flat base; a basket's handle is not the floor). Sloped or
    raised walls fall outside it.
    """
    import trimesh

    mesh = get_library().mesh(asset_id, dict(params_key))
    tm = trimesh.Trimesh(mesh.vertices.astype(np.float64), mesh.faces, process=False)
    (x0, y0, _), (x1, y1, z1) = tm.bounds
    n = 41
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    origins = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z1 + 0.1)], axis=1)
    dirs = np.tile([0.0, 0.0, -1.0], (len(origins), 1))
    loc, idx, _ = tm.ray.intersects_location(origins, dirs, multiple_hits=False)
    hit_z = np.full(len(origins), np.nan)
    hit_z[idx] = loc[:, 2]
    central = (np.abs(gx.ravel()) <= (x1 - x0) / 4) & (np.abs(gy.ravel()) <= (y1 - y0) / 4)
    z_floor = float(np.nanmin(np.where(central, hit_z, np.nan)))
    flat = np.abs(hit_z - z_floor) <= 0.004
    step = max((x1 - x0), (y1 - y0)) / (n - 1)
    region = MultiPoint(origins[flat, :2]).convex_hull.buffer(-step / 2)
    if region.is_empty or region.geom_type != "Polygon":
        return np.zeros((0, 2)), z_floor
    return np.asarray(region.exterior.coords)[:-1], z_floor


def support_region(support: SceneObject, z: float | None = None) -> tuple[Polygon, float]:
    """The usable region of a support in the world: (polygon in world xy, surface height z), m.

    Furniture reports its surfaces (table top, shelf boards…): the one whose height is closest
    to ``z`` is used (the highest when ``z`` is None). Receptacles use their inner floor
    (:func:`_receptacle_floor`). Anything else offers its footprint at its top height.
    """
    world = support.world_from_object()
    surfaces = get_library().support_surfaces(support.asset_id, support.params)
    if surfaces:
        rects = [np.array([[s.x_min, s.y_min, s.z], [s.x_max, s.y_min, s.z], [s.x_max, s.y_max, s.z],
                           [s.x_min, s.y_max, s.z]]) for s in surfaces]
        world_rects = [transform_points(world, r) for r in rects]
        heights = [float(r[0, 2]) for r in world_rects]
        k = int(np.argmax(heights)) if z is None else int(np.argmin([abs(h - z) for h in heights]))
        return Polygon(world_rects[k][:, :2]), heights[k]
    if support.role == "receptacle":
        hull, z_floor = _receptacle_floor(support.asset_id, _params_key(support.params))
        if len(hull) >= 3:
            pts = transform_points(world, np.column_stack([hull, np.full(len(hull), z_floor)]))
            return Polygon(pts[:, :2]), float(pts[0, 2])
    return footprint(support), top_height(support)


def support_polygon(support: SceneObject, z: float | None = None) -> Polygon:
    """The usable region (world xy, m) of a support; see :func:`support_region`."""
    return support_region(support, z)[0]


def support_height(support: SceneObject, z: float | None = None) -> float:
    """World z (m) of the support surface :func:`support_region` picks."""
    return support_region(support, z)[1]


def min_clearance(scene: Scene, instance_id: int) -> float:
    """Smallest :func:`signed_gap` between the object's footprint and every other object that
    stands on the same support (``inf`` when it is alone there)."""
    obj = scene.get(instance_id)
    fp = footprint(obj)
    gaps = [signed_gap(fp, footprint(o)) for o in scene.objects
            if o.instance_id != instance_id and o.role in ("object", "receptacle")
            and o.support_id == obj.support_id and o.instance_id != obj.support_id
            and o.support_id != instance_id]
    return min(gaps) if gaps else float("inf")


def support_margin(scene: Scene, instance_id: int) -> float:
    """Distance (m) from the object's footprint to the edge of its support's top: positive when
    the footprint lies inside, negative (minus the overhang's square-root area) otherwise."""
    obj = scene.get(instance_id)
    fp = footprint(obj)
    top = support_polygon(scene.get(obj.support_id), obj.position[2])
    if top.contains(fp):
        return float(top.exterior.distance(fp))
    return -float(np.sqrt(max(fp.difference(top).area, 1e-12)))


def bounds_near(bounds: np.ndarray, others: np.ndarray, clearance: float) -> np.ndarray:
    """bool ``(M,)``: which boxes ``others`` (float64 ``(M, 4)``, ``(xmin, ymin, xmax, ymax)``,
    m) come within ``clearance`` (m, with a 1 nm slack for rounding) of the box ``bounds`` (4,).
    A box that is not near cannot hold anything within ``clearance`` of what ``bounds`` holds."""
    c = max(clearance, 0.0) + 1e-9
    return ((others[:, 0] <= bounds[2] + c) & (others[:, 2] >= bounds[0] - c)
            & (others[:, 1] <= bounds[3] + c) & (others[:, 3] >= bounds[1] - c))


def polygons_overlap_any(poly: Polygon, others: list[Polygon], clearance: float) -> bool:
    """True when ``poly`` grown by ``clearance`` (m; a 4-segments-per-quarter buffer) intersects
    any polygon in ``others``. Polygons whose bounding box is not near ``poly``'s are skipped
    (they cannot intersect the grown polygon, which lies within its box grown by ``clearance``);
    the buffer is built only when some box is near."""
    if not others:
        return False
    geoms = np.asarray(others, dtype=object)
    near = geoms[bounds_near(np.asarray(poly.bounds), shapely.bounds(geoms), clearance)]
    if not len(near):
        return False
    if clearance <= 0:
        return bool(shapely.intersects(poly, near).any())
    # the buffer's arcs are chords of the clearance circle: it holds every point closer than
    # clearance·cos(π/16) and none farther than clearance, so only distances between need it
    d = shapely.distance(poly, near)
    if (d < _BUFFER_INNER * clearance - 1e-9).any():
        return True
    unsure = d <= clearance + 1e-9
    if not unsure.any():
        return False
    return bool(shapely.intersects(poly.buffer(clearance, quad_segs=4), near[unsure]).any())


#: below cos(π/16), the inner radius of a 4-segments-per-quarter round buffer
_BUFFER_INNER = 0.98


#: A receptacle whose rim rises at least this far (m) above its inner floor is a container (an
#: object goes *in* it: bowl 5.5 cm, box 9.5 cm, basket); lower ones (plate 1.4 cm, cutting
#: board, tray) and furniture are surfaces (an object goes *on* them).
CONTAINER_MIN_WALL_M = 0.03


def receptacle_kind(obj: SceneObject) -> str:
    """``container`` or ``surface``: how an instruction places something on ``obj`` ("in the
    bowl", "on the sofa"); see :data:`CONTAINER_MIN_WALL_M`."""
    if obj.role != "receptacle":
        return "surface"
    floor = support_region(obj)[1]
    return "container" if top_height(obj) - floor >= CONTAINER_MIN_WALL_M else "surface"
