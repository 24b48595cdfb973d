"""Physical rest check with pybullet: drop an object from just above its placement and measure how
far it drifts before it settles.

Everything but the tested object is static; supports and receptacles collide as exact triangle
meshes (concave allowed; only the triangles near the tested object, see :func:`crop_faces`), the
tested object as its convex hull. Units: metres, degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from gsi_bench.scene import Scene, SceneObject
from gsi_syn.assets import get_library


@dataclass(frozen=True)
class SettleResult:
    """``drift_m``: displacement of the object's base centre after settling (m);
    ``tilt_deg``: change of its up axis (deg)."""

    drift_m: float
    tilt_deg: float


def _world_vertices(obj: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    mesh = get_library().mesh(obj.asset_id, obj.params)
    T = obj.world_from_object()
    v = mesh.vertices.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return v, mesh.faces


def crop_faces(vertices: np.ndarray, faces: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The triangles of a mesh whose bounding boxes meet the box ``[lo, hi]`` (world, m, ``(3,)``
    each), re-indexed: ``(vertices (V', 3), faces (F', 3))``. Every triangle that could touch
    something inside the box is kept (large ones spanning it included), so collisions there are
    unchanged while furniture meshes of tens of thousands of triangles shrink to a few."""
    tri = vertices[faces]
    keep = np.all(tri.min(axis=1) <= hi, axis=1) & np.all(tri.max(axis=1) >= lo, axis=1)
    used, inverse = np.unique(faces[keep], return_inverse=True)
    return vertices[used], inverse.reshape(-1, 3)


def hull_points(points: np.ndarray) -> np.ndarray:
    """The vertices ``(H, 3)`` of the convex hull of ``points`` ``(N, 3)`` (all of them when
    degenerate). Bullet treats a mesh shape as the hull of its points and visits every point per
    contact query, so a model of 10,000 vertices is as slow to simulate as it is needless."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return points[np.sort(ConvexHull(points).vertices)]
    except (QhullError, ValueError):
        return points


#: Static triangles farther than this (m) from the tested object's box are left out of the
#: simulation: a settling object moves by millimetres, and one that drifts this far fails anyway.
CONTACT_MARGIN_M = 0.15


def settle(scene: Scene, instance_id: int, drop_m: float = 0.003, seconds: float = 0.5,
           neighbourhood_m: float = 0.6) -> SettleResult:
    """Simulate the object ``instance_id`` of ``scene`` under gravity among the static objects
    within ``neighbourhood_m`` of it; return how far it moved."""
    obj = scene.get(instance_id)
    client = _client()
    pb.resetSimulation(physicsClientId=client)
    pb.setGravity(0, 0, -9.81, physicsClientId=client)
    pb.setPhysicsEngineParameter(fixedTimeStep=1 / 240, numSolverIterations=50, physicsClientId=client)
    centre = np.asarray(obj.position, dtype=np.float64)
    own, _ = _world_vertices(obj)
    near_lo, near_hi = own.min(axis=0) - CONTACT_MARGIN_M, own.max(axis=0) + CONTACT_MARGIN_M + drop_m
    for other in scene.objects:
        if other.instance_id == instance_id or other.role == "structure":
            continue
        verts, faces = _world_vertices(other)
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        if np.any(centre[:2] < lo[:2] - neighbourhood_m) or np.any(centre[:2] > hi[:2] + neighbourhood_m):
            continue
        verts, faces = crop_faces(verts, faces, near_lo, near_hi)
        if len(faces) == 0:
            continue
        shape = pb.createCollisionShape(pb.GEOM_MESH, vertices=verts.tolist(),
                                        indices=faces.astype(np.int64).ravel().tolist(),
                                        flags=pb.GEOM_FORCE_CONCAVE_TRIMESH, physicsClientId=client)
        pb.createMultiBody(baseMass=0, baseCollisionShapeIndex=shape, physicsClientId=client)
    mesh = get_library().mesh(obj.asset_id, obj.params)
    local = mesh.vertices.astype(np.float64) * obj.scale
    com = (local.min(axis=0) + local.max(axis=0)) / 2
    shape = pb.createCollisionShape(pb.GEOM_MESH, vertices=hull_points(local - com).tolist(), physicsClientId=client)
    yaw = math.radians(obj.yaw_deg)
    q0 = pb.getQuaternionFromEuler([0, 0, yaw])
    rz = np.array(pb.getMatrixFromQuaternion(q0)).reshape(3, 3)
    start = centre + rz @ com + [0, 0, drop_m]
    body = pb.createMultiBody(baseMass=0.2, baseCollisionShapeIndex=shape, basePosition=start.tolist(),
                              baseOrientation=q0, physicsClientId=client)
    pb.changeDynamics(body, -1, lateralFriction=0.8, rollingFriction=0.001, spinningFriction=0.001,
                      physicsClientId=client)
    for _ in range(int(seconds * 240)):
        pb.stepSimulation(physicsClientId=client)
    pos, q = pb.getBasePositionAndOrientation(body, physicsClientId=client)
    r = np.array(pb.getMatrixFromQuaternion(q)).reshape(3, 3)
    base_now = np.asarray(pos) - r @ com
    drift = float(np.linalg.norm(base_now - centre))
    tilt = math.degrees(math.acos(float(np.clip(r[2, 2], -1.0, 1.0))))
    return SettleResult(drift_m=drift, tilt_deg=tilt)


_CLIENT: list[int] = []


def _client() -> int:
    """This process's pybullet DIRECT client (connecting costs ~20 ms, so it is kept)."""
    if not _CLIENT or not pb.isConnected(_CLIENT[0]):
        _CLIENT[:] = [pb.connect(pb.DIRECT)]
    return _CLIENT[0]
