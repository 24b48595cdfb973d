"""The registry of procedural generators and what they return.

A generator is a function returning a :class:`Generated` (geometry in metres in the asset
canonical frame, an optional palette texture, the support surfaces it offers). Generators are
registered by function name in :data:`GENERATORS` with the :func:`generator` decorator; the
manifest's ``source_path`` of a procedural asset is that name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gsi_syn.assets import shapes as S
from gsi_syn.assets.shapes import Part

#: Version of the procedural geometry (manifest ``source_version`` of procedural assets).
PROCEDURAL_VERSION = "1.0.0"

#: Edge length (pixels) of one colour cell of a palette texture.
PALETTE_CELL_PX = 8

Color = tuple[float, float, float]


@dataclass(frozen=True)
class SupportSurface:
    """A horizontal rectangle other objects can rest on, in the asset canonical frame.

    ``z``: height of the surface (m); ``x_min``…``y_max``: its extent (m).
    """

    z: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def shifted(self, offset: Sequence[float]) -> "SupportSurface":
        """This surface translated by ``offset`` (m, ``(3,)``)."""
        dx, dy, dz = (float(o) for o in offset)
        return SupportSurface(self.z + dz, self.x_min + dx, self.x_max + dx, self.y_min + dy, self.y_max + dy)


@dataclass(frozen=True)
class Generated:
    """What a generator returns: the geometry, an optional palette texture (uint8 ``(H, W, 3)``,
    referenced by ``part.uv``) and the support surfaces it offers (furniture)."""

    part: Part
    texture: np.ndarray | None = None
    surfaces: tuple[SupportSurface, ...] = field(default_factory=tuple)


GENERATORS: dict[str, Callable[..., Generated]] = {}


def generator(fn: Callable[..., Generated | Part]) -> Callable[..., Generated]:
    """Register ``fn`` under its name; a plain :class:`Part` result is wrapped in :class:`Generated`."""

    def wrapped(**params: float) -> Generated:
        out = fn(**params)
        return out if isinstance(out, Generated) else Generated(out)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    GENERATORS[fn.__name__] = wrapped
    return wrapped


def painted(parts: Sequence[tuple[Part, Color]]) -> Generated:
    """Combine coloured parts into one mesh with a palette texture.

    The palette is one row of ``PALETTE_CELL_PX``-square cells, one per distinct colour in order
    of first use; each part's vertices get the UV of its cell centre.
    """
    colors: list[Color] = []
    for _, c in parts:
        if c not in colors:
            colors.append(c)
    k = len(colors)
    cell = PALETTE_CELL_PX
    tex = np.zeros((cell, cell * k, 3), dtype=np.uint8)
    for i, c in enumerate(colors):
        tex[:, i * cell:(i + 1) * cell] = np.round(np.asarray(c) * 255).astype(np.uint8)
    uv_parts = [p.with_uv(((colors.index(c) + 0.5) / k, 0.5)) for p, c in parts]
    return Generated(S.concat(uv_parts), tex)
