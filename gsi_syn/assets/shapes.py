"""Deterministic mesh-building blocks for the procedural assets.

Everything here is pure geometry in metres (float64), no randomness: the same arguments always
give the same triangles. The central primitive is :func:`loft`, which stitches a sequence of
closed loops (all with the same number of points) into a closed, outward-facing surface; circles
give surfaces of revolution (:func:`revolve`), rounded rectangles give boxes, trays and slabs,
loops placed along a curve give tubes (:func:`tube`).

A :class:`Part` is a small ``(vertices, faces, uv)`` triple; parts are combined with
:func:`concat` (no boolean union: overlapping closed parts render correctly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Part:
    """A triangle mesh piece.

    ``vertices``: float64 ``(V, 3)`` metres. ``faces``: int64 ``(F, 3)``, counter-clockwise seen
    from outside. ``uv``: float64 ``(V, 2)`` or ``None``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None

    def moved(self, offset: Sequence[float]) -> "Part":
        """This part translated by ``offset`` (m, ``(3,)``)."""
        return Part(self.vertices + np.asarray(offset, dtype=np.float64), self.faces, self.uv)

    def transformed(self, matrix: np.ndarray) -> "Part":
        """This part under a 4×4 rigid (or uniformly scaled) transform."""
        m = np.asarray(matrix, dtype=np.float64)
        v = self.vertices @ m[:3, :3].T + m[:3, 3]
        faces = self.faces if np.linalg.det(m[:3, :3]) > 0 else self.faces[:, ::-1]
        return Part(v, faces, self.uv)

    def scaled(self, factors: Sequence[float]) -> "Part":
        """This part scaled per axis about the origin (positive factors)."""
        return Part(self.vertices * np.asarray(factors, dtype=np.float64), self.faces, self.uv)

    def with_uv(self, uv: Sequence[float]) -> "Part":
        """This part with every vertex mapped to the single texture coordinate ``uv``."""
        return Part(self.vertices, self.faces, np.tile(np.asarray(uv, np.float64), (len(self.vertices), 1)))

    def signed_volume(self) -> float:
        """Signed enclosed volume (m³); positive when a closed part faces outward."""
        tri = self.vertices[self.faces]
        return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def concat(parts: Sequence[Part]) -> Part:
    """One part holding all ``parts`` (faces re-indexed). UVs are kept only if every part has them."""
    verts, faces, uvs, offset = [], [], [], 0
    for p in parts:
        verts.append(p.vertices)
        faces.append(p.faces + offset)
        uvs.append(p.uv)
        offset += len(p.vertices)
    uv = None if any(u is None for u in uvs) else np.concatenate(uvs)
    return Part(np.concatenate(verts), np.concatenate(faces).astype(np.int64), uv)


# -- loops ------------------------------------------------------------------------------------

def circle(radius: float, n: int, z: float = 0.0, center: Sequence[float] = (0.0, 0.0),
           phase: float = 0.0) -> np.ndarray:
    """float64 ``(n, 3)``: ``n`` points counter-clockwise (seen from +z) on a horizontal circle."""
    t = phase + 2.0 * np.pi * np.arange(n) / n
    return np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t),
                     np.full(n, float(z))], axis=1)


def rounded_rect(half_w: float, half_d: float, radius: float, per_corner: int, z: float = 0.0) -> np.ndarray:
    """float64 ``(4 * per_corner, 3)``: a horizontal rectangle ``[-half_w, half_w] × [-half_d,
    half_d]`` at height ``z`` with corners rounded by ``radius`` (``per_corner`` points each;
    ``per_corner=1`` gives sharp corners, 2 a chamfer), counter-clockwise seen from +z."""
    r = min(radius, half_w, half_d)
    centres = [(half_w - r, -(half_d - r)), (half_w - r, half_d - r),
               (-(half_w - r), half_d - r), (-(half_w - r), -(half_d - r))]
    pts = []
    for k, (cx, cy) in enumerate(centres):
        start = -np.pi / 2 + k * np.pi / 2
        ts = [start + np.pi / 4] if per_corner == 1 else np.linspace(start, start + np.pi / 2, per_corner)
        for t in ts:
            if per_corner == 1:  # sharp corner: the corner point itself
                pts.append((cx + np.sign(np.cos(t)) * r, cy + np.sign(np.sin(t)) * r))
            else:
                pts.append((cx + r * np.cos(t), cy + r * np.sin(t)))
    arr = np.asarray(pts, dtype=np.float64)
    return np.concatenate([arr, np.full((len(arr), 1), float(z))], axis=1)


def polygon(points_xy: Sequence[Sequence[float]], z: float = 0.0) -> np.ndarray:
    """float64 ``(n, 3)``: a horizontal loop from 2-D points (counter-clockwise seen from +z)."""
    arr = np.asarray(points_xy, dtype=np.float64)
    return np.concatenate([arr, np.full((len(arr), 1), float(z))], axis=1)


