"""Write GSI-Bench records in the paper's flat evaluation layout, so its own scorer can run.

Per record (``img_id`` = the record id, query id ``0``; records converted from the release keep
their original ``<img_id>`` / ``<query_id>``)::

    <img_id>.png                 source image (lossless)
    <img_id>_edit_0.json         prompt, target, boxes, intrinsics, rotations (official convention)
    <img_id>_gtedit_0.png        ground-truth target (perspective edits; all edits with all_targets)

Box convention: ``[x, y, z, w, h, l, yaw]`` in the source camera frame (metres, y down, yaw in
radians), i.e. ``boxes.*.official_7vec``; rotation matrices in the official axis order (x, down,
y) via :mod:`gsi_bench.official_format`. ``new_bbox_3d`` / ``new_rotation_matrix``
are written whenever the object still exists; removal writes only the original box.

The prompt must be routed by the official scorer to the evaluator of the record's operation (its
first-word verb table and "camera" rule, :func:`gsi_bench.official_format.route_prompt`). The record's
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

from builders.official import SAFE_ID_RE
from gsi_bench.official_format import (
    OPERATION_ROUTE,
    UnroutablePrompt,
    official_box,
    release_has_target_image,
    release_names,
    route_prompt,
)
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
        return route_prompt(prompt, strict=True) == OPERATION_ROUTE[operation]
    except UnroutablePrompt:
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

    vec0, r0 = official_box(rec.source_box)
    out = {
        "prompt": prompt,
        "target": rec.target.category,
        "original_bbox_3d": vec0,
        "camera_intrinsics": mat(rec.K),
        "rotation_matrix": mat(r0),
    }
    if rec.target_present:
        vec1, r1 = official_box(rec.target_box)
        out["new_bbox_3d"] = vec1
        out["new_rotation_matrix"] = mat(r1)
    out["gsi_bench"] = {"id": rec.id, "operation": rec.operation, "template_id": rec.template_id,
                        "subset": rec.subset, "split": rec.split}
    return out


def official_names(rec: EditRecord) -> tuple[str, str]:
    """``(img_id, query_id)`` under which ``rec`` is written (:func:`gsi_bench.official_format.release_names`:
    a converted release exports back under its own names). Raises ``ValueError`` when the names
    cannot be used in the official layout."""
    img_id, qid = release_names(rec.id, rec.provenance.generator, rec.checks.thresholds)
    if "_edit_" in img_id or not SAFE_ID_RE.match(img_id) or not SAFE_ID_RE.match(qid):
        raise ValueError(f"the id {img_id!r} contains '_edit_' or characters outside [A-Za-z0-9._-], which the "
                         "official layout cannot name")
    return img_id, qid


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
    written: set[tuple[str, str]] = set()
    for rec in records:
        try:
            img_id, qid = official_names(rec)
            prompt = official_prompt(rec)
        except ValueError as err:
            summary.skipped[rec.id] = str(err)
            continue
        if (img_id, qid) in written:
            summary.skipped[rec.id] = f"another record was already written as {img_id}_edit_{qid}"
            continue
        written.add((img_id, qid))
        if prompt != rec.instruction:
            summary.rephrased[rec.id] = prompt
        _write_atomic(out / f"{img_id}.png", encode_png(rec.source_image))
        if (rec.operation == "perspective" or all_targets) and release_has_target_image(rec.checks.thresholds):
            _write_atomic(out / f"{img_id}_gtedit_{qid}.png", encode_png(rec.target_image))
        text = json.dumps(official_edit_json(rec, prompt), indent=2, ensure_ascii=False) + "\n"
        _write_atomic(out / f"{img_id}_edit_{qid}.json", text.encode("utf-8"))
        summary.written += 1
    return summary
