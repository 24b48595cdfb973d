"""Reading one sample's prediction: bytes from a :class:`PredictionIndex`, decoded, checked,
brought to the record's size; failures become zero results that name the problem."""

from __future__ import annotations

import numpy as np

from gsi_bench.schema import EditRecord
from validation.evaluator import imageops
from validation.evaluator.predictions import PredictionIndex


def zero_result(record: EditRecord, status: str, reason: str, name: str = "") -> dict:
    """The result of a sample that could not be scored: every metric 0, ``status`` and ``reason`` set."""
    return {"id": record.id, "subset": record.subset, "split": record.split, "operation": record.operation,
            "frame": record.frame, "status": status, "reason": reason, "prediction": name,
            "ic": 0, "sa": 0.0, "el": 0.0, "el_ssim": 0.0, "el_psnr": 0.0, "ac": 0.0}


def load_prediction(index: PredictionIndex, record: EditRecord, cfg) -> tuple[np.ndarray | None, dict | None]:
    """(prediction at the record's size, metadata) or (None, zero result naming the problem);
    ``cfg.resize`` names the resize policy for predictions of another size."""
    rid = record.id
    if rid in index.duplicates:
        names = ", ".join(index.duplicates[rid])
        return None, zero_result(record, "duplicate", f"several predictions for this id ({names}); none used", names)
    name = index.names.get(rid, "")
    try:
        data = index.read(rid)
    except OSError as err:
        return None, zero_result(record, "unreadable", f"cannot read prediction: {err}", name)
    if data is None:
        if rid in index.locators:
            return None, zero_result(record, "unreadable", "prediction row holds no embedded image bytes", name)
        return None, zero_result(record, "missing", "no prediction for this id", "")
    try:
        img, notes = imageops.decode_prediction_with_notes(data)
    except imageops.PredictionError as err:
        return None, zero_result(record, "unreadable", f"{err.kind}: {err}", name)
    h, w = record.source_image.shape[:2]
    fitted = imageops.fit_to(img, w, h, cfg.resize)
    return fitted, {"prediction": name, "prediction_size": [int(img.shape[1]), int(img.shape[0])],
                    "resized": bool(img.shape[:2] != (h, w)), "decode_notes": notes}


