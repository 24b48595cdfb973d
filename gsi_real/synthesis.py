"""Target synthesis: remove the object, fill the disoccluded background, forward-warp the object's
points by the edit's transform with z-buffering.

* **Background**: the object's pixels (plus a 2-px fringe of mixed colours) are a hole. Colour is
  filled by a classical inpainter — harmonic interpolation (a sparse Laplace solve with the hole's
  border as boundary condition, the default) or a ``diffusers`` inpainting pipeline
  (:mod:`gsi_real.backends`). Depth in the hole comes from the object's support plane where the
  ray meets it near the surrounding depth, else from the harmonic fill; instance ids take the
  nearest label outside the hole.
* **Object**: every mask pixel (depth dropouts inside the mask filled from the nearest valid mask
  pixel) becomes 4 sub-pixel samples, transformed and projected; per pixel the nearest sample
  wins, and it is drawn only where it is nearer than the background (1.5 cm tolerance, so an
  object standing on its support is not cut by it). One-pixel cracks are closed.
* The **target mask is exact**: the pixels where a warped object sample won the z-test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from gsi_bench.geometry import pixels_to_camera
from gsi_real.lifting import LiftedObject


@dataclass
class Synthesis:
    rgb: np.ndarray
    depth: np.ndarray          # float32 m (0 = no data)
    instances: np.ndarray      # uint16
    mask: np.ndarray           # bool: object visible in the target
    alone_mask: np.ndarray     # bool: object pixels ignoring every occluder
    hole: np.ndarray           # bool: background pixels that were inpainted
    inpainted_fraction: float  # inpainted background pixels visible in the target / image area
    object_hole_fraction: float  # pixels inside the warped silhouette with no sample / silhouette
    in_frame_fraction: float   # warped samples that project inside the image
    warped_points: np.ndarray  # (N, 3) camera frame


def harmonic_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` pixels of ``image`` (``(H, W)`` or ``(H, W, C)``) with the harmonic
    interpolant of the surrounding pixels (discrete Laplace equation, Dirichlet boundary)."""
    img = image.astype(np.float64)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    h, w = hole.shape
    idx = -np.ones((h, w), dtype=np.int64)
    ys, xs = np.nonzero(hole)
    n = len(ys)
    if n == 0:
        return image.copy()
    if n == h * w:
        raise ValueError("cannot inpaint an image that is entirely hole")
    idx[ys, xs] = np.arange(n)
    rows, cols, vals = [], [], []
    b = np.zeros((n, img.shape[2]))
    diag = np.zeros(n)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        diag += inside
        k = np.nonzero(inside)[0]
        nb = idx[ny[k], nx[k]]
        unknown = nb >= 0
        rows.append(k[unknown])
        cols.append(nb[unknown])
        vals.append(-np.ones(int(unknown.sum())))
        known = k[~unknown]
        b[known] += img[ny[known], nx[known]]
    A = sparse.csr_matrix((np.concatenate([diag] + vals), (np.concatenate([np.arange(n)] + rows),
                                                           np.concatenate([np.arange(n)] + cols))), shape=(n, n))
    sol = spsolve(A.tocsc(), b)
    sol = sol.reshape(n, -1)
    out = img.copy()
    out[ys, xs] = sol
    out = out[..., 0] if squeeze else out
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(image.dtype)


def _nearest_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each pixel takes the value of the nearest ``known`` pixel."""
    if known.all() or not known.any():
        return values.copy()
    _, (iy, ix) = ndimage.distance_transform_edt(~known, return_indices=True)
    return values[iy, ix]


def remove_object(rgb: np.ndarray, depth: np.ndarray, instances: np.ndarray, obj: LiftedObject, K: np.ndarray,
                  inpainter=None, fringe_px: int = 2, keep: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, dense depth m, instances, hole) of the frame with the object taken out.
    ``keep``: pixels the fringe must not eat (other objects)."""
    mask = instances == obj.instance_id
    hole = ndimage.binary_dilation(mask, iterations=fringe_px)
    if keep is not None:
        hole &= ~keep
    hole |= mask
    if inpainter is None:
        bg_rgb = harmonic_fill(rgb, hole)
    else:
        bg_rgb = inpainter(rgb, hole)
    valid = (depth > 0) & ~hole
    # dense depth: nearest-valid then harmonic smoothing inside the hole
    dense = _nearest_fill(depth.astype(np.float64), valid)
    dense = harmonic_fill(dense, ~valid) if (~valid).sum() < 0.5 * depth.size else dense
    plane_z = obj.plane.ray_hit_depth(K, depth.shape)
    use_plane = hole & (plane_z > 0) & (np.abs(plane_z - dense) < 0.25 * dense)
    dense = np.where(use_plane, plane_z, dense)
    inst = instances.copy()
    inst[hole] = 0
    inst = _nearest_fill(inst, ~hole)
    return bg_rgb, dense.astype(np.float32), inst.astype(np.uint16), hole


