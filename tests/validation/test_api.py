"""Notebook-style use of the Python API: in-memory predictions scored three ways (a dict of PIL images,
a ``datasets.Dataset``, a callable editor) give the CLI's numbers on the same split; the metric object
agrees per sample; bad inputs are rejected; the docstring examples run."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("moderngl")

import gsi_bench

GSI = [sys.executable, "-m", "gsi_bench.cli"]


def _cli(*args: str) -> None:
    subprocess.run(GSI + list(args), check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> dict:
    """The brief's split (tabletop/test, 7 records, 64 px, seed 5), cut-paste and identity predictions
    written by `gsi-bench baseline` and scored by `gsi-bench evaluate`."""
    root = tmp_path_factory.mktemp("api")
    data = root / "data"
    _cli("generate", "syn", "--config", "tabletop", "--split", "test", "--per-op", "1", "--resolution", "64",
         "--seed", "5", "--out", str(data), "--quiet")
    out = {"data": data}
    for name in ("cut-paste", "identity"):
        preds, rep = root / f"pred-{name}", root / f"rep-{name}"
        _cli("baseline", name, "--data", str(data), "--config", "tabletop", "--out", str(preds), "--quiet")
        _cli("evaluate", "--data", str(data), "--config", "tabletop", "--predictions", str(preds), "--out", str(rep),
             "--quiet")
        out[name] = (preds, json.loads((rep / "summary.json").read_text()),
                     (rep / "per_sample.jsonl").read_text().splitlines())
    return out


def _same_numbers(result, cli_summary: dict) -> None:
    for key in ("overall", "per_operation", "per_subset", "per_frame"):
        assert result.summary[key] == cli_summary[key], key
    assert result.overall.n == 7 and result.counts["ok"] == 7


def test_dict_of_pil_images_matches_cli(split):
    preds, cli, _ = split["cut-paste"]
    images = {p.stem: Image.open(p).convert("RGB") for p in sorted(preds.glob("*.png"))}
    result = gsi_bench.evaluate(split["data"], images, config="tabletop")
    _same_numbers(result, cli)
    assert result.out is None and result.summary["predictions"]["layout"] == "mapping"
    assert result.overall.ic == cli["overall"]["ic"] and 0 < result.overall.ic < 100  # cut-paste is neither


def test_numpy_mapping_and_datasets_dataset_match_cli(split):
    import datasets

    preds, cli, _ = split["cut-paste"]
    paths = sorted(preds.glob("*.png"))
    arrays = {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in paths}
    _same_numbers(gsi_bench.evaluate(split["data"], arrays, config="tabletop"), cli)
    features = datasets.Features({"id": datasets.Value("string"), "image": datasets.Image()})
    ds = datasets.Dataset.from_dict({"id": [p.stem for p in paths], "image": [str(p) for p in paths]},
                                    features=features)
    result = gsi_bench.evaluate(split["data"], ds)  # the only config of the folder is used
    _same_numbers(result, cli)
    assert result.summary["predictions"]["layout"] == "dataset"


def test_callable_editor_matches_cli_and_writes_reports(split, tmp_path):
    _, cli, cli_lines = split["identity"]
    calls = []

    def editor(image, instruction):
        assert isinstance(image, Image.Image) and isinstance(instruction, str) and instruction
        calls.append(instruction)
        return image

    result = gsi_bench.evaluate(split["data"], editor, config="tabletop", out=tmp_path / "rep")
    _same_numbers(result, cli)
    assert len(calls) == 7
    assert (tmp_path / "rep" / "report.html").is_file() and result.out == tmp_path / "rep"
    ours = [json.loads(x) for x in (tmp_path / "rep" / "per_sample.jsonl").read_text().splitlines()]
    theirs = [json.loads(x) for x in cli_lines]
    for a, b in zip(ours, theirs):
        assert {k: a[k] for k in ("id", "ic", "sa", "el", "ac")} == {k: b[k] for k in ("id", "ic", "sa", "el", "ac")}


def test_failures_are_counted_never_dropped(split):
    preds, _, _ = split["cut-paste"]
    ids = sorted(p.stem for p in preds.glob("*.png"))

    def flaky(image, instruction):
        if "rotate" in instruction.lower() or len(calls) == 0:
            calls.append(1)
            raise RuntimeError("model crashed")
        calls.append(1)
        return np.asarray(image)

    calls: list = []
    result = gsi_bench.evaluate(split["data"], flaky, config="tabletop")
    assert result.counts["total"] == 7 and result.counts["missing"] >= 1
    assert result.counts["prediction_issues"].get("editor_failed", 0) == result.counts["missing"]
    # unknown ids and unusable images are reported, not dropped
    bad = {ids[0]: np.zeros((8, 8), np.int64), "no-such-record": np.zeros((8, 8, 3), np.uint8)}
    result = gsi_bench.evaluate(split["data"], bad, config="tabletop")
    assert result.counts["unreadable"] == 1 and result.counts["missing"] == 6
    assert result.counts["prediction_issues"] == {"unknown": 1, "unreadable": 1}


def test_bad_inputs_are_rejected(split):
    with pytest.raises(TypeError, match="callable"):
        gsi_bench.evaluate(split["data"], 42, config="tabletop")
    with pytest.raises(FileNotFoundError):
        gsi_bench.evaluate(split["data"], {}, config="room")
    import datasets

    with pytest.raises(ValueError, match="'id' and 'image'"):
        gsi_bench.evaluate(split["data"], datasets.Dataset.from_dict({"x": [1]}), config="tabletop")


def test_metric_object_matches_cli_per_sample(split):
    import torch

    from gsi_bench.hub_io import iter_records
    from validation.evaluator.metric import GSIBenchMetric

    preds, cli, cli_lines = split["cut-paste"]
    records = list(iter_records(split["data"], "tabletop", "test"))
    metric = GSIBenchMetric()
    for start in range(0, len(records), 3):  # batches of 3, images as (3, H, W) float tensors in [0, 1]
        batch = records[start:start + 3]
        tensors = [torch.from_numpy(np.array(Image.open(preds / f"{r.id}.png").convert("RGB"))).permute(2, 0, 1) / 255.0
                   for r in batch]
        metric.update(batch, tensors)
    scores = metric.compute()
    assert scores["n"] == 7
    for m in ("ic", "sa", "el", "ac", "avg"):
        assert scores[m] == pytest.approx(cli["overall"][m], abs=1e-3), m
    assert [s["id"] for s in metric.samples] == [json.loads(x)["id"] for x in cli_lines]
    with pytest.raises(ValueError, match="2 records but 1 images"):
        metric.update(records[:2], [records[0].source_image])


def test_docstring_examples_run():
    from validation.evaluator import api, memory, metric

    for module in (api, memory, metric):
        failed, attempted = doctest.testmod(module, verbose=False)
        assert attempted > 0 and failed == 0, module.__name__


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Evaluating your model", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    test = doctest.DocTestParser().get_doctest(block, {}, "README", "README.md", 0)
    assert len(test.examples) >= 6
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0
