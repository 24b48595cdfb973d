"""A torchmetrics-style GSI-Bench metric for training loops: ``update`` per batch, ``compute`` at the end.

Each sample is scored by the same code as ``gsi-bench evaluate`` (:func:`validation.evaluator.runner.score_record`
on a one-image in-memory index), so the numbers agree with the CLI on the same images. The class has
torchmetrics' protocol (``update`` / ``compute`` / ``reset``) without depending on torchmetrics;
``compute`` returns plain floats (IC / SA in percent, EL / AC 0–100, as in ``summary.json``).

>>> import tempfile
>>> from gsi_bench.hub_io import iter_records
>>> from gsi_syn.pipeline import generate
>>> from gsi_syn.sampler import GenerationConfig
>>> tmp = tempfile.mkdtemp()
>>> _ = generate(GenerationConfig(subset="tabletop", split="test", num=2, seed=1, resolution=64), tmp, progress=False)
>>> records = list(iter_records(tmp, "tabletop", "test"))
>>> metric = GSIBenchMetric()
>>> metric.update(records, [r.target_image for r in records])  # the oracle: ground-truth targets
>>> scores = metric.compute()
>>> scores["n"], scores["ic"]
(2, 100.0)
>>> metric.reset(); metric.compute()["n"]
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from validation.evaluator.memory import InMemoryPredictions


class GSIBenchMetric:
    """Accumulates per-sample GSI-Bench scores.

    ``update(records, predicted_images)``: ``records`` are :class:`gsi_bench.schema.EditRecord` objects
    or dataset rows (dicts as stored in the Parquet shards / yielded by ``datasets``);
    ``predicted_images`` the same number of images (PIL, ``(H, W, 3)`` uint8 / float arrays, or
    ``(3, H, W)`` torch tensors in [0, 1]). ``compute()`` → ``{"n", "ic", "sa", "el", "ac", "avg",
    "gated", "counts", "per_operation"}``. ``samples`` holds the per-sample results.
    """

    def __init__(self, protocol: str = "default", resize: str = "stretch", search_size: int = 128,
                 renderer: str = "gl"):
        from validation.evaluator.runner import EvalConfig, ScoringContext

        self.config = EvalConfig(data="<memory>", predictions="<memory>", out="", config=None,
                                 protocol=protocol, resize=resize, search_size=search_size, renderer=renderer)
        self.context = ScoringContext(self.config)  # renderers made at first use, kept across batches
        self.samples: list[dict] = []

    def reset(self) -> None:
        self.samples = []

    def update(self, records: Sequence[Any], predicted_images: Sequence[Any]) -> None:
        from gsi_bench.schema import EditRecord
        from validation.evaluator.runner import score_record

        if len(records) != len(predicted_images):
            raise ValueError(f"update got {len(records)} records but {len(predicted_images)} images")
        for record, image in zip(records, predicted_images):
            if isinstance(record, Mapping):
                record = EditRecord.from_example(dict(record))
            index = InMemoryPredictions(layout="metric", root="<metric>")
            index.put(record.id, record.id, image)
            result = score_record(record, index, self.context)
            self.samples.append({k: v for k, v in result.items() if not k.startswith("_")})

    def compute(self) -> dict[str, Any]:
        from validation.evaluator.report import _group, aggregate

        out = aggregate(self.samples)
        out.setdefault("counts", {})
        out["per_operation"] = _group(self.samples, lambda s: s["operation"])
        return out
