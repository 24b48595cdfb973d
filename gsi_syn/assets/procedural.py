"""Procedural assets: deterministic generators for the categories no package ships.

Each generator builds one object in metres at its real-world size, already in the asset
canonical frame (``+z`` up, resting on ``z = 0``, front facing ``-y``), from :mod:`shapes`
building blocks. There is no randomness: the same parameters always give the same triangles
(:data:`PROCEDURAL_VERSION` names the geometry; bump it when any generator changes).

Objects made of differently coloured parts (a book's cover and pages, a pencil holder and its
pencils) carry a tiny *palette texture*: every part's vertices map to the centre of one flat
colour cell, so the mesh renders in several colours through its own UVs.

Generators are registered by function name in :data:`GENERATORS` (see
:mod:`gsi_syn.assets.generators`); importing this module also registers the parametric supports
of :mod:`gsi_syn.assets.furniture` (furniture, floor, wall; keyword parameters in metres).
"""

from __future__ import annotations

import numpy as np

from gsi_syn.assets import shapes as S
from gsi_syn.assets.generators import (  # noqa: F401  (re-exported)
    GENERATORS,
    PROCEDURAL_VERSION,
    Color,
    Generated,
    SupportSurface,
    generator,
    painted,
)
from gsi_syn.assets.shapes import Part

WHITE: Color = (1.0, 1.0, 1.0)


# -- vessels and tableware ----------------------------------------------------------------------

@generator
def bowl() -> Part:
    """A round bowl on a foot ring: Ø 15 cm, 6.7 cm high (receptacle)."""
    t = np.linspace(0.0, np.pi / 2, 12)
    outer = np.stack([0.038 + 0.037 * np.sin(t), 0.065 - 0.059 * np.cos(t)], axis=1)
    inner = np.stack([0.0715 * np.sin(t[::-1]), 0.066 - 0.054 * np.cos(t[::-1])], axis=1)
    profile = np.concatenate([[[0.0, 0.0], [0.035, 0.0]], outer, [[0.0738, 0.0668]], inner[:-1],
                              [[0.0, 0.012]]])
    return S.revolve(profile, 48)


@generator
def plate() -> Part:
    """A dinner plate: Ø 24 cm, 2.3 cm high, with a shallow well and a raised rim (receptacle)."""
    profile = [(0.0, 0.0), (0.068, 0.0), (0.07, 0.003), (0.09, 0.0065), (0.112, 0.0145),
               (0.12, 0.0205), (0.119, 0.0228), (0.1155, 0.0215), (0.108, 0.0165), (0.086, 0.0098),
               (0.0, 0.0088)]
    return S.revolve(profile, 64)


@generator
def cup() -> Part:
    """A tapered drinking cup without a handle: Ø 8 cm at the rim, 10 cm high."""
    profile = [(0.0, 0.0), (0.029, 0.0), (0.0305, 0.0015), (0.04, 0.1), (0.0385, 0.1),
               (0.0292, 0.006), (0.0, 0.006)]
    return S.revolve(profile, 40)


@generator
def vase() -> Part:
    """A bellied vase with a narrow neck and flared lip: Ø 13 cm, 25 cm high (hollow)."""
    ctrl = [(0.046, 0.0), (0.058, 0.03), (0.065, 0.09), (0.045, 0.15), (0.028, 0.2), (0.036, 0.25)]
    r_out = S.smooth_polyline(ctrl, 2)
    inner = r_out[::-1].copy()
    inner[:, 0] -= 0.004
    inner = inner[inner[:, 1] >= 0.02]
    profile = np.concatenate([[[0.0, 0.0]], r_out, inner, [[0.0, 0.02]]])
    return S.revolve(profile, 40)


