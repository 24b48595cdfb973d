"""The default-protocol evaluator on a small generated split (96 px, 14 records, all 7 ops)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("moderngl")

from gsi_bench.hub_io import iter_records
from validation.baselines import run_baseline
from validation.evaluator import EvalConfig, evaluate


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("evaldata")
    generate(GenerationConfig(subset="tabletop", split="test", num=14, seed=0, resolution=96), out,
             workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def records(data):
    return list(iter_records(data, "tabletop", "test"))


def _run(data, preds, out, **kw) -> dict:
    return evaluate(EvalConfig(data=str(data), predictions=str(preds), out=str(out), **kw))


@pytest.fixture(scope="module")
def baseline_scores(data, tmp_path_factory):
    scores = {}
    for name in ("oracle", "identity", "cut-paste"):
        preds = tmp_path_factory.mktemp(f"pred-{name}")
        run_baseline(name, str(data), str(preds))
        scores[name] = _run(data, preds, tmp_path_factory.mktemp(f"rep-{name}"))
    return scores


def test_oracle_scores_high(baseline_scores):
    o = baseline_scores["oracle"]["overall"]
    assert o["ic"] >= 95 and o["sa"] >= 90
    assert o["el"] >= 95 and o["ac"] >= 90
    assert baseline_scores["oracle"]["counts"]["ok"] == 14


def test_identity_scores_low(baseline_scores):
    assert baseline_scores["identity"]["overall"]["ic"] <= 5


def test_cut_paste_in_between(baseline_scores):
    ic = {k: v["overall"]["ic"] for k, v in baseline_scores.items()}
    assert ic["identity"] < ic["cut-paste"] < ic["oracle"] or ic["cut-paste"] < 95
    assert baseline_scores["cut-paste"]["overall"]["avg"] < baseline_scores["oracle"]["overall"]["avg"]
    assert baseline_scores["cut-paste"]["overall"]["avg"] > baseline_scores["identity"]["overall"]["avg"]


def test_reports_written(baseline_scores, tmp_path_factory):
    s = baseline_scores["oracle"]
    for key in ("per_subset", "per_operation", "per_frame", "counts", "scorer_version", "protocol",
                "resize_policy", "backends", "dataset"):
        assert key in s
    assert len(s["per_operation"]) == 7
    assert s["dataset"]["revision"]["sha256"]


def _render_moved(record, sign: float) -> np.ndarray:
    """Render the source scene with the target moved by ``sign`` × the instructed displacement."""
    from gsi_syn.render.gl import GLRenderer
    src, tgt = record.scenes()
    tid = record.target.instance_id
    p0, p1 = np.asarray(src.get(tid).position), np.asarray(tgt.get(tid).position)
    moved = dataclasses.replace(src.get(tid), position=tuple(float(v) for v in p0 + sign * (p1 - p0)))
    return GLRenderer().render(src.replace_object(moved)).rgb


def test_wrong_way_move_gets_ic_zero(data, records, tmp_path):
    rec = next(r for r in records if r.operation == "camera_relative_move")
    preds = tmp_path / "preds"
    preds.mkdir()
    Image.fromarray(_render_moved(rec, -1.0)).save(preds / f"{rec.id}.png")
    right = tmp_path / "right"
    right.mkdir()
    Image.fromarray(_render_moved(rec, 1.0)).save(right / f"{rec.id}.png")
    wrong = _run(data, preds, tmp_path / "r1")
    good = _run(data, right, tmp_path / "r2")
    line = lambda out: next(json.loads(x) for x in (out / "per_sample.jsonl").read_text().splitlines()
                            if json.loads(x)["id"] == rec.id)
    assert line(tmp_path / "r1")["ic"] == 0
    assert line(tmp_path / "r2")["ic"] == 1
    assert wrong["counts"]["missing"] == 13 and good["counts"]["missing"] == 13


def test_deterministic_summary(data, tmp_path):
    preds = tmp_path / "p"
    run_baseline("cut-paste", str(data), str(preds), limit=7)
    _run(data, preds, tmp_path / "a")
    _run(data, preds, tmp_path / "b", workers=2)
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()


def test_bad_inputs_are_counted_not_fatal(data, records, tmp_path):
    preds = tmp_path / "p"
    preds.mkdir()
    ids = [r.id for r in records]
    good = records[0].target_image
    Image.fromarray(good).resize((200, 150)).save(preds / f"{ids[0]}.png")   # other size: resized
    (preds / f"{ids[1]}.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")         # corrupt
    (preds / f"{ids[2]}.png").write_text("not an image at all")                 # not an image
    Image.fromarray(good).save(preds / f"{ids[3]}.png")                         # duplicate id
    Image.fromarray(good).save(preds / f"{ids[3]}.jpg")
    Image.new("1", (9000, 9000)).save(preds / f"{ids[4]}.png")                 # decompression bomb
    Image.fromarray(good).save(preds / "no-such-record.png")                   # unknown id
    (preds / "notes.txt").write_text("hello")                                  # not an image
    outside = tmp_path / "outside.png"
    Image.fromarray(good).save(outside)
    os.symlink(outside, preds / f"{ids[5]}.png")                               # link leaving the folder
    s = _run(data, preds, tmp_path / "r")
    c = s["counts"]
    assert c["total"] == 14
    assert c["ok"] == 1 and c["unreadable"] == 3 and c["duplicate"] == 1 and c["missing"] == 9
    assert c["prediction_issues"] == {"not_image": 1, "outside": 1, "unknown": 1}
    lines = [json.loads(x) for x in (tmp_path / "r" / "per_sample.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ids
    by = {x["id"]: x for x in lines}
    assert by[ids[0]]["resized"] is True and by[ids[0]]["prediction_size"] == [200, 150]
    assert "too_large" in by[ids[4]]["reason"]
    assert all(x["reason"] for x in lines)
    assert all(x["ic"] == 0 and x["ac"] == 0 for x in lines if x["status"] != "ok")
    assert s["resize_policy"]["name"] == "stretch"


def test_official_layout_and_dataset_predictions(data, records, tmp_path):
    model = tmp_path / "eval" / "mymodel" / "generated_images_tabletop"
    model.mkdir(parents=True)
    for r in records[:3]:
        Image.fromarray(r.target_image).save(model / f"{r.id}_edit_0.jpg", quality=95)
    s = _run(data, model, tmp_path / "r")
    assert s["predictions"]["layout"] == "official"
    assert s["counts"]["ok"] == 3 and s["counts"]["missing"] == 11

    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    def png(a):
        b = io.BytesIO()
        Image.fromarray(a).save(b, format="PNG")
        return b.getvalue()

    rows = [{"id": r.id, "image": {"bytes": png(r.target_image), "path": None}} for r in records[:4]]
    rows.append({"id": "../../etc/passwd", "image": {"bytes": b"x", "path": None}})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "preds.parquet")
    s = _run(data, tmp_path / "preds.parquet", tmp_path / "r2")
    assert s["predictions"]["layout"] == "dataset"
    assert s["counts"]["ok"] == 4
    assert s["counts"]["prediction_issues"] == {"unsafe_name": 1}
    lines = [json.loads(x) for x in (tmp_path / "r2" / "per_sample.jsonl").read_text().splitlines()]
    assert all(x["ic"] == 1 for x in lines if x["status"] == "ok")


def test_cli_evaluate_and_baseline(data, tmp_path):
    from gsi_bench.cli import main

    assert main(["baseline", "identity", "--data", str(data), "--out", str(tmp_path / "p"), "--limit", "3", "--quiet"]) == 0
    assert len(list((tmp_path / "p").glob("*.png"))) == 3
    assert main(["evaluate", "--data", str(data), "--predictions", str(tmp_path / "p"), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    assert (tmp_path / "r" / "report.html").read_text().count("<figure>") >= 3
    assert (tmp_path / "r" / "plots" / "per_operation.svg").exists()
    assert main(["evaluate", "--data", str(tmp_path / "nothing"), "--predictions", str(tmp_path / "p"),
                 "--out", str(tmp_path / "r3"), "--quiet"]) == 2


def test_hypotheses_are_rendered_in_the_look_of_the_published_images(records):
    """Records published as GL photos (anti-aliased PBR, scene JSON "render") are searched with
    hypotheses in that look: the exact render of the target scene reproduces the target image,
    where the fast shading of ``render`` does not."""
    from validation.evaluator.protocols.default import _exact_renderer
    from validation.evaluator.runner import make_synthesizer
    from validation.evaluator.synthesis import render_style

    base = make_synthesizer("gl", 128)
    for r in records[:3]:
        assert render_style(r) == "photo"
        synth = base.for_record(r)
        assert synth.style == "photo" and base.for_record(r) is synth   # one twin, shared
        _, tgt = r.scenes()
        photo = _exact_renderer(synth).render(tgt)
        shading = base.shaded.render(tgt).rgb
        target = r.target_image.astype(np.float32)
        assert np.abs(photo.rgb.astype(np.float32) - target).mean() < 1.0          # same look, same pixels
        assert np.abs(shading.astype(np.float32) - target).mean() > 3.0             # the old look differs
        assert (photo.instances == r.target.instance_id).sum() > 0                  # labels come along
    old = dataclasses.replace(records[0], scene=json.dumps({k: v for k, v in json.loads(records[0].scene).items()
                                                             if k != "render"}))
    assert render_style(old) == "shading" and base.for_record(old) is base
