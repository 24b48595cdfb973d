"""Trust what you downloaded or regenerated: dataset integrity checks and the 3D-consistency
re-run (``gsi-bench validate``), plus the reference evaluator (:mod:`validation.evaluator`).

* :mod:`validation.layout` — resolve a folder / Hub id, read the card's configs, list shards.
* :mod:`validation.integrity` — manifest and checksums, typed schema per record, unique ids,
  split hygiene.
* :mod:`validation.consistency` — per record: boxes and Φ3D, instruction ↔ params, re-rendered
  masks / instances / depth, the generator's validity checks recomputed.
* :mod:`validation.report` — per-check tallies, ``validation.json`` and the human summary.
* :mod:`validation.runner` — :func:`validate`, the whole run.
"""
