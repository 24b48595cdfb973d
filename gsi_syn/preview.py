"""Contact sheets of generated edits, for people to look at.

One row per record: source | target | masks overlaid (source mask red, target mask green, on the
target image) | the instruction (English and Chinese) with the operation and key checks.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gsi_bench.schema import EditRecord

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
