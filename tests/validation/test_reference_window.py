"""The appearance reference drawn only around the target equals the whole render there."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("moderngl")

from gsi_bench.hub_io import iter_records
from validation.evaluator.protocols import default
from validation.evaluator.runner import make_synthesizer
from validation.evaluator.synthesis import PhotoRenderer


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("refwin")
    generate(GenerationConfig(subset="tabletop", split="test", num=7, seed=3, resolution=160), out,
             workers=1, progress=False)
    return [r for r in iter_records(out, "tabletop", "test") if r.operation not in ("remove", "perspective")]


def test_window_render_equals_whole_render_around_the_instance(records):
    from gsi_syn.render.gl import GLRenderer

    photo = PhotoRenderer(GLRenderer())
    checked = 0
    for record in records:
        src, _ = record.scenes()
        whole = photo.render(src)
        for o in src.movable():
            win = photo.render(src, around=o.instance_id, margin=5)
            drawn = win.instances > 0
            ys, xs = np.nonzero(whole.instances == o.instance_id)
            if len(ys) == 0:
                continue
            # the window holds every pixel of the instance, and equals the whole render there
            assert (win.instances == o.instance_id).sum() == len(ys)
            y0, y1 = max(0, ys.min() - 5), ys.max() + 6
            x0, x1 = max(0, xs.min() - 5), xs.max() + 6
            for k in ("rgb", "instances", "depth"):
                assert np.array_equal(getattr(win, k)[y0:y1, x0:x1], getattr(whole, k)[y0:y1, x0:x1]), k
            assert drawn.sum() < (whole.instances > 0).sum()  # and draws less than the whole image
            checked += 1
    assert checked >= 3


def test_appearance_unchanged_by_the_window(records, monkeypatch):
    synth = make_synthesizer("gl", 128)
    for record in records:
        src, tgt = record.scenes()
        realised = type("R", (), {"obj": tgt.get(record.target.instance_id)})()
        pred = record.target_image.astype(np.float32) / 255.0
        s = synth.for_record(record)
        assert isinstance(default._exact_renderer(s), PhotoRenderer)  # the windowed path is taken
        windowed = default.appearance([pred, pred], record, src, realised, s, [2.0, 0.0])
        with monkeypatch.context() as m:
            m.setattr(default, "_reference_render", lambda renderer, scene, tid, sigma: renderer.render(scene))
            whole = default.appearance([pred, pred], record, src, realised, s, [2.0, 0.0])
        assert windowed == whole
