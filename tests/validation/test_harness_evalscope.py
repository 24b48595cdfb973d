"""GSI-Bench as an EvalScope benchmark, end to end: ``run_task`` with stub image-editing models (identity,
oracle) on a small generated split; the report's overall means equal ``gsi-bench evaluate`` on the same
images. EvalScope is installed ``--no-deps`` with the pure-Python packages it imports (pyproject extra)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moderngl")
pytest.importorskip("evalscope.api.benchmark")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    out = tmp_path_factory.mktemp("evalscope")
    subprocess.run([sys.executable, "-m", "gsi_bench.cli", "generate", "syn", "--config", "tabletop", "--split", "test",
                    "--per-op", "1", "--resolution", "64", "--seed", "5", "--out", str(out), "--quiet"], check=True)
    return out


def _stub(kind: str, targets: dict[str, str]):
    from evalscope.api.messages import ContentImage, ContentText
    from evalscope.api.model import ModelAPI, ModelOutput

    class StubEditor(ModelAPI):
        def generate(self, input, tools, tool_choice, config):
            content = input[0].content
            src = next(c for c in content if isinstance(c, ContentImage)).image.split(",", 1)[1]
            text = next(c for c in content if isinstance(c, ContentText)).text
            image = src if kind == "identity" else targets[text + src]
            return ModelOutput.from_content(model=self.model_name, content=[ContentImage(image=image)])

    return StubEditor(model_name=kind)


def _b64_png(arr) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("kind", ["identity", "oracle"])
def test_evalscope_benchmark_end_to_end(split, tmp_path, kind):
    import validation.harness.evalscope_adapter  # noqa: F401 - registers "gsi_bench"
    from evalscope import TaskConfig, run_task
    from gsi_bench.hub_io import iter_records

    from validation.harness.evalscope_adapter import _png_base64

    records = list(iter_records(split, "tabletop", "test"))
    # the oracle answers the ground truth of the (instruction, source image) it is given
    targets = {r.instruction + _png_base64(r.source_image).split(",", 1)[1]: _b64_png(r.target_image) for r in records}
    (shard,) = sorted((split / "data" / "tabletop").glob("*.parquet"))
    report = run_task(TaskConfig(model=_stub(kind, targets), model_id=kind, datasets=["gsi_bench"],
                                 dataset_args={"gsi_bench": {"dataset_id": str(shard), "subset_list": ["tabletop"]}},
                                 work_dir=str(tmp_path / "work"), no_timestamp=True))["gsi_bench"]
    overall = {m.identity.name: m for m in report.metrics if m.identity.dimensions == {"scope": "overall"}}
    per_op = {m.identity.dimensions["category"] for m in report.metrics if "category" in m.identity.dimensions}
    assert per_op == {r.operation for r in records}
    images = sorted((tmp_path / "work").rglob("images/*.png"))
    assert len(images) == 7
    preds = tmp_path / "preds"
    preds.mkdir()
    for p in images:  # EvalScope names them <id>_<group>.png
        (preds / f"{p.stem.rsplit('_', 1)[0]}.png").write_bytes(p.read_bytes())
    out = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "gsi_bench.cli", "evaluate", "--data", str(split), "--config", "tabletop",
                    "--predictions", str(preds), "--out", str(out), "--quiet"], check=True, capture_output=True)
    cli = json.loads((out / "summary.json").read_text())["overall"]
    for m in ("ic", "sa", "el", "ac", "avg"):
        assert overall[m].num == 7 and overall[m].score == pytest.approx(cli[m], abs=1e-2), m
    assert (cli["ic"] >= 85.0) if kind == "oracle" else (cli["ic"] <= 15.0)
