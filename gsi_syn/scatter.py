"""Scatter small objects on a support surface: upright, random yaw, no overlaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gsi_bench.scene import SceneObject
from gsi_syn.assets import AssetEntry
from gsi_syn.materials import sample_object_material
from shapely.geometry import Polygon

from gsi_syn.placement import polygons_overlap_any, posed_hull_xy, support_region


def object_description(colour: str | None, category: str) -> str:
    """The English name of a recoloured object: ``"red mug"``; the colour is left out when the
    category already names it (an orange is an "orange", not an "orange orange").

    >>> object_description("red", "mug"), object_description("orange", "orange"), object_description(None, "cup")
    ('red mug', 'orange', 'cup')
    """
    if not colour or colour.lower() in category.lower().split():
        return category
    return f"{colour} {category}"


def scatter_objects(rng: np.random.Generator, support: SceneObject, n: int, entries: Sequence[AssetEntry], *,
                    first_id: int, edge_margin: float = 0.04, gap: float = 0.03, extent: float = 1.0,
                    max_repeats: int = 2, min_receptacles: int = 0,
                    counts: dict[str, int] | None = None, split: str | None = None,
                    repeat_prob: float = 0.0) -> list[SceneObject]:
    """Up to ``n`` objects drawn from ``entries`` resting on ``support``'s top surface.

    Positions are uniform in the central ``extent`` fraction of the surface's bounding box;
    a candidate is kept only when its footprint lies ``edge_margin`` (m) inside the surface and
    ``gap`` (m) away from the others. The first ``min_receptacles`` objects are receptacles (while
half of the attempt budget lasts).
    ``counts`` (category → number in the scene) is updated in place so repeats can be limited
    across several supports. Instance ids are ``first_id, first_id + 1, …``. ``split`` selects
    that split's colour variants (train and test never share an (asset, colour) instance).
    ``repeat_prob``: chance that a draw repeats the category of an object already placed on this
    support (so removals need referring expressions).
    """
    counts = {} if counts is None else counts
    receptacles = [e for e in entries if e.role == "receptacle"]
    region, z = support_region(support)
    minx, miny, maxx, maxy = region.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    hx, hy = (maxx - minx) / 2 * extent, (maxy - miny) / 2 * extent
    inner = region.buffer(-edge_margin)
    inner_box = np.asarray(inner.bounds) if not inner.is_empty else np.array([np.inf, np.inf, -np.inf, -np.inf])
    placed: list[SceneObject] = []
    polys = []
    attempts = 0
    while len(placed) < n and attempts < 40 * max(n, 1):
        attempts += 1
        # the first half of the attempts insist on the receptacles; on a top too small for any
        # of them, the rest go to other objects rather than leaving the support empty
        need_receptacle = (sum(o.role == "receptacle" for o in placed) < min_receptacles and receptacles
                           and attempts <= 20 * max(n, 1))
        pool = receptacles if need_receptacle else entries
        here = {o.category for o in placed}
        if here and rng.random() < repeat_prob:
            pool = [e for e in entries if e.category in here] or pool
        entry = pool[int(rng.integers(len(pool)))]
        if counts.get(entry.category, 0) >= max_repeats:
            continue
        scale = float(rng.uniform(*entry.size_range))
        yaw = float(rng.uniform(0.0, 360.0))
        pos = (float(rng.uniform(cx - hx, cx + hx)), float(rng.uniform(cy - hy, cy + hy)), z)
        material, colour, colour_zh = sample_object_material(rng, entry.recolorable, list(entry.textures),
                                                             entry.category, entry.id, split)
        yaw, scale = round(yaw, 3), round(scale, 4)
        xy = posed_hull_xy(entry.id, {}, scale, yaw, pos[:2])
        # a footprint whose box leaves the region's box is not inside it: no polygon needed
        if (xy.min(axis=0) < inner_box[:2]).any() or (xy.max(axis=0) > inner_box[2:]).any():
            continue
        fp = Polygon(xy)
        if not inner.contains(fp) or polygons_overlap_any(fp, polys, gap):
            continue
        placed.append(SceneObject(
            instance_id=first_id + len(placed), asset_id=entry.id, category=entry.category,
            category_zh=entry.category_zh, position=pos, yaw_deg=yaw, scale=scale,
            material=material, role=entry.role, support_id=support.instance_id,
            description=object_description(colour, entry.category),
            description_zh=f"{colour_zh}的{entry.category_zh}" if colour and colour_zh not in entry.category_zh
            else entry.category_zh))
        polys.append(fp)
        counts[entry.category] = counts.get(entry.category, 0) + 1
    return placed


def small_object_entries(scene_type: str, max_size: float) -> list[AssetEntry]:
    """Movable objects and receptacles of the pool (core assets and Sweet Home 3D models,
    :func:`gsi_syn.assets.pool.objects`) that suit ``scene_type`` and whose largest extent (at
    the top of their scale range) is at most ``max_size`` (m)."""
    from gsi_syn.assets import pool

    return pool.objects(scene_type, max_size)
