"""lmms-eval hooks for the GSI-Bench tasks (thin: the scoring lives in :mod:`validation.harness.scoring`)."""

from validation.harness.scoring import aggregate, score_doc


def doc_to_visual(doc):
    return [doc["source_image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kw = lmms_eval_specific_kwargs or {}
    return f"{kw.get('pre_prompt', '')}{doc['instruction']}{kw.get('post_prompt', '')}"


def process_results(doc, results):
    sample = score_doc(doc, results[0] if results else None)
    return {f"gsi_{m}": sample for m in ("ic", "sa", "el", "ac", "avg")}


def aggregate_ic(items):
    return aggregate(items)["ic"]


def aggregate_sa(items):
    return aggregate(items)["sa"]


def aggregate_el(items):
    return aggregate(items)["el"]


def aggregate_ac(items):
    return aggregate(items)["ac"]


def aggregate_avg(items):
    return aggregate(items)["avg"]
