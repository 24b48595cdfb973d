"""Per-document GSI-Bench scoring shared by the harness adapters (lmms-eval, EvalScope).

A harness hands over one dataset row (``doc``: a ``datasets`` row of the GSI-Bench schema, images as
PIL) and the model's output; :func:`score_doc` returns the row's GSI-Bench result (the same fields as a
``per_sample.jsonl`` line, scored by :func:`validation.evaluator.runner.score_record`), and
:func:`aggregate` turns a list of results into the headline numbers (IC / SA in percent, EL / AC
0–100, ``avg`` their mean) exactly as ``summary.json``'s ``overall``.

Model outputs accepted by :func:`prediction_image`: a PIL image or array, a path to an image file, or
the JSON string image-generating lmms-eval models return (``{"text": …, "images": [path, …]}``, first
image used). Anything else (empty, unparsable, no image) scores the sample as ``missing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

METRICS = ("ic", "sa", "el", "ac", "avg")
_CONFIG: dict = {}
_THREAD: list[ThreadPoolExecutor] = []
_CONTEXTS: dict = {}  # id(config) → the scoring thread's ScoringContext (its renderers live on that thread)


def _score_in_own_state(record, index, cfg) -> dict:
    from validation.evaluator.runner import ScoringContext, score_record

    ctx = _CONTEXTS.get(id(cfg))
    if ctx is None or ctx.cfg is not cfg:
        ctx = _CONTEXTS[id(cfg)] = ScoringContext(cfg)
    return score_record(record, index, ctx)


def _run_on_scoring_thread(record, index, cfg) -> dict:
    if not _THREAD:
        _THREAD.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="gsi-bench-score"))
    return _THREAD[0].submit(_score_in_own_state, record, index, cfg).result()


def record_of(doc: Mapping[str, Any]):
    from gsi_bench.schema import EditRecord

    return EditRecord.from_example(dict(doc))


def prediction_image(output: Any):
    """The predicted image in a harness output (see module doc), or None."""
    from PIL import Image

    if output is None:
        return None
    if isinstance(output, (list, tuple)):
        return prediction_image(output[0]) if output else None
    if isinstance(output, Image.Image) or hasattr(output, "shape"):
        return output
    if isinstance(output, (bytes, bytearray)):
        return bytes(output)
    if isinstance(output, str):
        text = output.strip()
        if text.startswith("{"):
            try:
                images = json.loads(text).get("images") or []
            except (json.JSONDecodeError, AttributeError):
                return None
            return prediction_image(images[0]) if images else None
        if text and Path(text).is_file():
            return text
    return None


def score_doc(doc: Mapping[str, Any], output: Any, protocol: str = "default") -> dict:
    """One row's GSI-Bench result (``status`` ``missing`` when the output holds no image)."""
    from validation.evaluator.memory import InMemoryPredictions
    from validation.evaluator.runner import EvalConfig

    if protocol not in _CONFIG:
        _CONFIG[protocol] = EvalConfig(data="<harness>", predictions="<harness>", out="", config=None, protocol=protocol)
    record = record_of(doc)
    index = InMemoryPredictions(layout="harness", root="<harness>")
    image = prediction_image(output)
    if image is not None:
        index.put(record.id, record.id, image)
    result = _run_on_scoring_thread(record, index, _CONFIG[protocol])
    return {k: v for k, v in result.items() if not k.startswith("_")}


def aggregate(results: Sequence[Mapping]) -> dict[str, float]:
    """Headline numbers of a list of :func:`score_doc` results (as ``summary.json`` ``overall``)."""
    from validation.evaluator.report import aggregate as summary_aggregate

    out = summary_aggregate(list(results))
    return {m: float(out[m]) for m in METRICS}
