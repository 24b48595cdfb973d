"""A GL-free renderer backend: one ray per pixel through trimesh's Embree intersector (embreex).

The scene's meshes are moved to the world frame and concatenated into one mesh with a
face → object map; one ray per pixel leaves the camera centre through the pixel centre
``(u, v) = (column, row)`` of ``K`` (OpenCV convention, see :mod:`gsi_bench.geometry`), and its
first hit gives the instance id, the depth (camera-frame ``z`` of the hit point, not the ray
length) and a flat-shaded colour: Lambert with the object's base colour (times the mean colour of
its texture, if any), ambient, and a shadow ray towards the sun.

It agrees with :class:`gsi_syn.render.gl.GLRenderer` on instance masks and depth (up to
rasterisation ties at silhouettes); its colours are only a rough preview (no texture detail, no
specular, flat normals). Slower than GL (≈40–80 ms at 256², ≈0.2 s at 512² on two cores, shadow
rays included) but needs no OpenGL at all. Hits closer than ``camera.near`` or beyond
``camera.far`` count as background.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

import numpy as np

from gsi_bench.scene import BACKGROUND_ID, Camera, Scene, SceneObject
from gsi_syn.assets.mesh import AssetMesh
from gsi_syn.render.base import RenderOutput

__all__ = ["MeshLibrary", "RaycastRenderer", "pixel_rays"]


class MeshLibrary(Protocol):
    """What the renderers need from an asset library (see :mod:`gsi_syn.assets`)."""

    def mesh(self, asset_id: str, params: dict | None = None) -> AssetMesh: ...

    def texture(self, texture_id: str) -> np.ndarray: ...


def pixel_rays(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Rays through every pixel centre, row-major (row 0 = top).

    Returns ``(origin, directions)``: the camera centre (float64 ``(3,)``, world, m) and unit
    world directions (float64 ``(H·W, 3)``); ray ``j·W + i`` passes through pixel centre
    ``(u, v) = (i, j)``.
    """
    K_inv = np.linalg.inv(camera.K_array)
    R = camera.cam_from_world_array[:3, :3]
    u = np.arange(camera.width, dtype=np.float64)[None, :]
    v = np.arange(camera.height, dtype=np.float64)[:, None]
    # camera-frame direction K⁻¹ [u, v, 1] (element-wise: BLAS is slow for (N, 3) @ (3, 3) here)
    d_cam = [(K_inv[k, 0] * u + K_inv[k, 1] * v + K_inv[k, 2]).ravel() for k in range(3)]
    d_world = np.empty((camera.width * camera.height, 3))
    for k in range(3):  # world direction = Rᵀ d_cam
        d_world[:, k] = R[0, k] * d_cam[0] + R[1, k] * d_cam[1] + R[2, k] * d_cam[2]
    d_world /= np.sqrt(np.einsum("ij,ij->i", d_world, d_world))[:, None]
    return camera.position, d_world


