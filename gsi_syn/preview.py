"""Contact sheets of generated edits, for people to look at.

:func:`contact_sheet` — one row per record: source | target | masks overlaid (source mask red,
target mask green, on the target image) | the instruction (English and Chinese) with the
operation and key checks.

:func:`comparison_sheet` — the same records re-rendered from their scene descriptions by two
renderers side by side (GL photo vs Blender Cycles, or GL photo vs GL fast shading without
``bpy``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gsi_bench.schema import EditRecord

if TYPE_CHECKING:
    from gsi_bench.scene import Scene

_FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def _font(size: int) -> ImageFont.ImageFont:
    for path in _FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def mask_overlay(image: np.ndarray, source_mask: np.ndarray, target_mask: np.ndarray,
                 alpha: float = 0.55) -> np.ndarray:
    """uint8 ``(H, W, 3)``: ``image`` with the source mask tinted red and the target mask green."""
    out = image.astype(np.float32).copy()
    for mask, colour in ((source_mask, (255, 40, 40)), (target_mask, (40, 230, 40))):
        m = np.asarray(mask) > 0
        out[m] = (1 - alpha) * out[m] + alpha * np.asarray(colour, np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def contact_sheet(records: Iterable[EditRecord], tile: int = 256, text_width: int = 420) -> Image.Image:
    """Render a contact sheet (PIL RGB image) of ``records``."""
    rows = []
    font, small = _font(max(12, tile // 16)), _font(max(10, tile // 20))
    for rec in records:
        tiles = [rec.source_image, rec.target_image,
                 mask_overlay(rec.target_image, rec.source_mask, rec.target_mask)]
        row = Image.new("RGB", (3 * tile + text_width, tile), (255, 255, 255))
        for i, t in enumerate(tiles):
            row.paste(Image.fromarray(t).resize((tile, tile), Image.Resampling.LANCZOS), (i * tile, 0))
        draw = ImageDraw.Draw(row)
        x, y = 3 * tile + 8, 6
        draw.text((x, y), f"{rec.operation}  ·  {rec.id}", fill=(20, 60, 160), font=font)
        y += font.size + 6
        for line in textwrap.wrap(rec.instruction, width=max(20, text_width // (small.size // 2 + 1))):
            draw.text((x, y), line, fill=(0, 0, 0), font=small)
            y += small.size + 3
        c = rec.checks
        draw.text((x, tile - 2 * small.size - 8),
                  f"visible {c.visible_fraction_source:.2f}→{c.visible_fraction_target:.2f}  "
                  f"changed {c.changed_pixel_fraction:.3f}", fill=(90, 90, 90), font=small)
        draw.text((x, tile - small.size - 4), "source | target | masks (red: before, green: after)",
                  fill=(140, 140, 140), font=small)
        rows.append(row)
    if not rows:
        raise ValueError("no records to preview")
    sheet = Image.new("RGB", (rows[0].width, sum(r.height + 4 for r in rows)), (200, 200, 200))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    return sheet


# -- renderer comparison -------------------------------------------------------------------------------
def rescaled_scene(scene: "Scene", size: int) -> "Scene":
    """``scene`` with its camera resampled to ``size`` px on the longer side (intrinsics scaled
    with the image; pose, near and far kept), so a comparison renders at tile size."""
    import dataclasses

    from gsi_bench.scene import Camera

    cam = scene.camera
    s = size / max(cam.width, cam.height)
    w, h = max(1, round(cam.width * s)), max(1, round(cam.height * s))
    K = cam.K_array * np.array([[w / cam.width], [h / cam.height], [1.0]])
    return dataclasses.replace(scene, camera=Camera.create(K, cam.cam_from_world_array, w, h,
                                                           near=cam.near, far=cam.far))


def comparison_renderers(cycles_samples: int = 8) -> tuple[tuple[str, Callable], tuple[str, Callable]]:
    """The two looks a comparison sheet shows, as (label, ``scene → uint8 (H, W, 3)``) pairs:
    the GL photo (PBR, image-based light) and Blender Cycles at ``cycles_samples`` paths per
    pixel, or, when ``bpy`` is missing, the GL fast shading (Lambert + Blinn-Phong)."""
    from gsi_syn.render.cycles import cycles_available
    from gsi_syn.render.gl import GLRenderer

    gl = GLRenderer()
    left = ("GL photo", gl.photo)
    ok, _ = cycles_available()
    if ok:
        from gsi_syn.render.cycles import CyclesRenderer, CyclesSettings

        cycles = CyclesRenderer(settings=CyclesSettings(samples=cycles_samples), gl=gl)
        return left, (f"Cycles ({cycles_samples} spp)", cycles.photo)
    return left, ("GL fast", lambda scene: gl.render(scene).rgb)


def comparison_sheet(records: Iterable[EditRecord], tile: int = 256, text_width: int = 300,
                     cycles_samples: int = 8, renderers=None) -> Image.Image:
    """A sheet (PIL RGB) that renders each record's source and target scene with two renderers
    side by side: one row per record, ``[left source | right source | left target | right target]``
    tiles of ``tile`` px (rendered at that size) and the instruction; a header row names the
    renderers. ``renderers``: the two (label, render function) pairs; default
    :func:`comparison_renderers`. Size: ``(4·tile + text_width) × (header + rows·(tile + 4))``."""
    from gsi_bench.scene import decode_scene_pair

    (l_name, left), (r_name, right) = renderers or comparison_renderers(cycles_samples)
    font, small = _font(max(12, tile // 16)), _font(max(10, tile // 20))
    header_h = font.size + 10
    rows = []
    for rec in records:
        src, tgt = (rescaled_scene(s, tile) for s in decode_scene_pair(rec.scene))
        row = Image.new("RGB", (4 * tile + text_width, tile), (255, 255, 255))
        for i, img in enumerate((left(src), right(src), left(tgt), right(tgt))):
            row.paste(Image.fromarray(np.asarray(img, np.uint8)).resize((tile, tile), Image.Resampling.LANCZOS),
                      (i * tile, 0))
        draw = ImageDraw.Draw(row)
        x, y = 4 * tile + 8, 6
        draw.text((x, y), f"{rec.operation}  ·  {rec.id}", fill=(20, 60, 160), font=small)
        y += small.size + 6
        for line in textwrap.wrap(rec.instruction, width=max(16, text_width // (small.size // 2 + 1))):
            if y + small.size > tile:
                break
            draw.text((x, y), line, fill=(0, 0, 0), font=small)
            y += small.size + 3
        rows.append(row)
    if not rows:
        raise ValueError("no records to compare")
    width = rows[0].width
    sheet = Image.new("RGB", (width, header_h + sum(r.height + 4 for r in rows)), (200, 200, 200))
    draw = ImageDraw.Draw(sheet)
    draw.rectangle((0, 0, width, header_h - 1), fill=(255, 255, 255))
    for i, label in enumerate((f"source: {l_name}", f"source: {r_name}", f"target: {l_name}", f"target: {r_name}")):
        draw.text((i * tile + 4, 4), label, fill=(0, 0, 0), font=small)
    y = header_h
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    return sheet
