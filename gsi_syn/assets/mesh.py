"""The in-memory form of one asset's geometry, as the renderers consume it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AssetMesh:
    """A triangle mesh in the asset canonical frame (see :mod:`gsi_bench.scene`).

    Attributes:
        vertices: float32 ``(V, 3)``, metres; ``+z`` up, footprint centre at the origin, lowest
            point at ``z = 0``, canonical front facing ``-y``.
        faces: int32 ``(F, 3)`` counter-clockwise (outward normals) vertex indices.
        normals: float32 ``(V, 3)`` unit vertex normals.
        uv: float32 ``(V, 2)`` texture coordinates in [0, 1] (``v`` up, OpenGL style), or ``None``
            when the asset has no UV map (renderers then use tri-planar mapping in object space).
        texture: uint8 ``(H, W, 3)`` sRGB texture image (row 0 = top) or ``None``.
        base_color: sRGB colour in [0, 1]³ used when there is no texture, multiplied with it
            otherwise.
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None
    base_color: tuple[float, float, float] = (0.8, 0.8, 0.8)

    @property
    def bounds(self) -> np.ndarray:
        """float64 ``(2, 3)``: min and max corner of the axis-aligned bounding box (m)."""
        v = self.vertices.astype(np.float64)
        return np.stack([v.min(axis=0), v.max(axis=0)])

    @property
    def size(self) -> np.ndarray:
        """float64 ``(3,)``: bounding-box extents (m) along x, y, z."""
        b = self.bounds
        return b[1] - b[0]
