"""What each model of the pool can do in a scene, and which models go together.

The Sweet Home 3D catalogue names things (:func:`.sweethome3d.plain_noun` turns its names into
nouns) but says nothing about whether a model stands on a table, holds things or only furnishes a
room. This module decides that from the catalogue metadata alone (:func:`assign_role`: the noun,
the catalogue category, the size), with a small vocabulary (:data:`VOCABULARY`) that also gives
each noun the name people use in instructions and the "goes with" groups (:data:`GROUPS`: kitchen,
dining, living room, office, bedroom) that themed scenes draw from. The core assets get groups by
category (:data:`CORE_GROUPS`).

Roles (``Role.role``):

* ``object`` — movable, stands on a table or counter (cups, lamps, books, toasters…);
* ``receptacle`` — an object others can be put onto / into (tray, plate, bowl…);
* ``support`` — furniture whose flat, clear top carries objects (tables, desks, cabinets…); the
  top is verified on the mesh by :func:`top_surface`;
* ``furniture`` — furnishes a room but carries nothing (sofas, chairs, beds, plants, fridges…);
  in a scene it has the role ``"structure"``, like walls.

``where`` says where furniture stands in a room: ``"wall"`` (back against a wall) or ``"free"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The "goes with" groups: a themed table or room draws its objects from one of them.
GROUPS = ("kitchen", "dining", "living", "office", "bedroom")


@dataclass(frozen=True)
class Role:
    """A model's part in scenes: ``role`` (see module docstring), ``noun`` (category used in
    instructions), ``groups`` (subset of :data:`GROUPS`), ``where`` (furniture: ``"wall"`` or
    ``"free"``; objects: ``""``)."""

    role: str
    noun: str
    groups: tuple[str, ...]
    where: str = ""


def _table(role: str, where: str, text: str) -> dict[str, Role]:
    """Parse ``"catalogue noun[=plain noun]: group group; …"`` lines into a noun → Role table."""
    out = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        names, groups = item.split(":")
        key, _, noun = names.partition("=")
        out[key.strip()] = Role(role, (noun or key).strip(), tuple(groups.split()), where)
    return out


_K, _D, _L, _O, _B = GROUPS

#: Catalogue noun → :class:`Role`. Nouns absent from it (wall sockets, radiators, cars, clothes
#: on hangers, bathroom fittings…) are not used in scenes. No noun may be a word instructions use
#: for something else: cameras are left out ("camera" is the viewpoint in perspective edits, and
#: the official scorer routes any prompt naming a camera to its view metric).
VOCABULARY: dict[str, Role] = {
    **_table("object", "", """
        butter: kitchen; coffee cup: kitchen dining office; cup: kitchen dining; milk: kitchen;
        yogurt bottle: kitchen; beer glass=beer mug: dining living; bread: kitchen dining; coffee brewer=coffee maker: kitchen;
        coffee maker: kitchen office; cup cake=cupcake: kitchen dining; hot dog: kitchen; beer bottle: kitchen living;
        fork: dining; glass: kitchen dining; blender: kitchen; kitchen knife: kitchen; knife: dining;
        pan: kitchen; microwave: kitchen; spoon: dining kitchen; bread box: kitchen; kitchen scale: kitchen;
        utensils pot=utensil holder: kitchen; cocktail glass: dining living; coffee press=french press: kitchen;
        espresso kettle=moka pot: kitchen; hamburger: kitchen dining; salt shaker: dining kitchen;
        coffee mug=mug: kitchen office living; oil servers=oil bottles: kitchen dining; wine bottle: dining kitchen;
        jar: kitchen; pottery=clay pot: living kitchen; teapot: dining kitchen living; creamer: dining kitchen;
        sugar=sugar pot: dining kitchen; apples: kitchen dining; coffee machine: kitchen; birthday cake: dining;
        squeezer=juicer: kitchen; roasted chicken: dining kitchen; bowl with fruits=fruit bowl: dining kitchen living;
        bowl with salad=salad bowl: dining kitchen; deep fryer: kitchen; electronic scale=kitchen scale: kitchen;
        french fries: kitchen dining; knife stand=knife block: kitchen; paper towel holder: kitchen;
        sandwich maker: kitchen; spice tower=spice rack: kitchen; steak: kitchen dining; toaster: kitchen;
        stone grill device=grill: kitchen dining; mixer: kitchen; plate, glass and cutlery=place setting: dining;
        plate, glasses and cutlery=place setting: dining; candle: dining living bedroom; vase: dining living;
        flowers=flower vase: dining living; tulips: dining living; lily: living dining; orchids=orchid: living;
        plant=potted plant: living office; cactus: office living bedroom; succulent plant=succulent: office living;
        bamboo: living; bonsai tree=bonsai: living office;
        scissors: office; desk lamp: office bedroom; calendar: office; laptop: office living bedroom;
        computer: office; stapler: office; penbox=pen holder: office; phone=desk phone: office;
        inkjet printer and scanner=printer: office; book: office living bedroom; newspaper: living dining;
        headphones: office living bedroom; mobile phone=phone: office living bedroom; tablet: office living;
        glasses: office living bedroom; sunglasses: living bedroom; keys: living office; clock: bedroom office;
        radio: kitchen living; tape measure: office;
        tv remote control=remote control: living; game console: living; joystick=game controller: living;
        dvd player: living; speaker: living office; speaker dock: living bedroom; wireless phone=cordless phone: living;
        picture frame: living bedroom office; chessboard: living; ashtray: living; lamp=table lamp: living bedroom;
        deer=deer figurine: living; mini stereo=stereo: living; stereo amplifier=amplifier: living;
        teddy bear: bedroom; toy car: bedroom; toy train: bedroom; wood toy=wooden toy: bedroom; doll: bedroom;
        biplane=toy plane: bedroom; rubik's cube: bedroom office; handbag: bedroom; cap: bedroom;
        watch: bedroom; folded clothes: bedroom; perfume bottle: bedroom; cosmetics pot=cream jar: bedroom;
        lip stick=lipstick: bedroom; medicine bottle: bedroom; thermometer: bedroom; gift=gift box: living bedroom;
        basketball: bedroom; soccer ball: bedroom; camping lamp=lantern: bedroom; video projector=projector: living office;
        """),
    **_table("receptacle", "", """
        tray: kitchen dining living; plate: dining kitchen; chopping board=cutting board: kitchen;
        bowl: kitchen dining; sushi tray=serving tray: dining; letter tray: office
        """),
    **_table("support", "free", """
        table: dining kitchen office living; round table=table: dining kitchen; coffee table: living;
        folding table=table: dining office; table on trestles=table: office; bar table: kitchen dining;
        children table: bedroom; island=kitchen island: kitchen
        """),
    **_table("support", "wall", """
        desk: office bedroom; desk table=desk: office bedroom; bedside table: bedroom; dresser with drawers=dresser: bedroom;
        chest=dresser: bedroom; tv stand: living; shelves=low shelf: living office; lower cabinet=kitchen cabinet: kitchen;
        drawers cabinet=kitchen cabinet: kitchen; island extension=kitchen cabinet: kitchen; sideboard: dining living
        """),
    **_table("furniture", "wall", """
        sofa: living; corner sofa=sofa: living; futon couch=sofa: living; bed: bedroom; child bed=bed: bedroom;
        bookcase: living office; vertical shelves=bookcase: living office bedroom; wardrobe: bedroom; cupboard: bedroom dining;
        fridge: kitchen; high cabinet=tall cabinet: kitchen; upright piano=piano: living; fireplace: living;
        indoor plant=potted plant: living office bedroom; ficus=potted plant: living office; yucca=potted plant: living;
        spathiphyllum=potted plant: living bedroom; decorative plant=potted plant: living dining office;
        spider plant=potted plant: living; aquarium: living; filing cabinet: office; water cooler: office;
        clothes washing machine=washing machine: kitchen; dryer machine=dryer: kitchen
        """),
    **_table("furniture", "free", """
        armchair: living office; chair: dining kitchen office; chair with cushion=chair: dining;
        stool: kitchen; bar stool: kitchen; bar chair=bar stool: kitchen; pouf: living bedroom; bench: dining
        """),
}

#: Groups of the core (robosuite, pybullet, procedural) object and receptacle categories.
CORE_GROUPS: dict[str, tuple[str, ...]] = {
    "duck": (_B,), "mug": (_K, _O, _L), "teddy bear": (_B,), "soccer ball": (_B,), "lego brick": (_B, _O),
    "domino": (_L, _B), "bunny figurine": (_L, _B), "bottle": (_K, _D), "bread": (_K, _D), "can": (_K, _L),
    "cereal box": (_K,), "lemon": (_K, _D), "milk carton": (_K,), "cup": (_K, _D, _O), "vase": (_D, _L),
    "wine glass": (_D,), "jar": (_K,), "teapot": (_D, _K, _L), "candle": (_D, _L, _B),
    "pencil holder": (_O,), "flower pot": (_L, _O), "potted plant": (_L, _O), "apple": (_K, _D),
    "orange": (_K, _D), "pear": (_K, _D), "banana": (_K, _D), "egg": (_K,), "donut": (_K, _D),
    "tennis ball": (_B,), "book": (_O, _L, _B), "shoe box": (_B,), "toy block": (_B,), "jenga block": (_B, _L),
    "remote control": (_L,), "phone": (_O, _L, _B), "laptop": (_O, _L), "table lamp": (_L, _B, _O),
    "tray": (_K, _D, _L), "bowl": (_K, _D), "plate": (_D, _K), "box": (_O, _B, _L), "basket": (_K, _L, _B),
    "cutting board": (_K,),
}

#: Objects: extents (m) a tabletop model must have (largest side, height) to be seen and placed.
OBJECT_MIN_SIDE_M = 0.05
OBJECT_MIN_HEIGHT_M = 0.012
#: …and its footprint's shorter side (pens, cutlery and lipsticks are too thin to see and edit)
OBJECT_MIN_WIDTH_M = 0.035
OBJECT_MAX_SIDE_M = 0.6
#: Supports: their top must lie in this height range (m) and the clear part of it be at least
#: this large (m × m, the smaller side second).
SUPPORT_HEIGHT_M = (0.35, 1.15)
SUPPORT_MIN_TOP_M = (0.3, 0.25)
#: Models with more triangles than this are left out of scenes (they slow generation down):
#: furniture, and objects (which also collide in the physics check).
MAX_FACES = 40_000
MAX_OBJECT_FACES = 15_000


def assign_role(noun: str, catalog_category: str, size_m: tuple[float, float, float]) -> Role | None:
    """The :class:`Role` a catalogue model can play, from its metadata alone, or ``None``.

    ``noun``: the model's :func:`~.sweethome3d.plain_noun`; ``catalog_category``: the catalogue's
    category (outdoor ones, ``Exterior`` and ``Vehicles``, are never used); ``size_m``: width,
    depth, height (m). Objects and receptacles must be tabletop-sized (largest side in
    [:data:`OBJECT_MIN_SIDE_M`, :data:`OBJECT_MAX_SIDE_M`], height at least
    :data:`OBJECT_MIN_HEIGHT_M`, footprint at least :data:`OBJECT_MIN_WIDTH_M` wide); supports must stand :data:`SUPPORT_HEIGHT_M` high and be large
    enough to carry :data:`SUPPORT_MIN_TOP_M`; furniture must be at least 0.3 m a side.

    >>> assign_role("coffee mug", "Kitchen", (0.09, 0.12, 0.11)).noun
    'mug'
    >>> assign_role("desk", "Office", (1.6, 0.8, 0.72)).role
    'support'
    >>> assign_role("table", "Living room", (0.3, 0.3, 0.2)) is None   # a toy-sized table
    True
    """
    spec = VOCABULARY.get(noun)
    if spec is None or catalog_category in ("Exterior", "Vehicles"):
        return None
    w, d, h = (float(x) for x in size_m)
    if spec.role in ("object", "receptacle"):
        ok = (OBJECT_MIN_SIDE_M <= max(w, d, h) <= OBJECT_MAX_SIDE_M and h >= OBJECT_MIN_HEIGHT_M
              and min(w, d) >= OBJECT_MIN_WIDTH_M)
    elif spec.role == "support":
        ok = SUPPORT_HEIGHT_M[0] <= h <= SUPPORT_HEIGHT_M[1] and max(w, d) >= SUPPORT_MIN_TOP_M[0] \
            and min(w, d) >= SUPPORT_MIN_TOP_M[1]
    else:
        ok = max(w, d, h) >= 0.3
    return spec if ok else None


# -- top surfaces ------------------------------------------------------------------------------------
def _largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Largest all-True axis-aligned rectangle of a bool grid ``(R, C)``: ``(r0, r1, c0, c1)``
    (inclusive-exclusive); all zeros when the grid has no True cell."""
    best, best_rect = 0, (0, 0, 0, 0)
    heights = np.zeros(mask.shape[1], dtype=np.int64)
    for r in range(mask.shape[0]):
        heights = np.where(mask[r], heights + 1, 0)
        stack: list[int] = []
        for c in range(len(heights) + 1):
            h = int(heights[c]) if c < len(heights) else 0
            while stack and int(heights[stack[-1]]) >= h:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = int(heights[top]) * (c - left)
                if area > best:
                    best, best_rect = area, (r - int(heights[top]) + 1, r + 1, left, c)
            stack.append(c)
    return best_rect


