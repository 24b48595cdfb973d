"""The default renderer backend: OpenGL 3.3 through moderngl on a headless EGL context.

Each thread that renders holds one standalone context (an OpenGL context is current on one
thread only; created on first use, re-created after a ``fork``), with its shader programs, one
framebuffer per image size and one shadow map per size. Each :class:`GLRenderer` keeps GPU
copies of the meshes and textures it draws (LRU caches keyed by ``(asset_id, params)`` and by
texture id), so a frame costs only its draw calls and readback.

A render is two passes:

1. **shadow pass** — depth only, from the directional light through an orthographic frustum
   (:func:`plan_shadow_grid`, :func:`light_clip_from_world`) whose window covers only where a
   visible point can be in shadow: the overlap of the casters' footprint seen from the light and
   the visible part of the scene. The floor, lying below everything, casts nothing and is left
   out. The texel grid and depth range depend only on the camera, the light and the scene's
   supports / structures, so ``only=`` renders and edits leave untouched shadows in place;
2. **main pass** — three render targets (sRGB colour, ``uint16`` instance id, ``float32``
   camera ``z`` in metres) plus a depth buffer, no multisampling, so ids are exact.

The other entry points reuse these pieces: :meth:`GLRenderer.labels` is a **labels pass** (the main
pass's vertex shader, geometry, draw order and depth test with a colourless fragment shader: the
same ids and depth bit for bit, no shadow map); :meth:`GLRenderer.photo` is the shadow pass plus a
multisampled PBR **photo pass**; :meth:`GLRenderer.photo_with_labels` draws the shadow map once for
a labels pass and a photo pass. The labels cannot be taken from the photo pass itself: its coverage
samples lie off the pixel centre, where the labels are defined. Renders with ``only=`` clear, draw,
resolve and read back only the drawn objects' pixel rectangle (:func:`drawn_region`, a scissor
box); the rest of the image is the cleared values, as a whole-frame render would leave it.

Pixel convention: the projection (:func:`opencv_projection`) puts a camera point ``(x, y, z)``
(OpenCV frame) at the centre of pixel column ``u = fx·x/z + s·y/z + cx`` and row
``v = fy·y/z + cy``; the image is rasterised "upside down" in GL window coordinates so that GL row
``r`` *is* image row ``r`` (row 0 at the top) and readback needs no flip.

Speed on Mesa llvmpipe (CPU rasteriser): closed, outward-facing meshes are drawn with back faces
culled, indices are 16-bit where possible (llvmpipe's fast path), draws go front to back so the
floor fails the early depth test behind objects, and the fragment shader comes in compile-time
variants (llvmpipe executes both sides of a branch) — see :mod:`gsi_syn.render.shaders`. The
per-object draw data that does not involve the camera (model matrix, box corners, material
uniforms) is cached per renderer by pose, and the photo is read back as half floats and encoded
through a 65,536-entry table.

Determinism: same scene → same bytes, across calls, processes and llvmpipe thread counts
(``LP_NUM_THREADS``). Other OpenGL drivers (a GPU's) render slightly different pixels;
:attr:`GLRenderer.device` names the one in use.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gsi_bench.scene import Camera, Scene, SceneObject
from gsi_syn.assets.mesh import AssetMesh
from gsi_syn.materials import roughness_from_specular
from gsi_syn.render import shaders
from gsi_syn.render.base import RenderOutput
from gsi_syn.render.environment import IRRADIANCE_MONOMIALS, choose_hdri, irradiance_polynomial

__all__ = [
    "GLRenderer",
    "MeshLibrary",
    "ShadowGrid",
    "drawn_region",
    "gl_available",
    "light_clip_from_world",
    "opencv_projection",
    "plan_shadow_grid",
    "shadow_casters",
    "visible_region_vertices",
]


class MeshLibrary(Protocol):
    """What the renderers need from an asset library (see :mod:`gsi_syn.assets`)."""

    def mesh(self, asset_id: str, params: dict | None = None) -> AssetMesh: ...

    def texture(self, texture_id: str) -> np.ndarray: ...


# ---------------------------------------------------------------------------------------------
# Pure geometry (numpy, float64)
# ---------------------------------------------------------------------------------------------

def opencv_projection(K: np.ndarray, width: int, height: int, near: float, far: float) -> np.ndarray:
    """4×4 float64 ``clip_from_cam`` for an OpenCV camera (x right, y down, z forward).

    A camera point ``(x, y, z)`` lands at normalised device coordinates whose GL pixel is the
    pixel centre ``(u, v) = (fx·x/z + s·y/z + cx, fy·y/z + cy)`` with GL window row ``v`` (the image
    is rendered upside down in GL terms, so GL row 0 is image row 0, the top one). Depth maps
    ``z = near → -1`` and ``z = far → +1``; ``w_clip = z``.

    >>> P = opencv_projection(np.array([[100., 0, 31.5], [0, 100., 31.5], [0, 0, 1]]), 64, 64, 0.1, 10)
    >>> c = P @ [0.0, 0.0, 2.0, 1.0]
    >>> float(c[0] / c[3] * 32 + 32 - 0.5)  # NDC → GL column centre: the principal point
    31.5
    """
    K = np.asarray(K, dtype=np.float64)
    fx, s, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    w, h, n, f = float(width), float(height), float(near), float(far)
    return np.array([
        [2 * fx / w, 2 * s / w, (2 * cx + 1) / w - 1, 0.0],
        [0.0, 2 * fy / h, (2 * cy + 1) / h - 1, 0.0],
        [0.0, 0.0, (f + n) / (f - n), -2 * f * n / (f - n)],
        [0.0, 0.0, 1.0, 0.0],
    ])


def _camera_halfspaces(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """World half-spaces ``A @ p + b >= 0`` (``A`` (6, 3), ``b`` (6,)) of the view frustum
    (image borders at the outer pixel edges, near and far planes)."""
    K = camera.K_array
    fx, s, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    w, h = camera.width, camera.height
    a_cam = np.array([
        [fx, s, cx + 0.5], [-fx, -s, w - 0.5 - cx],
        [0.0, fy, cy + 0.5], [0.0, -fy, h - 0.5 - cy],
        [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    b_cam = np.array([0.0, 0.0, 0.0, 0.0, -camera.near, camera.far])
    t = camera.cam_from_world_array
    return a_cam @ t[:3, :3], a_cam @ t[:3, 3] + b_cam


_TRIPLES = np.array([(i, j, k) for i in range(12) for j in range(i + 1, 12) for k in range(j + 1, 12)])


def visible_region_vertices(camera: Camera, box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """Vertices (float64 ``(N, 3)``, world, m) of the convex polyhedron "view frustum ∩ axis-aligned
    box"; ``N = 0`` when the camera sees none of the box.

    Every triple of the 12 bounding planes is intersected and the points inside all 12 half-spaces
    are kept (duplicates included; callers only take bounds)."""
    a_cam, b_cam = _camera_halfspaces(camera)
    a = np.concatenate([a_cam, np.eye(3), -np.eye(3)])
    b = np.concatenate([b_cam, -np.asarray(box_min, np.float64), np.asarray(box_max, np.float64)])
    norm = np.linalg.norm(a, axis=1)
    a, b = a / norm[:, None], b / norm
    mats = a[_TRIPLES]
    ok = np.abs(np.linalg.det(mats)) > 1e-9
    pts = np.linalg.solve(mats[ok], -b[_TRIPLES[ok]][..., None])[..., 0]
    tol = 1e-7 * max(1.0, float(np.abs(pts).max(initial=0.0)))
    return pts[(pts @ a.T + b >= -tol).all(axis=1)]


def _light_basis(direction: np.ndarray) -> np.ndarray:
    """3×3 ``light_from_world`` rotation whose third row is the light's travel direction."""
    fwd = np.asarray(direction, np.float64)
    fwd = fwd / np.linalg.norm(fwd)
    helper = np.array([1.0, 0.0, 0.0]) if abs(fwd[2]) > 0.99 else np.array([0.0, 0.0, 1.0])
    right = np.cross(helper, fwd)
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(fwd, right), fwd])


@dataclass(frozen=True)
class ShadowGrid:
    """The scene-level half of the shadow-map set-up: light orientation, texel size and depth range.

    It depends only on the camera, the light and the scene's supports and structures (or, when it
    has none, all its objects) — not on ``only=`` nor on where movable objects stand — and every
    render places its shadow-map window on this grid in whole texels. So a caster that did not
    change covers the same texels with the same depths, and the shadows of objects an edit did not
    touch stay put (to floating-point rounding in the rasteriser).

    ``rotation``: float64 ``(3, 3)`` ``light_from_world`` (row 2: the light's travel direction);
    ``texel``: texel side (m); ``z_near`` / ``z_far``: depth range along the travel direction (m,
    light frame). Casters nearer than ``z_near`` are clamped onto it (depth clamp), so they still
    shadow everything behind them.
    """

    rotation: np.ndarray
    texel: float
    z_near: float
    z_far: float