@generator
def wine_glass() -> Part:
    """A stemmed wine glass: Ø 8 cm, 20 cm high."""
    profile = [(0.0, 0.0), (0.035, 0.0), (0.035, 0.003), (0.008, 0.006), (0.0042, 0.012),
               (0.0042, 0.085), (0.012, 0.095), (0.028, 0.11), (0.038, 0.135), (0.04, 0.16),
               (0.038, 0.2), (0.0365, 0.2), (0.0385, 0.16), (0.0365, 0.136), (0.027, 0.113),
               (0.011, 0.101), (0.0, 0.099)]
    return S.revolve(profile, 40)


@generator
def jar() -> Generated:
    """A glass storage jar with a metal screw lid: Ø 8 cm, 11.6 cm high."""
    body = S.revolve([(0.0, 0.0), (0.037, 0.0), (0.04, 0.004), (0.04, 0.084), (0.035, 0.095),
                      (0.031, 0.1), (0.0, 0.1)], 40)
    lid = S.loft([S.circle(0.0335, 40, 0.097), S.circle(0.0335, 40, 0.113),
                  S.circle(0.0315, 40, 0.116)])
    return painted([(body, (0.78, 0.86, 0.84)), (lid, (0.62, 0.6, 0.55))])


@generator
def teapot() -> Part:
    """A round ceramic teapot with lid knob, spout (toward -x) and handle (toward +x): 25 × 15 × 14.5 cm."""
    t = np.linspace(0.05, np.pi * 0.86, 14)
    body = np.stack([0.075 * np.sin(t), 0.052 - 0.05 * np.cos(t) * 1.02], axis=1)
    body = body[body[:, 1] >= 0.006]
    profile = np.concatenate([[[0.0, 0.0], [0.045, 0.0], [0.05, 0.006]], body,
                              [[0.044, 0.104], [0.045, 0.107], [0.03, 0.121], [0.012, 0.129],
                               [0.0095, 0.133], [0.012, 0.14], [0.006, 0.1445], [0.0, 0.145]]])
    pot = S.revolve(profile, 40)
    spout = S.tube(S.bezier((-0.05, 0.0, 0.035), (-0.108, 0.0, 0.035), (-0.125, 0.0, 0.105), 14),
                   np.linspace(0.016, 0.0075, 14), 14)
    handle = S.tube(S.arc_path((0.066, 0.0, 0.066), 0.036, -80.0, 80.0, 16), 0.0068, 12)
    return S.concat([pot, spout, handle])


@generator
def candle() -> Generated:
    """A pillar candle with a wick: Ø 5 cm, 11.2 cm high."""
    wax = S.loft([S.circle(0.025, 36, 0.0), S.circle(0.025, 36, 0.098), S.circle(0.0235, 36, 0.1)])
    wick = S.cylinder(0.0012, 0.097, 0.112, 12)
    return painted([(wax, WHITE), (wick, (0.12, 0.1, 0.08))])


@generator
def pencil_holder() -> Generated:
    """A desk pencil cup holding four pencils: Ø 7.6 cm cup, 17 cm high overall."""
    cup_ = S.revolve([(0.0, 0.0), (0.038, 0.0), (0.038, 0.1), (0.035, 0.1), (0.035, 0.006),
                      (0.0, 0.006)], 36)
    hexagon = np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], axis=1)
    parts: list[tuple[Part, Color]] = [(cup_, (0.2, 0.22, 0.25))]
    layout = [(0.014, 0.012, 12.0, 0.0), (-0.015, 0.01, 9.0, 120.0), (-0.004, -0.016, 11.0, 240.0),
              (0.016, -0.01, 7.0, 60.0)]
    colors = [(0.95, 0.75, 0.1), (0.2, 0.45, 0.85), (0.85, 0.2, 0.15), (0.2, 0.65, 0.3)]
    for (x, y, tilt, yaw), col in zip(layout, colors, strict=True):
        body = S.tube(np.array([[0, 0, 0.0], [0, 0, 0.15]]), 0.0037, shape=hexagon, sections=6)
        tip = S.tube(np.array([[0, 0, 0.15], [0, 0, 0.168]]), [0.0037, 0.0008], shape=hexagon, sections=6)
        lead = S.tube(np.array([[0, 0, 0.1635], [0, 0, 0.17]]), [0.0012, 0.0002], shape=hexagon, sections=6)
        lean = S.rotation_z(yaw) @ S.rotation_x(tilt)
        for piece, c in ((body, col), (tip, (0.88, 0.72, 0.52)), (lead, (0.15, 0.15, 0.15))):
            parts.append((piece.moved((0.0, 0.0, 0.006)).transformed(lean).moved((x, y, 0.0)), c))
    return painted(parts)


