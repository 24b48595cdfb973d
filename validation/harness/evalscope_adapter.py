"""GSI-Bench as an EvalScope benchmark (``evalscope`` ≥ 1.14: ``ImageEditAdapter`` + ``register_benchmark``).

Importing this module registers the benchmark ``gsi_bench``::

    import validation.harness.evalscope_adapter  # registers "gsi_bench"
    from evalscope import TaskConfig, run_task
    run_task(TaskConfig(model=<image-editing model>, datasets=["gsi_bench"],
                        dataset_args={"gsi_bench": {"subset_list": ["tabletop"]}}))

Each sample gives the model the English instruction and the source image (``ChatMessageUser`` with text +
base64 PNG); EvalScope saves the returned image (``ContentImage``) and :meth:`GSIBenchAdapter.match_score`
scores it with gsi-bench's reference evaluator (:mod:`validation.harness.scoring`). Per-sample values are on
the report's scale (IC / SA ×100, EL / AC 0–100, ``avg`` their mean), so EvalScope's mean aggregation gives
exactly ``summary.json``'s ``overall`` numbers (``scope=overall``) and per-operation ones (``category``).
EvalScope 1.14 only accepts a primary metric whose semantics its internal catalog declares; the GSI-Bench
metrics are not in it, so none is set and the report lists them as diagnostic-kind numbers.

Data: the Hub dataset (``dataset_id`` ``gsi-bench/syn``, subsets = configs) or, with ``dataset_id`` set to a
local path, one Parquet shard file of the Hub layout.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from evalscope.api.benchmark import BenchmarkMeta, ImageEditAdapter
from evalscope.api.dataset import Sample
from evalscope.api.messages import ChatMessageUser, ContentImage, ContentText
from evalscope.api.metric.scorer import Score
from evalscope.api.registry import register_benchmark
from evalscope.constants import FileConstants, Tags

from validation.harness.scoring import METRICS, score_doc

_SCALE = {"ic": 100.0, "sa": 100.0, "el": 1.0, "ac": 1.0}


def _png_base64(cell: Any) -> str:
    from gsi_bench.schema import decode_image
    from PIL import Image

    arr = cell if hasattr(cell, "shape") else decode_image(cell, "RGB")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@register_benchmark(
    BenchmarkMeta(
        name="gsi_bench",
        pretty_name="GSI-Bench",
        dataset_id="gsi-bench/syn",
        hf_dataset_id="gsi-bench/syn",
        description="GSI-Bench (arXiv 2604.20570): spatially grounded image editing. The model edits the source "
                    "image following a precise 3D instruction; gsi-bench's reference evaluator scores instruction "
                    "compliance (IC), spatial accuracy (SA), edit locality (EL) and appearance consistency (AC).",
        tags=[Tags.IMAGE_EDITING],
        subset_list=["tabletop", "room"],
        metric_list=list(METRICS),
        few_shot_num=0,
        train_split=None,
        eval_split="test",
    )
)
class GSIBenchAdapter(ImageEditAdapter):
    """Rows → samples; saved predictions → GSI-Bench scores (see module doc)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._rows: dict[str, dict] = {}

    def record_to_sample(self, record: dict[str, Any]) -> Sample:
        rid = str(record["id"])
        self._rows[rid] = record  # the full row stays here; sample metadata keeps it JSON-small
        content = [ContentText(text=record["instruction"]), ContentImage(image=_png_base64(record["source_image"]))]
        op = record["operation"]
        if isinstance(op, int):  # ClassLabel index when read straight from Parquet
            from gsi_bench.operations import OPERATIONS

            op = OPERATIONS[op]
        metadata = {FileConstants.ID: rid, "operation": op, "category": op,
                    "subset": record.get("subset", ""), "instruction": record["instruction"]}
        return Sample(input=[ChatMessageUser(content=content)], target="", metadata=metadata)

    def match_score(self, original_prediction: str, filtered_prediction: str, reference: str, task_state) -> Score:
        meta = task_state.metadata or {}
        rid = meta.get(FileConstants.ID)
        path = meta.get(FileConstants.IMAGE_PATH) or None
        result = score_doc(self._rows[rid], path)
        value = {m: float(result[m]) * _SCALE[m] for m in ("ic", "sa", "el", "ac")}
        value["avg"] = sum(value.values()) / 4.0
        score = Score(value=value, extracted_prediction=str(path), prediction=str(path))
        score.metadata.update(status=result["status"], reason=result.get("reason", ""),
                              realised=result.get("realised"))
        return score