def _footprint(points: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Light-space x/y bounding rectangle ``(lo, hi)`` of world points ``(N, 3)``."""
    xy = (np.asarray(points, np.float64) @ rotation.T)[:, :2]
    return xy.min(axis=0), xy.max(axis=0)


def plan_shadow_grid(camera: Camera, light_direction: np.ndarray, corners: np.ndarray, roles: list[str],
                     size: int) -> ShadowGrid:
    """The :class:`ShadowGrid` of a scene.

    ``corners``: float64 ``(N, 8, 3)`` world bounding-box corners of all N scene objects;
    ``roles``: their :attr:`SceneObject.role`. The stable part of the scene is its supports and
    structures (all objects if there are none); the texel size lets ``size`` texels cover 1.25×
    (to 1.49×: it is rounded up to a power of 2^¼ m) the light-space footprint of its shadow
    casters (the stable casters, else all casters) within what the camera sees of it; the depth
    range covers it with 1 m (or one footprint) of headroom towards the light.
    """
    rot = _light_basis(light_direction)
    corners = np.asarray(corners, np.float64)
    stable = np.array([r in ("support", "structure") for r in roles])
    if not stable.any():
        stable[:] = True
    s_pts = corners[stable].reshape(-1, 3)
    visible = visible_region_vertices(camera, s_pts.min(axis=0), s_pts.max(axis=0))
    if len(visible) == 0:
        visible = s_pts
    casting = shadow_casters(corners[:, :, 2].min(axis=1), corners[:, :, 2].max(axis=1), light_direction)
    pick = stable & casting
    if not pick.any():
        pick = casting
    v_lo, v_hi = _footprint(visible, rot)
    c_lo, c_hi = _footprint(corners[pick].reshape(-1, 3), rot)
    lo, hi = np.maximum(v_lo, c_lo), np.minimum(v_hi, c_hi)
    if np.any(hi <= lo):
        lo, hi = v_lo, v_hi
    extent = max(float(np.max(hi - lo)), 1e-3)
    depth = np.concatenate([s_pts, visible]) @ rot[2]
    headroom = max(1.0, extent)
    pad = 0.01 * max(float(np.ptp(depth)), 0.1)
    # texel sides come from a ladder of quarter octaves, so that a footprint which still depends
    # on movable objects (a scene without stable casters) rarely changes the grid
    texel = 2.0 ** (np.ceil(4.0 * np.log2(1.25 * extent / size)) / 4.0)
    return ShadowGrid(rot, float(texel), float(depth.min()) - headroom, float(depth.max()) + pad)


def light_clip_from_world(grid: ShadowGrid, caster_points: np.ndarray, receiver_points: np.ndarray,
                          size: int, margin_texels: int = 3) -> tuple[np.ndarray, float] | None:
    """Orthographic ``clip_from_world`` (4×4 float64) of one render's ``size``² shadow map, and
    its texel side (m).

    A receiver can only be in shadow where some caster lies between it and the light, i.e. inside
    the casters' footprint seen from the light; so the window must cover the overlap of the
    light-space rectangles of ``caster_points`` and ``receiver_points`` (world ``(N, 3)``; the
    receivers being the visible part of the rendered objects), plus ``margin_texels``. It is
    snapped to ``grid`` in whole texels; if it does not fit in ``size`` texels the texel side is
    doubled until it does. ``None`` when the rectangles do not overlap (nothing to shadow).
    """
    c_lo, c_hi = _footprint(caster_points, grid.rotation)
    r_lo, r_hi = _footprint(receiver_points, grid.rotation)
    lo, hi = np.maximum(c_lo, r_lo), np.minimum(c_hi, r_hi)
    if np.any(hi <= lo):
        return None
    texel = grid.texel
    while True:
        first = np.floor(lo / texel) - margin_texels
        last = np.ceil(hi / texel) + margin_texels
        if np.all(last - first <= size):
            break
        texel *= 2.0
    origin = first * texel
    half = 0.5 * size * texel
    z0, z1 = grid.z_near, grid.z_far
    ortho = np.array([
        [1 / half, 0, 0, -(origin[0] + half) / half],
        [0, 1 / half, 0, -(origin[1] + half) / half],
        [0, 0, 2 / (z1 - z0), -(z1 + z0) / (z1 - z0)],
        [0, 0, 0, 1.0]])
    view = np.eye(4)
    view[:3, :3] = grid.rotation
    return ortho @ view, float(texel)


def shadow_casters(boxes_min_z: np.ndarray, boxes_max_z: np.ndarray,
                   light_direction: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: which of N objects (world bounding boxes' lowest / highest z, m) may cast a
    shadow onto another. With the sun above the horizon, an object lying entirely at or below
    the bottom of every other object (the floor) can shadow nothing else and is left out of the
    shadow pass (it still receives shadows)."""
    lo = np.asarray(boxes_min_z, np.float64)
    hi = np.asarray(boxes_max_z, np.float64)
    if len(lo) < 2 or float(np.asarray(light_direction)[2]) >= 0.0:
        return np.ones(len(lo), bool)
    order = np.argsort(lo, kind="stable")
    lowest_other = np.full(len(lo), lo[order[0]])  # min over the others: the lowest bottom...
    lowest_other[order[0]] = lo[order[1]]          # ...or, for that object itself, the second lowest
    return hi > lowest_other + 1e-6


def drawn_region(camera: Camera, corners: np.ndarray, pad: int = 2,
                 max_fraction: float = 0.5) -> tuple[int, int, int, int] | None:
    """The pixel rectangle ``(x, y, w, h)`` (image column / row of its top-left pixel, width,
    height) that holds every pixel of objects whose world bounding-box corners are ``corners``
    (float64 ``(N, 3)``, m): the boxes' projection, ``pad`` pixels wider, within the image.
    ``None`` (render the whole image) when a corner lies at or behind the near plane (the
    projection of the box is then unbounded) or the rectangle is more than ``max_fraction`` of the
    image. A rectangle of no pixel (the objects are out of view) is returned as 1×1 at (0, 0)."""
    t = camera.cam_from_world_array
    pts = np.asarray(corners, np.float64) @ t[:3, :3].T + t[:3, 3]
    z = pts[:, 2]
    if np.any(z <= camera.near):
        return None
    uv = (pts @ camera.K_array.T)[:, :2] / z[:, None]
    lo = np.floor(uv.min(axis=0)).astype(int) - pad
    hi = np.ceil(uv.max(axis=0)).astype(int) + pad + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), camera.width), min(int(hi[1]), camera.height)
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 1, 1)
    if (x1 - x0) * (y1 - y0) > max_fraction * camera.width * camera.height:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _clear_colour(background: Any) -> tuple[float, float, float]:
    """The linear RGB the photo pass clears to for an sRGB scene ``background``."""
    lin = _srgb_to_linear(np.asarray(background, np.float64)[:3])
    return (float(lin[0]), float(lin[1]), float(lin[2]))


_LUT_STEPS = 16384  # linear steps of the encoding table: < 0.25 sRGB levels apart, even near black
_c = np.arange(_LUT_STEPS + 1) / _LUT_STEPS
_LINEAR_TO_SRGB8 = np.rint(255.0 * np.where(_c <= 0.0031308, 12.92 * _c, 1.055 * _c ** (1 / 2.4) - 0.055)
                           ).astype(np.uint8)
del _c


def _linear_to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear [0, 1] values → uint8 sRGB levels (table lookup at 1/16384 linear steps)."""
    idx = np.clip(np.nan_to_num(lin, nan=0.0), 0.0, 1.0) * _LUT_STEPS + 0.5  # (NaN: degenerate normals)
    return _LINEAR_TO_SRGB8[idx.astype(np.int32)]


#: :func:`_linear_to_srgb8` of every half-float (indexed by its 16 bits): the photo target holds
#: half floats, so one table lookup per channel encodes it, with exactly the same result
_HALF_TO_SRGB8 = _linear_to_srgb8(np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
                                  .astype(np.float32))


_UNIT_BOX = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float64)


def _world_corners(bounds: np.ndarray, world_from_object: np.ndarray) -> np.ndarray:
    """The 8 world corners (float64 (8, 3)) of an object's canonical bounding box."""
    corners = bounds[0] + _UNIT_BOX * (bounds[1] - bounds[0])
    return corners @ world_from_object[:3, :3].T + world_from_object[:3, 3]


@functools.lru_cache(maxsize=64)
def _irradiance_uniforms(hdri: str, rotation_deg: float) -> dict[str, bytes]:
    """The photo shader's ``u_irr_*`` uniforms: the scene HDRI's irradiance polynomial of the
    world normal (:func:`~gsi_syn.render.environment.irradiance_polynomial`)."""
    coef = irradiance_polynomial(hdri, rotation_deg)
    return {f"u_irr_{'1' if m == '1' else m}": _vec(c) for m, c in zip(IRRADIANCE_MONOMIALS, coef, strict=True)}


def _mat4(m: np.ndarray) -> bytes:
    """A 4×4 (or 3×3) numpy matrix as GLSL column-major float32 bytes."""
    return np.ascontiguousarray(np.asarray(m, np.float64).T, dtype=np.float32).tobytes()


def _vec(v: np.ndarray) -> bytes:
    """A vector as float32 bytes (for vec3 / vec4 uniforms)."""
    return np.asarray(v, np.float32).tobytes()


def _weld(vertices: np.ndarray) -> np.ndarray:
    """int64 ``(V,)`` ids of vertices welded by position on a 1 µm grid: equal ids exactly when the
    grid points are equal (sorted by a packed integer key, not row-wise, which is far slower)."""
    q = np.round(np.asarray(vertices, np.float64) * 1e6).astype(np.int64)
    q -= q.min(axis=0)
    span = q.max(axis=0) + 1
    if float(span[0]) * float(span[1]) * float(span[2]) < 2.0 ** 62:
        key = (q[:, 0] * span[1] + q[:, 1]) * span[2] + q[:, 2]
    else:  # large extents: pack x and y first, then their rank with z
        _, xy = np.unique(q[:, 0] * span[1] + q[:, 1], return_inverse=True)
        key = xy.reshape(-1) * span[2] + q[:, 2]
    _, ids = np.unique(key, return_inverse=True)
    return ids.reshape(-1)


