"""Named colours and material sampling for scene objects and surfaces."""

from __future__ import annotations

import numpy as np

from gsi_bench.scene import Material

#: Named sRGB colours usable in descriptions: name → (rgb in [0, 1], Chinese name).
PALETTE: dict[str, tuple[tuple[float, float, float], str]] = {
    "red": ((0.80, 0.12, 0.10), "红色"),
    "orange": ((0.95, 0.50, 0.10), "橙色"),
    "yellow": ((0.95, 0.82, 0.15), "黄色"),
    "green": ((0.20, 0.60, 0.22), "绿色"),
    "teal": ((0.10, 0.55, 0.55), "青色"),
    "blue": ((0.15, 0.32, 0.80), "蓝色"),
    "purple": ((0.50, 0.25, 0.65), "紫色"),
    "pink": ((0.95, 0.55, 0.70), "粉色"),
    "white": ((0.92, 0.92, 0.90), "白色"),
    "gray": ((0.50, 0.50, 0.52), "灰色"),
    "black": ((0.12, 0.12, 0.13), "黑色"),
    "brown": ((0.45, 0.28, 0.15), "棕色"),
}


#: Categories whose plausible colours are limited (natural objects); others may take any colour.
NATURAL_COLOURS: dict[str, tuple[str, ...]] = {
    "apple": ("red", "green", "yellow"), "orange": ("orange",), "pear": ("green", "yellow"),
    "banana": ("yellow",), "egg": ("white", "brown"), "donut": ("brown", "pink"),
    "tennis ball": ("yellow", "green"), "cutting board": ("brown", "white"),
}


def roughness_from_specular(specular: float) -> float:
    """Perceptual roughness (metal/roughness shading, both renderers) of a scene material with
    highlight strength ``specular`` in [0, 1]: stronger highlights ↔ smoother surfaces, 0.9 at 0
    down to 0.25 at 0.5 and above.

    >>> roughness_from_specular(0.0), roughness_from_specular(0.5)
    (0.9, 0.25)
    """
    return float(np.clip(0.9 - 1.3 * float(specular), 0.25, 0.9))


def split_colours(asset_id: str, colours: tuple[str, ...], split: str | None) -> tuple[str, ...]:
    """The colour variants of an asset that ``split`` may use: train and test get disjoint
    subsets (a stable hash of asset id and colour puts about one variant in four in test), so
    no (asset, colour) instance appears in both. Assets with a single variant keep it in both.
    ``split=None`` allows every colour.

    >>> set(split_colours("proc/cup", ("red", "blue", "green", "teal", "pink"), "test")).isdisjoint(
    ...     split_colours("proc/cup", ("red", "blue", "green", "teal", "pink"), "train"))
    True
    """
    import hashlib

    if split is None or len(colours) < 2:
        return colours
    in_test = [int(hashlib.sha256(f"{asset_id}|{c}".encode()).hexdigest(), 16) % 4 == 0 for c in colours]
    if not any(in_test):  # make sure test has at least one variant and train keeps the rest
        in_test[int(hashlib.sha256(asset_id.encode()).hexdigest(), 16) % len(colours)] = True
    if all(in_test):
        in_test[0] = False
    keep = [c for c, t in zip(colours, in_test) if t == (split == "test")]
    return tuple(keep)


def sample_object_material(rng: np.random.Generator, recolorable: bool, textures: list[str],
                           category: str = "", asset_id: str = "", split: str | None = None
                           ) -> tuple[Material, str, str]:
    """A material for an object plus its colour name (English, Chinese) for the description.

    Recolourable assets get a palette colour (limited to :data:`NATURAL_COLOURS` for natural
    objects) and, half of the time, one of the asset's suitable textures tinted by it; others
    keep their own texture (white tint, no colour name). ``split`` restricts the colours to that
    split's variants of ``asset_id`` (see :func:`split_colours`).
    """
    if not recolorable:
        return Material(color=(1.0, 1.0, 1.0), specular=float(rng.uniform(0.05, 0.3))), "", ""
    name = str(rng.choice(split_colours(asset_id, NATURAL_COLOURS.get(category, tuple(sorted(PALETTE))), split)))
    rgb, zh = PALETTE[name]
    texture = str(rng.choice(textures)) if textures and rng.random() < 0.5 else None
    return (Material(color=rgb, texture=texture, texture_scale=float(rng.uniform(4.0, 10.0)),
                     specular=float(rng.uniform(0.05, 0.5))), name, zh)


def sample_surface_material(rng: np.random.Generator, textures: list[str],
                            tint_range: tuple[float, float] = (0.75, 1.0)) -> Material:
    """A textured material for a large surface (table top, floor, wall): one of ``textures``
    with a slight grey tint variation."""
    tint = float(rng.uniform(*tint_range))
    texture = str(rng.choice(textures)) if textures else None
    return Material(color=(tint, tint, tint), texture=texture,
                    texture_scale=float(rng.uniform(0.8, 2.0)), specular=float(rng.uniform(0.02, 0.2)))
