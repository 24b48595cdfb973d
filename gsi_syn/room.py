"""Room scene sampler: a floor, three walls, a room type (kitchen, dining room, living room,
office, bedroom: the "goes with" groups of :mod:`gsi_syn.assets.roles`), 3–5 pieces of that
room's furniture that carry objects (tables, desks, cabinets, counters, shelves…: parametric
ones or Sweet Home 3D models with a verified flat top) and 1–3 that only furnish it (sofas,
armchairs, beds, fridges, plants…), against the walls or free standing, 3–5 objects of the room's
group on each top, a sun light through the open side, and a camera at eye height framing one
piece's top (close enough that the objects on it are not specks).

World frame: the floor is ``z = 0`` centred at the origin; the back wall is at ``y = +D/2``,
the side walls at ``x = ±W/2``; the viewer stands near the open side ``y = -D/2`` looking
toward ``+y``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import shapely
from shapely.geometry import Polygon

from gsi_bench.geometry import intrinsics_from_fov, look_at, rot_z
from gsi_bench.scene import Camera, Light, Scene, SceneObject
from gsi_bench.scene import Material
from gsi_syn.assets import get_library, pool
from gsi_syn.assets.pool import PoolItem
from gsi_syn.assets.roles import GROUPS
from gsi_syn.materials import sample_surface_material
from gsi_syn.placement import footprint, object_box_world, polygons_overlap_any
from gsi_syn.scatter import scatter_objects

FLOOR_ID = 2
WALL_IDS = (3, 4, 5)
FIRST_FURNITURE_ID = 20
FIRST_OBJECT_ID = 100

#: Pieces a room of each group is drawn with first (when they fit): the counter of a kitchen, the
#: sofa of a living room… — (supports, furnishing pieces), by category.
ANCHORS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kitchen": (("counter", "kitchen cabinet"), ("fridge",)),
    "dining": (("table",), ("chair", "cupboard")),
    "living": (("coffee table", "tv stand"), ("sofa",)),
    "office": (("desk",), ("bookcase", "armchair")),
    "bedroom": (("bedside table", "dresser"), ("bed", "wardrobe")),
}

#: Chinese names of the parametric furniture (their manifest names are generic).
FURNITURE_ZH = {"proc/table": "桌子", "proc/shelf": "置物架", "proc/cabinet": "柜子", "proc/counter": "台面",
                "proc/sofa": "沙发", "proc/bed": "床"}


@dataclass(frozen=True)
class RoomConfig:
    """Sampling ranges of a room scene (m, degrees)."""

    width: tuple[float, float] = (3.6, 5.0)
    depth: tuple[float, float] = (3.4, 4.6)
    wall_height: tuple[float, float] = (2.5, 2.8)
    num_furniture: tuple[int, int] = (3, 5)
    #: pieces that only furnish the room (sofa, bed, plant…), on top of ``num_furniture``
    num_furnishing: tuple[int, int] = (1, 3)
    objects_per_support: tuple[int, int] = (3, 5)
    #: chance that an object repeats a category already on the same piece of furniture
    repeat_prob: float = 0.4
    #: largest object extent (m): kitchen appliances (microwave, toaster…) stand on counters
    max_object_size: float = 0.45
    max_repeats_per_category: int = 2
    #: keep this much floor free in front of the open side, for the viewer
    viewer_clearance: float = 1.4
    camera_height: tuple[float, float] = (1.35, 1.7)
    #: horizontal distance (m) from the focus furniture's objects to the camera, and the spread
    #: of viewing directions (deg) around the furniture's front
    view_distance: tuple[float, float] = (0.8, 1.4)
    view_azimuth: float = 35.0
    fov_x: tuple[float, float] = (50.0, 65.0)
    #: furniture taller than this would put its top (where objects stand) out of view
    max_support_height: float = 1.2
    light_elevation: tuple[float, float] = (35.0, 60.0)
    light_intensity: tuple[float, float] = (0.7, 1.0)
    ambient: tuple[float, float] = (0.35, 0.5)


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float | None:
    """A uniform draw in [lo, hi], or None when the interval is empty (the piece does not fit)."""
    return float(rng.uniform(lo, hi)) if hi >= lo else None


def _structure(rng: np.random.Generator, cfg: RoomConfig) -> tuple[list[SceneObject], float, float]:
    lib = get_library()
    # a 10 cm grid of room sizes keeps the number of distinct floor / wall meshes small
    W, D, H = (round(_u(rng, r) * 10) / 10 for r in (cfg.width, cfg.depth, cfg.wall_height))
    floor = SceneObject(FLOOR_ID, "proc/floor", "floor", (0.0, 0.0, 0.0), role="structure", category_zh="地板",
                        params={"width": round(W + 0.4, 4), "depth": round(D + 0.4, 4)},
                        material=sample_surface_material(rng, list(lib.entry("proc/floor").textures)))
    wall_material = sample_surface_material(rng, list(lib.entry("proc/wall").textures), (0.85, 1.0))
    t = 0.1
    walls = [
        SceneObject(WALL_IDS[0], "proc/wall", "wall", (0.0, D / 2 + t / 2, 0.0), 0.0, category_zh="墙",
                    params={"width": round(W + 2 * t, 4), "height": round(H, 4), "thickness": t},
                    role="structure", material=wall_material),
        SceneObject(WALL_IDS[1], "proc/wall", "wall", (-W / 2 - t / 2, 0.0, 0.0), 90.0, category_zh="墙",
                    params={"width": round(D, 4), "height": round(H, 4), "thickness": t},
                    role="structure", material=wall_material),
        SceneObject(WALL_IDS[2], "proc/wall", "wall", (W / 2 + t / 2, 0.0, 0.0), -90.0, category_zh="墙",
                    params={"width": round(D, 4), "height": round(H, 4), "thickness": t},
                    role="structure", material=wall_material),
    ]
    return [floor, *walls], W, D


def _furniture_params(rng: np.random.Generator, asset_id: str, cfg: RoomConfig) -> dict[str, float]:
    entry = get_library().entry(asset_id)
    out = {}
    for name, (lo, hi) in sorted(entry.param_ranges.items()):
        if name == "height":
            hi = min(hi, cfg.max_support_height)
            lo = min(lo, hi)
        v = float(rng.uniform(lo, hi))
        # whole boards; lengths on a 5 cm grid so generated meshes are reused across scenes
        out[name] = float(round(v)) if name == "boards" else min(max(round(v * 20) / 20, lo), hi)
    return out


def _rectangle_xy(x: float, y: float, w: float, d: float, yaw_deg: float) -> np.ndarray:
    """float64 ``(4, 2)`` corners (world xy, m) of a ``w × d`` rectangle centred at (x, y),
    rotated by ``yaw_deg``."""
    corners = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    return corners @ rot_z(yaw_deg)[:2, :2].T + [x, y]


def _rectangle(x: float, y: float, w: float, d: float, yaw_deg: float) -> Polygon:
    """A ``w × d`` rectangle centred at (x, y), rotated by ``yaw_deg`` (shapely Polygon)."""
    return Polygon(_rectangle_xy(x, y, w, d, yaw_deg))


def _piece(rng: np.random.Generator, item: PoolItem, cfg: RoomConfig) -> tuple[dict[str, float], float, float] | None:
    """Parameters and nominal footprint (w, d in m) of a piece of furniture, or ``None`` when a
    support's top would be out of view (higher than ``cfg.max_support_height``)."""
    e = item.entry
    if e.is_parametric:
        params = _furniture_params(rng, e.id, cfg)
        return params, params["width"], params["depth"]
    row = get_library().scene_role(e.id)  # the verified top, without loading the mesh
    if e.role == "support" and row is not None and row["top"][0] > cfg.max_support_height:
        return None
    return {}, float(e.size_m[0]), float(e.size_m[1])


