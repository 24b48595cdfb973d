"""Bring a raw mesh into the asset canonical frame and give it vertex normals.

Canonical frame (see :mod:`gsi_bench.scene`): metres, ``+z`` up, the footprint (x–y bounding box)
centred on the origin, the lowest point at ``z = 0``, the front facing ``-y``.

All arithmetic is float64 and uses only correctly rounded operations after the input is fixed,
so the same input gives bit-identical output on every platform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: Dihedral angle (degrees) above which an edge is a crease (normals are not averaged across it).
#: Between 30° (a 12-sided tube stays smooth) and 35.3° (a box chamfer corner stays sharp).
CREASE_ANGLE_DEG = 33.0

_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


def axis_vector(axis: str) -> np.ndarray:
    """float64 ``(3,)`` unit vector of an axis name like ``"+y"`` or ``"-z"``."""
    v = np.zeros(3)
    v[_AXIS_INDEX[axis[1]]] = 1.0 if axis[0] == "+" else -1.0
    return v


def source_to_canonical(up: str, front: str) -> np.ndarray:
    """float64 3×3 rotation ``R`` with ``canonical = R @ source``.

    ``up``: the source axis that becomes canonical ``+z``; ``front``: the source axis that
    becomes canonical ``-y`` (the direction the object faces). The third axis follows from
    right-handedness, so ``R`` is a proper rotation (a signed permutation with det +1).

    >>> source_to_canonical("+z", "-y").astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    z_src = axis_vector(up)
    y_src = -axis_vector(front)
    if abs(float(z_src @ y_src)) > 0.5:
        raise ValueError(f"up {up!r} and front {front!r} must be different axes")
    x_src = np.cross(y_src, z_src)
    return np.stack([x_src, y_src, z_src])  # rows: the source direction of each canonical axis


@dataclass(frozen=True)
class CanonicalMesh:
    """A mesh in the canonical frame (float64 until the caller casts).

    ``vertices`` ``(V, 3)`` m; ``faces`` int64 ``(F, 3)``; ``normals`` unit ``(V, 3)``;
    ``uv`` ``(V, 2)`` or ``None``; ``offset`` ``(3,)``: translation that was added after
    rotation and scaling (to map other canonical-frame data such as support surfaces);
    ``scale`` ``(3,)``: per-axis factors that were applied.
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uv: np.ndarray | None
    offset: np.ndarray
    scale: np.ndarray


def clean(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Drop degenerate faces (repeated indices or zero area) and unreferenced vertices."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    distinct = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[distinct]
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    f = f[np.einsum("ij,ij->i", cross, cross) > 0.0]
    used = np.unique(f)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f], None if uv is None else np.asarray(uv, dtype=np.float64)[used]


def crease_normals(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None,
                   crease_deg: float = CREASE_ANGLE_DEG
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Smooth vertex normals that stay sharp across creases.

    Faces meeting at a vertex are grouped when they are connected through edges whose dihedral
    angle is below ``crease_deg``; each group gets the area-weighted mean normal of its faces,
    and a vertex used by several groups is split into copies. Adjacency is computed on vertex
    *positions*, so copies made for UV seams still share a smooth normal.

    Returns ``(vertices, faces, uv, normals)`` with unit float64 normals.
    """
    v, f = vertices, faces
    n_faces = len(f)
    pos_keys, geo = np.unique(v, axis=0, return_inverse=True)
    geo = geo.reshape(-1)
    gf = geo[f]  # faces on merged positions
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # 2·area·normal
    unit = cross / np.linalg.norm(cross, axis=1, keepdims=True)

    # Edges (sorted position ids) with their face and the two corner slots they join.
    corner = np.arange(n_faces * 3).reshape(n_faces, 3)
    ea = np.concatenate([gf[:, 0], gf[:, 1], gf[:, 2]])
    eb = np.concatenate([gf[:, 1], gf[:, 2], gf[:, 0]])
    ca = np.concatenate([corner[:, 0], corner[:, 1], corner[:, 2]])
    cb = np.concatenate([corner[:, 1], corner[:, 2], corner[:, 0]])
    swap = ea > eb
    lo, hi = np.where(swap, eb, ea), np.where(swap, ea, eb)
    c_lo, c_hi = np.where(swap, cb, ca), np.where(swap, ca, cb)
    face_of = np.tile(np.arange(n_faces), 3)
    order = np.lexsort((face_of, hi, lo))
    lo, hi, c_lo, c_hi, face_of = lo[order], hi[order], c_lo[order], c_hi[order], face_of[order]
    same = (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1])
    i = np.nonzero(same)[0]
    j = i + 1
    smooth = np.einsum("ij,ij->i", unit[face_of[i]], unit[face_of[j]]) >= np.cos(np.radians(crease_deg))
    i, j = i[smooth], j[smooth]
    rows = np.concatenate([c_lo[i], c_hi[i]])
    cols = np.concatenate([c_lo[j], c_hi[j]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_faces * 3, n_faces * 3))
    _, label = connected_components(graph, directed=False)

    # Normal of each corner group: sum of its faces' area-weighted normals.
    corner_face = np.repeat(np.arange(n_faces), 3)
    sums = np.stack([np.bincount(label, weights=cross[corner_face, k]) for k in range(3)], axis=1)
    lengths = np.linalg.norm(sums, axis=1, keepdims=True)
    group_normal = np.where(lengths > 0, sums / np.where(lengths > 0, lengths, 1.0), np.array([0.0, 0.0, 1.0]))

    # New vertices: unique (original vertex, group) pairs.
    pairs = np.stack([f.reshape(-1), label], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    new_faces = inverse.reshape(-1).reshape(n_faces, 3)
    new_v = v[uniq[:, 0]]
    new_uv = None if uv is None else uv[uniq[:, 0]]
    return new_v, new_faces, new_uv, group_normal[uniq[:, 1]]


def canonicalize(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None, *,
                 up: str = "+z", front: str = "-y", size: tuple[float, float, float] | None = None,
                 crease_deg: float = CREASE_ANGLE_DEG) -> CanonicalMesh:
    """Rotate (source axes → canonical), scale each axis to ``size`` (m; ``None`` keeps the
    size), centre the footprint, put the lowest point on ``z = 0`` and compute crease normals.

    ``vertices``: float ``(V, 3)`` in source units; ``faces``: int ``(F, 3)``; ``uv``:
    ``(V, 2)`` or ``None``.
    """
    v, f, uv = clean(vertices, faces, uv)
    if len(f) == 0:
        raise ValueError("mesh has no non-degenerate faces")
    rot = source_to_canonical(up, front)
    v = v @ rot.T
    lo, hi = v.min(axis=0), v.max(axis=0)
    extent = hi - lo
    if size is None:
        scale = np.ones(3)
    else:
        target = np.asarray(size, dtype=np.float64)
        scale = np.where(extent > 0, target / np.where(extent > 0, extent, 1.0), 1.0)
    v = v * scale
    lo, hi = v.min(axis=0), v.max(axis=0)
    offset = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    v = v + offset
    v, f, uv, normals = crease_normals(v, f, uv, crease_deg)
    return CanonicalMesh(v, f, normals, uv, offset, scale)
