"""Write GSI-Bench records in the paper's flat evaluation layout, so its own scorer can run.

Per record (``img_id`` = the record id, query id ``0``)::

    <img_id>.png                 source image (lossless)
    <img_id>_edit_0.json         prompt, target, boxes, intrinsics, rotations (official convention)
    <img_id>_gtedit_0.png        ground-truth target (perspective edits; all edits with all_targets)

Box convention: ``[x, y, z, w, h, l, yaw]`` in the source camera frame (metres, y down, yaw in
radians), i.e. ``boxes.*.official_7vec``; rotation matrices in the official axis order (x, down,
y) via :func:`gsi_bench.geometry.official_rotation`. ``new_bbox_3d`` / ``new_rotation_matrix``
are written whenever the object still exists; removal writes only the original box.

The prompt must be routed by the official scorer to the evaluator of the record's operation (its
first-word verb table and "camera" rule, :func:`builders.official.official_route`). The record's
own instruction is kept when it routes correctly; otherwise the first of our phrasings of the
same edit that does is used (e.g. "… toward the camera" would be read as a viewpoint change). A
``gsi_bench`` block (id, operation, template) is added; the official scorer ignores extra keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builders.official import OPERATION_ROUTE, ConversionError, official_route
from gsi_bench.geometry import official_rotation
from gsi_bench.operations import (
    noun_phrase,
    num_templates,
    render_instruction,
    template_index,
)
from gsi_bench.schema import EditRecord, encode_png


@dataclass
class ExportSummary:
    out_dir: Path
    written: int = 0
    #: record id → reason it could not be exported
    skipped: dict[str, str] = field(default_factory=dict)
    #: record id → exported prompt, where it differs from the record's instruction
    rephrased: dict[str, str] = field(default_factory=dict)


def _routes_to(prompt: str, operation: str) -> bool:
    try:
        return official_route(prompt, strict=True) == OPERATION_ROUTE[operation]
    except ConversionError:
        return False


def official_prompt(rec: EditRecord) -> str:
    """An English prompt for ``rec`` that the official scorer routes to the right evaluator."""
    if _routes_to(rec.instruction, rec.operation):
        return rec.instruction
    target = noun_phrase(rec.target.description or rec.target.category, rec.target.referring_expression)
    reference = noun_phrase(rec.reference.description or rec.reference.category, rec.reference.referring_expression)
    tried = set()
    for i in range(num_templates(rec.operation)):
        idx = template_index(rec.operation, i, rec.params)
        if idx in tried:
            continue
        tried.add(idx)
        try:
            text = render_instruction(rec.operation, idx, "en", rec.params, target=target, reference=reference)
        except ValueError:
            continue
        if _routes_to(text, rec.operation):
            return text
    raise ValueError(f"record {rec.id!r}: no phrasing of this {rec.operation} edit is routed correctly by the "
                     "official scorer")


def official_edit_json(rec: EditRecord, prompt: str) -> dict:
    """The official per-edit JSON for ``rec`` (see module doc)."""
    def mat(m) -> list[list[float]]:
        return [[float(x) for x in row] for row in np.asarray(m, dtype=np.float64)]

    out = {
        "prompt": prompt,
        "target": rec.target.category,
        "original_bbox_3d": [float(x) for x in rec.source_box.official_7vec],
        "camera_intrinsics": mat(rec.K),
        "rotation_matrix": mat(official_rotation(rec.source_box.rotation)),
    }
    if rec.target_present:
        out["new_bbox_3d"] = [float(x) for x in rec.target_box.official_7vec]
        out["new_rotation_matrix"] = mat(official_rotation(rec.target_box.rotation))
    out["gsi_bench"] = {"id": rec.id, "operation": rec.operation, "template_id": rec.template_id,
                        "subset": rec.subset, "split": rec.split}
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_official(records: Iterable[EditRecord], out_dir: str | Path, all_targets: bool = False) -> ExportSummary:
    """Write ``records`` to ``out_dir`` in the official layout (see module doc). Records that
    cannot be expressed are listed in ``summary.skipped`` rather than aborting the export."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(out)
    for rec in records:
        if "_edit_" in rec.id or "/" in rec.id or rec.id.startswith("."):
            summary.skipped[rec.id] = "the id contains '_edit_', '/' or starts with '.', which the official layout cannot name"
            continue
        try:
            prompt = official_prompt(rec)
        except ValueError as err:
            summary.skipped[rec.id] = str(err)
            continue
        if prompt != rec.instruction:
            summary.rephrased[rec.id] = prompt
        _write_atomic(out / f"{rec.id}.png", encode_png(rec.source_image))
        if rec.operation == "perspective" or all_targets:
            _write_atomic(out / f"{rec.id}_gtedit_0.png", encode_png(rec.target_image))
        text = json.dumps(official_edit_json(rec, prompt), indent=2, ensure_ascii=False) + "\n"
        _write_atomic(out / f"{rec.id}_edit_0.json", text.encode("utf-8"))
        summary.written += 1
    return summary