def _is_closed_outward(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """True if the mesh (vertices welded by position, 1 µm) is a closed, consistently oriented,
    outward-facing surface — every directed edge once, its reverse once, positive volume — so its
    back faces can never be seen from outside and may be culled."""
    if len(faces) == 0:
        return False
    weld = _weld(vertices)
    f = weld[np.asarray(faces, np.int64)]
    if np.any((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])):
        return False
    n = int(weld.max()) + 1
    start, end = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)  # the directed edges
    code = np.sort(start * n + end)
    if np.any(code[1:] == code[:-1]):
        return False  # a directed edge used twice: non-manifold or inconsistent winding
    if not np.array_equal(code, np.sort(end * n + start)):
        return False  # an edge without its twin: open boundary
    tri = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    return bool(volume > 0)


# ---------------------------------------------------------------------------------------------
# Per-process GL state
# ---------------------------------------------------------------------------------------------

_GL_SRGB8 = 0x8C41
_GL_SRGB8_ALPHA8 = 0x8C43
_GL_FRAMEBUFFER_SRGB = 0x8DB9
_GL_DEPTH_CLAMP = 0x864F


class _Targets:
    """The main-pass framebuffer of one image size: sRGB colour, R16UI ids, R32F camera z and a
    depth buffer; plus a colour-only framebuffer used to clear the colour to the background, and
    the labels-pass framebuffer (the same ids, camera z and depth buffer, no colour)."""

    def __init__(self, ctx: Any, width: int, height: int):
        size = (width, height)
        self.color = ctx.texture(size, 4, internal_format=_GL_SRGB8_ALPHA8)
        self.ids = ctx.texture(size, 1, dtype="u2")
        self.depth = ctx.texture(size, 1, dtype="f4")
        self.zbuffer = ctx.depth_renderbuffer(size)
        self.fbo = ctx.framebuffer([self.color, self.ids, self.depth], self.zbuffer)
        self.color_only = ctx.framebuffer([self.color])
        self.labels = ctx.framebuffer([self.ids, self.depth], self.zbuffer)  # the labels pass
        self.size = size


