"""Parametric supports and structure: table, floor, wall, shelf, cabinet, counter, sofa, bed.

Every generator takes keyword parameters in metres (their defaults and allowed ranges live in
the asset manifest), builds the piece from boxes in the asset canonical frame — origin on the
floor under the footprint centre, ``+z`` up, front (the side a person uses) facing ``-y`` — and
reports the horizontal :class:`~gsi_syn.assets.generators.SupportSurface` rectangles objects
can be placed on (a table's top at ``z = height``, each shelf board, a sofa's seat…).
"""

from __future__ import annotations

import math

import numpy as np

from gsi_syn.assets import shapes as S
from gsi_syn.assets.generators import Generated, SupportSurface, generator, painted
from gsi_syn.assets.shapes import Part


def _count(value: float, name: str) -> int:
    """An integer-valued parameter passed as a float."""
    n = int(round(value))
    if abs(value - n) > 1e-9:
        raise ValueError(f"parameter {name!r} must be a whole number, got {value}")
    return n


@generator
def table(*, width: float, depth: float, height: float, top_thickness: float) -> Generated:
    """A four-legged table: a bevelled top slab whose upper surface is at ``z = height`` and
    square legs set in from the corners. Footprint ``width × depth`` (x × y)."""
    top = S.box((width, depth, top_thickness), (0.0, 0.0, height - top_thickness / 2),
                min(0.004, top_thickness / 4))
    leg = min(0.06, max(0.03, 0.07 * min(width, depth)))
    inset = 0.04 + leg / 2
    leg_h = height - top_thickness
    legs = [S.box((leg, leg, leg_h), (sx * (width / 2 - inset), sy * (depth / 2 - inset), leg_h / 2), 0.002)
            for sx in (-1, 1) for sy in (-1, 1)]
    surface = SupportSurface(height, -width / 2, width / 2, -depth / 2, depth / 2)
    return Generated(S.concat([top, *legs]), surfaces=(surface,))


@generator
def floor(*, width: float, depth: float) -> Generated:
    """A flat floor at ``z = 0`` (an upward-facing grid of ≤ 0.5 m cells), ``width × depth``."""
    nx, ny = max(1, math.ceil(width / 0.5)), max(1, math.ceil(depth / 0.5))
    xs, ys = np.linspace(-width / 2, width / 2, nx + 1), np.linspace(-depth / 2, depth / 2, ny + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    verts = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
    a = (j * (nx + 1) + i).ravel()
    b, c, d = a + 1, a + nx + 2, a + nx + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int64)
    surface = SupportSurface(0.0, -width / 2, width / 2, -depth / 2, depth / 2)
    return Generated(Part(verts, faces), surfaces=(surface,))


@generator
def wall(*, width: float, height: float, thickness: float) -> Part:
    """A straight wall slab ``width`` long (x), ``thickness`` thick (y), ``height`` tall; its
    room-facing side faces ``-y``."""
    return S.box((width, thickness, height), (0.0, 0.0, height / 2))


@generator
def shelf(*, width: float, depth: float, height: float, boards: float) -> Generated:
    """An open shelf unit: two side panels, a back panel (at ``+y``) and ``boards`` (2–6)
    evenly spaced horizontal boards, the lowest on the floor and the highest on top."""
    n = _count(boards, "boards")
    if n < 2:
        raise ValueError("a shelf needs at least 2 boards")
    side, back, board = 0.02, 0.01, 0.02
    parts = [S.box((side, depth, height), (sx * (width / 2 - side / 2), 0.0, height / 2))
             for sx in (-1, 1)]
    parts.append(S.box((width - 2 * side, back, height), (0.0, depth / 2 - back / 2, height / 2)))
    inner_w, inner_d = width / 2 - side, depth - back
    surfaces = []
    for k in range(n):
        z0 = k * (height - board) / (n - 1)
        parts.append(S.box((2 * inner_w, inner_d, board), (0.0, -back / 2, z0 + board / 2)))
        surfaces.append(SupportSurface(z0 + board, -inner_w, inner_w, -depth / 2, depth / 2 - back))
    return Generated(S.concat(parts), surfaces=tuple(surfaces))


@generator
def cabinet(*, width: float, depth: float, height: float) -> Generated:
    """A closed cabinet with two front doors (at ``-y``) and bar handles; top at ``z = height``."""
    handle_d, door_d = 0.02, 0.018
    body_y0 = -depth / 2 + handle_d + door_d
    parts = [S.box((width, depth / 2 - body_y0, height), (0.0, (body_y0 + depth / 2) / 2, height / 2), 0.003)]
    door_w = width / 2 - 0.006
    for sx in (-1, 1):
        cx = sx * (width / 4)
        parts.append(S.box((door_w, door_d, height - 0.08), (cx, body_y0 - door_d / 2, 0.04 + (height - 0.08) / 2),
                           0.002))
        parts.append(S.box((0.014, handle_d, 0.12), (sx * 0.04, -depth / 2 + handle_d / 2, height * 0.62), 0.002))
    surface = SupportSurface(height, -width / 2, width / 2, body_y0, depth / 2)
    return Generated(S.concat(parts), surfaces=(surface,))


