"""Building an :class:`~gsi_bench.schema.EditRecord` from typed parts: the one assembly used by
GSI-Syn (``gsi_syn.sampler``), GSI-Real (``gsi_real.pipeline``) and the official-release
converter (``builders.official``).

Each producer knows its parts — the two views of the edit (:class:`EditView`), the Φ3D transform
(:class:`Transform`), the boxes (:meth:`Box3D.from_pose`), the instruction
(:func:`render_instructions` for generated edits) — and :func:`assemble_record` derives the rest
(the operation's frame of reference, plain-list matrices, image size) and validates the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsi_bench.operations import OPERATION_FRAME, EditParams, noun_phrase, render_instruction, template_index
from gsi_bench.schema import Box3D, Checks, EditRecord, ObjectRef, Provenance

__all__ = ["EditView", "Transform", "InstructionText", "render_instructions", "assemble_record"]


@dataclass(frozen=True)
class EditView:
    """One side (source or target) of an edit.

    ``image``: uint8 ``(H, W, 3)`` sRGB; ``mask``: bool / uint8 ``(H, W)``, the edited object's
    visible pixels; ``instances``: uint16 ``(H, W)`` instance ids (0 = background); ``depth_mm``:
    uint16 ``(H, W)`` camera-frame z in millimetres (0 = no surface, see
    :func:`gsi_bench.schema.depth_to_mm`); ``cam_from_world``: 4×4 world→camera (OpenCV).
    """

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray
    depth_mm: np.ndarray
    cam_from_world: np.ndarray | list


@dataclass(frozen=True)
class Transform:
    """Φ3D in the source camera frame: a point ``p`` goes to ``rotation · (scale ⊙ p) + translation``
    (rotation 3×3, scale and translation ``(3,)``, metres)."""

    rotation: np.ndarray | list
    scale: np.ndarray | list
    translation: np.ndarray | list

    @classmethod
    def identity(cls) -> "Transform":
        return cls(np.eye(3), np.ones(3), np.zeros(3))


@dataclass(frozen=True)
class InstructionText:
    """The instruction in English and Chinese and the id of its phrasing (``<operation>/<n>``)."""

    en: str
    zh: str
    template_id: str


def render_instructions(operation: str, drawn_template: int, params: EditParams, *,
                        target: tuple[str, str] = ("", ""), referring: str = "",
                        reference: tuple[str, str] = ("", "")) -> InstructionText:
    """Both languages of a generated instruction. ``target`` / ``reference``: the (English,
    Chinese) heads naming the objects (e.g. a description, "" when the edit names none);
    ``referring``: the target's referring expression (e.g. ``leftmost``)."""
    def phrases(lang: int, code: str) -> dict[str, str]:
        return {"target": noun_phrase(target[lang], referring, code) if target[lang] else "",
                "reference": noun_phrase(reference[lang], "", code) if reference[lang] else ""}

    return InstructionText(
        en=render_instruction(operation, drawn_template, "en", params, **phrases(0, "en")),
        zh=render_instruction(operation, drawn_template, "zh", params, **phrases(1, "zh")),
        template_id=f"{operation}/{template_index(operation, drawn_template, params)}")


def _matrix(a) -> list:
    return np.asarray(a, dtype=np.float64).tolist()


def assemble_record(*, id: str, subset: str, split: str, operation: str, params: EditParams,
                    instruction: InstructionText, target: ObjectRef, reference: ObjectRef,
                    transform: Transform, source: EditView, target_view: EditView, K: np.ndarray | list,
                    source_box: Box3D, target_box: Box3D, target_present: bool, scene: str,
                    provenance: Provenance, checks: Checks) -> EditRecord:
    """The :class:`EditRecord` of an edit from its parts (``frame`` follows from ``operation``).
    Raises ``ValueError`` naming the record and field when a part is malformed."""
    if operation not in OPERATION_FRAME:
        raise ValueError(f"record {id!r}: unknown operation {operation!r}; expected one of {sorted(OPERATION_FRAME)}")
    record = EditRecord(
        id=id, subset=subset, split=split, operation=operation, frame=OPERATION_FRAME[operation],
        instruction=instruction.en, instruction_zh=instruction.zh, template_id=instruction.template_id,
        target=target, reference=reference, params=params,
        transform_translation=_matrix(transform.translation), transform_rotation=_matrix(transform.rotation),
        transform_scale=_matrix(transform.scale),
        source_image=source.image, target_image=target_view.image,
        source_mask=source.mask, target_mask=target_view.mask,
        source_instances=source.instances, target_instances=target_view.instances,
        source_depth=source.depth_mm, target_depth=target_view.depth_mm,
        K=_matrix(K), source_cam_from_world=_matrix(source.cam_from_world),
        target_cam_from_world=_matrix(target_view.cam_from_world),
        source_box=source_box, target_box=target_box, target_present=bool(target_present),
        scene=scene, provenance=provenance, checks=checks,
    )
    record.validate()
    return record
