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
from validation.evaluator.synthesis import Realised, Synthesizer, rgb_of

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


def smooth(img: np.ndarray, sigma: float) -> np.ndarray:
    """Float ``(H, W, 3)`` image blurred by a Gaussian of ``sigma`` px (unchanged for 0)."""
    import cv2

    f = img if img.dtype != np.uint8 else imageops.to_float(img)
    if sigma <= 0:
        return f
    return cv2.GaussianBlur(np.ascontiguousarray(f, dtype=np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def comparison_sigma(record: EditRecord) -> float:
    """Scale (px) at which EL and AC compare images: a Gaussian of 2 px at 512² (1 px at 256²).
    Differences at the scale of a pixel or two — JPEG blocks, resampling, sharpening, residual
    sub-pixel misalignment — are image-quality noise, not edits; objects span tens of pixels."""
    return max(record.source_image.shape[:2]) / 256.0


def edit_locality(pred: np.ndarray, record: EditRecord, valid: np.ndarray | None = None,
                  sigma: float = 0.0, background: np.ndarray | None = None) -> tuple[float, float, float]:
    """(EL 0–100, masked SSIM, masked PSNR dB) of ``pred`` (uint8 or float [0, 1]) against the
    ground-truth target outside the dilated union of the object masks (and inside ``valid``).
    ``background``: the record's :func:`background_mask` when already computed."""
    keep = background_mask(record) if background is None else background
    if valid is not None:
        keep = keep & valid
    loc = metrics.edit_locality(smooth(pred, sigma), smooth(record.target_image, sigma), keep)
    return loc.el, loc.ssim, loc.psnr


def appearance(preds: list[np.ndarray], record: EditRecord, src, realised, synth: Synthesizer,
               sigmas: list[float] | None = None) -> tuple[list[float], str]:
    """AC 0–100 of each image in ``preds`` (float [0, 1] ``(H, W, 3)``) and a note (see
    :mod:`validation.evaluator.scoring`); the reference is rendered once. ``sigmas``: per image,
    the Gaussian (px) applied to it and to the reference before comparing (default 0)."""
    sigmas = sigmas or [0.0] * len(preds)
    preds = [smooth(p, sg) for p, sg in zip(preds, sigmas)]
    op = record.operation
    if op == "remove":
        mask = imageops.dilate(record.source_mask > 0, 2)
        ref = imageops.to_float(record.target_image)
        return [metrics.appearance(p, smooth(ref, sg), mask).ac for p, sg in zip(preds, sigmas)], \
            "inpainted region vs ground truth"
    if op == "perspective":
        import dataclasses

        cam = dataclasses.replace(src.camera, cam_from_world=realised.cam_from_world.tolist())
        ref = imageops.to_float(rgb_of(_exact_renderer(synth), src.with_camera(cam)))
        out = []
        for p, sg in zip(preds, sigmas):
            ssim = imageops.masked_ssim(p, smooth(ref, sg))
            colour = imageops.object_colour_similarity(p, ref, np.ones(p.shape[:2], bool))
            out.append(100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour))
        return out, "whole image vs render from the realised camera"
    if realised.obj is None:
        return [0.0] * len(preds), "object missing"
    tid = record.target.instance_id
    full = _reference_render(_exact_renderer(synth), src.replace_object(realised.obj), tid, max(sigmas))
    visible = full.instances == tid
    if visible.sum() < 4:
        return [0.0] * len(preds), "object not visible at its realised pose"
    ref = imageops.to_float(full.rgb)
    return [metrics.appearance(p, smooth(ref, sg), visible).ac for p, sg in zip(preds, sigmas)], \
        "object vs its render at the realised pose"


def _reference_render(renderer, scene, tid: int, sigma: float):
    """``renderer.render(scene)`` for :func:`appearance`, which reads the reference only around
    instance ``tid``: the pixels of ``tid`` and, blurred by ``sigma`` px, its padded bounding box
    (:func:`imageops.region_similarity`). A GL photo renderer draws just the instance's rectangle
    widened by :data:`REFERENCE_MARGIN_PX` + 4·``sigma`` px (the Gaussian's reach), which equals
    the whole render there bit for bit; other renderers render the whole image."""
    from validation.evaluator.synthesis import PhotoRenderer

    if isinstance(renderer, PhotoRenderer):
        return renderer.render(scene, around=tid, margin=REFERENCE_MARGIN_PX + int(np.ceil(4.0 * sigma)))
    return renderer.render(scene)


#: Pixels kept around the target's rectangle in :func:`_reference_render` beyond the blur's reach:
#: more than the bounding-box padding of :func:`imageops.region_similarity` (4 px).
REFERENCE_MARGIN_PX = 16


def _exact_renderer(synth: Synthesizer):
    """Full-resolution renders with the generator's settings (default shadow map), made once per
    synthesiser and shared with its copies at other search sizes (:meth:`Synthesizer.at_size`)."""
    base = getattr(synth, "_sized_from", None)
    if getattr(synth, "exact", None) is None and base is not None:
        synth.exact = _exact_renderer(base)
    if getattr(synth, "exact", None) is None:
        if getattr(synth.shaded, "name", "") == "gl":
            from gsi_syn.render.gl import GLRenderer

            synth.exact = GLRenderer()
            if synth.style == "photo":  # in the look of the record's published photos
                from validation.evaluator.synthesis import PhotoRenderer

                synth.exact = PhotoRenderer(synth.exact)
        else:
            synth.exact = synth.shaded
    return synth.exact


#: targets covering fewer pixels than this at the search size are searched at a larger size
MIN_TARGET_PX = 150
MAX_SEARCH_SIZE = 256


def search_size_for(record: EditRecord, base: int) -> int:
    """Search size (longest side, px) that resolves the target: ``base`` unless the target's
    smaller mask (source or target, non-empty) covers fewer than :data:`MIN_TARGET_PX` pixels
    at that size; then large enough that it would (at most :data:`MAX_SEARCH_SIZE` and the image).

    A mug of 40×40 px in a 512² image covers 100 px at 128 px search size, so it is searched at 180.
    """
    if record.operation in UNALIGNED:
        return base
    h, w = record.source_image.shape[:2]
    areas = [int((m > 0).sum()) for m in (record.source_mask, record.target_mask) if (m > 0).any()]
    if not areas:
        return base
    f = base / max(h, w)
    at_base = min(areas) * f * f
    if at_base >= MIN_TARGET_PX:
        return base
    need = base * float(np.sqrt(MIN_TARGET_PX / max(at_base, 1e-6)))
    return int(min(MAX_SEARCH_SIZE, max(h, w), max(base, round(need / 8) * 8)))


def score(record: EditRecord, pred: np.ndarray, synth: Synthesizer) -> dict:
    """Default protocol for one record (``pred`` uint8 ``(H, W, 3)`` at the record's size): see
    the module docstring. Returns the result dict (``_realised`` holds the :class:`Realised`)."""
    from validation.evaluator import alignment

    src, tgt = record.scenes()
    op = record.operation
    if op not in SCORERS:
        raise ValueError(f"operation {op!r} has no default-protocol scorer")
    raw = imageops.to_float(pred)
    background = background_mask(record)
    if op in UNALIGNED:
        norm, work, valid = None, pred, None
    else:
        norm = alignment.normalise(pred, record.source_image, background)
        work = (norm.image * 255.0 + 0.5).astype(np.uint8)
        valid = norm.valid
    synth = synth.for_record(record).at_size(search_size_for(record, synth.search_size))
    realised, res = SCORERS[op](record, synth.prediction(work, src), src, tgt, synth)
    sg = comparison_sigma(record)
    el, el_ssim, el_psnr = edit_locality(work, record, valid, sg, background)
    el_raw = edit_locality(pred, record, background=background)[0]
    acs, ac_note = appearance([imageops.to_float(work), raw], record, src, realised, synth, [sg, 0.0])
    res.update(el=el, el_ssim=el_ssim, el_psnr=el_psnr, ac=acs[0], ac_region=ac_note, el_raw=el_raw, ac_raw=acs[-1],
               alignment=norm.alignment.to_json() if norm is not None else {"method": "none (camera edit)", "reliable": True},
               confidence=realised.confidence(),
               search={"hypotheses": realised.hypotheses, "distance": realised.distance,
                       "unchanged_distance": realised.unchanged_distance})
    res["_realised"] = realised
    return res


from validation.evaluator.protocols import register as _register  # noqa: E402

_register("default")(score)
