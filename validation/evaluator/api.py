"""The Python API: ``evaluate(data, predictions, ...)`` → :class:`EvaluationResult`.

Same scorer, same numbers as ``gsi-bench evaluate`` (it drives :func:`validation.evaluator.runner.evaluate`),
but predictions may live in memory and no output folder is needed:

* a folder / Parquet file / Hub id (exactly what ``--predictions`` accepts);
* a mapping ``record id → image`` (PIL image, numpy array, torch tensor, bytes or a path);
* a ``datasets.Dataset`` (or a list of dicts) with columns ``id`` and ``image``;
* a callable editor ``(source PIL image, instruction) -> image``, run here over the split.

``gsi_bench.evaluate`` is a lazy alias of :func:`evaluate` (the core package imports nothing from
``validation`` until it is called).

Example: the "do nothing" editor on two generated tabletop records (IC is 0 for every object move)

>>> import tempfile
>>> from gsi_syn.pipeline import generate
>>> from gsi_syn.sampler import GenerationConfig
>>> tmp = tempfile.mkdtemp()
>>> _ = generate(GenerationConfig(subset="tabletop", split="test", num=2, seed=1, resolution=64), tmp, progress=False)
>>> result = evaluate(tmp, lambda image, instruction: image, config="tabletop")
>>> result.counts["ok"], result.overall.n
(2, 2)
>>> 0.0 <= result.overall.avg <= 100.0
True
>>> sorted(result.samples[0])[:3]
['ac', 'ac_raw', 'ac_region']
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.evaluator import memory
from validation.evaluator.predictions import PredictionIndex
from validation.evaluator.runner import EvalConfig, record_ids, resolve_data
from validation.evaluator.runner import evaluate as run_evaluation


@dataclass(frozen=True)
class Scores:
    """One row of metrics: ``ic``/``sa`` in percent, ``el``/``ac`` 0–100, ``avg`` their mean,
    ``gated`` the paper-style aggregation of the same samples, ``n`` the sample count."""

    n: int
    ic: float
    sa: float
    el: float
    ac: float
    avg: float
    gated: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, row: Mapping[str, Any]) -> "Scores":
        return cls(n=int(row["n"]), ic=float(row["ic"]), sa=float(row["sa"]), el=float(row["el"]),
                   ac=float(row["ac"]), avg=float(row["avg"]), gated=dict(row.get("gated", {})))


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns.

    ``summary`` is the exact content of ``summary.json``; ``samples`` the lines of
    ``per_sample.jsonl`` (dataset order); ``out`` the report folder (None when none was kept)."""

    overall: Scores
    per_operation: dict[str, Scores]
    per_subset: dict[str, Scores]
    counts: dict[str, Any]
    summary: dict[str, Any]
    samples: list[dict[str, Any]]
    out: Path | None = None

    def to_dataframe(self):
        """``per_sample`` as a pandas DataFrame (one row per sample)."""
        import pandas as pd

        return pd.DataFrame(self.samples)

    def __repr__(self) -> str:
        o = self.overall
        return (f"EvaluationResult(n={o.n}, ok={self.counts.get('ok')}, IC={o.ic:.1f}, SA={o.sa:.1f}, "
                f"EL={o.el:.1f}, AC={o.ac:.1f}, avg={o.avg:.1f})")


def default_config(data: str | Path, split: str = "test") -> str:
    """The only config of ``data``; ``ValueError`` naming them when there are several (or none)."""
    from gsi_bench.datasource import resolve_dataset

    root = resolve_dataset(str(data), None, split).root
    configs = sorted(p.name for p in (root / "data").iterdir() if p.is_dir()) if (root / "data").is_dir() else []
    if len(configs) != 1:
        raise ValueError(f"{data}: holds configs {configs or '(none)'}; pass config=<one of them>")
    return configs[0]


def build_index(predictions: Any, data: str | Path, config: str, split: str, limit: int | None = None,
                progress: bool = False) -> str | PredictionIndex:
    """Turn any accepted ``predictions`` into what the runner consumes (a path spec or an index)."""
    if isinstance(predictions, (str, Path)):
        return str(predictions)
    if isinstance(predictions, PredictionIndex):
        return predictions
    ids = record_ids(resolve_data(str(data), config, split))
    if limit is not None:
        ids = ids[:limit]
    if isinstance(predictions, Mapping):
        return memory.from_mapping(predictions, set(ids))
    if _is_rows(predictions):
        return memory.from_rows(predictions, set(ids), name=type(predictions).__name__)
    if callable(predictions):
        import itertools

        from gsi_bench.hub_io import iter_records
        from gsi_bench.datasource import resolve_dataset

        root = resolve_dataset(str(data), config, split).root
        records = itertools.islice(iter_records(root, config, split), len(ids))
        return memory.from_editor(predictions, records, progress=progress)
    raise TypeError(f"predictions of type {type(predictions).__name__}: pass a folder path, a mapping id → image, "
                    "a datasets.Dataset with 'id' and 'image', or a callable (image, instruction) -> image")


def _is_rows(obj: Any) -> bool:
    if type(obj).__module__.startswith("datasets"):
        return True
    return isinstance(obj, (list, tuple)) and all(isinstance(r, Mapping) for r in obj)


def evaluate(data: str | Path, predictions: Any, config: str | None = None, split: str = "test",
             out: str | Path | None = None, protocol: str = "default", limit: int | None = None,
             workers: int = 1, progress: bool = False, model: str | None = None, **options: Any) -> EvaluationResult:
    """Score ``predictions`` on ``config``/``split`` of ``data`` (a Hub-layout folder or Hub id).

    ``out``: write ``summary.json``, ``per_sample.jsonl``, plots and ``report.html`` there (None: a
    temporary folder, removed afterwards). ``options``: any other :class:`EvalConfig` field
    (``resize``, ``search_size``, ``renderer``, ``layout``, ``judge_backend``…). ``config`` may be
    left out when ``data`` holds a single config. ``model`` names the model in the report's title.
    Raises ``FileNotFoundError`` / ``ValueError`` /
    ``TypeError`` on unusable inputs.
    """
    config = config or default_config(data, split)
    if model:
        options["extra"] = {**options.get("extra", {}), "model": model}
    source = build_index(predictions, data, config, split, limit=limit, progress=progress)
    with tempfile.TemporaryDirectory(prefix="gsi-eval-") as tmp:
        folder = Path(out) if out is not None else Path(tmp)
        cfg = EvalConfig(data=str(data), predictions=source, out=str(folder), config=config, split=split,
                         protocol=protocol, limit=limit, workers=workers, **options)
        summary = run_evaluation(cfg, progress=progress)
        lines = (folder / "per_sample.jsonl").read_text(encoding="utf-8").splitlines()
        samples = [json.loads(line) for line in lines if line]
    return EvaluationResult(
        overall=Scores.from_summary(summary["overall"]),
        per_operation={k: Scores.from_summary(v) for k, v in summary["per_operation"].items()},
        per_subset={k: Scores.from_summary(v) for k, v in summary["per_subset"].items()},
        counts=summary["counts"], summary=summary, samples=samples,
        out=Path(out) if out is not None else None)

