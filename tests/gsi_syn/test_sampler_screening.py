"""The sampler's cheap scene tests: the pre-render test only drops scenes the rendered test would
drop too, and receptacle_place's planned placement is realisable with every target it keeps."""

import numpy as np
import pytest

from gsi_bench.checks import min_visible_pixels
from gsi_bench.operations import operation_spec
from gsi_syn import sampler as S
from gsi_syn.render.base import get_renderer

RES = 128


@pytest.fixture(scope="module")
def renderer():
    return get_renderer("gl")


@pytest.mark.parametrize("subset", ["tabletop", "room"])
def test_pre_render_test_is_a_relaxation_and_plans_are_realisable(subset, renderer):
    cfg = S.GenerationConfig(subset=subset, split="test", num=14, seed=5, resolution=RES)
    th, area = cfg.thresholds, RES * RES
    target_px, min_px = min_visible_pixels(area, th, edited=True), th.min_visible_area * area
    rng = np.random.default_rng(2024)
    plans = [None] + [{"placement": p} for p in operation_spec("receptacle_place").choices["placement"]]
    hosted_plans = 0
    for _ in range(8):
        scene = S._sample_scene(cfg, rng)
        state = S._SceneState(scene, renderer, min_px)
        targets = {i for i, c in state.pixels.items() if c >= target_px}
        for op in cfg.operations:
            for plan in (plans if op == "receptacle_place" else [None]):
                hosted = S._scene_can_host(op, state, targets, plan, th)
                if not S._may_host(op, scene, plan, th, min_px, target_px):
                    assert not hosted, (op, plan)  # dropping it unrendered loses nothing
                if op != "receptacle_place" or plan is None or not hosted:
                    continue
                hosted_plans += 1
                for tid in hosted:  # every kept target realises the plan with some receptacle
                    p = None
                    for k in range(40):
                        p = S._propose(op, scene, np.random.default_rng(k), th, state.visible, {tid}, plan)
                        if p is not None:
                            break
                    assert p is not None and p.target_id == tid and p.params.placement == plan["placement"]
    assert hosted_plans > 0