@generator
def plant_pot() -> Generated:
    """A terracotta flower pot with a rim band, filled with soil: Ø 14 cm, 11 cm high."""
    pot = S.revolve([(0.0, 0.0), (0.045, 0.0), (0.0605, 0.094), (0.07, 0.095), (0.07, 0.11),
                     (0.0625, 0.11), (0.0605, 0.097), (0.0, 0.097)], 40)
    soil = S.cylinder(0.0612, 0.096, 0.0985, 40)
    return painted([(pot, WHITE), (soil, (0.25, 0.16, 0.1))])


@generator
def potted_plant() -> Generated:
    """A small leafy plant in a terracotta pot: Ø 20 cm foliage, 30 cm high."""
    pot = S.revolve([(0.0, 0.0), (0.045, 0.0), (0.0605, 0.094), (0.07, 0.095), (0.07, 0.11),
                     (0.0625, 0.11), (0.0605, 0.097), (0.0, 0.097)], 32)
    soil = S.cylinder(0.0612, 0.096, 0.0985, 32)
    stem = S.cylinder(0.006, 0.09, 0.2, 12)
    blobs = [((0.0, 0.0, 0.22), 0.06, (1.0, 1.0, 0.9)), ((0.045, 0.02, 0.18), 0.045, (1.0, 1.0, 0.85)),
             ((-0.04, 0.035, 0.19), 0.045, (1.0, 1.0, 0.85)), ((-0.025, -0.045, 0.17), 0.042, (1.0, 1.0, 0.9)),
             ((0.03, -0.035, 0.245), 0.04, (1.0, 1.0, 0.9)), ((-0.01, 0.01, 0.27), 0.035, (1.0, 1.0, 0.9))]
    leaves = [S.sphere(r, c, 14, 8, s) for c, r, s in blobs]
    green = (0.22, 0.5, 0.2)
    return painted([(pot, (0.72, 0.38, 0.24)), (soil, (0.25, 0.16, 0.1)), (stem, (0.3, 0.42, 0.18))]
                   + [(leaf, green) for leaf in leaves])


# -- food -----------------------------------------------------------------------------------------

def _fruit(radius: float, squash: float, top_bulge: float, top_dimple: float,
           bottom_dimple: float, rings: int = 22) -> Part:
    """A revolved fruit body: a sphere of ``radius`` squashed vertically by ``squash``, wider
    at the top by ``top_bulge`` (fraction), with dimples (m) at the stem and blossom ends."""
    t = np.linspace(0.0, np.pi, rings + 1)
    r = radius * np.sin(t) * (1.0 - top_bulge * np.cos(t))
    z = radius * squash * (1.0 - np.cos(t))
    z -= top_dimple * np.exp(-(((np.pi - t) / 0.32) ** 2))
    z += bottom_dimple * np.exp(-((t / 0.32) ** 2))
    r[0] = r[-1] = 0.0
    return S.revolve(np.stack([r, z], axis=1), 32)


@generator
def apple() -> Generated:
    """An apple with a stem: Ø 8.3 cm, 8.3 cm high including the stem."""
    body = _fruit(0.04, 0.92, 0.07, 0.009, 0.004)
    top = 2 * 0.04 * 0.92 - 0.009
    stem = S.tube(S.bezier((0.0, 0.0, top - 0.004), (0.0, 0.0, top + 0.008), (0.004, 0.0, top + 0.016), 6),
                  0.0018, 12)
    return painted([(body, WHITE), (stem, (0.35, 0.22, 0.1))])


