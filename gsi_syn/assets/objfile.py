"""Reading packaged Wavefront OBJ meshes (geometry and UVs only).

Materials and their images are deliberately *not* resolved here: the manifest names the
texture an asset's UVs address, and :mod:`gsi_syn.assets.textures` decodes it (once, and
downsampled). Reading from an open file handle keeps trimesh from looking up ``.mtl`` files and
decoding multi-megabyte images it would then throw away.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh


@dataclass(frozen=True)
class RawMesh:
    """A source mesh as stored: ``vertices`` float64 ``(V, 3)`` in source units and axes,
    ``faces`` int64 ``(F, 3)``, ``uv`` float64 ``(V, 2)`` or ``None``."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None


def load_obj(path: str | Path) -> RawMesh:
    """Load an OBJ file with trimesh (``process=False``: vertex order kept, nothing merged).

    Vertices are split where UVs differ (trimesh's OBJ convention). A file with several
    objects or materials is concatenated in file order, each part placed by its scene-graph
    transform; UVs are kept only if every part has them (all parts are then assumed to address
    the same image, as in every multi-part file the library uses).
    """
    with open(path, "rb") as fh:
        scene = trimesh.load(fh, file_type="obj", process=False, force="scene")
    verts, faces, uvs, offset = [], [], [], 0
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        v = np.asarray(geom.vertices, dtype=np.float64)
        if not np.allclose(transform, np.eye(4)):
            v = v @ np.asarray(transform)[:3, :3].T + np.asarray(transform)[:3, 3]
        verts.append(v)
        faces.append(np.asarray(geom.faces, dtype=np.int64) + offset)
        uv = getattr(geom.visual, "uv", None)
        uvs.append(None if uv is None or len(uv) != len(v) else np.asarray(uv, dtype=np.float64))
        offset += len(v)
    if not verts:
        raise ValueError(f"{path}: no mesh geometry")
    uv_all = None if any(u is None for u in uvs) else np.concatenate(uvs)
    return RawMesh(np.concatenate(verts), np.concatenate(faces), uv_all)