class _PhotoTargets:
    """The published-image framebuffer of one size: multisampled half-float linear colour plus
    depth, and the single-sample buffer it is resolved into (``samples`` = 1: no multisampling)."""

    def __init__(self, ctx: Any, width: int, height: int, samples_per_side: int):
        size = (width, height)
        n = samples_per_side * samples_per_side
        n = 0 if n <= 1 else min(n, ctx.max_samples)
        self.ctx = ctx
        self.size = size
        self.fbo = ctx.framebuffer([ctx.renderbuffer(size, 4, samples=n, dtype="f2")],
                                   ctx.depth_renderbuffer(size, samples=n))
        self.resolved = ctx.framebuffer([ctx.renderbuffer(size, 4, dtype="f2")]) if n else self.fbo
        self._backgrounds: dict[tuple[float, float, float], np.ndarray] = {}

    def read(self, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Resolve (average the samples, in linear light) and read back as uint8 sRGB (h, w, 3):
        the half floats as they are, encoded by :data:`_HALF_TO_SRGB8`. ``region``: ``(x, y, w,
        h)`` pixels (image column, row) to read, default the whole image; the framebuffer's
        scissor box, when set, limits the resolve."""
        if self.resolved is not self.fbo:
            self.ctx.copy_framebuffer(self.resolved, self.fbo)
        x, y, width, height = region or (0, 0, *self.size)
        data = self.resolved.read((x, y, width, height), components=3, dtype="f2")
        return np.take(_HALF_TO_SRGB8, np.frombuffer(data, np.uint16).reshape(height, width, 3))

    def background(self, colour: Any) -> np.ndarray:
        """uint8 ``(3,)``: what :meth:`read` gives where the main pass's clear to the sRGB
        background ``colour`` left a pixel untouched — asked of the driver once per colour (its
        float-to-half conversion of a clear colour is its own) by clearing and reading one pixel."""
        lin = _clear_colour(colour)
        if lin not in self._backgrounds:
            one = (0, 0, 1, 1)
            self.fbo.scissor = one
            self.fbo.use()
            self.fbo.clear(*lin, 1.0, depth=1.0, viewport=one)
            self._backgrounds[lin] = self.read(one)[0, 0]
            if len(self._backgrounds) > 256:
                self._backgrounds.pop(next(iter(self._backgrounds)))
        return self._backgrounds[lin]


class _Shadow:
    """A square depth texture (compare mode, linear filter → 2×2 hardware PCF) and its framebuffer."""

    def __init__(self, ctx: Any, size: int):
        self.tex = ctx.depth_texture((size, size))
        self.tex.compare_func = "<="
        self.tex.repeat_x = False
        self.tex.repeat_y = False
        self.fbo = ctx.framebuffer(depth_attachment=self.tex)
        self.size = size


class _Uniforms:
    """Write access to a program's uniforms by name; names the GLSL compiler optimised away are
    ignored. Values are raw column-major float32/int bytes or Python scalars."""

    def __init__(self, program: Any):
        self._members = {name: program[name] for name in program}

    def __setitem__(self, name: str, value: bytes | float) -> None:
        member = self._members.get(name)
        if member is None:
            return
        if isinstance(value, bytes):
            member.write(value)
        else:
            member.value = value


class _Program:
    """A linked program, its uniforms and its variant key."""

    def __init__(self, ctx: Any, vertex_shader: str, fragment_shader: str, key: tuple = ()):
        self.prog = ctx.program(vertex_shader=vertex_shader, fragment_shader=fragment_shader)
        self.u = _Uniforms(self.prog)
        self.key = key


class _GLState:
    """Context, programs and size-keyed targets shared by every renderer of this thread."""

    def __init__(self) -> None:
        import moderngl

        self.pid = os.getpid()
        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")  # headless Linux
        except Exception:  # noqa: BLE001 - moderngl raises plain Exception; try the platform default
            self.ctx = moderngl.create_standalone_context()  # (macOS, Windows)
        info = self.ctx.info
        self.device = f"{info['GL_RENDERER']}; {info['GL_VERSION']}"
        self.shadow_prog = _Program(self.ctx, shaders.SHADOW_VS, shaders.SHADOW_FS)
        self.labels_prog = _Program(self.ctx, shaders.MAIN_VS, shaders.LABELS_FS, ("labels",))
        self._main: dict[tuple[int, int], _Program] = {}
        self.white = self.ctx.texture((1, 1), 3, data=b"\xff\xff\xff", internal_format=_GL_SRGB8)
        self.targets: dict[tuple[int, int], _Targets] = {}
        self.photo_targets: dict[tuple[int, int, int], _PhotoTargets] = {}
        self.shadows: dict[int, _Shadow] = {}
        self.resources = _Resources()

    def main(self, tex_mode: int, shadows: int, pbr: bool = False) -> _Program:
        """The main-pass program of one variant (``shaders.TEX_*``, ``shaders.SHADOWS_*``, PBR
        shading or not), compiled on first use."""
        key = (tex_mode, shadows, pbr)
        if key not in self._main:
            fragment = shaders.main_fragment_shader(tex_mode, shadows, pbr)
            program = _Program(self.ctx, shaders.MAIN_VS, fragment, key)
            program.u["u_tex"] = 0
            program.u["u_shadow"] = 1
            self._main[key] = program
        return self._main[key]

    def target(self, width: int, height: int) -> _Targets:
        key = (width, height)
        if key not in self.targets:
            self.targets[key] = _Targets(self.ctx, width, height)
        return self.targets[key]

    def photo_target(self, width: int, height: int, samples: int) -> "_PhotoTargets":
        key = (width, height, samples)
        if key not in self.photo_targets:
            self.photo_targets[key] = _PhotoTargets(self.ctx, width, height, samples)
        return self.photo_targets[key]

    def shadow(self, size: int) -> _Shadow:
        if size not in self.shadows:
            self.shadows[size] = _Shadow(self.ctx, size)
        return self.shadows[size]


_LOCAL = threading.local()  # .state: this thread's _GLState


def _gl_state() -> _GLState:
    """This thread's GL state, created on first use (and anew in a forked child). Per thread, not
    per process: a context made current on one thread cannot be used from another, so a thread
    that renders after another one did (a harness's scoring thread) needs its own."""
    state = getattr(_LOCAL, "state", None)
    if state is None or state.pid != os.getpid():
        state = _LOCAL.state = _GLState()
    return state


def holds_context() -> bool:
    """Whether this thread has made its GL context in this process. A process forked from one
    that has inherits the driver's state but not its threads (llvmpipe's rasteriser and shader
    cache queues): GL calls in the child can then wait for them forever, so such a process
    should start rendering workers with ``spawn``, not ``fork``."""
    state = getattr(_LOCAL, "state", None)
    return state is not None and state.pid == os.getpid()


def gl_available() -> tuple[bool, str]:
    """``(True, "")`` if a headless EGL context can be created here, else ``(False, reason)``."""
    try:
        _gl_state()
    except Exception as err:  # noqa: BLE001 - any driver or import failure means "no GL here"
        return False, f"{type(err).__name__}: {err}"
    return True, ""


# ---------------------------------------------------------------------------------------------
# GPU mesh / texture cache
# ---------------------------------------------------------------------------------------------

@dataclass
class _GPUMesh:
    """One asset mesh on the GPU: interleaved ``pos(3) normal(3) uv(2)`` float32 vertices and
    uint16 (uint32 past 65,536 vertices) triangle indices, faces reordered so that the ``n_axis``
    faces whose vertex normals all lie within 20° of one object axis come first (they need one
    tri-planar fetch, not three); its own texture when it has UVs and one."""

    ctx: Any
    vbo: Any
    ibo: Any
    index_size: int          # bytes per index: 2 (uint16) or 4 (uint32)
    shadow_vao: Any
    n_faces: int
    n_axis: int
    texture: Any | None
    bounds: np.ndarray       # float64 (2, 3), canonical frame (m)
    base_color: np.ndarray   # float64 (3,), sRGB
    closed: bool             # back faces may be culled
    nbytes: int = 0          # memory held (vertex + index buffers, own texture and its mipmaps)
    vaos: dict = field(default_factory=dict)

    def vao(self, program: _Program) -> Any:
        """This mesh's vertex array for ``program`` (created on first use)."""
        key = program.key
        if key not in self.vaos:
            self.vaos[key] = self.ctx.vertex_array(
                program.prog, [(self.vbo, "3f 3f 2f", "in_pos", "in_normal", "in_uv")],
                index_buffer=self.ibo, index_element_size=self.index_size, skip_errors=True)
        return self.vaos[key]

    def release(self) -> None:
        for obj in (*self.vaos.values(), self.shadow_vao, self.vbo, self.ibo, self.texture):
            if obj is not None:
                obj.release()
        self.vaos.clear()


def _upload_texture(ctx: Any, image: np.ndarray) -> Any:
    """uint8 ``(H, W, 3)`` sRGB image (row 0 = top) → repeating, mipmapped ``SRGB8`` texture
    (GL ``v`` up, so image row 0 is at ``v = 1``)."""
    import moderngl

    img = np.ascontiguousarray(np.asarray(image, np.uint8)[::-1, :, :3])
    tex = ctx.texture((img.shape[1], img.shape[0]), 3, data=img.tobytes(), alignment=1,
                      internal_format=_GL_SRGB8)
    tex.build_mipmaps()
    # nearest mip level, bilinear within it: ~2 ms less per 512² frame on llvmpipe than trilinear
    tex.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)
    return tex


def _texture_bytes(image: np.ndarray) -> int:
    """Memory of an uploaded texture with its mipmaps (4 bytes a texel, as llvmpipe keeps RGB)."""
    return int(image.shape[0]) * int(image.shape[1]) * 4 * 4 // 3


class _Resources:
    """The GPU meshes and material textures of one GL state (thread), shared by all its renderers
    (the scorer's renderers draw the same assets): least-recently-used entries beyond a count or a
    byte budget are released (:meth:`trim`). Keys start with the asset library's ``id``; the
    libraries are kept alive here, so an id is never reused for another library."""

    def __init__(self) -> None:
        self.meshes: OrderedDict[tuple, _GPUMesh] = OrderedDict()
        self.textures: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()  # key -> (texture, bytes)
        self.nbytes = 0
        self._libraries: dict[int, Any] = {}

    def token(self, library: Any) -> int:
        self._libraries.setdefault(id(library), library)
        return id(library)

    def trim(self, max_count: int, max_bytes: int, in_use: int) -> None:
        """Release least-recently used meshes and textures while there are more than ``max_count``
        of a kind or more than ``max_bytes`` in all, never one of the ``in_use`` most recent of a
        kind (the render in progress uses those)."""
        for cache, size in ((self.meshes, lambda e: e.nbytes), (self.textures, lambda e: e[1])):
            while len(cache) > in_use and (len(cache) > max_count or self.nbytes > max_bytes):
                entry = cache.popitem(last=False)[1]
                self.nbytes -= size(entry)
                (entry if isinstance(entry, _GPUMesh) else entry[0]).release()

    def drop(self, token: int) -> None:
        """Release every entry of the library ``token``."""
        for cache in (self.meshes, self.textures):
            for key in [k for k in cache if k[0] == token]:
                entry = cache.pop(key)
                self.nbytes -= entry.nbytes if isinstance(entry, _GPUMesh) else entry[1]
                (entry if isinstance(entry, _GPUMesh) else entry[0]).release()


_AXIS_COS = float(np.cos(np.radians(20.0)))


def _axis_aligned_faces(normals: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """bool ``(F,)``: all three vertex normals within 20° of the same object axis (±x, ±y or ±z)."""
    n = np.asarray(normals, np.float64)
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    a = np.abs(n)
    axis = np.argmax(a, axis=1)
    close = a.max(axis=1) >= _AXIS_COS
    f = np.asarray(faces, np.int64)
    return close[f].all(axis=1) & (axis[f[:, 0]] == axis[f[:, 1]]) & (axis[f[:, 0]] == axis[f[:, 2]])


def _upload_mesh(state: _GLState, mesh: AssetMesh) -> _GPUMesh:
    ctx = state.ctx
    n = len(mesh.vertices)
    uv = np.zeros((n, 2), np.float32) if mesh.uv is None else np.asarray(mesh.uv, np.float32)
    data = np.hstack([np.asarray(mesh.vertices, np.float32), np.asarray(mesh.normals, np.float32), uv])
    faces = np.asarray(mesh.faces, np.int64)
    axis = _axis_aligned_faces(mesh.normals, faces)
    faces = np.concatenate([faces[axis], faces[~axis]])
    index_size = 2 if n <= 65536 else 4  # llvmpipe is markedly faster with 16-bit indices
    vbo = ctx.buffer(np.ascontiguousarray(data, np.float32).tobytes())
    ibo = ctx.buffer(np.ascontiguousarray(faces, np.uint16 if index_size == 2 else np.uint32).tobytes())
    shadow_vao = ctx.vertex_array(state.shadow_prog.prog, [(vbo, "3f 20x", "in_pos")],
                                  index_buffer=ibo, index_element_size=index_size, skip_errors=True)
    own = mesh.uv is not None and mesh.texture is not None
    texture = _upload_texture(ctx, mesh.texture) if own else None
    nbytes = vbo.size + ibo.size + (_texture_bytes(mesh.texture) if own else 0)
    return _GPUMesh(ctx, vbo, ibo, index_size, shadow_vao, len(faces), int(axis.sum()), texture, mesh.bounds,
                    np.asarray(mesh.base_color, np.float64), _is_closed_outward(mesh.vertices, mesh.faces), nbytes)


def _set_culling(ctx: Any, cull: bool) -> None:
    if cull:
        ctx.enable(ctx.CULL_FACE)
    else:
        ctx.disable(ctx.CULL_FACE)


_SHADOW_FILTERS = {"bilinear": shaders.SHADOWS_BILINEAR, "tent": shaders.SHADOWS_TENT}

_ROLE_ORDER = {"object": 0, "receptacle": 0, "support": 1, "structure": 2}


@dataclass(frozen=True)
class _Placed:
    """What drawing an object needs that depends only on its mesh, pose and material (cached per
    renderer, so hypotheses that leave an object in place do not recompute it): the model matrix,
    the world box corners and the per-object uniforms that do not involve the camera."""

    world_from_object: np.ndarray  # float64 (4, 4)
    corners: np.ndarray            # float64 (8, 3), world (m)
    uniforms: dict                 # name -> bytes / float (see _main_pass)

    @classmethod
    def of(cls, obj: SceneObject, mesh: _GPUMesh) -> "_Placed":
        m = obj.world_from_object()
        mat = obj.material
        return cls(m, _world_corners(mesh.bounds, m), {
            "u_world_from_obj": _mat4(m),
            "u_normal_world": _mat4(np.linalg.inv(m[:3, :3]).T),
            "u_albedo": _vec(_srgb_to_linear(np.asarray(mat.color, np.float64) * mesh.base_color)),
            "u_specular": float(mat.specular),
            "u_roughness": roughness_from_specular(mat.specular),
            "u_metallic": 0.0,
            "u_id": int(obj.instance_id),
        })


def _placement_key(mesh_key: tuple, obj: SceneObject) -> tuple:
    """Everything :meth:`_Placed.of` reads from ``obj`` (besides the mesh, named by ``mesh_key``)."""
    mat = obj.material
    return (mesh_key, tuple(float(v) for v in obj.position), float(obj.yaw_deg), float(obj.scale),
            tuple(float(c) for c in mat.color), float(mat.specular), int(obj.instance_id))


@dataclass
class _Draw:
    """One object ready to draw: the object, its GPU mesh and its pose-dependent data."""

    obj: SceneObject
    mesh: _GPUMesh
    placed: _Placed

    @property
    def world_from_object(self) -> np.ndarray:
        """float64 (4, 4)."""
        return self.placed.world_from_object

    @property
    def corners(self) -> np.ndarray:
        """float64 (8, 3), world (m)."""
        return self.placed.corners


@dataclass
class _Frame:
    """One render's objects on the GPU: those drawn (``only``), in draw order, and the image size
    (px). ``everything`` (every object of the scene: they place the shadow grid) is prepared by
    :meth:`GLRenderer._shadows` when a shadow map is drawn."""

    state: _GLState
    scene: Scene
    draws: list[_Draw]
    width: int
    height: int
    everything: list[_Draw] | None = None
    #: ``(x, y, w, h)`` (image column, row, width, height, px): the rectangle outside which nothing
    #: drawn can appear (:func:`drawn_region`), or ``None`` for the whole image
    region: tuple[int, int, int, int] | None = None
    #: a whole-scene render (no ``only``): one that may reuse kept renders and be kept
    whole: bool = False
    #: (keys, pixel rectangles, box corners) by instance id (:meth:`GLRenderer._object_table`)
    table: tuple | None = None

    def paste(self, inside: np.ndarray, outside: Any) -> np.ndarray:
        """The full ``(H, W, …)`` image: ``inside`` (the region's pixels) over ``outside`` — a fill
        value (what the cleared buffers hold) or a whole image (a kept render, see
        :meth:`GLRenderer._reusable`), which is copied."""
        if self.region is None:
            return inside
        x, y, w, h = self.region
        if isinstance(outside, np.ndarray) and outside.shape[:2] == (self.height, self.width):
            full = outside.copy()
        else:
            full = np.empty((self.height, self.width) + inside.shape[2:], inside.dtype)
            full[...] = outside
        full[y:y + h, x:x + w] = inside
        return full


def _paste(frame: "_Frame", region: tuple[int, int, int, int] | None, inside: np.ndarray, outside: Any) -> np.ndarray:
    """:meth:`_Frame.paste` for the rectangle ``region``."""
    saved, frame.region = frame.region, region
    try:
        return frame.paste(inside, outside)
    finally:
        frame.region = saved


@dataclass
class _ShadowPlan:
    """Where a render's shadow map lies: the light's ``clip_from_world`` (float64 (4, 4)), its
    texel side (m), the light frame (float64 (3, 3) ``light_from_world``) and the casters."""

    light_clip: np.ndarray
    texel: float
    rotation: np.ndarray
    casters: list[_Draw]


def _object_key(obj: SceneObject) -> tuple:
    """Everything about ``obj`` that a render depends on (pose, asset, material, role, id)."""
    return (obj.asset_id, tuple(sorted(obj.params.items())), tuple(float(v) for v in obj.position),
            float(obj.yaw_deg), float(obj.scale), repr(obj.material), obj.role)


def _drawn_regions(camera: Camera, corners: np.ndarray, pad: int = 2) -> list[tuple[int, int, int, int] | None]:
    """:func:`drawn_region` of each of N objects at once (``corners`` float64 ``(N, 8, 3)``), with no
    size limit: ``None`` where a corner lies at or behind the near plane (unbounded)."""
    t = camera.cam_from_world_array
    pts = corners @ t[:3, :3].T + t[:3, 3]
    z = pts[..., 2]
    uv = (pts @ camera.K_array.T)[..., :2] / np.where(z > camera.near, z, 1.0)[..., None]
    lo = np.floor(uv.min(axis=1)).astype(np.int64) - pad
    hi = np.ceil(uv.max(axis=1)).astype(np.int64) + pad + 1
    x0, y0 = np.maximum(lo[:, 0], 0), np.maximum(lo[:, 1], 0)
    x1, y1 = np.minimum(hi[:, 0], camera.width), np.minimum(hi[:, 1], camera.height)
    behind = (z <= camera.near).any(axis=1)
    out: list[tuple[int, int, int, int] | None] = []
    for k in range(len(corners)):
        if behind[k]:
            out.append(None)
        elif x1[k] <= x0[k] or y1[k] <= y0[k]:
            out.append((0, 0, 0, 0))  # out of view: no pixel
        else:
            out.append((int(x0[k]), int(y0[k]), int(x1[k] - x0[k]), int(y1[k] - y0[k])))
    return out


def _union(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    """The bounding rectangle of two ``(x, y, w, h)`` rectangles (empty ones, ``w·h = 0``, ignored)."""
    if a is None or a[2] * a[3] == 0:
        return b
    if b is None or b[2] * b[3] == 0:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    return (x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0)


def _overlaps(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int]) -> bool:
    """Whether rectangle ``a`` (``None``: unbounded) shares a pixel with ``b``."""
    if a is None:
        return True
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _shadow_footprint(camera: Camera, plan: _ShadowPlan, boxes: list[np.ndarray], z_range: tuple[float, float],
                      margin_texels: float = 6.0) -> tuple[int, int, int, int] | None:
    """The pixel rectangle holding every receiver whose shadow lookup can read a shadow-map texel
    that objects with world box corners ``boxes`` cover: the prism along the light through their
    light-space rectangle (``margin_texels`` wider: the lookup's normal offset and filter reach),
    between the lowest and the highest receiver ``z_range`` (m). ``None``: unbounded (or a light
    too close to the horizon)."""
    if not boxes:
        return (0, 0, 0, 0)
    rot = plan.rotation
    if abs(rot[2, 2]) < 0.05:
        return None
    lo, hi = _footprint(np.concatenate(boxes), rot)
    m = margin_texels * plan.texel
    pts = []
    for xl in (lo[0] - m, hi[0] + m):
        for yl in (lo[1] - m, hi[1] + m):
            base = xl * rot[0] + yl * rot[1]
            for z in z_range:
                pts.append(base + (z - base[2]) / rot[2, 2] * rot[2])
    return drawn_region(camera, np.asarray(pts), pad=2, max_fraction=1.0)


@dataclass
class _Kept:
    """A whole-scene render kept for reuse (:meth:`GLRenderer._reusable`): per instance id, the
    object's key (:func:`_object_key`), pixel rectangle (:func:`_drawn_regions`) and world box
    corners; the outputs it has (read-only), and for a photo, its shadow map's placement and
    casters (``shadow``: ``(light_clip bytes, texel, caster ids)``, or ``None`` without one)."""

    keys: dict[int, tuple]
    regions: dict[int, tuple[int, int, int, int] | None]
    boxes: dict[int, np.ndarray]
    instances: np.ndarray | None = None
    depth: np.ndarray | None = None
    rgb: np.ndarray | None = None
    shadow: tuple | None = None


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


#: redraw at most this fraction of the image from a kept render; beyond it, render it whole
_REUSE_MAX_FRACTION = 0.6
#: whole-scene renders a renderer keeps for reuse
_KEEP = 6


# ---------------------------------------------------------------------------------------------
# The renderer
# ---------------------------------------------------------------------------------------------

class GLRenderer:
    """Rasterising backend (moderngl, headless EGL). See the module docstring.

    Not thread-safe: all renderers of a thread share its OpenGL context; use one per thread of
    work only from that thread, or one process per worker (as the generation pipeline does).

    Args:
        library: asset source with ``mesh(asset_id, params)`` and ``texture(texture_id)``;
            defaults (lazily) to :func:`gsi_syn.assets.get_library`.
        shadow_map_size: side (texels) of the square shadow map; ``0`` disables shadows.
        shadow_filter: ``"bilinear"`` (one hardware 2×2-texel percentage-closer tap) or ``"tent"``
            (four such taps: a 3×3-texel tent, softer edges, ~2 ms more per 512² frame here).
        cache_size: how many distinct meshes (and as many material textures) stay on the GPU
            (least recently used ones are released); the meshes and textures are shared by all
            renderers of a thread that use the same asset library.
        cache_bytes: the memory those may hold in all (bytes; the same LRU).
        exposure: linear colour multiplier before tone mapping.
        supersampling: :meth:`photo` anti-aliases colour with this many coverage samples per
            pixel side (multisampling, averaged in linear light); 1 = no anti-aliasing.
        reuse: keep the last few whole-scene :meth:`labels` / :meth:`photo` /
            :meth:`photo_with_labels` outputs and patch a render of the same view that differs in a
            few objects (an edit, a hypothesis) from one of them, drawing only the pixels that can
            differ — bit for bit what a whole render gives (see :meth:`_reusable`).
    """

    name = "gl"

    def __init__(self, library: MeshLibrary | None = None, *, shadow_map_size: int = 1024,
                 shadow_filter: str = "bilinear", cache_size: int = 1024, cache_bytes: int = 384 << 20,
                 exposure: float = 1.6, supersampling: int = 2, reuse: bool = True):
        if shadow_map_size != 0 and not 16 <= shadow_map_size <= 8192:
            raise ValueError(f"shadow_map_size must be 0 (no shadows) or 16…8192, not {shadow_map_size}")
        if shadow_filter not in _SHADOW_FILTERS:
            raise ValueError(f"shadow_filter must be one of {sorted(_SHADOW_FILTERS)}, not {shadow_filter!r}")
        if not 1 <= supersampling <= 4:
            raise ValueError(f"supersampling must be 1…4 samples per pixel side, not {supersampling}")
        self._library = library
        self.exposure = float(exposure)
        self.supersampling = int(supersampling)
        self.shadow_map_size = int(shadow_map_size)
        self.shadow_filter = shadow_filter
        self.cache_size = int(cache_size)
        self.cache_bytes = int(cache_bytes)
        self._placed: OrderedDict[tuple, _Placed] = OrderedDict()  # LRU, at most 2048 entries
        self.reuse = bool(reuse)
        self._kept: OrderedDict[tuple, list[_Kept]] = OrderedDict()  # frame key -> renders, oldest first
        self._owner: _GLState | None = None  # the GL state (thread, process) its GPU objects live in

    # -- resources ------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """The OpenGL renderer and version string, e.g. ``"llvmpipe (LLVM 15.0.6, 256 bits); 4.5
        (Core Profile) Mesa 22.3.6"`` (creates the context if needed)."""
        return self._state().device

    @property
    def library(self) -> MeshLibrary:
        """The asset library (:func:`gsi_syn.assets.get_library` unless one was given)."""
        if self._library is None:
            from gsi_syn.assets import get_library

            self._library = get_library()
        return self._library

    def _state(self) -> _GLState:
        state = _gl_state()
        if self._owner is not state:  # new process or thread: the other context's GPU objects are unusable
            self._placed.clear()
            self._owner = state
        return state

    @property
    def _meshes(self) -> dict[tuple, _GPUMesh]:
        """The GPU meshes of this renderer's asset library now on the GPU, by ``(asset_id, sorted
        params)`` (shared with the thread's other renderers of the library)."""
        state = self._owner
        if state is None:
            return {}
        token = id(self.library)
        return {k[1:]: v for k, v in state.resources.meshes.items() if k[0] == token}

    def _mesh(self, state: _GLState, obj: SceneObject, key: tuple) -> _GPUMesh:
        """``obj``'s GPU mesh (``key``: its ``(asset_id, sorted params)``), uploaded on first use."""
        res = state.resources
        full_key = (res.token(self.library), *key)
        entry = res.meshes.get(full_key)
        if entry is None:
            mesh = self.library.mesh(obj.asset_id, dict(obj.params))
            if len(mesh.faces) == 0:
                raise ValueError(f"asset {obj.asset_id!r} {obj.params} has no triangles")
            entry = _upload_mesh(state, mesh)
            res.meshes[full_key] = entry
            res.nbytes += entry.nbytes
        else:
            res.meshes.move_to_end(full_key)
        return entry

    def _draw(self, state: _GLState, obj: SceneObject) -> _Draw:
        """``obj`` ready to draw (its mesh uploaded, its pose-dependent data from the LRU cache)."""
        mesh_key = (obj.asset_id, tuple(sorted(obj.params.items())))
        mesh = self._mesh(state, obj, mesh_key)
        key = _placement_key(mesh_key, obj)
        placed = self._placed.get(key)
        if placed is None:
            placed = self._placed[key] = _Placed.of(obj, mesh)
            while len(self._placed) > 2048:
                self._placed.popitem(last=False)
        else:
            self._placed.move_to_end(key)
        return _Draw(obj, mesh, placed)

    def _material_texture(self, state: _GLState, texture_id: str) -> Any:
        res = state.resources
        key = (res.token(self.library), "texture", texture_id)
        entry = res.textures.get(key)
        if entry is None:
            image = self.library.texture(texture_id)
            entry = res.textures[key] = (_upload_texture(state.ctx, image), _texture_bytes(image))
            res.nbytes += entry[1]
        else:
            res.textures.move_to_end(key)
        return entry[0]

    def _trim_caches(self, in_use: int) -> None:
        """Release least-recently used meshes / textures beyond ``cache_size`` (of each kind) or
        ``cache_bytes`` (in all), never one of the ``in_use`` most recent of a kind (those the
        render in progress uses)."""
        self._state().resources.trim(self.cache_size, self.cache_bytes, in_use)

    def close(self) -> None:
        """Release the GPU meshes and textures of this renderer's asset library (the shared
        context stays; other renderers of the library upload them again when they need them)."""
        mine = getattr(_LOCAL, "state", None)
        if self._owner is not None and self._owner is mine and mine.pid == os.getpid() and self._library is not None:
            mine.resources.drop(id(self._library))

    # -- rendering ------------------------------------------------------------------------------
    def render(self, scene: Scene, *, only: Collection[int] | None = None) -> RenderOutput:
        """Render ``scene`` from ``scene.camera``; see :class:`gsi_syn.render.base.Renderer`.

        Returns ``rgb`` uint8 ``(H, W, 3)`` sRGB (the fast look: Lambert + Blinn-Phong, flat
        ambient; :meth:`photo` gives the published one), ``instances`` uint16 ``(H, W)`` (0 = no
        hit), ``depth`` float32 ``(H, W)`` camera-frame ``z`` in metres (0 = no hit).
        """
        frame = self._frame(scene, only)
        light_clip, texel = self._shadows(frame)
        targets = frame.state.target(frame.width, frame.height)
        self._main_pass(frame.state, scene, frame.draws, targets, light_clip, texel, pbr=False,
                        shadow_filter=self.shadow_filter)
        out = self._read(targets)
        self._trim_caches(in_use=len(scene.objects))
        return out

    def labels(self, scene: Scene, *, only: Collection[int] | None = None) -> RenderOutput:
        """The instance map and depth of :meth:`render`, bit for bit, without colour: one
        1-sample pass with the same geometry and depth test, no shadow map, no shading.
        ``rgb`` is black (uint8 zeros ``(H, W, 3)``): for callers that publish :meth:`photo`
        images (the generator's checks) or need no colour."""
        frame = self._frame(scene, only)
        kept, changed = self._reusable(frame, labels=True)
        if kept is not None and not changed:
            instances, depth = kept.instances.copy(), kept.depth.copy()
        else:
            instances, depth = self._labels_pass(frame, kept, changed)
        self._keep(frame, instances=instances, depth=depth)
        self._trim_caches(in_use=len(scene.objects))
        return RenderOutput(rgb=np.zeros((frame.height, frame.width, 3), np.uint8), instances=instances, depth=depth)

    def photo_with_labels(self, scene: Scene, *, only: Collection[int] | None = None,
                          around: int | None = None, margin: int = 0) -> RenderOutput:
        """:meth:`photo`'s colour with :meth:`render`'s instance ids and depth, bit for bit equal
        to calling both (``rgb`` uint8 ``(H, W, 3)`` sRGB, ``instances`` uint16 ``(H, W)``,
        ``depth`` float32 ``(H, W)``, m), at less cost: the objects are prepared and the shadow map
        drawn once, and the labels come from a pass without shading (:meth:`labels`).

        The labels cannot come out of the photo's multisampled pass itself: its coverage samples
        lie off the pixel centre (the standard pattern has none at the centre), and the labels are
        defined at the centre; so the geometry is rasterised twice, once with 1 sample.

        ``around`` (an instance id; whole-scene renders only): draw only inside that instance's
        pixel rectangle (:func:`drawn_region`: it holds every pixel of the instance) widened by
        ``margin`` px — there, the outputs equal the whole render's bit for bit (the scissor box of
        ``only=`` renders; the same shadow map); elsewhere they are what ``only=`` renders leave.
        For a reader of the image around one object (the evaluator's appearance reference)."""
        frame = self._frame(scene, only)
        if around is not None and only is None:
            self._window(frame, int(around), int(margin))
        plan = self._plan_shadows(frame)
        kept, changed = self._reusable(frame, labels=True, plan=plan)
        if kept is not None and not changed:
            instances, depth, rgb = kept.instances.copy(), kept.depth.copy(), kept.rgb.copy()
        else:
            self._draw_shadows(frame.state, plan)
            instances, depth = self._labels_pass(frame, kept, changed)
            rgb = self._photo_pass(frame, plan, kept, changed)
        self._keep(frame, instances=instances, depth=depth, rgb=rgb, plan=plan)
        self._trim_caches(in_use=len(scene.objects))
        return RenderOutput(rgb=rgb, instances=instances, depth=depth)

    def _frame(self, scene: Scene, only: Collection[int] | None) -> "_Frame":
        """Upload what ``scene`` needs and list the draws (``only``: just those instance ids)."""
        state = self._state()
        cam = scene.camera
        keep = None if only is None else {int(i) for i in only}
        draws = [self._draw(state, obj) for obj in scene.objects if keep is None or obj.instance_id in keep]
        # small movable objects first, then supports, then walls / floor (front to back, mostly),
        # so that the large surfaces behind them fail the early depth test
        eye = cam.position
        draws.sort(key=lambda d: (_ROLE_ORDER.get(d.obj.role, 0),
                                  float(np.linalg.norm(d.corners.mean(axis=0) - eye)), d.obj.instance_id))
        frame = _Frame(state, scene, draws, int(cam.width), int(cam.height))
        if only is not None and draws:
            frame.region = drawn_region(cam, np.concatenate([d.corners for d in draws]))
        frame.whole = only is None
        return frame

    def _window(self, frame: "_Frame", instance: int, margin: int) -> None:
        """Limit a whole-scene frame to ``instance``'s pixel rectangle widened by ``margin`` px
        (unchanged when the rectangle is unbounded, absent or over half the image): every object is
        still drawn (draw order, shadow casters), through the scissor box; the frame is neither
        patched from nor kept for reuse."""
        rect = self._object_table(frame)[1].get(instance)
        if rect is None:
            return
        x, y, w, h = rect
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(frame.width, x + w + margin), min(frame.height, y + h + margin)
        if (x1 - x0) * (y1 - y0) > 0.5 * frame.width * frame.height:
            return
        frame.everything = frame.draws  # the shadow plan of the whole scene
        frame.region, frame.whole = (x0, y0, x1 - x0, y1 - y0), False

    # -- reuse of kept renders ----------------------------------------------------------------------
    def _frame_key(self, scene: Scene) -> tuple:
        """What a whole-scene render depends on besides the objects: camera, light, background and
        this renderer's settings."""
        return (repr(scene.camera), repr(scene.light), repr(tuple(scene.background)), self.shadow_map_size,
                self.shadow_filter, self.supersampling, self.exposure)

    def _object_table(self, frame: "_Frame") -> tuple[dict, dict, dict]:
        """The frame's objects (all of the scene): keys, pixel rectangles and box corners by id."""
        if frame.table is None:
            draws = frame.draws
            regions = _drawn_regions(frame.scene.camera, np.stack([d.corners for d in draws])) if draws else []
            frame.table = ({d.obj.instance_id: _object_key(d.obj) for d in draws},
                           {d.obj.instance_id: r for d, r in zip(draws, regions, strict=True)},
                           {d.obj.instance_id: d.corners for d in draws})
        return frame.table

    def _reusable(self, frame: "_Frame", labels: bool = False, plan: "_ShadowPlan | None | bool" = False
                  ) -> tuple[_Kept | None, tuple[int, int, int, int] | None]:
        """A kept render of the same camera, light and settings that this whole-scene frame can be
        patched from, and the pixel rectangle to draw again — or ``(None, None)``: render it whole.

        Ids and depth at a pixel depend only on the objects whose pixel rectangle holds it
        (:func:`drawn_region`); a photo pixel also on the shadow-map texels its lookup reads, which
        are the same wherever the changed objects' shadows do not reach, when the shadow map has the
        same placement and the other casters (:func:`_shadow_footprint`). So the changed objects'
        old and new rectangles (and for a photo, those of their shadows) are drawn again — every
        object that overlaps them, with the draw order, shadow map and everything else of a whole
        render — and the rest is the kept render's, bit for bit. ``labels``: the ids and depth are
        wanted; ``plan``: the photo is wanted, with this shadow plan (:meth:`_plan_shadows`).
        An empty rectangle ``()`` means nothing changed: the kept outputs are the render."""
        if not frame.whole or not self.reuse or not frame.draws:
            return None, None
        photo = plan is not False
        kept_list = self._kept.get(self._frame_key(frame.scene))
        if not kept_list:
            return None, None
        keys, regions, boxes = self._object_table(frame)
        shadow = self._shadow_signature(plan) if photo else None
        best, best_rect, best_area = None, None, None
        for kept in kept_list:
            if (labels and kept.instances is None) or (photo and kept.rgb is None):
                continue
            changed = [i for i in keys.keys() | kept.keys.keys() if keys.get(i) != kept.keys.get(i)]
            if not changed:
                return kept, ()
            rect: tuple[int, int, int, int] | None = (0, 0, 0, 0)
            for i in changed:
                for r in (regions.get(i, (0, 0, 0, 0)), kept.regions.get(i, (0, 0, 0, 0))):
                    if r is None:
                        rect = None
                        break
                    rect = _union(rect, r)
                if rect is None:
                    break
            if rect is None:
                continue
            if photo:
                if (shadow is None) != (kept.shadow is None):
                    continue
                if shadow is not None:
                    same = set(keys) - set(changed)
                    if shadow[:2] != kept.shadow[:2] or (shadow[2] & same) != (kept.shadow[2] & same):
                        continue  # the shadow map lies elsewhere, or another object casts (or not)
                    moved = [boxes[i] for i in changed if i in boxes] + [kept.boxes[i] for i in changed if i in kept.boxes]
                    shade = _shadow_footprint(frame.scene.camera, plan, moved, self._receiver_z(boxes, moved, plan))
                    if shade is None:
                        continue
                    rect = _union(rect, shade)
            area = rect[2] * rect[3]
            if area > _REUSE_MAX_FRACTION * frame.width * frame.height:
                continue
            if best_area is None or area < best_area:
                best, best_rect, best_area = kept, rect, area
        if best is None:
            return None, None
        return best, best_rect

    @staticmethod
    def _receiver_z(boxes: dict, moved: list[np.ndarray], plan: "_ShadowPlan") -> tuple[float, float]:
        """The heights (m) between which a receiver can lie in the shadow of the ``moved`` boxes:
        from the scene's bottom up to their top when the light travels down (from their bottom up
        to the scene's top otherwise), a few texels wider."""
        z = np.stack(list(boxes.values()))[..., 2]
        mz = np.stack(moved)[..., 2]
        pad = 8.0 * plan.texel
        if plan.rotation[2, 2] < 0:
            return float(z.min()) - pad, float(mz.max()) + pad
        return float(mz.min()) - pad, float(z.max()) + pad

    @staticmethod
    def _shadow_signature(plan: "_ShadowPlan | None") -> tuple | None:
        if plan is None:
            return None
        return (plan.light_clip.tobytes(), plan.texel, frozenset(d.obj.instance_id for d in plan.casters))

    def _keep(self, frame: "_Frame", instances: np.ndarray | None = None, depth: np.ndarray | None = None,
              rgb: np.ndarray | None = None, plan: "_ShadowPlan | None | bool" = False) -> None:
        """Keep the outputs of a whole-scene render for reuse (merged with a kept render of the very
        same scene, if any); at most :data:`_KEEP` renders, the least recently used go."""
        if not frame.whole or not self.reuse or not frame.draws:
            return
        fkey = self._frame_key(frame.scene)
        keys, regions, boxes = self._object_table(frame)
        kept_list = self._kept.setdefault(fkey, [])
        entry = next((k for k in kept_list if k.keys == keys), None)
        if entry is None:
            entry = _Kept(keys, regions, boxes)
        else:
            kept_list.remove(entry)
        kept_list.append(entry)
        self._kept.move_to_end(fkey)
        if instances is not None:
            entry.instances, entry.depth = _readonly(instances.copy()), _readonly(depth.copy())
        if rgb is not None:
            entry.rgb, entry.shadow = _readonly(rgb.copy()), self._shadow_signature(plan)
        while sum(len(v) for v in self._kept.values()) > _KEEP:
            oldest = next(iter(self._kept))
            self._kept[oldest].pop(0)
            if not self._kept[oldest]:
                del self._kept[oldest]

    def _redraw(self, frame: "_Frame", rect: tuple[int, int, int, int]) -> list[_Draw]:
        """The frame's draws (in order) whose pixel rectangle overlaps ``rect``."""
        regions = self._object_table(frame)[1]
        return [d for d in frame.draws if _overlaps(regions[d.obj.instance_id], rect)]

    # -- shadows ------------------------------------------------------------------------------------
    def _plan_shadows(self, frame: "_Frame") -> "_ShadowPlan | None":
        """Where the frame's shadow map lies and what casts into it (numpy only, nothing drawn);
        ``None`` without shadows (switched off, nothing drawn, or nothing visible can be shadowed)."""
        if self.shadow_map_size <= 0 or not frame.draws:
            return None
        scene = frame.scene
        if frame.everything is None:
            frame.everything = frame.draws if frame.whole else [self._draw(frame.state, obj) for obj in scene.objects]
        grid = plan_shadow_grid(scene.camera, np.asarray(scene.light.direction, np.float64),
                                np.stack([d.corners for d in frame.everything]),
                                [d.obj.role for d in frame.everything], self.shadow_map_size)
        draws = frame.draws
        corners = np.concatenate([d.corners for d in draws])
        region = visible_region_vertices(scene.camera, corners.min(axis=0), corners.max(axis=0))
        if len(region) == 0:
            return None
        direction = np.asarray(scene.light.direction, np.float64)
        casting = shadow_casters(np.array([d.corners[:, 2].min() for d in draws]),
                                 np.array([d.corners[:, 2].max() for d in draws]), direction)
        casters = [d for d, c in zip(draws, casting, strict=True) if c]
        if not casters:
            return None
        fit = light_clip_from_world(grid, np.concatenate([d.corners for d in casters]), region, self.shadow_map_size)
        if fit is None:
            return None
        return _ShadowPlan(fit[0], fit[1], grid.rotation, casters)

    def _shadows(self, frame: "_Frame") -> tuple[np.ndarray | None, float]:
        """Draw the frame's shadow map (when shadows are on and something is drawn); returns the
        light's ``clip_from_world`` and texel size (m), or ``(None, 0)``."""
        plan = self._plan_shadows(frame)
        self._draw_shadows(frame.state, plan)
        return (None, 0.0) if plan is None else (plan.light_clip, plan.texel)

    def _photo_pass(self, frame: "_Frame", plan: "_ShadowPlan | None", kept: _Kept | None = None,
                    rect: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The published colour (uint8 ``(H, W, 3)``) over the shadow map just drawn; with a kept
        render (:meth:`_reusable`), only the rectangle ``rect`` is drawn, over the kept colour."""
        targets = frame.state.photo_target(frame.width, frame.height, self.supersampling)
        draws, region = frame.draws, frame.region
        if kept is not None:
            draws, region = self._redraw(frame, rect), rect
        outside = kept.rgb if kept is not None else None if region is None else targets.background(frame.scene.background)
        light_clip, texel = (None, 0.0) if plan is None else (plan.light_clip, plan.texel)
        targets.fbo.scissor = region
        self._main_pass(frame.state, frame.scene, draws, targets, light_clip, texel, pbr=True,
                        shadow_filter="tent", region=region)
        rgb = _paste(frame, region, targets.read(region), outside)
        targets.fbo.scissor = None
        return rgb

    def describe(self, scene: Scene) -> dict:
        """How :meth:`photo` renders ``scene`` (recorded in each record's scene JSON)."""
        hdri, rotation = choose_hdri(scene)
        return {"renderer": "gl", "supersampling": self.supersampling, "exposure": self.exposure,
                "tone_mapping": "extended Reinhard (luminance, white 4)", "shadows": "PCF tent 3x3",
                "shadow_map_size": self.shadow_map_size, "hdri": hdri, "hdri_rotation_deg": rotation,
                "ibl": "SH9 irradiance of the bpy wheel's CC0 HDRI", "device": self.device}

    def photo(self, scene: Scene, *, only: Collection[int] | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` sRGB: the published colour image of ``scene`` — metal/roughness
        shading with the scene HDRI's image-based light and tone mapping (see
        :mod:`gsi_syn.render.shaders`), tent-filtered (softer) shadows, anti-aliased with
        ``supersampling``² coverage samples per pixel (multisampling: the standard sample patterns
        are symmetric about the pixel centre, so the image stays aligned with :meth:`render`'s
        instance map), resolved in linear light (half-float target). Instance ids and depth come
        from :meth:`render` only (:meth:`photo_with_labels` gives both at once). ``only``: draw
        just these instance ids (as :meth:`render`)."""
        frame = self._frame(scene, only)
        plan = self._plan_shadows(frame)
        kept, changed = self._reusable(frame, plan=plan)
        if kept is not None and not changed:
            rgb = kept.rgb.copy()
        else:
            self._draw_shadows(frame.state, plan)
            rgb = self._photo_pass(frame, plan, kept, changed)
        self._keep(frame, rgb=rgb, plan=plan)
        self._trim_caches(in_use=len(scene.objects))
        return rgb

    def _labels_pass(self, frame: "_Frame", kept: _Kept | None = None,
                     rect: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ids (uint16 ``(H, W)``) and camera ``z`` (float32 ``(H, W)``, m) of the frame's draws:
        :meth:`_main_pass`'s geometry, draw order, culling and depth test, without colour. With a
        kept render (:meth:`_reusable`), only the changed objects' rectangle is drawn
        (:meth:`_labels_rect`; ``rect``, the photo's, may be larger), over the kept labels."""
        state, scene = frame.state, frame.scene
        ctx, cam = state.ctx, scene.camera
        draws, region = frame.draws, frame.region
        if kept is not None:
            region = self._labels_rect(frame, kept)
            draws = self._redraw(frame, region)
        targets = state.target(frame.width, frame.height)
        targets.labels.scissor = region
        targets.labels.use()
        ctx.disable_direct(_GL_FRAMEBUFFER_SRGB)
        targets.labels.clear(0.0, 0.0, 0.0, 0.0, depth=1.0, viewport=region)
        ctx.enable_only(ctx.DEPTH_TEST)
        ctx.front_face = "cw"  # as in the main pass: the y-down projection mirrors the winding
        ctx.cull_face = "back"
        program = state.labels_prog
        cam_from_world = cam.cam_from_world_array
        clip_from_world = opencv_projection(cam.K_array, cam.width, cam.height, cam.near, cam.far) \
            @ cam_from_world
        for d in draws:
            m = d.world_from_object
            _set_culling(ctx, d.mesh.closed)
            program.u["u_clip_from_obj"] = _mat4(clip_from_world @ m)
            program.u["u_cam_z_row"] = _vec((cam_from_world @ m)[2])
            program.u["u_id"] = int(d.obj.instance_id)
            d.mesh.vao(program).render(vertices=3 * d.mesh.n_faces)
        ctx.disable(ctx.CULL_FACE)
        x, y, width, height = region or (0, 0, frame.width, frame.height)
        ids = bytearray(width * height * 2)
        depth = bytearray(width * height * 4)
        targets.labels.read_into(ids, (x, y, width, height), components=1, attachment=0, dtype="u2")
        targets.labels.read_into(depth, (x, y, width, height), components=1, attachment=1, dtype="f4")
        targets.labels.scissor = None
        ids_out, depth_out = (0, 0.0) if kept is None else (kept.instances, kept.depth)
        return (_paste(frame, region, np.frombuffer(ids, np.uint16).reshape(height, width), ids_out),
                _paste(frame, region, np.frombuffer(depth, np.float32).reshape(height, width), depth_out))

    def _labels_rect(self, frame: "_Frame", kept: _Kept) -> tuple[int, int, int, int]:
        """The pixels whose ids or depth can differ from ``kept``'s: the changed objects' old and
        new rectangles (no shadows in labels)."""
        keys, regions, _ = self._object_table(frame)
        rect: tuple[int, int, int, int] | None = (0, 0, 0, 0)
        for i in keys.keys() | kept.keys.keys():
            if keys.get(i) != kept.keys.get(i):
                rect = _union(_union(rect, regions.get(i, (0, 0, 0, 0))), kept.regions.get(i, (0, 0, 0, 0)))
        return rect

    def _draw_shadows(self, state: _GLState, plan: "_ShadowPlan | None") -> None:
        """Fill the shadow map with the plan's casters (nothing without a plan)."""
        if plan is None:
            return
        light_clip, casters, size = plan.light_clip, plan.casters, self.shadow_map_size
        ctx = state.ctx
        shadow = state.shadow(size)
        shadow.fbo.use()
        shadow.fbo.clear(depth=1.0)
        ctx.enable_only(ctx.DEPTH_TEST)
        ctx.front_face = "ccw"
        ctx.cull_face = "back"
        ctx.polygon_offset = (1.5, 2.0)  # slope-scaled + constant depth bias
        ctx.enable_direct(_GL_DEPTH_CLAMP)  # casters nearer the light than z_near still occlude
        uniforms = state.shadow_prog.u
        for d in casters:
            _set_culling(ctx, d.mesh.closed)
            uniforms["u_light_clip_from_obj"] = _mat4(light_clip @ d.world_from_object)
            d.mesh.shadow_vao.render()
        ctx.polygon_offset = (0.0, 0.0)
        ctx.disable_direct(_GL_DEPTH_CLAMP)

    def _main_pass(self, state: _GLState, scene: Scene, draws: list[_Draw], targets: Any,
                   light_clip: np.ndarray | None, texel: float, pbr: bool, shadow_filter: str,
                   region: tuple[int, int, int, int] | None = None) -> None:
        ctx, cam, light = state.ctx, scene.camera, scene.light
        bg = [float(c) for c in scene.background]
        if isinstance(targets, _PhotoTargets):  # linear half-float colour, multisampled
            targets.fbo.use()
            ctx.disable_direct(_GL_FRAMEBUFFER_SRGB)
            targets.fbo.clear(*_clear_colour(bg), 1.0, depth=1.0, viewport=region)
            ctx.enable_only(ctx.DEPTH_TEST)
        else:
            targets.fbo.use()
            ctx.disable_direct(_GL_FRAMEBUFFER_SRGB)
            targets.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            targets.color_only.clear(bg[0], bg[1], bg[2], 1.0)  # stored as is: sRGB bytes
            targets.fbo.use()
            ctx.enable_only(ctx.DEPTH_TEST)
            ctx.enable_direct(_GL_FRAMEBUFFER_SRGB)
        ctx.front_face = "cw"  # the y-down projection mirrors the outward CCW winding
        ctx.cull_face = "back"

        shadows = _SHADOW_FILTERS[shadow_filter] if light_clip is not None else shaders.SHADOWS_OFF
        if shadows:
            state.shadow(self.shadow_map_size).tex.use(location=1)
        to_light = -np.asarray(light.direction, np.float64)
        to_light /= np.linalg.norm(to_light)
        hdri, rotation = choose_hdri(scene)
        frame_uniforms: dict[str, bytes | float] = {
            "u_to_light": _vec(to_light),
            "u_light_rgb": _vec(_srgb_to_linear(light.color) * float(light.intensity)),
            "u_ambient": float(light.ambient),
            "u_cam_pos": _vec(cam.position),
            **_irradiance_uniforms(hdri, rotation),
            "u_exposure": float(self.exposure),
        }
        if shadows:
            frame_uniforms["u_light_clip_from_world"] = _mat4(light_clip)
            frame_uniforms["u_normal_offset"] = 1.5 * texel
        configured: set[tuple] = set()

        cam_from_world = cam.cam_from_world_array
        clip_from_world = opencv_projection(cam.K_array, cam.width, cam.height, cam.near, cam.far) \
            @ cam_from_world
        for d in draws:
            m = d.world_from_object
            mat = d.obj.material
            _set_culling(ctx, d.mesh.closed)
            object_uniforms: dict[str, bytes | float] = {
                "u_clip_from_obj": _mat4(clip_from_world @ m),
                "u_cam_z_row": _vec((cam_from_world @ m)[2]),
                **d.placed.uniforms,
            }
            nf, na = d.mesh.n_faces, d.mesh.n_axis
            if d.mesh.texture is not None:
                d.mesh.texture.use(location=0)
                segments = [(shaders.TEX_UV, 0, nf)]
            elif mat.texture:
                self._material_texture(state, mat.texture).use(location=0)
                object_uniforms["u_tex_scale"] = float(mat.texture_scale)
                segments = [(shaders.TEX_AXIS, 0, na), (shaders.TEX_TRIPLANAR, na, nf - na)]
            else:
                state.white.use(location=0)
                segments = [(shaders.TEX_NONE, 0, nf)]
            for tex_mode, first, count in segments:
                if count == 0:
                    continue
                program = state.main(tex_mode, shadows, pbr)
                if program.key not in configured:
                    for name, value in frame_uniforms.items():
                        program.u[name] = value
                    configured.add(program.key)
                for name, value in object_uniforms.items():
                    program.u[name] = value
                d.mesh.vao(program).render(vertices=3 * count, first=3 * first)
        ctx.disable_direct(_GL_FRAMEBUFFER_SRGB)
        ctx.disable(ctx.CULL_FACE)

    @staticmethod
    def _read(targets: _Targets) -> RenderOutput:
        """Read the three targets back (GL row r = image row r: no flip needed)."""
        width, height = targets.size
        rgb = bytearray(width * height * 3)
        ids = bytearray(width * height * 2)
        depth = bytearray(width * height * 4)
        targets.fbo.read_into(rgb, components=3, attachment=0)
        targets.fbo.read_into(ids, components=1, attachment=1, dtype="u2")
        targets.fbo.read_into(depth, components=1, attachment=2, dtype="f4")
        return RenderOutput(
            rgb=np.frombuffer(rgb, np.uint8).reshape(height, width, 3),
            instances=np.frombuffer(ids, np.uint16).reshape(height, width),
            depth=np.frombuffer(depth, np.float32).reshape(height, width))
