"""Baseline editors and optional backends (tiny random models, no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("moderngl")

from gsi_bench.hub_io import iter_records
from validation.baselines import EDITORS, get_editor


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("bdata")
    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=2, resolution=64), out, workers=1,
             progress=False)
    return list(iter_records(out, "tabletop", "test"))


def test_registry_and_simple_editors(records):
    assert {"identity", "oracle", "cut-paste", "diffusers"} <= set(EDITORS)
    r = records[0]
    assert np.array_equal(get_editor("identity")(r), r.source_image)
    assert np.array_equal(get_editor("oracle")(r), r.target_image)
    with pytest.raises(ValueError):
        get_editor("nope")
    with pytest.raises(ValueError):
        get_editor("diffusers")


def test_cut_paste_every_operation(records):
    edit = get_editor("cut-paste")
    for r in records:
        out = edit(r)
        assert out.shape == r.source_image.shape and out.dtype == np.uint8
        assert not np.array_equal(out, r.source_image), r.operation


def test_judge_score_parsing():
    from validation.evaluator.backends import parse_judge_score

    assert parse_judge_score('{"score": 7.5, "reasoning": "ok"}') == 7.5
    assert parse_judge_score("no json") is None
    assert parse_judge_score('{"score": 42}') is None


def test_feature_backend_tiny_dinov2(records):
    import transformers  # installed by `make setup` (the `models` extra): this test must run, not skip

    from validation.evaluator.backends import FeatureBackend

    cfg = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                                    image_size=32, patch_size=8)
    model = transformers.Dinov2Model(cfg)
    proc = transformers.BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    fb = FeatureBackend("tiny-random-dinov2", model=model, processor=proc)
    r = records[0]
    assert fb.similarity(r.target_image, r.target_image) == pytest.approx(100.0, abs=1e-3)
    assert 0.0 <= fb.similarity(r.source_image, np.zeros_like(r.source_image)) <= 100.0