def _dot3(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise ``a @ v`` for ``a`` ``(N, 3)``, ``v`` ``(3,)`` (element-wise: multi-threaded BLAS
    matrix-vector products are erratic on small machines)."""
    return a[:, 0] * v[0] + a[:, 1] * v[1] + a[:, 2] * v[2]


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


_LUT_SIZE = 1 << 14
#: uint8 sRGB of linear values k / (_LUT_SIZE - 1): a table lookup instead of a power per pixel
_SRGB_LUT = np.round(_linear_to_srgb(np.linspace(0.0, 1.0, _LUT_SIZE)) * 255).astype(np.uint8)


def _encode_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear colours (any shape, clipped to [0, 1]) → uint8 sRGB."""
    idx = np.clip(linear * (_LUT_SIZE - 1) + 0.5, 0, _LUT_SIZE - 1).astype(np.int32)
    return _SRGB_LUT[idx]


class RaycastRenderer:
    """Ray-casting backend (trimesh + embreex). See the module docstring.

    Args:
        library: asset source with ``mesh(asset_id, params)`` and ``texture(texture_id)``;
            defaults (lazily) to :func:`gsi_syn.assets.get_library`.
        shadows: cast a shadow ray per lit hit (about doubles the cost).
        colours: shade the hits; ``False`` renders geometry only (instance ids and depth; ``rgb``
            stays the background colour), for checks that never look at colours.
    """

    name = "raycast"

    def __init__(self, library: MeshLibrary | None = None, *, shadows: bool = True, colours: bool = True):
        self._library = library
        self.shadows = shadows
        self.colours = colours
        self._texture_means: dict[str | tuple, np.ndarray] = {}

    @property
    def library(self) -> MeshLibrary:
        """The asset library (:func:`gsi_syn.assets.get_library` unless one was given)."""
        if self._library is None:
            from gsi_syn.assets import get_library

            self._library = get_library()
        return self._library

    # -- appearance ---------------------------------------------------------------------------
    def _mean_texture(self, key: str | tuple, image: Callable[[], np.ndarray]) -> np.ndarray:
        """Mean linear colour (float64 ``(3,)``) of the sRGB uint8 image ``image()``, cached by ``key``."""
        if key not in self._texture_means:
            img = np.asarray(image(), np.uint8)[..., :3].reshape(-1, 3)
            self._texture_means[key] = _srgb_to_linear(img / 255.0).mean(axis=0)
        return self._texture_means[key]

    def _albedo(self, obj: SceneObject, mesh: AssetMesh) -> np.ndarray:
        """Linear albedo (float64 ``(3,)``): base colour × mean texture colour, as GL would pick
        the texture (own UV texture first, else the material's)."""
        base = _srgb_to_linear(np.asarray(obj.material.color, np.float64) * np.asarray(mesh.base_color))
        if mesh.uv is not None and mesh.texture is not None:
            key = ("mesh", obj.asset_id, tuple(sorted(obj.params.items())))
            return base * self._mean_texture(key, lambda: mesh.texture)
        if obj.material.texture:
            tex_id = obj.material.texture
            return base * self._mean_texture(tex_id, lambda: self.library.texture(tex_id))
        return base

    # -- geometry -----------------------------------------------------------------------------
    def _world_mesh(self, objects: list[SceneObject]) -> tuple[Any, np.ndarray, list[AssetMesh]]:
        """One ``trimesh.Trimesh`` in world coordinates (m), ``face → index into objects`` (int64
        ``(F,)``) and the per-object canonical meshes."""
        import trimesh

        verts, faces, owner, meshes, offset = [], [], [], [], 0
        for k, obj in enumerate(objects):
            mesh = self.library.mesh(obj.asset_id, dict(obj.params))
            m = obj.world_from_object()
            v = np.asarray(mesh.vertices, np.float64) @ m[:3, :3].T + m[:3, 3]
            f = np.asarray(mesh.faces, np.int64)
            verts.append(v)
            faces.append(f + offset)
            owner.append(np.full(len(f), k, np.int64))
            meshes.append(mesh)
            offset += len(v)
        world = trimesh.Trimesh(np.concatenate(verts), np.concatenate(faces), process=False, validate=False)
        return world, np.concatenate(owner), meshes

    # -- rendering ----------------------------------------------------------------------------
    def render(self, scene: Scene, *, only: Collection[int] | None = None) -> RenderOutput:
        """Render ``scene`` from ``scene.camera``; see :class:`gsi_syn.render.base.Renderer`.

        Returns ``rgb`` uint8 ``(H, W, 3)`` sRGB, ``instances`` uint16 ``(H, W)`` (0 = no hit),
        ``depth`` float32 ``(H, W)`` camera-frame ``z`` in metres (0 = no hit).
        """
        cam = scene.camera
        h, w = int(cam.height), int(cam.width)
        keep = None if only is None else {int(i) for i in only}
        objects = [o for o in scene.objects if keep is None or o.instance_id in keep]
        bg = np.round(np.clip(np.asarray(scene.background, np.float64), 0, 1) * 255).astype(np.uint8)
        rgb = np.empty((h * w, 3), np.uint8)
        rgb[:] = bg
        ids = np.full(h * w, BACKGROUND_ID, np.uint16)
        depth = np.zeros(h * w, np.float32)
        if objects:
            self._cast(scene, objects, rgb, ids, depth)
        return RenderOutput(rgb=rgb.reshape(h, w, 3), instances=ids.reshape(h, w), depth=depth.reshape(h, w))

    def _cast(self, scene: Scene, objects: list[SceneObject], rgb: np.ndarray, ids: np.ndarray,
              depth: np.ndarray) -> None:
        from trimesh.ray.ray_pyembree import RayMeshIntersector

        cam = scene.camera
        world, owner, meshes = self._world_mesh(objects)
        hitter = RayMeshIntersector(world)
        origin, dirs = pixel_rays(cam)
        origins = np.broadcast_to(origin, dirs.shape)
        tri, ray, loc = hitter.intersects_id(origins, dirs, multiple_hits=False, return_locations=True)
        if len(tri) == 0:
            return
        T = cam.cam_from_world_array
        z = _dot3(loc, T[2, :3]) + T[2, 3]
        ok = (z >= cam.near) & (z <= cam.far)
        tri, ray, loc, z = tri[ok], ray[ok], loc[ok], z[ok]
        obj_index = owner[tri]
        ids[ray] = np.array([o.instance_id for o in objects], np.uint16)[obj_index]
        depth[ray] = z.astype(np.float32)
        if not self.colours:
            return

        # flat Lambert + ambient + shadow ray
        light = scene.light
        normals = np.asarray(world.face_normals, np.float64)[tri]
        facing = np.einsum("ij,ij->i", normals, dirs[ray]) > 0
        normals[facing] *= -1.0
        to_light = -np.asarray(light.direction, np.float64)
        to_light /= np.linalg.norm(to_light)
        ndl = np.clip(_dot3(normals, to_light), 0.0, None)
        if self.shadows:
            lit = ndl > 0
            if lit.any():
                starts = loc[lit] + normals[lit] * 1e-4 + to_light * 1e-4
                blocked = hitter.intersects_any(starts, np.broadcast_to(to_light, starts.shape))
                idx = np.flatnonzero(lit)[blocked]
                ndl[idx] = 0.0
        albedo = np.stack([self._albedo(o, m) for o, m in zip(objects, meshes, strict=True)])[obj_index]
        light_rgb = _srgb_to_linear(light.color) * float(light.intensity)
        colour = albedo * (float(light.ambient) + ndl[:, None] * light_rgb[None, :])
        rgb[ray] = _encode_srgb8(colour)
