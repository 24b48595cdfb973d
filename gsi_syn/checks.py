"""GSI-Syn measurements that need the scene's asset meshes (footprints on supports).

The thresholds, the generator-independent measurements and the accept decision are shared with
GSI-Real and ``validation``: they live in :mod:`gsi_bench.checks`.
"""

from __future__ import annotations

from gsi_bench.scene import Scene
from gsi_syn.placement import min_clearance, support_margin

__all__ = ["placement_measurements"]


def placement_measurements(scene: Scene, instance_id: int) -> tuple[float, float]:
    """(min clearance, support margin) in metres of an object as placed in ``scene``."""
    return min_clearance(scene, instance_id), support_margin(scene, instance_id)

