"""Edit proposals: sample an operation's parameters on a scene and apply Φ3D to it.

A proposal is geometric only (no rendering): the edited scene, the parameters, the objects it
names and the world transform of the edited object. :mod:`gsi_syn.sampler` renders it, runs the
checks of :mod:`gsi_syn.checks` and turns accepted proposals into records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gsi_bench.checks import CheckThresholds, placement_ok
from gsi_bench.geometry import ground_direction, make_transform, project_points, rot_z
from gsi_bench.operations import (
    OPERATION_SPECS,
    EditParams,
    operation_spec,
    rotation_angles,
    rotation_is_sense_free,
    signed_rotation_deg,
    symmetry_period_deg,
)
from gsi_bench.scene import Scene, SceneObject
from gsi_syn.checks import placement_measurements
from gsi_syn.placement import footprint


@dataclass
class Proposal:
    """A candidate edit.

    ``world_transform``: 4×4 float64 mapping the edited object's world points before → after
    (identity for camera edits). ``camera_delta``: 4×4 target-camera-from-source-camera
    (identity for object edits).
    """

    operation: str
    params: EditParams
    target_id: int
    target_scene: Scene
    world_transform: np.ndarray
    reference_id: int = 0
    referring: str = ""
    ambiguity_margin: float = float("inf")
    target_present: bool = True
    camera_delta: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(4))
    #: ``checks`` fields measured while proposing (e.g. ``placement_gap``)
    measured: dict[str, float] = dataclasses.field(default_factory=dict)


def unique_category_objects(scene: Scene, exclude: set[int] | None = None) -> list[SceneObject]:
    """Movable objects whose category appears once among the scene's movable objects."""
    movable = scene.movable()
    counts: dict[str, int] = {}
    for o in movable:
        counts[o.category] = counts.get(o.category, 0) + 1
    return [o for o in movable if counts[o.category] == 1 and o.instance_id not in (exclude or set())]


def _moved(obj: SceneObject, position: np.ndarray | None = None, yaw_deg: float | None = None,
           scale: float | None = None) -> SceneObject:
    return dataclasses.replace(
        obj,
        position=tuple(float(round(v, 6)) for v in position) if position is not None else obj.position,
        yaw_deg=float(round(yaw_deg % 360.0, 6)) if yaw_deg is not None else obj.yaw_deg,
        scale=float(round(scale, 6)) if scale is not None else obj.scale)


def projected_area_bound(scene: Scene, obj: SceneObject) -> float:
    """An upper bound (px) of the pixels ``obj`` can cover in the scene camera's image: the area
    of the convex hull of its projected 3D box corners grown by one pixel (a pixel counts when its
    centre is covered, and centres near the hull's edges may lie just outside it), clipped to the
    image; ``inf`` (no bound) when a corner lies behind the camera's near plane."""
    from shapely.geometry import MultiPoint, box

    from gsi_syn.placement import object_box_world

    cam = scene.camera
    uv, z = project_points(cam.K_array, cam.cam_from_world_array, object_box_world(obj).corners())
    if not (z > cam.near).all():
        return float("inf")
    return float(MultiPoint(uv).convex_hull.buffer(1.0).intersection(box(0, 0, cam.width, cam.height)).area)


def in_view(scene: Scene, obj: SceneObject, margin_px: float = 2.0) -> bool:
    """Cheap pre-render test: every corner of the object's 3D box projects inside the image and in
    front of the camera (occlusion is checked later on the render)."""
    from gsi_syn.placement import object_box_world

    cam = scene.camera
    uv, z = project_points(cam.K_array, cam.cam_from_world_array, object_box_world(obj).corners())
    return bool((z > cam.near).all() and (uv >= margin_px).all()
                and (uv[:, 0] <= cam.width - 1 - margin_px).all() and (uv[:, 1] <= cam.height - 1 - margin_px).all())


def _translation_proposal(scene: Scene, op: str, obj: SceneObject, delta: np.ndarray,
                          params: EditParams, th: CheckThresholds, reference_id: int = 0) -> Proposal | None:
    """Translate ``obj`` (as it stands in ``scene``, whose support may already be changed) by
    ``delta`` (world, m)."""
    new = _moved(obj, position=np.asarray(obj.position) + delta)
    target = scene.replace_object(new)
    if not in_view(target, new) or not placement_ok(*placement_measurements(target, obj.instance_id), th):
        return None
    W = make_transform(translation=np.asarray(new.position) - np.asarray(obj.position))
    return Proposal(op, params, obj.instance_id, target, W, reference_id=reference_id)


