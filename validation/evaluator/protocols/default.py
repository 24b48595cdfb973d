"""The default protocol: analysis-by-synthesis localisation, IC/SA per operation, EL and AC.

One scorer per operation id (:data:`SCORERS`, keyed like :mod:`gsi_bench.operations`); each
takes the record, the prediction at search size, the source/target scenes and the synthesiser and
returns the realised edit and its IC/SA. :func:`score` runs the whole protocol for one sample:

1. align and tone-normalise the prediction to the source over the background
   (:mod:`validation.evaluator.alignment`; not for ``perspective``, whose global motion *is* the
   edit);
2. localise the edit and score IC/SA (:data:`SCORERS`);
3. EL and AC on the normalised prediction (EL additionally restricted to the pixels the alignment
   covers); the raw values on the unaligned prediction are kept as ``el_raw`` / ``ac_raw``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gsi_bench.schema import EditRecord
from validation.evaluator import imageops, metrics, scoring
from validation.evaluator.synthesis import Realised, Synthesizer, scenes_of

OBJECT_TRANSLATIONS = ("camera_relative_move", "object_relative_place", "receptacle_place")


def _translation(record, small, src, tgt, synth: Synthesizer) -> tuple[Realised, dict]:
    tid = record.target.instance_id
    realised = synth.localise_translation(small, src, tid, tgt.get(tid))
    return realised, scoring.score_translation(record, src, tgt, realised)


def _rotation(record, small, src, tgt, synth: Synthesizer) -> tuple[Realised, dict]:
    tid = record.target.instance_id
    realised = synth.localise_rotation(small, src, tid, tgt.get(tid))
    return realised, scoring.score_rotation(record, src, tgt, realised)


def _scale(record, small, src, tgt, synth: Synthesizer) -> tuple[Realised, dict]:
    tid = record.target.instance_id
    realised = synth.localise_scale(small, src, tid, tgt.get(tid))
    return realised, scoring.score_scale(record, src, tgt, realised)


def _remove(record, small, src, tgt, synth: Synthesizer) -> tuple[Realised, dict]:
    tid = record.target.instance_id
    cat = src.get(tid).category
    ids = [tid] + [o.instance_id for o in src.movable() if o.category == cat and o.instance_id != tid]
    realised = synth.localise_presence(small, src, ids)
    return realised, scoring.score_remove(record, src, realised)


def _perspective(record, small, src, tgt, synth: Synthesizer) -> tuple[Realised, dict]:
    realised = synth.localise_camera(small, src, scoring.camera_motion_of(record))
    return realised, scoring.score_perspective(record, realised)


#: operation id → scorer ``(record, prediction at search size, source, target, synthesiser) → (realised, result)``
SCORERS: dict[str, Callable] = {
    "camera_relative_move": _translation, "object_relative_place": _translation, "receptacle_place": _translation,
    "rotate": _rotation, "scale": _scale, "remove": _remove, "perspective": _perspective,
}
#: operations whose prediction is not globally aligned (the global motion is the edit)
UNALIGNED = ("perspective",)


def background_mask(record: EditRecord) -> np.ndarray:
    """Bool ``(H, W)``: outside the union of the source and target object masks dilated by
    :data:`scoring.MASK_DILATION` of the image side (shadows) — what a correct object edit keeps."""
    h, w = record.source_image.shape[:2]
    union = (record.source_mask > 0) | (record.target_mask > 0)
    return ~imageops.dilate(union, max(1, round(scoring.MASK_DILATION * max(h, w))))


def edit_locality(pred: np.ndarray, record: EditRecord, valid: np.ndarray | None = None) -> tuple[float, float, float]:
    """(EL 0–100, masked SSIM, masked PSNR dB) of ``pred`` (uint8 or float [0, 1]) against the
    ground-truth target outside the dilated union of the object masks (and inside ``valid``)."""
    keep = background_mask(record)
    if valid is not None:
        keep = keep & valid
    p = pred if pred.dtype != np.uint8 else imageops.to_float(pred)
    loc = metrics.edit_locality(p, imageops.to_float(record.target_image), keep)
    return loc.el, loc.ssim, loc.psnr


def appearance(preds: list[np.ndarray], record: EditRecord, src, realised, synth: Synthesizer) -> tuple[list[float], str]:
    """AC 0–100 of each image in ``preds`` (float [0, 1] ``(H, W, 3)``) and a note (see
    :mod:`validation.evaluator.scoring`); the reference is rendered once."""
    op = record.operation
    if op == "remove":
        mask = imageops.dilate(record.source_mask > 0, 2)
        ref = imageops.to_float(record.target_image)
        return [metrics.appearance(p, ref, mask).ac for p in preds], "inpainted region vs ground truth"
    if op == "perspective":
        import dataclasses

        cam = dataclasses.replace(src.camera, cam_from_world=realised.cam_from_world.tolist())
        ref = imageops.to_float(_exact_renderer(synth).render(src.with_camera(cam)).rgb)
        out = []
        for p in preds:
            ssim = imageops.masked_ssim(p, ref)
            colour = float(np.exp(-np.linalg.norm(p.reshape(-1, 3).mean(0) - ref.reshape(-1, 3).mean(0)) / 0.1))
            out.append(100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour))
        return out, "whole image vs render from the realised camera"
    if realised.obj is None:
        return [0.0] * len(preds), "object missing"
    tid = record.target.instance_id
    full = _exact_renderer(synth).render(src.replace_object(realised.obj))
    visible = full.instances == tid
    if visible.sum() < 4:
        return [0.0] * len(preds), "object not visible at its realised pose"
    ref = imageops.to_float(full.rgb)
    return [metrics.appearance(p, ref, visible).ac for p in preds], "object vs its render at the realised pose"


def _exact_renderer(synth: Synthesizer):
    """Full-resolution renders with the generator's settings (default shadow map), made once per
    synthesiser."""
    if getattr(synth, "exact", None) is None:
        if getattr(synth.shaded, "name", "") == "gl":
            from gsi_syn.render.gl import GLRenderer

            synth.exact = GLRenderer()
        else:
            synth.exact = synth.shaded
    return synth.exact


def score(record: EditRecord, pred: np.ndarray, synth: Synthesizer) -> dict:
    """Default protocol for one record (``pred`` uint8 ``(H, W, 3)`` at the record's size): see
    the module docstring. Returns the result dict (``_realised`` holds the :class:`Realised`)."""
    from validation.evaluator import alignment

    src, tgt = scenes_of(record)
    op = record.operation
    if op not in SCORERS:
        raise ValueError(f"operation {op!r} has no default-protocol scorer")
    raw = imageops.to_float(pred)
    if op in UNALIGNED:
        norm, work, valid = None, pred, None
    else:
        norm = alignment.normalise(pred, record.source_image, background_mask(record))
        work = (norm.image * 255.0 + 0.5).astype(np.uint8)
        valid = norm.valid
    realised, res = SCORERS[op](record, synth.prediction(work, src), src, tgt, synth)
    el, el_ssim, el_psnr = edit_locality(work, record, valid)
    el_raw = edit_locality(pred, record)[0] if norm is not None else el
    images = [imageops.to_float(work)] + ([raw] if norm is not None else [])
    acs, ac_note = appearance(images, record, src, realised, synth)
    res.update(el=el, el_ssim=el_ssim, el_psnr=el_psnr, ac=acs[0], ac_region=ac_note, el_raw=el_raw, ac_raw=acs[-1],
               alignment=norm.alignment.to_json() if norm is not None else {"method": "none (camera edit)", "reliable": True},
               confidence=realised.confidence(),
               search={"hypotheses": realised.hypotheses, "distance": realised.distance,
                       "unchanged_distance": realised.unchanged_distance})
    res["_realised"] = realised
    return res


from validation.evaluator.protocols import register as _register  # noqa: E402

_register("default")(score)
