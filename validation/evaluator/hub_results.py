"""``summary.json`` → the Hub's model-side evaluation results (``.eval_results/*.yaml``).

Format (Hub documentation, "Evaluation Results"): each file in a model repo's ``.eval_results/``
folder is a YAML **list** of entries::

    - dataset:
        id: <namespace>/<name>     # required: the benchmark dataset on the Hub
        task_id: <task>            # required: a task id of the dataset's eval.yaml
        revision: <commit>         # optional: dataset revision
      value: 71.4                  # required: the metric value
      date: "2026-01-15"           # optional: ISO-8601 date or datetime
      source:                      # optional; url is required when source is given
        url: https://…
        name: …
        user: …
      notes: "…"                   # optional: evaluation setup
      verifyToken: …               # optional (HF Jobs only; never written here)

One file per protocol: ``gsi-bench.yaml`` (default protocol) or ``gsi-bench_official.yaml``, with one
entry per subset scored (the dataset's ``eval.yaml`` names one task per subset config, see
:func:`builders.card.eval_metadata`). The value is the **headline metric**, the run's ``avg`` (mean
of IC, SA, EL and AC, in 0–100), or ``official.aggregate.average`` for the official protocol.
Runs with missing predictions say so in ``notes``; runs with nothing scored are refused.

>>> summary = {"protocol": "default", "scorer_version": "1.0.0", "dataset": {"config": "tabletop",
...            "revision": {"hub": {"repo_id": "org/GSI-Syn", "commit": "a" * 40}}},
...            "counts": {"total": 4, "ok": 4, "missing": 0},
...            "per_subset": {"tabletop": {"n": 4, "avg": 61.25, "counts": {"ok": 4}}}}
>>> files = eval_results_files(summary, date="2026-01-15")
>>> list(files)
['gsi-bench.yaml']
>>> entry = files["gsi-bench.yaml"][0]
>>> entry["dataset"], entry["value"]
({'id': 'org/GSI-Syn', 'task_id': 'tabletop', 'revision': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}, 61.25)
>>> validate_entries(files["gsi-bench.yaml"])
[]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

EVAL_RESULTS_DIR = ".eval_results"
HEADLINE_METRIC = "avg"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_ENTRY_KEYS = {"dataset", "value", "verifyToken", "date", "source", "notes"}
_DATASET_KEYS = {"id", "task_id", "revision"}
_SOURCE_KEYS = {"url", "name", "user"}


def _dataset_id(summary: Mapping[str, Any], dataset_id: str | None) -> str:
    if dataset_id:
        return dataset_id
    hub = summary.get("dataset", {}).get("revision", {}).get("hub") or {}
    if hub.get("repo_id"):
        return str(hub["repo_id"])
    raise ValueError("summary.json was scored on a local folder: pass --dataset-id <namespace/name> "
                     "(the benchmark dataset on the Hub)")


def eval_results_files(summary: Mapping[str, Any], dataset_id: str | None = None, date: str | None = None,
                       source_url: str | None = None, source_name: str | None = None,
                       user: str | None = None) -> dict[str, list[dict]]:
    """``{file name: entries}`` for ``.eval_results/`` from one run's ``summary.json`` (see module doc).

    Raises ``ValueError`` when nothing was scored or the dataset id is unknown."""
    counts = summary.get("counts", {})
    if not counts.get("ok"):
        raise ValueError(f"the run scored nothing ({counts.get('ok', 0)} of {counts.get('total', 0)} samples): "
                         "no result to publish")
    ds_id = _dataset_id(summary, dataset_id)
    protocol = summary.get("protocol", "default")
    hub = summary.get("dataset", {}).get("revision", {}).get("hub") or {}
    entries = []
    if protocol == "official":
        config = summary.get("dataset", {}).get("config") or "default"
        values = {config: (float(summary["official"]["aggregate"]["average"]), counts.get("total", 0),
                           counts.get("total", 0) - counts.get("ok", 0))}
    else:
        values = {task: (float(g[HEADLINE_METRIC]), int(g["n"]), int(g["n"]) - int(g.get("counts", {}).get("ok", g["n"])))
                  for task, g in sorted(summary.get("per_subset", {}).items())}
    for task, (value, n, unscored) in values.items():
        entry: dict[str, Any] = {"dataset": {"id": ds_id, "task_id": task}}
        if hub.get("commit"):
            entry["dataset"]["revision"] = str(hub["commit"])
        entry["value"] = round(value, 2)
        if date:
            entry["date"] = date
        if source_url:
            entry["source"] = {"url": source_url, **({"name": source_name} if source_name else {}),
                               **({"user": user} if user else {})}
        notes = [f"gsi-bench scorer {summary.get('scorer_version', '?')}, {protocol} protocol, "
                 f"headline = {'official average' if protocol == 'official' else 'mean of IC, SA, EL, AC (0-100)'}",
                 f"n={n}"]
        if unscored:
            notes.append(f"{unscored} sample(s) without a usable prediction (scored 0)")
        entry["notes"] = "; ".join(notes)
        entries.append(entry)
    name = "gsi-bench.yaml" if protocol == "default" else f"gsi-bench_{protocol}.yaml"
    return {name: entries}


def validate_entries(entries: Any) -> list[str]:
    """Problems of one ``.eval_results`` file's content against the documented schema ([] = valid)."""
    if not isinstance(entries, list) or not entries:
        return ["the file must hold a non-empty YAML list of results"]
    problems = []
    for i, e in enumerate(entries):
        where = f"entry {i}"
        if not isinstance(e, dict):
            problems.append(f"{where}: not a mapping")
            continue
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(e) - _ENTRY_KEYS)]
        ds = e.get("dataset")
        if not isinstance(ds, dict):
            problems.append(f"{where}: 'dataset' (mapping with id and task_id) is required")
        else:
            problems += [f"{where}: unknown dataset key {k!r}" for k in sorted(set(ds) - _DATASET_KEYS)]
            if not isinstance(ds.get("id"), str) or not _REPO_ID.match(ds["id"]):
                problems.append(f"{where}: dataset.id must be a Hub dataset id namespace/name, got {ds.get('id')!r}")
            if not isinstance(ds.get("task_id"), str) or not ds["task_id"]:
                problems.append(f"{where}: dataset.task_id is required")
            if "revision" in ds and not isinstance(ds["revision"], str):
                problems.append(f"{where}: dataset.revision must be a string")
        v = e.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            problems.append(f"{where}: value must be a number, got {v!r}")
        if "date" in e:
            try:
                dt.datetime.fromisoformat(str(e["date"]).replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"{where}: date {e['date']!r} is not ISO-8601")
        if "source" in e:
            src = e["source"]
            if not isinstance(src, dict) or not isinstance(src.get("url"), str) or not src["url"].startswith("http"):
                problems.append(f"{where}: source needs a url")
            elif set(src) - _SOURCE_KEYS:
                problems.append(f"{where}: unknown source key(s) {sorted(set(src) - _SOURCE_KEYS)}")
        if "notes" in e and not isinstance(e["notes"], str):
            problems.append(f"{where}: notes must be a string")
    return problems


