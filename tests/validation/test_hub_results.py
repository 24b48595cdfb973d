"""`gsi-bench results write|push`: summary.json → Hub `.eval_results/*.yaml` that validate against the
documented schema; push builds one commit (a PR by default) and never touches the network in tests."""

from __future__ import annotations

import json

import pytest
import yaml

from gsi_bench.cli import main
from validation.evaluator import hub_results
from validation.evaluator.report import build_summary


def _sample(i: int, subset: str, status: str = "ok", ic: int = 1) -> dict:
    return {"id": f"{subset}-{i}", "subset": subset, "split": "test", "operation": "rotate", "frame": "object",
            "status": status, "ic": ic if status == "ok" else 0, "sa": 0.5 if status == "ok" else 0.0,
            "el": 80.0 if status == "ok" else 0.0, "ac": 60.0 if status == "ok" else 0.0}


def _summary(samples, hub=True, protocol="default") -> dict:
    revision = {"sha256": "0" * 64, "shards": []}
    if hub:
        revision["hub"] = {"repo_id": "gsi/GSI-Syn", "commit": "c" * 40}
    meta = {"dataset": {"config": "tabletop", "split": "test", "revision": revision},
            "predictions": {"issues": []}, "protocol": protocol, "scorer_version": "1.0.0"}
    return build_summary(samples, meta)


def test_entries_follow_schema_and_headline(tmp_path):
    samples = [_sample(i, "tabletop") for i in range(3)] + [_sample(9, "tabletop", "missing")] + \
              [_sample(i, "room", ic=0) for i in range(2)]
    summary = _summary(samples)
    files = hub_results.eval_results_files(summary, date="2026-02-01T10:00:00Z", source_url="https://example.org/run")
    (name, entries), = files.items()
    assert name == "gsi-bench.yaml" and [e["dataset"]["task_id"] for e in entries] == ["room", "tabletop"]
    by_task = {e["dataset"]["task_id"]: e for e in entries}
    assert by_task["tabletop"]["value"] == round(summary["per_subset"]["tabletop"]["avg"], 2)
    assert by_task["tabletop"]["dataset"] == {"id": "gsi/GSI-Syn", "task_id": "tabletop", "revision": "c" * 40}
    assert "1 sample(s) without a usable prediction" in by_task["tabletop"]["notes"]
    assert "without" not in by_task["room"]["notes"] and "n=2" in by_task["room"]["notes"]
    paths = hub_results.write_eval_results(files, tmp_path)
    loaded = yaml.safe_load(paths[0].read_text())
    assert paths[0] == tmp_path / ".eval_results" / "gsi-bench.yaml"
    assert loaded == entries and hub_results.validate_entries(loaded) == []


@pytest.mark.parametrize("bad, message", [
    ([], "non-empty"),
    ([{"value": 1.0}], "'dataset'"),
    ([{"dataset": {"id": "nope", "task_id": "t"}, "value": 1}], "namespace/name"),
    ([{"dataset": {"id": "a/b"}, "value": 1}], "task_id"),
    ([{"dataset": {"id": "a/b", "task_id": "t"}, "value": "high"}], "number"),
    ([{"dataset": {"id": "a/b", "task_id": "t"}, "value": 1, "date": "yesterday"}], "ISO-8601"),
    ([{"dataset": {"id": "a/b", "task_id": "t"}, "value": 1, "source": {"name": "x"}}], "url"),
    ([{"dataset": {"id": "a/b", "task_id": "t"}, "value": 1, "score": 2}], "unknown key"),
])
def test_validator_rejects_schema_violations(bad, message):
    problems = hub_results.validate_entries(bad)
    assert problems and any(message in p for p in problems)


def test_nothing_scored_and_unknown_dataset_are_refused():
    with pytest.raises(ValueError, match="scored nothing"):
        hub_results.eval_results_files(_summary([_sample(0, "tabletop", "missing")]))
    with pytest.raises(ValueError, match="--dataset-id"):
        hub_results.eval_results_files(_summary([_sample(0, "tabletop")], hub=False))


def test_push_is_one_pr_commit_and_dry_run_is_offline():
    class FakeApi:
        calls = []

        def create_commit(self, **kw):
            self.calls.append(kw)
            return type("Info", (), {"pr_url": "https://hf.co/m/discussions/1"})()

    files = hub_results.eval_results_files(_summary([_sample(0, "tabletop")]))
    plan = hub_results.push_eval_results(files, "me/model", dry_run=True, api=FakeApi())
    assert plan["paths"] == [".eval_results/gsi-bench.yaml"] and FakeApi.calls == []
    plan = hub_results.push_eval_results(files, "me/model", api=FakeApi())
    (call,) = FakeApi.calls
    assert call["repo_id"] == "me/model" and call["repo_type"] == "model" and call["create_pr"] is True
    (op,) = call["operations"]
    assert op.path_in_repo == ".eval_results/gsi-bench.yaml"
    assert yaml.safe_load(op.path_or_fileobj) == files["gsi-bench.yaml"]
    assert plan["commit_url"].endswith("/1")
    with pytest.raises(ValueError, match="namespace/name"):
        hub_results.push_eval_results(files, "model-without-namespace", dry_run=True)


def test_cli_write_and_push_dry_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "summary.json").write_text(json.dumps(_summary([_sample(0, "tabletop")], hub=False)))
    assert main(["results", "write", str(rep), "--out", str(tmp_path / "m")]) == 2
    assert "--dataset-id" in capsys.readouterr().err
    assert main(["results", "write", str(rep), "--dataset-id", "gsi/GSI-Syn", "--out", str(tmp_path / "m")]) == 0
    assert hub_results.validate_entries(yaml.safe_load((tmp_path / "m/.eval_results/gsi-bench.yaml").read_text())) == []
    assert main(["results", "push", str(rep / "summary.json"), "--dataset-id", "gsi/GSI-Syn", "--model", "me/m",
                 "--dry-run"]) == 0
    assert "dry run, nothing uploaded" in capsys.readouterr().out
    assert main(["results", "write", str(tmp_path / "nope"), "--dataset-id", "a/b"]) == 2