@generator
def orange() -> Generated:
    """An orange: Ø 8 cm, slightly squashed, with a small stem nub."""
    body = _fruit(0.04, 0.9, 0.0, 0.003, 0.002)
    top = 2 * 0.04 * 0.9 - 0.003
    nub = S.cylinder(0.003, top - 0.002, top + 0.002, 12)
    return painted([(body, WHITE), (nub, (0.3, 0.35, 0.12))])


@generator
def pear() -> Generated:
    """A pear with a stem: Ø 7.4 cm, 11.8 cm high including the stem."""
    ctrl = [(0.0, 0.0), (0.02, 0.002), (0.032, 0.009), (0.037, 0.022), (0.036, 0.036), (0.029, 0.052),
            (0.021, 0.066), (0.017, 0.08), (0.014, 0.092), (0.008, 0.1), (0.0, 0.102)]
    profile = S.smooth_polyline(ctrl, 2)
    profile[0, 0] = profile[-1, 0] = 0.0
    body = S.revolve(profile, 32)
    stem = S.tube(S.bezier((0.0, 0.0, 0.098), (0.0, 0.0, 0.11), (0.005, 0.0, 0.118), 6), 0.0018, 12)
    return painted([(body, WHITE), (stem, (0.35, 0.22, 0.1))])


@generator
def banana() -> Generated:
    """A banana lying on its side, curving in the horizontal plane: about 19 cm long."""
    n = 24
    ang = np.radians(np.linspace(212.0, 328.0, n))
    s = np.linspace(0.0, 1.0, n)
    path = np.stack([0.1 * np.cos(ang), 0.1 + 0.1 * np.sin(ang), 0.018 + 0.014 * (2 * s - 1) ** 2], axis=1)
    radii = 0.0035 + 0.0145 * np.sin(np.pi * np.clip(s * 1.05, 0.0, 1.0)) ** 0.6
    phi = 2 * np.pi * np.arange(20) / 20
    ridged = np.stack([np.cos(phi), np.sin(phi)], axis=1) * (1.0 + 0.05 * np.cos(5 * phi))[:, None]
    body = S.tube(path, radii, shape=ridged)
    d0 = path[0] - path[1]
    d0 /= np.linalg.norm(d0)
    stalk = S.tube(np.stack([path[0] + d0 * 0.002 * k for k in range(-1, 8)]), 0.0042, 12)
    tip = S.sphere(0.0036, path[-1], 8, 6)
    dark = (0.3, 0.25, 0.12)
    return painted([(body, WHITE), (stalk, dark), (tip, dark)])


@generator
def egg() -> Part:
    """A hen's egg lying on its side: 5.7 cm long, Ø 4.4 cm."""
    t = np.linspace(0.0, np.pi, 21)
    r = 0.022 * np.sin(t) * (1.0 + 0.09 * np.cos(t))
    z = 0.0285 * (1.0 - np.cos(t))
    r[0] = r[-1] = 0.0
    upright = S.revolve(np.stack([r, z], axis=1), 28)
    return upright.moved((0.0, 0.0, -0.0285)).transformed(S.rotation_y(90.0))


@generator
def donut() -> Part:
    """A ring doughnut: Ø 9.4 cm, 2.8 cm high."""
    phi = 2 * np.pi * np.arange(16) / 16
    profile = np.stack([0.03 + 0.017 * np.cos(phi), 0.014 * np.sin(phi)], axis=1)
    return S.revolve_closed(profile, 36)


@generator
def tennis_ball() -> Part:
    """A tennis ball: Ø 6.7 cm."""
    return S.sphere(0.0335, (0.0, 0.0, 0.0335), 32, 16)


# -- everyday objects -------------------------------------------------------------------------------

@generator
def book() -> Generated:
    """A closed hardback book lying flat, spine toward -x: 15 × 22 × 3 cm."""
    cover = (0.16, 0.3, 0.55)
    parts = [
        (S.box((0.15, 0.22, 0.003), (0.0, 0.0, 0.0015), 0.0006), cover),
        (S.box((0.15, 0.22, 0.003), (0.0, 0.0, 0.0285), 0.0006), cover),
        (S.box((0.005, 0.22, 0.03), (-0.0725, 0.0, 0.015), 0.0012), cover),
        (S.box((0.143, 0.214, 0.024), (-0.001, 0.0, 0.015)), (0.93, 0.91, 0.85)),
    ]
    return painted(parts)