def propose_camera_relative_move(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                                 target: SceneObject) -> Proposal | None:
    spec = operation_spec("camera_relative_move")
    direction = str(rng.choice(spec.choices["direction"]))
    lo, hi = spec.whole_cm_range()
    cm = int(rng.integers(lo, hi + 1))
    v = ground_direction(scene.camera.cam_from_world_array, direction)
    params = EditParams(direction=direction, distance_m=cm / 100.0)
    return _translation_proposal(scene, "camera_relative_move", target, v * cm / 100.0, params, th)


def propose_object_relative_place(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                                  target: SceneObject, visible: set[int] | None = None) -> Proposal | None:
    """``visible``: ids that may serve as anchors (those visible in the source image); all if None.

    Refused (None) when the object would move less than ``th.min_place_displacement_m``: a source
    that already nearly satisfies the relation makes "was it moved?" undecidable from images."""
    spec = operation_spec("object_relative_place")
    anchors = [o for o in unique_category_objects(scene, {target.instance_id})
               if o.category != target.category and o.support_id not in (0, target.instance_id)
               and (visible is None or o.instance_id in visible)]
    if not anchors:
        return None
    anchor = anchors[int(rng.integers(len(anchors)))]
    relation = str(rng.choice(spec.choices["relation"]))
    v = ground_direction(scene.camera.cam_from_world_array, spec.directions[relation])
    # centre-to-centre distance: beyond contact along v, plus a sampled whole-cm gap
    r_t = _extent_along(footprint(target), np.asarray(target.position[:2]), v[:2])
    r_a = _extent_along(footprint(anchor), np.asarray(anchor.position[:2]), v[:2])
    gap = spec.sampling["extra_gap_cm"]
    cm = int(np.ceil((r_t + r_a) * 100)) + int(rng.integers(gap[0], gap[1] + 1))
    # the target joins the anchor's support (it may come from another piece of furniture)
    new_pos = np.asarray(anchor.position, dtype=np.float64) + v * cm / 100.0
    if float(np.linalg.norm(new_pos - np.asarray(target.position))) < th.min_place_displacement_m:
        return None
    params = EditParams(relation=relation, distance_m=cm / 100.0)
    moved = dataclasses.replace(target, support_id=anchor.support_id)
    return _translation_proposal(scene.replace_object(moved), "object_relative_place", moved,
                                 new_pos - np.asarray(target.position), params, th,
                                 reference_id=anchor.instance_id)


def _extent_along(poly, centre: np.ndarray, direction: np.ndarray) -> float:
    """Largest projection (m) of a footprint's vertices onto ``±direction`` from ``centre``."""
    pts = np.asarray(poly.exterior.coords)[:, :2] - centre
    return float(np.max(np.abs(pts @ direction)))


def propose_rotate(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                   target: SceneObject, symmetry: str = "none") -> Proposal | None:
    """Rotate by an angle that visibly changes the object (``symmetry``: its manifest label). A
    rotation that looks the same either way (180°, or half the symmetry period) states no sense
    (``rotation_sense`` empty) and is realised counterclockwise."""
    angles = rotation_angles(symmetry)
    if not angles:
        return None
    angle = float(rng.choice(angles))
    sense = str(rng.choice(operation_spec("rotate").choices["rotation_sense"]))
    if rotation_is_sense_free(angle, symmetry_period_deg(symmetry)):
        sense = ""
    signed = signed_rotation_deg(angle, sense)
    new = _moved(target, yaw_deg=target.yaw_deg + signed)
    out = scene.replace_object(new)
    if not placement_ok(*placement_measurements(out, target.instance_id), th):
        return None
    c = np.asarray(target.position, dtype=np.float64)
    W = make_transform(translation=c) @ make_transform(rot_z(signed)) @ make_transform(translation=-c)
    return Proposal("rotate", EditParams(angle_deg=angle, rotation_sense=sense), target.instance_id, out, W)