@dataclass(frozen=True)
class TopSurface:
    """The clear, flat top of a model (canonical frame, m): height ``z`` and the largest
    axis-aligned rectangle ``x_min…y_max`` over which a ray cast straight down first hits the
    mesh at ``z`` (± the tolerance) on an upward-facing triangle."""

    z: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def as_list(self) -> list[float]:
        return [round(v, 5) for v in (self.z, self.x_min, self.x_max, self.y_min, self.y_max)]


def top_surface(vertices: np.ndarray, faces: np.ndarray, *, cells: int = 64, tol_m: float = 0.004,
                min_top_m: tuple[float, float] = SUPPORT_MIN_TOP_M, min_height_m: float = SUPPORT_HEIGHT_M[0]
                ) -> TopSurface | None:
    """The flat, clear top surface of a mesh, verified by ray casting, or ``None`` when it has none.

    ``vertices`` float ``(V, 3)`` (canonical frame: z up, base at 0), ``faces`` int ``(F, 3)``.
    Rays go straight down on a ``cells × cells`` grid over the footprint; the top's height is the
    first-hit height (1 cm bins, at least ``min_height_m``) covering most of the grid among
    upward-facing hits (normal z > 0.97); the surface is the largest rectangle of cells whose
    first hit lies within ``tol_m`` of it, inset by one cell, at the median height of those
    hits. It must be at least ``min_top_m`` (long side, short side) large.
    """
    import trimesh

    tm = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    (x0, y0, _), (x1, y1, z1) = tm.bounds
    xs, ys = np.linspace(x0, x1, cells + 2)[1:-1], np.linspace(y0, y1, cells + 2)[1:-1]
    gx, gy = np.meshgrid(xs, ys)  # (rows = y, cols = x)
    origins = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z1 + 0.05)], axis=1)
    dirs = np.tile([0.0, 0.0, -1.0], (len(origins), 1))
    loc, ray, tri = tm.ray.intersects_location(origins, dirs, multiple_hits=False)
    hit_z = np.full(len(origins), np.nan)
    up = np.zeros(len(origins), bool)
    hit_z[ray] = loc[:, 2]
    with np.errstate(invalid="ignore"):
        up[ray] = np.abs(tm.face_normals[tri, 2]) > 0.97
    good = up & (hit_z >= min_height_m)
    if not good.any():
        return None
    bins = np.round(hit_z[good] * 100).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    z_top = values[np.argmax(counts)] / 100.0
    flat = (np.abs(hit_z - z_top) <= max(tol_m, 0.006)) & up
    r0, r1, c0, c1 = _largest_rectangle(flat.reshape(gx.shape))
    if r1 - r0 < 3 or c1 - c0 < 3:
        return None
    inside = np.zeros(gx.shape, bool)
    inside[r0:r1, c0:c1] = True
    z = float(np.median(hit_z[inside.ravel() & flat]))
    if np.any(np.abs(hit_z[inside.ravel()] - z) > tol_m):
        return None  # a slope or step within the rectangle: not one flat top
    step_x, step_y = xs[1] - xs[0], ys[1] - ys[0]
    s = TopSurface(z=z, x_min=float(xs[c0] + step_x / 2), x_max=float(xs[c1 - 1] - step_x / 2),
                   y_min=float(ys[r0] + step_y / 2), y_max=float(ys[r1 - 1] - step_y / 2))
    sides = sorted((s.x_max - s.x_min, s.y_max - s.y_min), reverse=True)
    if sides[0] < min_top_m[0] or sides[1] < min_top_m[1]:
        return None
    return s