# -- surfaces ---------------------------------------------------------------------------------

def loft(loops: Sequence[np.ndarray], cap_start: bool | Sequence[float] = True,
         cap_end: bool | Sequence[float] = True, cyclic: bool = False) -> Part:
    """Stitch ``loops`` (each float ``(n, 3)``, same ``n``, corresponding points in order) into
    a closed surface.

    Consecutive loops are joined by quads (two triangles); ``cyclic`` also joins the last loop
    back to the first (a torus-like surface, no caps). A cap closes the first / last loop with a
    fan around its centroid (``True``) or around a given point (e.g. the apex of a revolved
    profile on its axis); ``False`` leaves it open. Caps assume each end loop is star-shaped
    around the fan centre. The result is oriented so that a closed surface has positive volume
    (outward normals).
    """
    loops = [np.asarray(lp, dtype=np.float64) for lp in loops]
    n = len(loops[0])
    if any(len(lp) != n for lp in loops):
        raise ValueError("all loops of a loft need the same number of points")
    if cyclic:
        cap_start = cap_end = False
    verts = list(loops)
    faces = []
    idx = np.arange(n)
    nxt = (idx + 1) % n
    n_loops = len(loops)
    for k in range(n_loops if cyclic else n_loops - 1):
        k1 = (k + 1) % n_loops
        a, b = k * n + idx, k * n + nxt
        c, d = k1 * n + nxt, k1 * n + idx
        faces.append(np.stack([a, b, c], axis=1))
        faces.append(np.stack([a, c, d], axis=1))
    count = len(loops) * n
    for cap, loop_i, flip in ((cap_start, 0, True), (cap_end, len(loops) - 1, False)):
        if cap is False or cap is None:
            continue
        centre = loops[loop_i].mean(axis=0) if cap is True else np.asarray(cap, dtype=np.float64)
        verts.append(centre[None, :])
        ring = loop_i * n
        tri = np.stack([np.full(n, count), ring + nxt, ring + idx], axis=1)
        faces.append(tri[:, ::-1] if not flip else tri)
        count += 1
    part = Part(np.concatenate(verts), np.concatenate(faces).astype(np.int64))
    closed = cyclic or (cap_start is not False and cap_end is not False)
    if closed and part.signed_volume() < 0:
        part = Part(part.vertices, part.faces[:, ::-1].copy())
    return part


def revolve(profile: Sequence[Sequence[float]], sections: int = 40) -> Part:
    """Surface of revolution about the z axis.

    ``profile``: ``(r, z)`` points (m). A first / last point with ``r == 0`` lies on the axis and
    becomes the apex of a cap (so a profile from the bottom centre, out, up and back to the top
    centre gives a closed solid; a hollow vessel goes bottom centre → outside → rim → inside →
    inner bottom centre). Otherwise the ends are closed by flat fans.
    """
    prof = np.asarray(profile, dtype=np.float64)
    start_apex = prof[0, 0] == 0.0
    end_apex = prof[-1, 0] == 0.0
    body = prof[1 if start_apex else 0: len(prof) - 1 if end_apex else len(prof)]
    loops = [circle(r, sections, z) for r, z in body]
    cap_s = (0.0, 0.0, prof[0, 1]) if start_apex else True
    cap_e = (0.0, 0.0, prof[-1, 1]) if end_apex else True
    return loft(loops, cap_s, cap_e)


def revolve_closed(profile: Sequence[Sequence[float]], sections: int = 40) -> Part:
    """Revolve a closed ``(r, z)`` profile loop (all ``r > 0``) about z: a ring solid (torus,
    lamp shade). The profile is implicitly closed from its last point back to its first."""
    return loft([circle(r, sections, z) for r, z in np.asarray(profile, dtype=np.float64)], cyclic=True)


def smooth_polyline(points: Sequence[Sequence[float]], iterations: int = 2) -> np.ndarray:
    """Chaikin corner cutting of an open polyline (endpoints kept): float64 ``(M, D)``."""
    pts = np.asarray(points, dtype=np.float64)
    for _ in range(iterations):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        inner = np.empty((2 * (len(pts) - 1), pts.shape[1]))
        inner[0::2], inner[1::2] = q, r
        pts = np.concatenate([pts[:1], inner[1:-1], pts[-1:]])
    return pts


