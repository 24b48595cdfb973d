"""The local engine's forkserver start method (the generation pipeline's default on Linux)."""

from __future__ import annotations

import multiprocessing as mp
import sys

import pytest

from gsi_bench.engine import LocalEngine


def _module_loaded(name: str) -> bool:
    return name in sys.modules


@pytest.mark.skipif("forkserver" not in mp.get_all_start_methods(), reason="no forkserver on this platform")
def test_forkserver_pool_maps_in_order_with_preloaded_modules():
    engine = LocalEngine(2, start_method="forkserver", preload=("gsi_bench.geometry",))
    assert list(engine.map(abs, [-3, 1, -2, 5])) == [3, 1, 2, 5]
    # the workers were forked from a server that imported the preloaded module (this process's
    # forkserver: started by the map above, or earlier by a generation run preloading the sampler)
    assert all(engine.map(_module_loaded, ["gsi_bench.geometry"] * 2))


def test_generation_default_engine_starts_clean_workers():
    from gsi_syn.pipeline import _default_engine

    engine = _default_engine(2)
    assert engine.workers == 2 and engine.start_method in ("forkserver", "spawn")  # never fork: GL
    if engine.start_method == "forkserver":
        assert "gsi_syn.sampler" in engine.preload