def receptacle_floor_area(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Area (m²) of the inner floor a receptacle offers (the flat region straight-down rays
    first hit within 4 mm of the lowest central hit, as :func:`gsi_syn.placement.support_region`
    uses); 0 when there is none."""
    import trimesh
    from shapely.geometry import MultiPoint

    tm = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    (x0, y0, _), (x1, y1, z1) = tm.bounds
    n = 41
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    origins = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z1 + 0.1)], axis=1)
    loc, idx, _ = tm.ray.intersects_location(origins, np.tile([0.0, 0.0, -1.0], (len(origins), 1)),
                                             multiple_hits=False)
    hit_z = np.full(len(origins), np.nan)
    hit_z[idx] = loc[:, 2]
    central = (np.abs(gx.ravel()) <= (x1 - x0) / 4) & (np.abs(gy.ravel()) <= (y1 - y0) / 4)
    if not np.isfinite(hit_z[central]).any():
        return 0.0
    flat = np.abs(hit_z - np.nanmin(np.where(central, hit_z, np.nan))) <= 0.004
    step = max(x1 - x0, y1 - y0) / (n - 1)
    region = MultiPoint(origins[flat, :2]).convex_hull.buffer(-step / 2)
    return float(region.area) if region.geom_type == "Polygon" else 0.0


def describe(asset: dict[str, Any]) -> Role | None:
    """:func:`assign_role` of a Sweet Home 3D manifest asset (its ``category``,
    ``catalog_category`` and ``size_m``)."""
    return assign_role(asset["category"], asset["catalog_category"], tuple(asset["size_m"]))



#: :func:`yaw_symmetry`: surface points probed, and the denser sample of the surface they are matched to
SYMMETRY_SAMPLES = (4000, 40000)
#: :func:`yaw_symmetry`: how far (fraction of the footprint's larger side) a rotated probe may lie
#: from the model's surface, at the median and at the :data:`SYMMETRY_QUANTILE` (a handle, a knob or
#: a spout covers a few per cent of the surface: it must not hide among the allowed outliers)
SYMMETRY_TOL = (0.01, 0.03)
SYMMETRY_QUANTILE = 0.995
#: :func:`yaw_symmetry`: a textured model's probe whose colour differs from its match's by more than
#: this (mean |ΔRGB|, 0–255) is a mismatch; rotated probes may mismatch in at most this many more
#: (fraction) than unrotated ones do (the sampling's own spread) — printed buttons or a label count
SYMMETRY_COLOUR_TOL = (40.0, 0.005)


def yaw_symmetry(mesh: Any, samples: tuple[int, int] = SYMMETRY_SAMPLES) -> str:
    """The manifest symmetry label (``none`` | ``2fold`` | ``4fold`` | ``rotational``) of a
    canonical :class:`~gsi_syn.assets.mesh.AssetMesh` under yaw: the largest group of rotations
    about the vertical axis through the footprint centre that map its surface onto itself
    (:data:`SYMMETRY_TOL`) — and, for a textured model, its colours onto the same colours
    (:data:`SYMMETRY_COLOUR_TOL`: a printed pattern breaks it). ``rotational``: 2-fold, 4-fold and
    also 30°, 45° and 72°. Surface points are drawn with fixed seeds (deterministic); a mesh
    without faces is ``none``.

    A rectangular tray is ``2fold``: turned by 180° it looks the same, so the generator states no
    sense for its 90° turns and the scorer judges its yaw modulo 180°."""
    import trimesh
    from scipy.spatial import cKDTree

    from gsi_bench.geometry import rot_z

    verts, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces)
    if len(faces) == 0:
        return "none"
    tm = trimesh.Trimesh(verts, faces, process=False)
    probe, probe_faces = trimesh.sample.sample_surface(tm, samples[0], seed=0)
    dense, dense_faces = trimesh.sample.sample_surface(tm, samples[1], seed=1)
    tree = cKDTree(dense)
    side = float(np.ptp(verts[:, :2], axis=0).max())
    probe_rgb = _surface_colours(mesh, tm, probe, probe_faces)
    dense_rgb = _surface_colours(mesh, tm, dense, dense_faces)

    def colour_error(idx: np.ndarray) -> float:
        """Fraction of probes whose colour differs from their match's (0 without a texture)."""
        if probe_rgb is None:
            return 0.0
        return float((np.abs(probe_rgb - dense_rgb[idx]).mean(axis=1) > SYMMETRY_COLOUR_TOL[0]).mean())

    floor = colour_error(tree.query(probe)[1])

    def symmetric(angle: float) -> bool:
        dist, idx = tree.query(probe @ rot_z(angle).T)
        return bool(np.median(dist) <= SYMMETRY_TOL[0] * side and np.quantile(dist, SYMMETRY_QUANTILE) <= SYMMETRY_TOL[1] * side
                    and colour_error(idx) <= floor + SYMMETRY_COLOUR_TOL[1])

    if not symmetric(180.0):
        return "none"
    if not symmetric(90.0):
        return "2fold"
    return "rotational" if all(symmetric(a) for a in (30.0, 45.0, 72.0)) else "4fold"


def _surface_colours(mesh: Any, tm: Any, points: np.ndarray, face_idx: np.ndarray) -> np.ndarray | None:
    """float ``(N, 3)`` texture colours (0–255) at surface ``points`` of faces ``face_idx``, or
    ``None`` for a model without texture or UVs (one colour: geometry alone decides)."""
    import trimesh

    texture, uv = getattr(mesh, "texture", None), getattr(mesh, "uv", None)
    if texture is None or uv is None:
        return None
    tri = tm.vertices[tm.faces[face_idx]]
    bary = trimesh.triangles.points_to_barycentric(tri, points)
    st = np.einsum("nk,nkj->nj", bary, np.asarray(uv, np.float64)[tm.faces[face_idx]])
    h, w = texture.shape[:2]
    col = np.clip((np.mod(st[:, 0], 1.0) * (w - 1)).round().astype(int), 0, w - 1)
    row = np.clip(((1.0 - np.mod(st[:, 1], 1.0)) * (h - 1)).round().astype(int), 0, h - 1)
    return texture[row, col].astype(np.float64)
