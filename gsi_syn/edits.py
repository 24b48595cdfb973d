"""Edit proposals: sample an operation's parameters on a scene and apply Φ3D to it.

A proposal is geometric only (no rendering): the edited scene, the parameters, the objects it
names and the world transform of the edited object. :mod:`gsi_syn.sampler` renders it, runs the
checks of :mod:`gsi_syn.checks` and turns accepted proposals into records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gsi_bench.geometry import ground_direction, make_transform, rot_z
from gsi_bench.operations import DIRECTIONS, RELATIONS, SCALE_FACTORS, SENSES, EditParams
from gsi_syn.checks import CheckThresholds, placement_measurements, placement_ok
from gsi_syn.placement import footprint
from gsi_syn.scene import Scene, SceneObject

#: Angles (deg) the rotate operation draws from.
ROTATE_ANGLES = (30.0, 45.0, 60.0, 90.0, 120.0, 135.0, 150.0, 180.0)
#: Whole-centimetre distance range of camera_relative_move (DESIGN §3: 5–50 cm).
MOVE_CM = (5, 50)
#: Extra centre-to-centre distance (cm) beyond contact for object_relative_place.
PLACE_EXTRA_CM = (3, 25)
#: Relation → camera-relative ground direction from the anchor.
RELATION_DIRECTION = {"left of": "left", "right of": "right", "in front of": "backward", "behind": "forward"}


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


def _translation_proposal(scene: Scene, op: str, obj: SceneObject, delta: np.ndarray,
                          params: EditParams, th: CheckThresholds, reference_id: int = 0) -> Proposal | None:
    new = _moved(obj, position=np.asarray(obj.position) + delta)
    target = scene.replace_object(new)
    if not placement_ok(*placement_measurements(target, obj.instance_id), th):
        return None
    W = make_transform(translation=np.asarray(new.position) - np.asarray(obj.position))
    return Proposal(op, params, obj.instance_id, target, W, reference_id=reference_id)


def propose_camera_relative_move(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                                 target: SceneObject) -> Proposal | None:
    direction = str(rng.choice(DIRECTIONS))
    cm = int(rng.integers(MOVE_CM[0], MOVE_CM[1] + 1))
    v = ground_direction(scene.camera.cam_from_world_array, direction)
    params = EditParams(direction=direction, distance_m=cm / 100.0)
    return _translation_proposal(scene, "camera_relative_move", target, v * cm / 100.0, params, th)


def propose_object_relative_place(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                                  target: SceneObject) -> Proposal | None:
    anchors = [o for o in unique_category_objects(scene, {target.instance_id})
               if o.category != target.category and o.support_id == target.support_id]
    if not anchors:
        return None
    anchor = anchors[int(rng.integers(len(anchors)))]
    relation = str(rng.choice(RELATIONS))
    v = ground_direction(scene.camera.cam_from_world_array, RELATION_DIRECTION[relation])
    # centre-to-centre distance: beyond contact along v, plus a sampled whole-cm gap
    r_t = _extent_along(footprint(target), np.asarray(target.position[:2]), v[:2])
    r_a = _extent_along(footprint(anchor), np.asarray(anchor.position[:2]), v[:2])
    cm = int(np.ceil((r_t + r_a) * 100)) + int(rng.integers(PLACE_EXTRA_CM[0], PLACE_EXTRA_CM[1] + 1))
    new_pos = np.asarray(anchor.position, dtype=np.float64) + v * cm / 100.0
    new_pos[2] = target.position[2]
    params = EditParams(relation=relation, distance_m=cm / 100.0)
    return _translation_proposal(scene, "object_relative_place", target,
                                 new_pos - np.asarray(target.position), params, th,
                                 reference_id=anchor.instance_id)


def _extent_along(poly, centre: np.ndarray, direction: np.ndarray) -> float:
    """Largest projection (m) of a footprint's vertices onto ``±direction`` from ``centre``."""
    pts = np.asarray(poly.exterior.coords)[:, :2] - centre
    return float(np.max(np.abs(pts @ direction)))


def allowed_rotation_angles(symmetry: str) -> tuple[float, ...]:
    """Angles that visibly change an object with the given symmetry."""
    if symmetry == "rotational":
        return ()
    if symmetry == "4fold":
        return tuple(a for a in ROTATE_ANGLES if a % 90 != 0)
    if symmetry == "2fold":
        return tuple(a for a in ROTATE_ANGLES if a % 180 != 0)
    return ROTATE_ANGLES


def propose_rotate(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                   target: SceneObject, symmetry: str = "none") -> Proposal | None:
    angles = allowed_rotation_angles(symmetry)
    if not angles:
        return None
    angle = float(rng.choice(angles))
    sense = str(rng.choice(SENSES))
    signed = angle if sense == "counterclockwise" else -angle
    new = _moved(target, yaw_deg=target.yaw_deg + signed)
    out = scene.replace_object(new)
    if not placement_ok(*placement_measurements(out, target.instance_id), th):
        return None
    c = np.asarray(target.position, dtype=np.float64)
    W = make_transform(translation=c) @ make_transform(rot_z(signed)) @ make_transform(translation=-c)
    return Proposal("rotate", EditParams(angle_deg=angle, rotation_sense=sense), target.instance_id, out, W)


def propose_scale(scene: Scene, rng: np.random.Generator, th: CheckThresholds,
                  target: SceneObject) -> Proposal | None:
    factor = float(rng.choice(SCALE_FACTORS))
    new = _moved(target, scale=target.scale * factor)
    out = scene.replace_object(new)
    if not placement_ok(*placement_measurements(out, target.instance_id), th):
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
