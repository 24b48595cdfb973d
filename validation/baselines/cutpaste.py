"""The cut-paste baseline: a classical 2D editor.

The target's source mask (dilated by 1 px) is cut out; the hole is filled with the nearest
background pixel (a Voronoi fill) smoothed by a small blur inside the hole; the object patch is
then pasted back after a 2D transform derived from the instructed 3D edit:

* translations: the projected shift of the object's base centre (source → target box, with the
  camera K) and a zoom by the depth ratio;
* scale: zoom about the projected base centre by the factor;
* rotate: a yaw seen in the image is not a 2D rotation — we mirror the patch horizontally for
  |angle| ≥ 90° and otherwise rotate it in-plane by the angle (a deliberately naive editor);
* remove: the hole fill alone;
* perspective: the whole image shifted (moves left/right, yaw) or shifted vertically (pitch), or
  zoomed (forward/backward) by the amount the image centre would move.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage


def fill_hole(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    if not hole.any():
        return image.copy()
    _, (iy, ix) = ndimage.distance_transform_edt(hole, return_indices=True)
    out = image[iy, ix].astype(np.float32)
    blurred = ndimage.gaussian_filter(out, sigma=(2, 2, 0))
    out[hole] = blurred[hole]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _project(K: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = K @ p
    return q[:2] / q[2]


def _base_centre(box) -> np.ndarray:
    """Bottom-face centre of a camera-frame box (object z axis = up)."""
    c = np.asarray(box.center, dtype=np.float64)
    R = np.asarray(box.rotation, dtype=np.float64)
    return c - R[:, 2] * box.size[2] / 2


def _paste(background: np.ndarray, image: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Paste ``image[mask]`` through the 2D affine ``matrix`` (destination = M·source, 3×3)."""
    inv = np.linalg.inv(matrix)
    h, w = mask.shape
    coeffs = tuple(inv[:2].reshape(-1))
    src = Image.fromarray(image)
    warped = np.asarray(src.transform((w, h), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR))
    wmask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).transform(
        (w, h), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.NEAREST)) > 127
    out = background.copy()
    out[wmask] = warped[wmask]
    return out


def _about(cx: float, cy: float, m: np.ndarray) -> np.ndarray:
    t = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    ti = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    return t @ m @ ti


def cut_paste_edit(record) -> np.ndarray:
    img = record.source_image
    K = np.asarray(record.K, dtype=np.float64)
    op = record.operation
    if op == "perspective":
        return _camera_edit(record)
    mask = record.source_mask > 0
    hole = ndimage.binary_dilation(mask, iterations=2)
    background = fill_hole(img, hole)
    if op == "remove":
        return background
    b0 = _base_centre(record.source_box)
    u0 = _project(K, b0)
    if op in ("camera_relative_move", "object_relative_place", "receptacle_place"):
        b1 = _base_centre(record.target_box)
        u1 = _project(K, b1)
        zoom = b0[2] / max(b1[2], 1e-6)
        m = _about(u0[0], u0[1], np.diag([zoom, zoom, 1.0]))
        m = np.array([[1, 0, u1[0] - u0[0]], [0, 1, u1[1] - u0[1]], [0, 0, 1.0]]) @ m
    elif op == "scale":
        f = float(record.params.scale_factor)
        m = _about(u0[0], u0[1], np.diag([f, f, 1.0]))
    elif op == "rotate":
        ys, xs = np.nonzero(mask)
        cx, cy = float(xs.mean()), float(ys.mean())
        angle = float(record.params.angle_deg)
        if angle >= 90:
            m = _about(cx, cy, np.diag([-1.0, 1.0, 1.0]))
        else:
            a = math.radians(angle if record.params.rotation_sense == "clockwise" else -angle)
            m = _about(cx, cy, np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]]))
    else:
        return img.copy()
    return _paste(background, img, mask, m)


def _camera_edit(record) -> np.ndarray:
    img = record.source_image
    h, w = img.shape[:2]
    K = np.asarray(record.K, dtype=np.float64)
    p = record.params
    m = np.eye(3)
    if p.camera_motion == "move":
        depth = record.source_depth[record.source_depth > 0]
        z = float(np.median(depth)) / 1000.0 if depth.size else 1.0
        d = float(p.distance_m)
        if p.direction in ("left", "right"):
            shift = K[0, 0] * d / z * (1 if p.direction == "left" else -1)
            m[0, 2] = shift
        else:
            zoom = z / max(z - d, 0.05) if p.direction == "forward" else z / (z + d)
            m = _about(K[0, 2], K[1, 2], np.diag([zoom, zoom, 1.0]))
    elif p.camera_motion == "yaw":
        m[0, 2] = K[0, 0] * math.tan(math.radians(float(p.angle_deg))) * (1 if p.rotation_sense == "left" else -1)
    elif p.camera_motion == "pitch":
        m[1, 2] = K[1, 1] * math.tan(math.radians(float(p.angle_deg))) * (1 if p.rotation_sense == "up" else -1)
    inv = np.linalg.inv(m)
    return np.asarray(Image.fromarray(img).transform((w, h), Image.Transform.AFFINE, tuple(inv[:2].reshape(-1)),
                                                     resample=Image.Resampling.BILINEAR, fillcolor=(128, 128, 128)))