def _pose(rng: np.random.Generator, cfg: RoomConfig, W: float, D: float, where: str, w: float, d: float
          ) -> tuple[float, float | None, float | None]:
    """A yaw (deg) and position for a ``w × d`` piece: free standing, or back against one of the
    three walls facing into the room (positions ``None`` when it does not fit)."""
    lo_y = -D / 2 + cfg.viewer_clearance
    if where == "free":
        yaw = float(rng.choice([0.0, 90.0]))
        return yaw, _uniform(rng, -W / 2 + 0.6, W / 2 - 0.6), _uniform(rng, lo_y + 0.3, D / 2 - 0.6)
    wall = int(rng.integers(3))
    if wall == 0:   # back wall, facing -y (toward the viewer)
        return 0.0, _uniform(rng, -W / 2 + w / 2, W / 2 - w / 2), D / 2 - d / 2 - 0.02
    if wall == 1:   # left wall, facing +x
        return 90.0, -W / 2 + d / 2 + 0.02, _uniform(rng, lo_y + w / 2, D / 2 - w / 2)
    return -90.0, W / 2 - d / 2 - 0.02, _uniform(rng, lo_y + w / 2, D / 2 - w / 2)  # right wall, facing -x


def _place_furniture(rng: np.random.Generator, cfg: RoomConfig, W: float, D: float, group: str,
                     supports: bool, n: int, first_id: int, polys: list, used: set[str]) -> list[SceneObject]:
    """Up to ``n`` pieces of ``group``'s furniture (``supports``: pieces that carry objects, else
    furnishing pieces), the group's :data:`ANCHORS` first, one per category (``used``: categories
    already in the room, updated in place), without overlapping ``polys`` (updated in place)."""
    items = pool.furniture(group, supports=supports)
    shuffled = [items[i] for i in rng.permutation(len(items))]
    anchors = ANCHORS[group][0 if supports else 1]
    order = [i for i in shuffled if i.entry.category in anchors] + [i for i in shuffled if i.entry.category not in anchors]
    placed: list[SceneObject] = []
    for item in order:
        if len(placed) >= n:
            break
        e = item.entry
        if e.category in used:
            continue
        for _ in range(25 if e.category in anchors else 10):
            piece = _piece(rng, item, cfg)
            if piece is None:
                break
            params, w, d = piece
            yaw, x, y = _pose(rng, cfg, W, D, item.where, w, d)
            if x is None or y is None:
                continue
            zh = FURNITURE_ZH.get(e.id, e.category_zh)
            material = (sample_surface_material(rng, list(e.textures)) if e.is_parametric
                        else Material(color=(1.0, 1.0, 1.0)))
            xy = _rectangle_xy(x, y, w, d, yaw)  # the piece's nominal footprint: no mesh needed yet
            (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
            inside = x0 > -W / 2 and x1 < W / 2 and y0 > -D / 2 + cfg.viewer_clearance and y1 < D / 2
            if not inside:
                continue
            fp = Polygon(xy)
            if not polygons_overlap_any(fp, polys, 0.25):
                placed.append(SceneObject(first_id + len(placed), e.id, e.category, (round(x, 4), round(y, 4), 0.0),
                                          yaw, category_zh=zh, params=params, role=e.role,
                                          description=e.category, description_zh=zh, material=material))
                polys.append(fp)
                used.add(e.category)
                break
    return placed


def _camera(rng: np.random.Generator, cfg: RoomConfig, W: float, D: float, furniture: list[SceneObject],
            objects: list[SceneObject], width: int, height: int) -> Camera:
    """Eye-height camera in front of one piece of furniture (the focus), aimed at the objects on
    it from ``cfg.view_distance`` away, within ``cfg.view_azimuth`` of the piece's front."""
    holders = [f for f in furniture if any(o.support_id == f.instance_id for o in objects)] or furniture
    focus = holders[int(rng.integers(len(holders)))]
    on_it = [o for o in objects if o.support_id == focus.instance_id] or [focus]
    pts = np.concatenate([object_box_world(o).corners() for o in on_it])
    look = (pts.min(axis=0) + pts.max(axis=0)) / 2
    blocked = np.array([footprint(f).buffer(0.25) for f in furniture], dtype=object)
    fov = _u(rng, cfg.fov_x)
    eye = None
    for _ in range(40):
        az = math.radians(focus.yaw_deg - 90.0 + _u(rng, (-cfg.view_azimuth, cfg.view_azimuth)))
        r = _u(rng, cfg.view_distance)
        cand = np.array([look[0] + r * math.cos(az), look[1] + r * math.sin(az), _u(rng, cfg.camera_height)])
        inside = -W / 2 + 0.2 < cand[0] < W / 2 - 0.2 and -D / 2 - 0.3 < cand[1] < D / 2 - 0.2
        if inside and not shapely.contains_xy(blocked, cand[0], cand[1]).any():
            eye = cand
            break
    if eye is None:  # fall back to the open side of the room
        eye = np.array([look[0], -D / 2 - 0.2, _u(rng, cfg.camera_height)])
    K = intrinsics_from_fov(width, height, fov)
    return Camera.create(K, look_at(eye, look), width, height, near=0.05, far=30.0)


def _light(rng: np.random.Generator, cfg: RoomConfig) -> Light:
    elev = math.radians(_u(rng, cfg.light_elevation))
    az = math.radians(float(rng.uniform(40.0, 140.0)))  # from the open (viewer) side, like a window
    direction = (-math.cos(elev) * math.cos(az), math.cos(elev) * math.sin(az), -math.sin(elev))
    return Light(direction=tuple(round(d, 6) for d in direction), intensity=round(_u(rng, cfg.light_intensity), 4),
                 ambient=round(_u(rng, cfg.ambient), 4), color=(1.0, 0.98, 0.95))


def sample_room_scene(rng: np.random.Generator, width: int, height: int, cfg: RoomConfig = RoomConfig(),
                      split: str | None = None) -> Scene:
    """One room scene (no render). Deterministic given the generator state; ``split`` selects
    that split's asset colour variants."""
    structure, W, D = _structure(rng, cfg)
    group = GROUPS[int(rng.integers(len(GROUPS)))]
    polys: list = []
    used: set[str] = set()
    n = int(rng.integers(cfg.num_furniture[0], cfg.num_furniture[1] + 1))
    furniture = _place_furniture(rng, cfg, W, D, group, True, n, FIRST_FURNITURE_ID, polys, used)
    k = int(rng.integers(cfg.num_furnishing[0], cfg.num_furnishing[1] + 1))
    furnishing = _place_furniture(rng, cfg, W, D, group, False, k, FIRST_FURNITURE_ID + len(furniture), polys, used)
    entries = pool.objects("room", cfg.max_object_size, group)
    counts: dict[str, int] = {}
    objects: list[SceneObject] = []
    for piece in furniture:
        n = int(rng.integers(cfg.objects_per_support[0], cfg.objects_per_support[1] + 1))
        objects += scatter_objects(rng, piece, n, entries, first_id=FIRST_OBJECT_ID + len(objects),
                                   edge_margin=0.03, gap=0.03, extent=0.9,
                                   max_repeats=cfg.max_repeats_per_category, counts=counts, split=split,
                                   repeat_prob=cfg.repeat_prob, min_receptacles=1 if n >= 2 else 0)
    light = _light(rng, cfg)
    camera = _camera(rng, cfg, W, D, [*furniture, *furnishing], objects, width, height)
    return Scene(subset="room", objects=[*structure, *furniture, *furnishing, *objects], light=light, camera=camera,
                 background=(0.9, 0.9, 0.92), asset_manifest_sha256=get_library().pool_sha256)
