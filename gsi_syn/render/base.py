"""Renderer backend interface.

A backend turns a :class:`gsi_bench.scene.Scene` (its objects, light and camera) into three aligned
images:

* ``rgb`` — uint8 ``(H, W, 3)`` sRGB;
* ``instances`` — uint16 ``(H, W)``: the ``instance_id`` of the surface seen through each pixel
  centre, ``0`` where nothing is hit;
* ``depth`` — float32 ``(H, W)``: camera-frame ``z`` (m, OpenCV, along the optical axis, not the
  ray length) of that surface, ``0`` where nothing is hit.

Pixel ``(row j, column i)`` samples the ray through the pixel centre ``(u, v) = (i, j)`` of the
scene camera's ``K`` (OpenCV convention), so every backend agrees on masks and depth up to
rasterisation ties at silhouettes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gsi_bench.scene import Scene


@dataclass
class RenderOutput:
    """The three aligned images of one render (see module docstring for dtypes and units)."""

    rgb: np.ndarray
    instances: np.ndarray
    depth: np.ndarray

    def mask(self, instance_id: int) -> np.ndarray:
        """bool ``(H, W)``: pixels where ``instance_id`` is the visible surface."""
        return self.instances == instance_id


class Renderer(Protocol):
    """What every backend provides."""

    name: str

    def render(self, scene: Scene, *, only: Collection[int] | None = None) -> RenderOutput:
        """Render ``scene`` from ``scene.camera``.

        ``only``: if given, render just these instance ids (everything else is absent: no
        occlusion, no shadow) — used to measure how much of an object is visible.
        """
        ...


BACKENDS = ("gl", "raycast", "cycles")


def get_renderer(name: str = "gl") -> Renderer:
    """A renderer backend by name: ``"gl"`` (moderngl, headless EGL; the default),
    ``"raycast"`` (trimesh + embree ray casting, no GL at all) or ``"cycles"`` (GL for labels and
    checks, Blender Cycles for the published RGB images; needs ``gsi-bench[cycles]``)."""
    if name == "gl":
        from gsi_syn.render.gl import GLRenderer

        return GLRenderer()
    if name == "raycast":
        from gsi_syn.render.raycast import RaycastRenderer

        return RaycastRenderer()
    if name == "cycles":
        from gsi_syn.render.cycles import CyclesRenderer, cycles_available

        ok, why = cycles_available()
        if not ok:
            raise RuntimeError(f"renderer 'cycles' unavailable: {why}")
        return CyclesRenderer()
    raise ValueError(f"unknown renderer {name!r}; choose one of {', '.join(BACKENDS)}")
