"""The GSI-Bench reference evaluator (IC / SA / EL / AC).

* default protocol — runs on a CPU with no model weights: analysis-by-synthesis localisation from
  the stored scene (:mod:`.synthesis`), per-operation scores (:mod:`.scoring`);
* official protocol — the paper's formulas, gates and aggregation (:mod:`.protocols.official`);
* reports — ``summary.json``, ``per_sample.jsonl``, plots, HTML (:mod:`.report`).

Entry point: :func:`evaluate` with an :class:`EvalConfig`, or ``gsi-bench evaluate``.
"""

from validation.evaluator.runner import PROTOCOLS, SCORER_VERSION, EvalConfig, evaluate

__all__ = ["PROTOCOLS", "SCORER_VERSION", "EvalConfig", "evaluate"]