def dump(entries: Sequence[dict]) -> str:
    """YAML text of one file (key order kept; dates stay strings)."""
    return yaml.safe_dump(list(entries), sort_keys=False, allow_unicode=True)


def write_eval_results(files: Mapping[str, Sequence[dict]], out: str | Path) -> list[Path]:
    """Write ``<out>/.eval_results/<name>`` atomically (validated first); returns the paths."""
    folder = Path(out) / EVAL_RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, entries in files.items():
        problems = validate_entries(list(entries))
        if problems:
            raise ValueError(f"{name}: " + "; ".join(problems))
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(dump(entries), encoding="utf-8")
        tmp.replace(path)
        paths.append(path)
    return paths


def push_eval_results(files: Mapping[str, Sequence[dict]], model_id: str, create_pr: bool = True,
                      dry_run: bool = False, token: str | None = None, api=None) -> dict[str, Any]:
    """Upload the files to model repo ``model_id`` (``.eval_results/<name>``) in one commit, as a pull
    request by default (results on someone else's model). ``dry_run``: validate and return the plan
    without any network call. Returns ``{"repo_id", "paths", "create_pr", "commit_url"}``."""
    from huggingface_hub import CommitOperationAdd, HfApi

    if not _REPO_ID.match(model_id):
        raise ValueError(f"model id {model_id!r} is not namespace/name")
    ops, paths = [], []
    for name, entries in files.items():
        problems = validate_entries(list(entries))
        if problems:
            raise ValueError(f"{name}: " + "; ".join(problems))
        path = f"{EVAL_RESULTS_DIR}/{name}"
        ops.append(CommitOperationAdd(path_in_repo=path, path_or_fileobj=dump(entries).encode("utf-8")))
        paths.append(path)
    plan = {"repo_id": model_id, "paths": paths, "create_pr": create_pr, "commit_url": None}
    if dry_run:
        return plan
    api = api or HfApi(token=token)
    info = api.create_commit(repo_id=model_id, repo_type="model", operations=ops, create_pr=create_pr,
                             commit_message="Add GSI-Bench evaluation results",
                             commit_description="Written by `gsi-bench results push` from the run's summary.json.")
    plan["commit_url"] = str(getattr(info, "pr_url", None) or getattr(info, "commit_url", ""))
    return plan