def bezier(p0: Sequence[float], p1: Sequence[float], p2: Sequence[float], n: int) -> np.ndarray:
    """float64 ``(n, 3)``: a quadratic Bézier curve from ``p0`` to ``p2`` pulled toward ``p1``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t ** 2 * c


def box(size: Sequence[float], center: Sequence[float] = (0.0, 0.0, 0.0), bevel: float = 0.0) -> Part:
    """An axis-aligned box of ``size`` (w, d, h) centred at ``center``; ``bevel`` > 0 chamfers
    all edges by that distance (m)."""
    w, d, h = (float(s) / 2 for s in size)
    cx, cy, cz = (float(c) for c in center)
    if bevel <= 0:
        loops = [rounded_rect(w, d, 0.0, 1, -h), rounded_rect(w, d, 0.0, 1, h)]
    else:
        b = min(bevel, w, d, h) * 0.999
        loops = [rounded_rect(w - b, d - b, b, 2, -h), rounded_rect(w, d, b, 2, -h + b),
                 rounded_rect(w, d, b, 2, h - b), rounded_rect(w - b, d - b, b, 2, h)]
    return loft(loops).moved((cx, cy, cz))


def slab(half_w: float, half_d: float, z0: float, z1: float, corner: float = 0.0,
         per_corner: int = 1) -> Part:
    """A vertical prism with a rounded-rectangle outline between heights ``z0`` and ``z1``."""
    return loft([rounded_rect(half_w, half_d, corner, per_corner, z0),
                 rounded_rect(half_w, half_d, corner, per_corner, z1)])


def prism(outline_xy: Sequence[Sequence[float]], z0: float, z1: float) -> Part:
    """A vertical prism of a star-shaped outline (2-D points, counter-clockwise) from ``z0`` to ``z1``."""
    return loft([polygon(outline_xy, z0), polygon(outline_xy, z1)])


def cylinder(radius: float, z0: float, z1: float, sections: int = 32,
             center: Sequence[float] = (0.0, 0.0)) -> Part:
    """A vertical closed cylinder."""
    return loft([circle(radius, sections, z0, center), circle(radius, sections, z1, center)])


def sphere(radius: float, center: Sequence[float] = (0.0, 0.0, 0.0), sections: int = 32,
           rings: int = 16, scale: Sequence[float] = (1.0, 1.0, 1.0)) -> Part:
    """A UV sphere (``rings`` latitude steps) optionally scaled per axis into an ellipsoid."""
    t = np.linspace(0.0, np.pi, rings + 1)
    profile = np.stack([radius * np.sin(t), -radius * np.cos(t)], axis=1)
    profile[0, 0] = profile[-1, 0] = 0.0
    return revolve(profile, sections).scaled(scale).moved(center)


def tube(path: np.ndarray, radii: Sequence[float] | float, sections: int = 16,
         shape: np.ndarray | None = None, caps: bool = True) -> Part:
    """A tube swept along ``path`` (float ``(N, 3)``, m) with per-point ``radii``.

    Cross-sections are perpendicular to the path (rotation-minimising frames, so no twist);
    ``shape`` optionally gives a unit cross-section outline (``(sections, 2)``), default a
    circle. Ends are capped with flat fans when ``caps``.
    """
    path = np.asarray(path, dtype=np.float64)
    r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(path),))
    if shape is None:
        t = 2.0 * np.pi * np.arange(sections) / sections
        shape = np.stack([np.cos(t), np.sin(t)], axis=1)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.cross(tangents[0], ref)
    normal /= np.linalg.norm(normal)
    loops = []
    for i, (p, tng) in enumerate(zip(path, tangents, strict=True)):
        if i > 0:  # parallel transport of the frame
            normal = normal - np.dot(normal, tng) * tng
            normal /= np.linalg.norm(normal)
        binormal = np.cross(tng, normal)
        loops.append(p + r[i] * (shape[:, :1] * normal + shape[:, 1:] * binormal))
    return loft(loops, caps, caps)


def arc_path(center: Sequence[float], radius: float, start_deg: float, end_deg: float, n: int,
             plane: str = "xz") -> np.ndarray:
    """float64 ``(n, 3)``: points on a circular arc in the ``plane`` ("xz", "yz" or "xy") through
    ``center``; angles in degrees measured from the plane's first axis toward its second."""
    t = np.radians(np.linspace(start_deg, end_deg, n))
    c = np.asarray(center, dtype=np.float64)
    a, b = {"xz": (0, 2), "yz": (1, 2), "xy": (0, 1)}[plane]
    pts = np.tile(c, (n, 1))
    pts[:, a] += radius * np.cos(t)
    pts[:, b] += radius * np.sin(t)
    return pts


def rotation_x(deg: float) -> np.ndarray:
    """4×4 rotation about +x by ``deg`` degrees (right-handed)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    m = np.eye(4)
    m[1:3, 1:3] = [[c, -s], [s, c]]
    return m


def rotation_y(deg: float) -> np.ndarray:
    """4×4 rotation about +y by ``deg`` degrees (right-handed)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    m = np.eye(4)
    m[0, 0], m[0, 2], m[2, 0], m[2, 2] = c, s, -s, c
    return m


def rotation_z(deg: float) -> np.ndarray:
    """4×4 rotation about +z by ``deg`` degrees (counter-clockwise seen from above)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    m = np.eye(4)
    m[0:2, 0:2] = [[c, -s], [s, c]]
    return m
