"""SHA-256 digests used by the asset manifest.

* files (packaged meshes and textures): the digest of the file bytes;
* procedural meshes: the digest of the canonical mesh bytes — vertices as little-endian
  float32 ``(V, 3)`` then faces as little-endian int32 ``(F, 3)``, both C-ordered; when the mesh
  carries its own generated texture, its UVs (little-endian float32 ``(V, 2)``) and the texture
  (uint8 ``(H, W, 3)``) follow, so a palette change changes the digest;
* the manifest itself: the digest of its canonical JSON (:func:`gsi_bench.hashing.canonical_json`,
  UTF-8, no NaN), so re-indenting the file does not change it.
"""

from __future__ import annotations

import hashlib

import numpy as np


def mesh_sha256(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None = None,
                texture: np.ndarray | None = None) -> str:
    """Hex SHA-256 of the canonical mesh bytes (see module docstring).

    >>> mesh_sha256(np.zeros((3, 3)), np.array([[0, 1, 2]]))[:12]
    'b29dec44cd6a'
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(faces, dtype="<i4").tobytes())
    if uv is not None:
        h.update(np.ascontiguousarray(uv, dtype="<f4").tobytes())
    if texture is not None:
        h.update(np.ascontiguousarray(texture, dtype=np.uint8).tobytes())
    return h.hexdigest()