@generator
def counter(*, width: float, depth: float, height: float) -> Generated:
    """A kitchen counter: a recessed plinth, base cabinets with doors at ``-y`` and a 4 cm
    worktop overhanging the front by 3 cm; worktop surface at ``z = height``."""
    top_t, overhang, door_d = 0.04, 0.03, 0.018
    body_y0 = -depth / 2 + overhang
    parts = [S.box((width, depth, top_t), (0.0, 0.0, height - top_t / 2), 0.003),
             S.box((width - 0.02, depth - 0.08 - overhang, 0.1), (0.0, (body_y0 + 0.08 + depth / 2) / 2, 0.05)),
             S.box((width, depth / 2 - body_y0, height - top_t - 0.1),
                   (0.0, (body_y0 + depth / 2) / 2, 0.1 + (height - top_t - 0.1) / 2))]
    n_doors = max(1, round(width / 0.6))
    door_w = width / n_doors
    for k in range(n_doors):
        cx = -width / 2 + (k + 0.5) * door_w
        parts.append(S.box((door_w - 0.006, door_d, height - top_t - 0.13),
                           (cx, body_y0 - door_d / 2 + 0.0005, 0.11 + (height - top_t - 0.13) / 2), 0.002))
    surface = SupportSurface(height, -width / 2, width / 2, -depth / 2, depth / 2)
    return Generated(S.concat(parts), surfaces=(surface,))


@generator
def sofa(*, width: float, depth: float, height: float) -> Generated:
    """A sofa facing ``-y``: short legs, a base, armrests at ±x, a backrest at ``+y`` rising to
    ``height`` and seat cushions whose top (z = 0.44 m) is the support surface."""
    leg_h, base_top, seat_top, arm_w, back_d = 0.08, 0.3, 0.44, 0.16, 0.2
    parts = [S.box((0.05, 0.05, leg_h), (sx * (width / 2 - 0.06), sy * (depth / 2 - 0.06), leg_h / 2))
             for sx in (-1, 1) for sy in (-1, 1)]
    parts.append(S.box((width - 0.02, depth - 0.02, base_top - leg_h), (0.0, 0.0, (leg_h + base_top) / 2), 0.01))
    for sx in (-1, 1):
        parts.append(S.box((arm_w, depth, 0.62 - leg_h), (sx * (width / 2 - arm_w / 2), 0.0, (leg_h + 0.62) / 2),
                           0.03))
    inner = width / 2 - arm_w
    parts.append(S.box((2 * inner, back_d, height - leg_h), (0.0, depth / 2 - back_d / 2, (leg_h + height) / 2),
                       0.03))
    n_cushions = 3 if width >= 1.8 else 2
    cw = 2 * inner / n_cushions
    seat_d = depth - back_d
    for k in range(n_cushions):
        parts.append(S.box((cw - 0.01, seat_d - 0.01, seat_top - base_top + 0.01),
                           (-inner + (k + 0.5) * cw, -depth / 2 + seat_d / 2, (base_top - 0.01 + seat_top) / 2),
                           0.025))
    surface = SupportSurface(seat_top, -inner, inner, -depth / 2, depth / 2 - back_d)
    return Generated(S.concat(parts), surfaces=(surface,))


@generator
def bed(*, width: float, depth: float, height: float) -> Generated:
    """A bed with legs, a wooden frame, a mattress whose top is at ``z = height``, a headboard at
    ``+y`` and pillows; ``depth`` is the overall length (y) including the headboard."""
    leg_h, frame_top, head_d = 0.1, 0.3, 0.06
    body_y1 = depth / 2 - head_d
    body_cy, body_d = (-depth / 2 + body_y1) / 2, body_y1 + depth / 2
    wood = [S.box((0.06, 0.06, leg_h), (sx * (width / 2 - 0.05), sy, leg_h / 2))
            for sx in (-1, 1) for sy in (-depth / 2 + 0.05, body_y1 - 0.05)]
    wood.append(S.box((width, body_d, frame_top - leg_h), (0.0, body_cy, (leg_h + frame_top) / 2), 0.01))
    wood.append(S.box((width, head_d, height + 0.45), (0.0, depth / 2 - head_d / 2, (height + 0.45) / 2), 0.01))
    soft = [S.box((width - 0.04, body_d - 0.03, height - frame_top + 0.01),
                  (0.0, body_cy, (frame_top - 0.01 + height) / 2), 0.035)]
    n_pillows = 2 if width >= 1.2 else 1
    pw = (width - 0.1) / n_pillows
    for k in range(n_pillows):
        soft.append(S.box((pw - 0.06, 0.4, 0.12), (-width / 2 + 0.05 + (k + 0.5) * pw, body_y1 - 0.25, height + 0.05),
                          0.04))
    gen = painted([(p, (0.55, 0.38, 0.24)) for p in wood] + [(p, (0.93, 0.92, 0.89)) for p in soft])
    surface = SupportSurface(height, -width / 2 + 0.02, width / 2 - 0.02, -depth / 2 + 0.015, body_y1 - 0.46)
    return Generated(gen.part, gen.texture, (surface,))
