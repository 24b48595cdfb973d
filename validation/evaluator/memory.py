"""In-memory prediction sources: the adapter between Python objects and the evaluation runner.

The runner reads predictions through a :class:`~validation.evaluator.predictions.PredictionIndex`
(``read(record_id) -> bytes | None`` plus ``duplicates`` / ``names`` / ``issues``). The builders
here fill one from

* a mapping ``record id → image`` (PIL image, numpy array, ``torch.Tensor``, raw bytes or a path),
* a ``datasets.Dataset`` (or any iterable of rows) with columns ``id`` and ``image``,
* a callable editor ``(PIL image, instruction) -> image`` run over the records of a split.

Every image is encoded once to lossless PNG bytes, so a prediction scores exactly as the same image
saved as ``<id>.png`` and scored by ``gsi-bench evaluate``. Nothing is dropped: ids that name no
record are listed as ``unknown`` issues, images that cannot be converted become ``unreadable``
samples, and an editor that raises on a sample leaves that sample ``missing`` (the error is kept in
the issues as ``editor_failed``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from validation.evaluator.predictions import IMAGE_EXTENSIONS, PredictionIndex

#: Images handed to ``image_to_png``: a PIL image, an ``(H, W, 3|4)`` / ``(H, W)`` array (uint8, or
#: float in [0, 1]), a ``(3, H, W)`` torch tensor (float in [0, 1] or uint8), PNG/JPEG bytes or a path.
ImageLike = Any


class InMemoryPredictions(PredictionIndex):
    """A :class:`PredictionIndex` whose bytes live in memory (``locators[id] = ("bytes", png)``)."""

    def __init__(self, layout: str, root: str):
        super().__init__(layout=layout, root=root)

    def put(self, record_id: str, name: str, image: ImageLike) -> None:
        """Encode ``image`` and index it under ``record_id``; a second image for the same id makes
        the sample a ``duplicate``; an image that cannot be converted is kept as an unreadable
        entry (empty bytes, so the runner reports it as ``unreadable`` with the reason)."""
        try:
            data = image_to_png(image)
        except (TypeError, ValueError, OSError) as err:
            self.issue("unreadable", name, str(err))
            data = b""
        if record_id in self.locators or record_id in self.duplicates:
            first = self.names.pop(record_id, None)
            self.locators.pop(record_id, None)
            self.duplicates.setdefault(record_id, [first] if first else []).append(name)
            return
        self.locators[record_id] = ("bytes", data)
        self.names[record_id] = name


def image_to_png(image: ImageLike) -> bytes:
    """Lossless PNG bytes of an RGB prediction (see :data:`ImageLike` for what is accepted).

    >>> import numpy as np
    >>> png = image_to_png(np.zeros((4, 5, 3), np.uint8))
    >>> png[:4] == b"\\x89PNG"
    True
    >>> image_to_png(np.full((2, 2), 0.5)) == image_to_png(np.full((2, 2), 128, np.uint8))
    True
    """
    from PIL import Image

    if isinstance(image, (bytes, bytearray)):
        return bytes(image)  # decoded (and checked) by the runner like a file's bytes
    if isinstance(image, (str, Path)):
        path = Path(image)
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"{path}: extension is not one of {', '.join(IMAGE_EXTENSIONS)}")
        return path.read_bytes()
    if isinstance(image, Image.Image):
        arr = np.asarray(image.convert("RGB"))
    else:
        if type(image).__module__.startswith("torch"):
            image = image.detach().cpu().numpy()
            if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
                image = np.moveaxis(image, 0, -1)  # CHW -> HWC
        arr = np.asarray(image)
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all():
                raise ValueError("float image holds NaN or inf")
            arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
        elif arr.dtype != np.uint8:
            raise TypeError(f"image array of dtype {arr.dtype}: pass uint8 (0-255) or float (0-1)")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ValueError(f"image array of shape {arr.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
        if arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        arr = arr[..., :3]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def from_mapping(predictions: Mapping[str, ImageLike], record_ids: set[str]) -> InMemoryPredictions:
    """Index a ``{record id: image}`` mapping (ids naming no record become ``unknown`` issues)."""
    index = InMemoryPredictions(layout="mapping", root=f"<mapping of {len(predictions)} images>")
    for rid, image in predictions.items():
        rid = str(rid)
        if rid not in record_ids:
            index.issue("unknown", rid, "names no record of the evaluated split")
            continue
        index.put(rid, rid, image)
    return index


def from_rows(rows: Iterable[Mapping[str, Any]], record_ids: set[str], name: str = "dataset") -> InMemoryPredictions:
    """Index rows with ``id`` and ``image`` (a ``datasets.Dataset``, a list of dicts…).

    ``image`` may be a decoded PIL image or an undecoded ``{"bytes", "path"}`` cell."""
    features = getattr(rows, "column_names", None)
    if features is not None and not {"id", "image"} <= set(features):
        raise ValueError(f"prediction dataset needs columns 'id' and 'image'; it has {features}")
    index = InMemoryPredictions(layout="dataset", root=f"<{name}>")
    for i, row in enumerate(rows):
        rid, image = row.get("id"), row.get("image")
        label = f"{name}[{i}]"
        if not isinstance(rid, str) or rid not in record_ids:
            index.issue("unknown", label, f"id {rid!r} names no record of the evaluated split")
            continue
        if isinstance(image, Mapping):
            image = image.get("bytes") or image.get("path")
        if image is None:
            index.issue("unreadable", label, "row holds no image")
            image = b""
        index.put(rid, f"{label} id={rid}", image)
    return index


def from_editor(editor: Callable[[Any, str], ImageLike], records: Iterable, progress: bool = False,
                name: str | None = None) -> InMemoryPredictions:
    """Run ``editor(source PIL image, English instruction)`` over ``records`` (EditRecords); editors
    with ``edit_batch(images, instructions)`` and ``batch_size > 1`` get batches.

    A sample whose editor call raises is left without prediction (scored as ``missing``) and its
    error is listed as an ``editor_failed`` issue; the run goes on."""
    label = name or getattr(editor, "__name__", type(editor).__name__)
    index = InMemoryPredictions(layout="editor", root=f"<editor {label}>")
    it = records
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(records, unit="sample", desc=f"edit ({label})")
    batch_size = int(getattr(editor, "batch_size", 1) or 1) if hasattr(editor, "edit_batch") else 1
    batch: list = []
    for record in it:
        batch.append(record)
        if len(batch) >= batch_size:
            _edit_batch(editor, batch, index)
            batch = []
    if batch:
        _edit_batch(editor, batch, index)
    return index


def _edit_batch(editor, records: list, index: InMemoryPredictions) -> None:
    """Edit ``records`` (one call to ``editor.edit_batch`` when there are several, else ``editor``);
    a failing batch is retried sample by sample so one bad sample does not take its batch down."""
    from PIL import Image

    srcs = [Image.fromarray(np.ascontiguousarray(r.source_image[..., :3], dtype=np.uint8)) for r in records]
    if len(records) > 1:
        try:
            outs = editor.edit_batch(srcs, [r.instruction for r in records])
        except Exception:  # noqa: BLE001 - fall back to one call per sample
            outs = None
        if outs is not None and len(outs) == len(records):
            for r, out in zip(records, outs):
                _put_output(index, r.id, out)
            return
    for r, src in zip(records, srcs):
        try:
            out = editor(src, r.instruction)
        except Exception as err:  # noqa: BLE001 - one failing sample never stops the run
            index.issue("editor_failed", r.id, f"{type(err).__name__}: {err}")
            continue
        _put_output(index, r.id, out)


def _put_output(index: InMemoryPredictions, rid: str, out) -> None:
    if out is None:  # an adapter's way of saying "no prediction" (e.g. the endpoint gave up)
        index.issue("editor_failed", rid, "the editor returned no image")
        return
    index.put(rid, rid, out)
