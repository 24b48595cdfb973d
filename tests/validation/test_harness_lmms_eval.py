"""GSI-Bench as an lmms-eval task, end to end: ``simple_evaluate`` with a stub image-editing model on a
small generated split produces the GSI-Bench metrics, equal to ``gsi_bench.evaluate`` on the same images.

lmms-eval 0.7.3 declares torchvision (never installed here): it is installed ``--no-deps`` with the few
pure-Python packages its evaluator imports (see pyproject's ``lmms-eval`` extra)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moderngl")
pytest.importorskip("lmms_eval.evaluator")

TASKS = Path(__file__).resolve().parents[2] / "validation" / "harness" / "lmms_eval_tasks" / "gsi_bench"


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    # generated in a child process: this process's GL contexts are then all the evaluator's
    out = tmp_path_factory.mktemp("lmms")
    subprocess.run([sys.executable, "-m", "gsi_bench.cli", "generate", "syn", "--config", "tabletop", "--split", "test",
                    "--per-op", "1", "--resolution", "64", "--seed", "5", "--out", str(out), "--quiet"], check=True)
    return out


def _stub_model(kind: str, folder: Path):
    from lmms_eval.api.model import lmms

    class StubEditor(lmms):
        """Returns the source image (identity) or the ground truth (oracle) the way image-generating
        lmms-eval models do: a JSON string with the saved image's path."""

        def generate_until(self, requests):
            out = []
            for req in requests:
                _, _, doc_to_visual, doc_id, task, split = req.args
                doc = self.task_dict[task][split][doc_id]
                image = doc_to_visual(doc)[0] if kind == "identity" else doc["target_image"]
                path = folder / f"{doc['id']}.png"
                image.convert("RGB").save(path)
                out.append(json.dumps({"text": "", "images": [str(path)]}))
            return out

        def loglikelihood(self, requests):
            raise NotImplementedError

        def generate_until_multi_round(self, requests):
            raise NotImplementedError

    return StubEditor()


@pytest.mark.parametrize("kind", ["oracle", "identity"])
def test_lmms_eval_task_end_to_end(split, tmp_path, kind):
    from lmms_eval import evaluator
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    # lmms-eval 0.7.3 patches filelock through ``filelock._api``, which filelock 4.x no longer has;
    # the patch (re-entrant locks for multi-threaded loading) is not needed here: mark it as done
    evaluator._enable_reentrant_filelocks._patched = True

    include = tmp_path / "tasks"
    shutil.copytree(TASKS, include)
    shards = sorted(str(p) for p in (split / "data" / "tabletop").glob("*.parquet"))
    (include / "gsi_bench_local.yaml").write_text(
        "include: _default_template.yaml\ntask: gsi_bench_local\ndataset_path: parquet\n"
        f"dataset_kwargs:\n  data_files:\n    test: {json.dumps(shards)}\n")
    images = tmp_path / "images"
    images.mkdir()
    out = simple_evaluate(model=_stub_model(kind, images), tasks=["gsi_bench_local"],
                          task_manager=TaskManager(include_path=str(include), include_defaults=False),
                          batch_size=1, log_samples=False, bootstrap_iters=0)
    got = out["results"]["gsi_bench_local"]
    # the CLI on the same images, in its own process (see validation.harness.scoring on GL threads)
    report = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "gsi_bench.cli", "evaluate", "--data", str(split), "--config", "tabletop",
                    "--predictions", str(images), "--out", str(report), "--quiet"], check=True, capture_output=True)
    ours = json.loads((report / "summary.json").read_text())["overall"]
    assert len(list(images.glob("*.png"))) == 7
    for m in ("ic", "sa", "el", "ac", "avg"):
        assert got[f"gsi_{m},none"] == pytest.approx(ours[m], abs=1e-3), m
    if kind == "oracle":
        assert got["gsi_ic,none"] >= 85.0
    else:
        assert got["gsi_ic,none"] <= 15.0


def test_scoring_of_outputs_without_an_image(split):
    from gsi_bench.hub_io import iter_rows, list_shards
    from validation.harness.scoring import prediction_image, score_doc

    row = next(iter_rows(list_shards(split, "tabletop", "test")))
    for bad in ("", "{not json", json.dumps({"text": "sorry", "images": []}), "/no/such/file.png", None):
        assert prediction_image(bad) is None
        assert score_doc(row, bad)["status"] == "missing"