def propose_scale(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                  target: SceneObject) -> Proposal | None:
    factor = float(rng.choice(operation_spec("scale").choices["scale_factor"]))
    new = _moved(target, scale=target.scale * factor)
    out = scene.replace_object(new)
    if not in_view(out, new) or not placement_ok(*placement_measurements(out, target.instance_id), th):
        return None
    c = np.asarray(target.position, dtype=np.float64)
    W = make_transform(translation=c) @ make_transform(scale=factor) @ make_transform(translation=-c)
    return Proposal("scale", EditParams(scale_factor=factor), target.instance_id, out, W)


def camera_frame_transform(world_transform: np.ndarray, cam_from_world: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Express a world similarity ``p' = W p`` in a camera frame: returns ``(R, s, t)`` with
    ``p'_c = R (s ⊙ p_c) + t`` (R 3×3, s (3,), t (3,), float64)."""
    C = np.asarray(cam_from_world, dtype=np.float64)
    phi = C @ np.asarray(world_transform, dtype=np.float64) @ np.linalg.inv(C)
    m = phi[:3, :3]
    s = float(np.cbrt(np.linalg.det(m)))
    return m / s, np.full(3, s), phi[:3, 3].copy()


# ----------------------------------------------------------------------------------------------
# receptacle_place
# ----------------------------------------------------------------------------------------------
def receptacle_candidates(scene: Scene, target: SceneObject) -> list[SceneObject]:
    """Receptacles the target could be put into: receptacle objects and furniture (supports)
    whose category is unique in the scene — the one it stands on included (it is then moved to
    another part of it, at least ``min_place_displacement_m`` away: in a room view the furniture
    in focus is the only one whose edges are in the image)."""
    counts: dict[str, int] = {}
    for o in scene.objects:
        counts[o.category] = counts.get(o.category, 0) + 1
    return [o for o in scene.objects
            if o.role in ("receptacle", "support") and o.instance_id != target.instance_id
            and counts[o.category] == 1 and o.support_id != target.instance_id]


def placement_point(region, fp_local: np.ndarray, direction: np.ndarray | None, margin: float
                    ) -> np.ndarray | None:
    """Where (world xy) to put a footprint so it lies inside ``region`` shrunk by ``margin``:
    the region's centroid, or as far along ``direction`` as it still fits (bisection).
    ``fp_local``: footprint vertices ``(N, 2)`` relative to the object's position."""
    from shapely.geometry import Polygon as _Polygon

    inner = region.buffer(-margin)
    if inner.is_empty:
        return None
    c = np.asarray(inner.centroid.coords[0])
    fits = lambda p: inner.contains(_Polygon(fp_local + p))  # noqa: E731
    if not fits(c):
        return None
    if direction is None:
        return c
    lo, hi = 0.0, float(np.sqrt(region.area)) * 2 + 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(c + mid * direction[:2]) else (lo, mid)
    return c + lo * direction[:2]


def placement_points(scene: Scene, receptacle: SceneObject, target: SceneObject, margin: float
                     ) -> dict[str, np.ndarray]:
    """Placement → world point ``(3,)`` (xy of the placement point, z = the receptacle's support
    height) where ``target`` would stand on ``receptacle``; placements where it does not fit are
    left out. ``margin``: distance kept from the receptacle's edge (m)."""
    from gsi_syn.placement import support_region

    spec = operation_spec("receptacle_place")
    region, height = support_region(receptacle)
    fp = np.asarray(footprint(target).exterior.coords)[:-1] - np.asarray(target.position[:2])
    C = scene.camera.cam_from_world_array
    out = {}
    for name in spec.choices["placement"]:
        d = spec.directions[name]
        xy = placement_point(region, fp, ground_direction(C, d) if d else None, margin)
        if xy is not None:
            out[name] = np.array([xy[0], xy[1], height])
    return out


def placement_vocabulary(scene: Scene, points: dict[str, np.ndarray], min_gap: float) -> dict[str, float]:
    """The placements a receptacle may be named with, each with its gap: the image distance (a
    fraction of the image width, projected with the scene camera) from its point to the nearest
    other point of the vocabulary (``inf`` when it is alone).

    Placements join greedily in the order ``sampling["placement_priority"]`` of the
    receptacle_place spec (center, leftmost, rightmost, nearest edge, farthest edge) when their
    point lies at least ``min_gap`` from every point already in: a small receptacle is named by
    its center only, a large one by all five. ``points``: from :func:`placement_points`.
    """
    cam = scene.camera
    order = [n for n in operation_spec("receptacle_place").sampling["placement_priority"] if n in points]
    if not order:
        return {}
    uv, _ = project_points(cam.K_array, cam.cam_from_world_array, np.stack([points[n] for n in order]))
    uv = dict(zip(order, uv / cam.width))
    chosen: list[str] = []
    for name in order:
        if all(np.linalg.norm(uv[name] - uv[c]) >= min_gap for c in chosen):
            chosen.append(name)
    return {n: min((float(np.linalg.norm(uv[n] - uv[c])) for c in chosen if c != n), default=float("inf"))
            for n in chosen}


def already_there(target: SceneObject, placement: str, points: dict[str, np.ndarray],
                  vocabulary: Mapping[str, float], th: CheckThresholds) -> bool:
    """Whether ``target``, moved within the support it stands on, would need no visible move to
    satisfy "put it at the ``placement`` of its support": its source position is closer than
    ``th.min_place_displacement_m`` to that placement's point, or nearer to that point than to any
    other placement of the ``vocabulary`` (then the unchanged image reads as done).
    ``points``: placement → world point ``(3,)`` (:func:`placement_points`)."""
    here = np.asarray(target.position, dtype=np.float64)
    if float(np.linalg.norm(points[placement] - here)) < th.min_place_displacement_m:
        return True
    nearest = min(vocabulary, key=lambda k: float(np.linalg.norm(points[k][:2] - here[:2])))
    return nearest == placement


def propose_receptacle_place(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                             target: SceneObject, visible: set[int] | None = None,
                             placement: str | None = None) -> Proposal | None:
    """``visible``: ids that may serve as receptacles (visible in the source image); all if None.

    The placement must be in the receptacle's :func:`placement_vocabulary`: placements whose
    points lie at least ``th.min_placement_gap`` (fraction of the image width) apart in the source
    image; its gap is recorded in ``checks.placement_gap``. ``placement``: the placement to make
    (the sampler draws it uniformly per record, so that small receptacles, which offer only their
    center, do not make "center" dominate): the receptacle is drawn among those offering it (None
    when none does). Without it, a receptacle is drawn, then a placement of its vocabulary."""
    options = [o for o in receptacle_candidates(scene, target) if visible is None or o.instance_id in visible]
    if placement is not None:
        options = [o for o in options if placement in _vocabulary(scene, o, target, th)[1]]
    if not options:
        return None
    rec = options[int(rng.integers(len(options)))]
    gaps = _vocabulary(scene, rec, target, th)[1]
    if not gaps:
        return None  # the object fits nowhere on it
    if placement is None:
        placement = str(rng.choice(list(gaps)))
    realised = realise_placement(scene, rec, target, placement, th)
    if realised is None:
        return None
    out, new, gap = realised
    W = make_transform(translation=np.asarray(new.position) - np.asarray(target.position))
    return Proposal("receptacle_place", EditParams(placement=placement), target.instance_id, out, W,
                    reference_id=rec.instance_id, measured={"placement_gap": gap})


def realise_placement(scene: Scene, receptacle: SceneObject, target: SceneObject, placement: str,
                      th: CheckThresholds) -> tuple[Scene, SceneObject, float] | None:
    """``target`` moved to ``placement`` (a name of :func:`placement_vocabulary`) on
    ``receptacle``: ``(scene after, target after, the placement's gap)``, or None where the
    deterministic tests of a receptacle placement fail — the receptacle does not offer that
    placement decidably, the target already stands there on its own support (an unchanged image
    would satisfy the instruction), or the moved target leaves the view or breaks its clearance
    / support margin. No randomness: the sampler uses it to draw only targets that can realise a
    record's planned placement."""
    points, gaps = _vocabulary(scene, receptacle, target, th)
    if placement not in gaps:
        return None
    if receptacle.instance_id == target.support_id and already_there(target, placement, points, gaps, th):
        return None
    new = dataclasses.replace(_moved(target, position=points[placement]), support_id=receptacle.instance_id)
    out = scene.replace_object(new)
    if not in_view(out, new) or not placement_ok(*placement_measurements(out, target.instance_id), th):
        return None
    return out, new, gaps[placement]


#: the vocabularies computed on the last source scene (proposals repeat them many times)
_VOCAB_CACHE: dict = {"scene": None, "entries": {}}


def _vocabulary(scene: Scene, receptacle: SceneObject, target: SceneObject, th: CheckThresholds
                ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(placement points, decidable placements with their gaps) of ``target`` on ``receptacle``
    (cached for the last scene seen: the cache holds that scene, so its identity stays valid)."""
    if _VOCAB_CACHE["scene"] is not scene:
        _VOCAB_CACHE.update(scene=scene, entries={})
    key = (receptacle.instance_id, target.instance_id, th.min_support_margin_m, th.min_placement_gap)
    if key not in _VOCAB_CACHE["entries"]:
        points = placement_points(scene, receptacle, target, th.min_support_margin_m)
        _VOCAB_CACHE["entries"][key] = (points, placement_vocabulary(scene, points, th.min_placement_gap))
    return _VOCAB_CACHE["entries"][key]


def placements_offered(scene: Scene, targets: list[SceneObject], th: CheckThresholds,
                       visible: set[int] | None = None) -> set[str]:
    """The placements some (target, visible receptacle) pair of ``scene`` can be named with."""
    out: set[str] = set()
    for t in targets:
        for rec in receptacle_candidates(scene, t):
            if visible is None or rec.instance_id in visible:
                out |= set(_vocabulary(scene, rec, t, th)[1])
    return out


def draw_placement(rng: np.random.Generator) -> dict[str, str]:
    """The per-record plan of receptacle_place: a placement drawn uniformly from the spec's
    choices (``{"placement": name}``)."""
    return {"placement": str(rng.choice(operation_spec("receptacle_place").choices["placement"]))}


# ----------------------------------------------------------------------------------------------
# remove
# ----------------------------------------------------------------------------------------------
def referring_values(scene: Scene, objects: list[SceneObject], expression: str) -> np.ndarray:
    """The quantity a referring expression ranks by, per object (m); the winner has the
    *largest* value. leftmost/rightmost: ∓ position along the camera's ground x;
    nearest/farthest: ∓ distance from the camera centre to the box centre; highest/lowest:
    ± base height."""
    from gsi_syn.placement import object_box_world

    C = scene.camera.cam_from_world_array
    right = ground_direction(C, "right")
    cam = scene.camera.position
    out = []
    for o in objects:
        if expression in ("leftmost", "rightmost"):
            x = float(np.asarray(o.position[:2]) @ right[:2])
            out.append(-x if expression == "leftmost" else x)
        elif expression in ("nearest", "farthest"):
            d = float(np.linalg.norm(object_box_world(o).center - cam))
            out.append(-d if expression == "nearest" else d)
        elif expression in ("highest", "lowest"):
            z = float(o.position[2])
            out.append(z if expression == "highest" else -z)
        else:
            raise ValueError(f"unknown referring expression {expression!r}")
    return np.asarray(out)


def resolve_referring(scene: Scene, category: str, expression: str) -> tuple[int, float]:
    """(instance id, margin m) of the object of ``category`` that ``expression`` picks; the margin
    is how far it beats the runner-up (``inf`` when the category is unique)."""
    group = [o for o in scene.movable() if o.category == category]
    if not group:
        raise KeyError(f"no {category!r} in the scene")
    if len(group) == 1:
        return group[0].instance_id, float("inf")
    vals = referring_values(scene, group, expression)
    order = np.argsort(-vals, kind="stable")
    return group[int(order[0])].instance_id, float(vals[order[0]] - vals[order[1]])


def projected_centres(scene: Scene, objects: list[SceneObject]) -> np.ndarray:
    """Image position (px, float64 ``(N, 2)``) of each object's 3D box centre in the scene camera."""
    from gsi_syn.placement import object_box_world

    cam = scene.camera
    uv, _ = project_points(cam.K_array, cam.cam_from_world_array,
                           np.stack([object_box_world(o).center for o in objects]))
    return uv


def referring_image_gap(scene: Scene, category: str, expression: str) -> float:
    """How far (fraction of the image width) the instance a leftmost / rightmost expression picks
    (:func:`resolve_referring`, on the ground plane) beats the runner-up in the *image*, by the
    projected centres of their boxes; negative when the image ranks another instance first
    (near and far objects can swap left and right under perspective). ``inf`` for the other
    expressions and for a unique category."""
    group = [o for o in scene.movable() if o.category == category]
    if expression not in ("leftmost", "rightmost") or len(group) < 2:
        return float("inf")
    tid, _ = resolve_referring(scene, category, expression)
    u = projected_centres(scene, group)[:, 0] / scene.camera.width
    u = -u if expression == "leftmost" else u
    mine = next(k for k, o in enumerate(group) if o.instance_id == tid)
    return float(u[mine] - max(v for k, v in enumerate(u) if k != mine))


def referring_options(scene: Scene, category: str, th: CheckThresholds) -> list[tuple[str, int, float]]:
    """``(expression, instance id, margin m)`` for each of remove's referring expressions that
    singles out one instance of ``category``: it wins by at least ``th.min_ambiguity_margin_m``
    and, for leftmost / rightmost, by at least ``th.min_referring_gap`` of the image width in
    the image too (:func:`referring_image_gap`)."""
    out = []
    for expression in operation_spec("remove").sampling["referring"]:
        tid, margin = resolve_referring(scene, category, expression)
        if margin >= th.min_ambiguity_margin_m and referring_image_gap(scene, category, expression) >= th.min_referring_gap:
            out.append((expression, tid, margin))
    return out


def propose_remove(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                   target: SceneObject | None = None, visible: set[int] | None = None) -> Proposal | None:
    """Remove an object, named among at least ``th.min_remove_instances`` instances of its
    category (all of them in ``visible``, the ids visible in the source image; all if None).

    A category is drawn among those that qualify, then a referring expression among those that
    single out one instance (:func:`referring_options`); the instance it picks is removed. A
    category with one instance (allowed only when ``th.min_remove_instances`` is 1) is named
    without one. ``target``: remove this object instead (its category must qualify), named by the
    qualifying expression with the widest margin. None when nothing qualifies or the chosen
    object carries another."""
    groups: dict[str, list[SceneObject]] = {}
    for o in scene.movable():
        groups.setdefault(o.category, []).append(o)
    qualifying = sorted(c for c, g in groups.items() if len(g) >= th.min_remove_instances
                        and (visible is None or all(o.instance_id in visible for o in g)))
    if target is None:
        if not qualifying:
            return None
        category = qualifying[int(rng.integers(len(qualifying)))]
    elif target.category in qualifying:
        category = target.category
    else:
        return None
    expression, margin = "", float("inf")
    if len(groups[category]) == 1:
        tid = groups[category][0].instance_id
    else:
        options = referring_options(scene, category, th)
        if target is not None:
            options = sorted((o for o in options if o[1] == target.instance_id), key=lambda o: -o[2])[:1]
        if not options:
            return None
        expression, tid, margin = options[int(rng.integers(len(options)))]
    if any(o.support_id == tid for o in scene.objects):
        return None  # something rests on it
    out = scene.without(tid)
    return Proposal("remove", EditParams(), tid, out, np.eye(4), referring=expression,
                    ambiguity_margin=margin, target_present=False)


# ----------------------------------------------------------------------------------------------
# perspective
# ----------------------------------------------------------------------------------------------
def moved_camera(cam_from_world: np.ndarray, motion: str, direction: str, amount: float) -> np.ndarray:
    """The target ``cam_from_world`` after a camera motion: ``move`` by ``amount`` m along a
    ground direction (left/right/forward/backward); ``yaw`` by ``amount`` deg turning
    left/right about the world vertical through the camera centre; ``pitch`` by ``amount`` deg
    looking up/down about the camera's x axis. The camera never rolls."""
    from gsi_bench.geometry import look_at

    C = np.asarray(cam_from_world, dtype=np.float64)
    R = C[:3, :3]
    eye = -R.T @ C[:3, 3]
    forward = R[2]  # camera z in world
    if motion == "move":
        eye = eye + ground_direction(C, direction) * amount
    elif motion == "yaw":
        forward = rot_z(amount if direction == "left" else -amount) @ forward
    elif motion == "pitch":
        up_img = -R[1]  # image-up direction in world
        a = np.radians(amount if direction == "up" else -amount)
        forward = np.cos(a) * forward + np.sin(a) * up_img
    else:
        raise ValueError(f"unknown camera motion {motion!r}")
    return look_at(eye, eye + forward)


def propose_perspective(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                        target: SceneObject | None = None) -> Proposal | None:
    spec = operation_spec("perspective")
    motion = str(rng.choice(spec.choices["camera_motion"]))
    values = spec.variant_choices[motion]
    C = scene.camera.cam_from_world_array
    if motion == "move":  # a translation states a direction and metres; turns a sense and degrees
        direction = str(rng.choice(values["direction"]))
        amount = float(rng.choice(values["distance_m"]))
        params = EditParams(camera_motion="move", direction=direction, distance_m=amount)
    else:
        direction = str(rng.choice(values["rotation_sense"]))
        amount = float(rng.choice(values["angle_deg"]))
        params = EditParams(camera_motion=motion, rotation_sense=direction, angle_deg=amount)
    C2 = moved_camera(C, motion, direction, amount)
    camera = dataclasses.replace(scene.camera, cam_from_world=C2.tolist())
    out = scene.with_camera(camera)
    delta = C2 @ np.linalg.inv(C)
    return Proposal("perspective", params, 0, out, np.eye(4), target_present=False, camera_delta=delta)


# ----------------------------------------------------------------------------------------------
# The proposer registry: how GSI-Syn proposes each operation
# ----------------------------------------------------------------------------------------------
#: ``(scene, rng, thresholds, target or None, visible ids) → Proposal | None``
ProposeFn = Callable[[Scene, np.random.Generator, CheckThresholds, "SceneObject | None", "set[int] | None"],
                     "Proposal | None"]


@dataclass(frozen=True)
class SynOperation:
    """How the sampler proposes one operation. ``picks_target``: the sampler first draws the
    target among the visible, unique-category objects that carry nothing, are large enough
    (``min_target_area``) and pass ``target_ok``;
    otherwise ``propose`` gets ``None`` and chooses itself (remove, camera edits)."""

    propose: ProposeFn
    picks_target: bool = True
    target_ok: Callable[[SceneObject], bool] = lambda obj: True
    #: draws a record's plan once per record (before any scene): keyword arguments ``propose``
    #: receives on every attempt for that record (e.g. receptacle_place's placement)
    plan: Callable[[np.random.Generator], dict] | None = None
    #: ``(scene, thresholds, target candidates, visible ids, plan) → bool``: whether the scene can
    #: host the plan at all (checked once per scene; a scene that cannot is skipped)
    plan_feasible: Callable[[Scene, CheckThresholds, list[SceneObject], set[int], dict], bool] | None = None


def _symmetry(obj: SceneObject) -> str:
    from gsi_syn.assets import get_library

    return get_library().entry(obj.asset_id).symmetry


#: operation → its GSI-Syn proposer (:func:`register_proposer` adds one)
PROPOSERS: dict[str, SynOperation] = {
    "camera_relative_move": SynOperation(lambda s, r, th, t, vis: propose_camera_relative_move(s, r, th, t)),
    "object_relative_place": SynOperation(propose_object_relative_place),
    "receptacle_place": SynOperation(propose_receptacle_place, target_ok=lambda o: o.role == "object",
                                     plan=draw_placement,
                                     plan_feasible=lambda s, th, targets, vis, plan:
                                     plan["placement"] in placements_offered(s, targets, th, vis)),
    "rotate": SynOperation(lambda s, r, th, t, vis: propose_rotate(s, r, th, t, _symmetry(t)),
                           target_ok=lambda o: bool(rotation_angles(_symmetry(o)))),
    "scale": SynOperation(lambda s, r, th, t, vis: propose_scale(s, r, th, t)),
    "remove": SynOperation(lambda s, r, th, t, vis: propose_remove(s, r, th, visible=vis), picks_target=False),
    "perspective": SynOperation(lambda s, r, th, t, vis: propose_perspective(s, r, th), picks_target=False),
}


def register_proposer(operation: str, entry: SynOperation) -> None:
    """Teach the GSI-Syn sampler an operation (its :class:`~gsi_bench.operations.OperationSpec`
    must be registered first)."""
    if operation not in OPERATION_SPECS:
        raise KeyError(f"register the spec of {operation!r} (gsi_bench.operations.register_operation) first")
    PROPOSERS[operation] = entry


def unregister_proposer(operation: str) -> None:
    del PROPOSERS[operation]