@generator
def shoe_box() -> Part:
    """A cardboard shoe box with an overlapping lid: 32.6 × 19.6 × 11 cm."""
    body = S.box((0.32, 0.19, 0.1), (0.0, 0.0, 0.05), 0.001)
    lid = S.box((0.326, 0.196, 0.035), (0.0, 0.0, 0.0925), 0.0015)
    return S.concat([body, lid])


@generator
def toy_block() -> Part:
    """A wooden toy building block: a 4 cm cube with chamfered edges."""
    return S.box((0.04, 0.04, 0.04), (0.0, 0.0, 0.02), 0.002)


@generator
def jenga_block() -> Part:
    """A wooden stacking-game block: 7.5 × 2.5 × 1.5 cm, long axis along x."""
    return S.box((0.075, 0.025, 0.015), (0.0, 0.0, 0.0075), 0.0008)


def _bevelled_slab(half_w: float, half_d: float, corner: float, z0: float, z1: float,
                   bevel: float, per_corner: int = 6) -> Part:
    """A rounded-rectangle slab whose bottom and top edges are chamfered by ``bevel``."""
    return S.loft([S.rounded_rect(half_w - bevel, half_d - bevel, max(corner - bevel, 0.0), per_corner, z0),
                   S.rounded_rect(half_w, half_d, corner, per_corner, z0 + bevel),
                   S.rounded_rect(half_w, half_d, corner, per_corner, z1 - bevel),
                   S.rounded_rect(half_w - bevel, half_d - bevel, max(corner - bevel, 0.0), per_corner, z1)])


@generator
def remote_control() -> Generated:
    """A TV remote control lying flat, long axis along y, buttons toward +y: 5 × 18 × 2.3 cm."""
    body = _bevelled_slab(0.025, 0.09, 0.014, 0.0, 0.02, 0.003)
    parts: list[tuple[Part, Color]] = [(body, (0.12, 0.12, 0.13))]
    parts.append((S.cylinder(0.0045, 0.019, 0.0225, 16, (0.012, 0.072)), (0.8, 0.15, 0.12)))
    for row in range(4):
        for col in (-1, 0, 1):
            parts.append((S.cylinder(0.0035, 0.019, 0.0215, 12, (col * 0.012, 0.05 - row * 0.013)),
                          (0.55, 0.56, 0.6)))
    parts.append((S.cylinder(0.009, 0.019, 0.0215, 24, (0.0, -0.015)), (0.55, 0.56, 0.6)))
    return painted(parts)


@generator
def phone() -> Generated:
    """A smartphone lying screen up, long axis along y: 7.5 × 15.5 × 0.85 cm."""
    body = _bevelled_slab(0.0375, 0.0775, 0.009, 0.0, 0.008, 0.0012)
    screen = S.slab(0.0345, 0.0745, 0.0075, 0.0085, 0.007, 6)
    return painted([(body, (0.7, 0.71, 0.74)), (screen, (0.04, 0.05, 0.07))])


@generator
def laptop() -> Generated:
    """An open laptop facing -y, lid tilted back 110°: 32 × 24 × 22 cm."""
    base = _bevelled_slab(0.16, 0.11, 0.008, 0.0, 0.014, 0.002)
    keys = S.slab(0.14, 0.05, 0.0135, 0.0145, 0.003, 2).moved((0.0, 0.03, 0.0))
    pad = S.slab(0.04, 0.025, 0.0135, 0.0145, 0.003, 2).moved((0.0, -0.065, 0.0))
    lid = _bevelled_slab(0.16, 0.11, 0.008, 0.0, 0.006, 0.0015).moved((0.0, 0.11, 0.0))
    screen = S.slab(0.15, 0.1, 0.0055, 0.0065, 0.003, 2).moved((0.0, 0.112, 0.0))
    hinge = S.rotation_x(70.0)
    lid_parts = [p.transformed(hinge).moved((0.0, 0.1, 0.0125)) for p in (lid, screen)]
    grey, dark = (0.74, 0.75, 0.78), (0.06, 0.06, 0.08)
    return painted([(base, grey), (keys, dark), (pad, (0.6, 0.61, 0.64)),
                    (lid_parts[0], grey), (lid_parts[1], dark)])


