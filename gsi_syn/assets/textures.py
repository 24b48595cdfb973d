"""Decoding texture images for rendering.

Library textures are stored at their original resolution (up to 2048 px, 1.9 MB PNGs); the
renderers only need modest resolution, so images are decoded once, converted to RGB and
downsampled to fit inside :data:`MAX_TEXTURE_PX` squared (aspect kept, Lanczos filter).

A few source meshes address their image with UVs outside ``[0, 1]`` (the texture repeats).
:func:`load_uv_texture` bakes such a mesh's own image: it tiles the original, crops it to the
pixel-aligned UV range actually used and remaps the UVs into ``[0, 1]``, so renderers never
need a wrap mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

#: Largest width or height (pixels) of a decoded texture.
MAX_TEXTURE_PX = 512


def load_texture_image(path: str | Path, max_px: int = MAX_TEXTURE_PX) -> np.ndarray:
    """uint8 ``(H, W, 3)`` sRGB image (row 0 = top) from an image file, alpha dropped,
    downsampled with Lanczos so that ``max(H, W) <= max_px``."""
    with Image.open(path) as im:
        w, h = im.size
        if max(w, h) > max_px:  # JPEG only: decode directly at a reduced power-of-two scale
            s = max_px / max(w, h)
            im.draft("RGB", (max(1, round(w * s)), max(1, round(h * s))))
        im = im.convert("RGB")
        w, h = im.size
        if max(w, h) > max_px:
            s = max_px / max(w, h)
            im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.uint8)
    return np.ascontiguousarray(arr)


def _fit(im: Image.Image, max_px: int) -> Image.Image:
    w, h = im.size
    if max(w, h) <= max_px:
        return im
    s = max_px / max(w, h)
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)


def load_uv_texture(path: str | Path, uv: np.ndarray, max_px: int = MAX_TEXTURE_PX
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The image a mesh's ``uv`` (float ``(V, 2)``, ``v`` up, repeating) address, with UVs
    remapped into ``[0, 1]``.

    Returns ``(image, uv)``: uint8 ``(H, W, 3)`` (at most ``max_px`` a side) and float64
    ``(V, 2)``. UVs already inside ``[0, 1]`` are returned unchanged with the whole image;
    otherwise the image is tiled over the covered range and cropped at whole source pixels, so
    every UV still samples the same source texel.
    """
    uv = np.asarray(uv, dtype=np.float64)
    with Image.open(path) as im:
        src = np.asarray(im.convert("RGB"), dtype=np.uint8)
    if uv.min() >= 0.0 and uv.max() <= 1.0:
        return np.ascontiguousarray(np.asarray(_fit(Image.fromarray(src), max_px))), uv
    h, w = src.shape[:2]
    x0, x1 = int(np.floor(uv[:, 0].min() * w)), int(np.ceil(uv[:, 0].max() * w))
    y0, y1 = int(np.floor(uv[:, 1].min() * h)), int(np.ceil(uv[:, 1].max() * h))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    cols = np.arange(x0, x1) % w  # texel columns, left to right
    rows = h - 1 - (np.arange(y1 - 1, y0 - 1, -1) % h)  # texel rows (top = 0) from top to bottom
    baked = src[rows][:, cols]
    new_uv = np.stack([(uv[:, 0] * w - x0) / (x1 - x0), (uv[:, 1] * h - y0) / (y1 - y0)], axis=1)
    image = np.asarray(_fit(Image.fromarray(np.ascontiguousarray(baked)), max_px), dtype=np.uint8)
    return np.ascontiguousarray(image), np.clip(new_uv, 0.0, 1.0)