def object_samples(depth: np.ndarray, instances: np.ndarray, rgb: np.ndarray, obj: LiftedObject,
                   K: np.ndarray, supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame points ``(N, 3)`` and colours ``(N, 3)`` of every mask pixel at
    ``supersample``² sub-pixel positions; depth dropouts filled from the nearest valid mask pixel,
    outliers (far from the lifted object's depth range) replaced by the median."""
    mask = instances == obj.instance_id
    d = depth.astype(np.float64)
    good = mask & (d > 0)
    zmin, zmax = obj.points[:, 2].min() - 0.02, obj.points[:, 2].max() + 0.02
    good &= (d >= zmin) & (d <= zmax)
    if not good.any():
        d = np.where(mask, np.median(obj.points[:, 2]), d)
    else:
        d = np.where(mask & ~good, _nearest_fill(d, good), d)
    ys, xs = np.nonzero(mask)
    z = d[ys, xs]
    col = rgb[ys, xs]
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    pts, cols = [], []
    for oy in offs:
        for ox in offs:
            u, v = xs + ox, ys + oy
            pts.append(pixels_to_camera(u, v, z, K))
            cols.append(col)
    return np.concatenate(pts), np.concatenate(cols)


def splat(points: np.ndarray, colors: np.ndarray, K: np.ndarray, shape: tuple[int, int], near: float = 0.05
          ) -> tuple[np.ndarray, np.ndarray, float]:
    """Z-buffered nearest-pixel splat: (z map with inf where empty, rgb map, in-frame fraction)."""
    h, w = shape
    z = points[:, 2]
    front = z > near
    u = np.rint(points[:, 0] / np.where(front, z, 1) * K[0, 0] + K[0, 2]).astype(np.int64)
    v = np.rint(points[:, 1] / np.where(front, z, 1) * K[1, 1] + K[1, 2]).astype(np.int64)
    inside = front & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    frac = float(inside.mean()) if len(inside) else 0.0
    zbuf = np.full(h * w, np.inf)
    cbuf = np.zeros((h * w, 3), dtype=np.uint8)
    lin = v[inside] * w + u[inside]
    zi = z[inside]
    order = np.lexsort((zi, lin))  # by pixel, nearest first
    lin_o, first = lin[order], np.ones(len(order), bool)
    first[1:] = lin_o[1:] != lin_o[:-1]
    sel = order[first]
    zbuf[lin[sel]] = zi[sel]
    cbuf[lin[sel]] = colors[inside][sel]
    return zbuf.reshape(h, w), cbuf.reshape(h, w, 3), frac


def _close_cracks(zmap: np.ndarray, cmap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill one-pixel cracks of a splatted object (pixels inside its 3×3 closing)."""
    cov = np.isfinite(zmap)
    closed = ndimage.binary_closing(cov, structure=np.ones((3, 3)), iterations=1) | cov
    crack = closed & ~cov
    if crack.any():
        _, (iy, ix) = ndimage.distance_transform_edt(~cov, return_indices=True)
        zmap = np.where(crack, zmap[iy, ix], zmap)
        cmap = np.where(crack[..., None], cmap[iy, ix], cmap)
    return zmap, cmap, closed


def frame_background(frame, obj: LiftedObject, inpainter=None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`remove_object` of ``obj`` with the other movable objects kept out of the fringe:
    the background every target of ``obj`` is composed over (compute once, pass to
    :func:`synthesize` for many warps)."""
    keep = np.isin(frame.instances, frame.movable_ids()) & (frame.instances != obj.instance_id)
    return remove_object(frame.rgb, frame.depth, frame.instances, obj, frame.K, inpainter, keep=keep)


def synthesize(frame, obj: LiftedObject, warp: tuple[np.ndarray, np.ndarray, float] | None,
               inpainter=None, z_tolerance_m: float = 0.015,
               background: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> Synthesis:
    """Target images for moving ``obj`` by ``warp`` = (R, t, s), points mapped ``p ↦ R·(s·p) + t``
    (``None`` = remove it). ``background``: :func:`frame_background` of ``obj``, when already
    computed (it does not depend on the warp)."""
    shape = frame.depth.shape
    iid = obj.instance_id
    bg_rgb, bg_depth, bg_inst, hole = background if background is not None else frame_background(frame, obj, inpainter)
    if warp is None:
        area = hole.size
        return Synthesis(rgb=bg_rgb, depth=np.where(hole, bg_depth, frame.depth).astype(np.float32),
                         instances=bg_inst, mask=np.zeros(shape, bool), alone_mask=np.zeros(shape, bool), hole=hole,
                         inpainted_fraction=float(hole.sum()) / area, object_hole_fraction=0.0,
                         in_frame_fraction=1.0, warped_points=np.zeros((0, 3)))
    R, t, s = warp
    pts, cols = object_samples(frame.depth, frame.instances, frame.rgb, obj, frame.K)
    moved = (s * pts) @ np.asarray(R).T + np.asarray(t)
    zmap, cmap, in_frame = splat(moved, cols, frame.K, shape)
    zmap, cmap, alone = _close_cracks(zmap, cmap)
    visible = alone & (zmap < bg_depth + z_tolerance_m)
    rgb = np.where(visible[..., None], cmap, bg_rgb).astype(np.uint8)
    depth = np.where(hole, bg_depth, frame.depth)
    depth = np.where(visible, zmap, depth).astype(np.float32)
    inst = np.where(visible, iid, bg_inst).astype(np.uint16)
    # silhouette holes: pixels enclosed by the warped object that no sample reached
    sil = ndimage.binary_fill_holes(ndimage.binary_closing(alone, structure=np.ones((5, 5))) | alone)
    obj_holes = float((sil & ~alone).sum()) / max(int(sil.sum()), 1)
    inpainted = float((hole & ~visible).sum()) / hole.size
    return Synthesis(rgb=rgb, depth=depth, instances=inst, mask=visible, alone_mask=alone, hole=hole & ~visible,
                     inpainted_fraction=inpainted, object_hole_fraction=obj_holes, in_frame_fraction=in_frame,
                     warped_points=moved)