@generator
def table_lamp() -> Generated:
    """A table lamp with a round base, a thin pole and a fabric shade: Ø 22 cm, 45 cm high."""
    base = S.loft([S.circle(0.07, 36, 0.0), S.circle(0.07, 36, 0.014), S.circle(0.06, 36, 0.022)])
    pole = S.cylinder(0.007, 0.02, 0.4, 12)
    shade = S.revolve_closed([(0.11, 0.27), (0.07, 0.45), (0.068, 0.45), (0.108, 0.27)], 40)
    metal = (0.3, 0.3, 0.32)
    return painted([(base, metal), (pole, metal), (shade, (0.95, 0.92, 0.82))])


@generator
def chair() -> Part:
    """A simple wooden dining chair, seat facing -y, backrest at +y: 44 × 42 × 90 cm."""
    w, d, seat_z = 0.44, 0.42, 0.45
    leg = 0.035
    parts = [S.box((w, d, 0.035), (0.0, 0.0, seat_z - 0.0175), 0.003)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (w / 2 - leg / 2 - 0.01), sy * (d / 2 - leg / 2 - 0.01)
            top = 0.9 if sy > 0 else seat_z - 0.035
            parts.append(S.box((leg, leg, top), (x, y, top / 2), 0.002))
    parts.append(S.box((w - 0.05, 0.022, 0.16), (0.0, d / 2 - leg / 2 - 0.01, 0.78), 0.003))
    parts.append(S.box((w - 0.05, 0.022, 0.05), (0.0, d / 2 - leg / 2 - 0.01, 0.6), 0.003))
    return S.concat(parts)


# -- receptacles ------------------------------------------------------------------------------------

def _open_box(half_w: float, half_d: float, height: float, wall: float, floor: float,
              corner: float, per_corner: int, flare: float = 0.0) -> Part:
    """A hollow rounded-rectangle container; ``flare`` widens the top outline by that much (m)."""
    return S.loft([
        S.rounded_rect(half_w, half_d, corner, per_corner, 0.0),
        S.rounded_rect(half_w + flare, half_d + flare, corner, per_corner, height),
        S.rounded_rect(half_w + flare - wall, half_d + flare - wall, max(corner - wall, 0.0), per_corner, height),
        S.rounded_rect(half_w - wall, half_d - wall, max(corner - wall, 0.0), per_corner, floor),
    ])


@generator
def open_box() -> Part:
    """An open-top cardboard box: 25 × 18 × 10 cm (receptacle)."""
    return _open_box(0.125, 0.09, 0.1, 0.005, 0.005, 0.0, 1)


@generator
def basket() -> Part:
    """A flared woven basket with an arched carrying handle across x: 30 × 22 × 25 cm (receptacle)."""
    body = _open_box(0.13, 0.09, 0.11, 0.006, 0.008, 0.03, 6, flare=0.02)
    handle = S.tube(S.arc_path((0.0, 0.0, 0.1), 0.144, 0.0, 180.0, 25), 0.006, 12)
    return S.concat([body, handle])


@generator
def cutting_board() -> Part:
    """A wooden cutting board: 36 × 24 × 1.8 cm rounded slab (receptacle)."""
    return _bevelled_slab(0.18, 0.12, 0.02, 0.0, 0.018, 0.002)


# Parametric supports live in their own module; importing it registers them.
from gsi_syn.assets import furniture as _furniture  # noqa: E402,F401  (registration side effect)
