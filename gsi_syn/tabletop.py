"""Tabletop scene sampler: a table on a floor (a textured parametric one, or a Sweet Home 3D
table, desk or coffee table with a verified flat top), 4–9 objects of one "goes with" group
(kitchen, dining, living room, office, bedroom; :mod:`gsi_syn.assets.roles`) resting on it, a sun
light and a camera looking at the objects from the front half of the table.

World frame: the floor is ``z = 0``, the table is centred at the origin with its long side along
``x``; the viewer stands on the ``-y`` side (azimuth 0 = camera on ``-y`` looking toward ``+y``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gsi_bench.geometry import intrinsics_from_fov, look_at, project_points
from gsi_bench.scene import Camera, Light, Material, Scene, SceneObject
from gsi_syn.assets import get_library, pool
from gsi_syn.assets.roles import GROUPS
from gsi_syn.materials import sample_surface_material
from gsi_syn.placement import object_box_world, support_region
from gsi_syn.scatter import scatter_objects

TABLE_ID = 1
FLOOR_ID = 2
FIRST_OBJECT_ID = 10


@dataclass(frozen=True)
class TabletopConfig:
    """Sampling ranges of a tabletop scene (lengths in m, angles in degrees)."""

    table_width: tuple[float, float] = (1.0, 1.6)
    table_depth: tuple[float, float] = (0.7, 1.0)
    table_height: tuple[float, float] = (0.72, 0.78)
    num_objects: tuple[int, int] = (4, 9)
    #: chance that the table is a Sweet Home 3D model of the scene's group (else the parametric one)
    model_table_prob: float = 0.5
    #: a model table's verified top must be at least this large (m, long side × short side)
    model_table_min_top: tuple[float, float] = (0.8, 0.5)
    #: objects keep this far from the table edge and from each other when the scene is sampled
    edge_margin: float = 0.04
    object_gap: float = 0.03
    #: fraction of the table (centred) that initial placements use, so edits have room to move
    placement_extent: float = 0.6
    #: …but at most this long a side (m): on a large table the layout stays as compact as on
    #: the largest parametric one, so objects keep their size in the image
    max_layout_m: float = 0.96
    max_repeats_per_category: int = 2
    #: chance that an object repeats a category already on the table (removals then need
    #: referring expressions)
    repeat_prob: float = 0.25
    #: receptacles (tray, bowl, plate, box, basket…) every scene holds at least
    min_receptacles: int = 1
    #: largest object extent (m) allowed on a table
    max_object_size: float = 0.4
    camera_elevation: tuple[float, float] = (30.0, 60.0)
    camera_azimuth: tuple[float, float] = (-35.0, 35.0)
    fov_x: tuple[float, float] = (45.0, 60.0)
    #: the objects' bounding circle fills this fraction of the horizontal field of view
    framing: tuple[float, float] = (0.8, 0.95)
    light_elevation: tuple[float, float] = (40.0, 75.0)
    light_intensity: tuple[float, float] = (0.8, 1.2)
    ambient: tuple[float, float] = (0.25, 0.45)


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _surface_textures(asset_id: str) -> list[str]:
    return list(get_library().entry(asset_id).textures)


def model_tables(group: str, cfg: TabletopConfig) -> list[str]:
    """Ids of the Sweet Home 3D supports of ``group`` that can hold a tabletop scene: free-standing
    (tables, coffee tables…) or desks, with a verified top of at least ``cfg.model_table_min_top``."""
    lib = get_library()
    out = []
    for item in pool.furniture(group, supports=True):
        row = lib.scene_role(item.entry.id)
        if row is None:
            continue
        _, x0, x1, y0, y1 = row["top"]
        long, short = max(x1 - x0, y1 - y0), min(x1 - x0, y1 - y0)
        if long >= cfg.model_table_min_top[0] and short >= cfg.model_table_min_top[1]:
            out.append(item.entry.id)
    return out


def sample_table_and_floor(rng: np.random.Generator, cfg: TabletopConfig, group: str | None = None
                           ) -> list[SceneObject]:
    """The table (support, id 1) and floor (structure, id 2). With ``group``, the table is a
    Sweet Home 3D model of that group with probability ``cfg.model_table_prob``."""
    width, depth, height = _u(rng, cfg.table_width), _u(rng, cfg.table_depth), _u(rng, cfg.table_height)
    table = SceneObject(
        instance_id=TABLE_ID, asset_id="proc/table", category="table", category_zh="桌子",
        position=(0.0, 0.0, 0.0), role="support",
        params={"width": round(width, 4), "depth": round(depth, 4), "height": round(height, 4),
                "top_thickness": 0.04},
        material=sample_surface_material(rng, _surface_textures("proc/table")))
    models = model_tables(group, cfg) if group is not None else []
    if models and rng.random() < cfg.model_table_prob:
        e = get_library().entry(models[int(rng.integers(len(models)))])
        table = SceneObject(instance_id=TABLE_ID, asset_id=e.id, category=e.category, category_zh=e.category_zh,
                            position=(0.0, 0.0, 0.0), role="support", material=Material(color=(1.0, 1.0, 1.0)))
    floor = SceneObject(
        instance_id=FLOOR_ID, asset_id="proc/floor", category="floor", category_zh="地板",
        position=(0.0, 0.0, 0.0), role="structure", params={"width": 8.0, "depth": 8.0},
        material=sample_surface_material(rng, _surface_textures("proc/floor")))
    return [table, floor]


def place_objects(rng: np.random.Generator, cfg: TabletopConfig, table: SceneObject,
                  first_id: int = FIRST_OBJECT_ID, split: str | None = None,
                  group: str | None = None) -> list[SceneObject]:
    """Sample ``cfg.num_objects`` objects (of ``group`` when given: things that go together)
    resting upright on ``table`` without overlaps."""
    n = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    minx, miny, maxx, maxy = support_region(table)[0].bounds
    extent = min(cfg.placement_extent, cfg.max_layout_m / max(maxx - minx, maxy - miny))
    return scatter_objects(rng, table, n, pool.objects("tabletop", cfg.max_object_size, group),
                           first_id=first_id, edge_margin=cfg.edge_margin, gap=cfg.object_gap,
                           extent=extent, max_repeats=cfg.max_repeats_per_category,
                           min_receptacles=cfg.min_receptacles, split=split, repeat_prob=cfg.repeat_prob)


def sample_light(rng: np.random.Generator, cfg: TabletopConfig) -> Light:
    elev = math.radians(_u(rng, cfg.light_elevation))
    az = rng.uniform(0, 2 * math.pi)
    direction = (-math.cos(elev) * math.cos(az), -math.cos(elev) * math.sin(az), -math.sin(elev))
    warm = float(rng.uniform(-0.05, 0.05))
    return Light(direction=tuple(round(d, 6) for d in direction),
                 intensity=round(_u(rng, cfg.light_intensity), 4), ambient=round(_u(rng, cfg.ambient), 4),
                 color=(1.0, round(1.0 - abs(warm), 4), round(1.0 - 2 * abs(warm), 4)))


def frame_camera(rng: np.random.Generator, cfg: TabletopConfig, objects: list[SceneObject],
                 width: int, height: int) -> Camera:
    """A camera on the viewer's side looking at the objects' centre, backed off until every
    object's 3D box projects inside the image."""
    boxes = [object_box_world(o) for o in objects]
    pts = np.concatenate([b.corners() for b in boxes])
    centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
    radius = float(np.max(np.linalg.norm(pts[:, :2] - centre[:2], axis=1)))
    fov = _u(rng, cfg.fov_x)
    fov_small = min(fov, 2 * math.degrees(math.atan(math.tan(math.radians(fov) / 2) * height / width)))
    framing = _u(rng, cfg.framing)
    dist = radius / math.tan(math.radians(fov_small) / 2 * framing) + 0.15
    elev = math.radians(_u(rng, cfg.camera_elevation))
    az = math.radians(_u(rng, cfg.camera_azimuth))
    look = np.array([centre[0], centre[1], float(pts[:, 2].min())])
    K = intrinsics_from_fov(width, height, fov)
    for _ in range(30):
        direction = np.array([math.sin(az) * math.cos(elev), -math.cos(az) * math.cos(elev), math.sin(elev)])
        eye = look + dist * direction
        T = look_at(eye, look)
        uv, zc = project_points(K, T, pts)
        inside = (zc > 0.05).all() and (uv[:, 0] >= 2).all() and (uv[:, 0] <= width - 3).all() \
            and (uv[:, 1] >= 2).all() and (uv[:, 1] <= height - 3).all()
        if inside:
            break
        dist *= 1.1
    return Camera.create(K, T, width, height, near=0.05, far=30.0)


def sample_tabletop_scene(rng: np.random.Generator, width: int, height: int,
                          cfg: TabletopConfig = TabletopConfig(), split: str | None = None) -> Scene:
    """One tabletop scene (no render). Deterministic given the generator state; ``split``
    selects that split's asset colour variants."""
    group = GROUPS[int(rng.integers(len(GROUPS)))]
    table, floor = sample_table_and_floor(rng, cfg, group)
    objects = place_objects(rng, cfg, table, split=split, group=group)
    light = sample_light(rng, cfg)
    camera = frame_camera(rng, cfg, objects, width, height)
    bg = float(rng.uniform(0.75, 0.92))
    return Scene(subset="tabletop", objects=[table, floor, *objects], light=light, camera=camera,
                 background=(round(bg, 4), round(bg, 4), round(min(bg + 0.03, 1.0), 4)),
                 asset_manifest_sha256=get_library().pool_sha256)
