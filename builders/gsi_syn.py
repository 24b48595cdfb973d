"""GSI-Syn as a ``datasets`` builder, and the fast path that writes the Hub folder directly.

Two ways to the same rows:

* :class:`GsiSyn` — a :class:`datasets.GeneratorBasedBuilder` whose splits call the generator
  record by record (``builder.download_and_prepare()``; handy inside ``datasets`` tooling).
  ``datasets`` ≥ 4 does not run loading scripts from the Hub, so this builder runs locally only.
* :func:`build_syn_folder` (``gsi-bench build syn``) — runs the sharded, parallel, resumable
  pipeline (:func:`gsi_syn.pipeline.generate`) per subset and split, regroups the shards by
  operation (see :mod:`builders.layout`) and writes the card, ``eval.yaml`` and checksums.

Both use the same :class:`gsi_syn.sampler.GenerationConfig` (``num = per_op × #operations``;
records cycle through the operations, so each gets exactly ``per_op``), hence identical rows for
identical settings. Train and test differ by the split code in the seed sequence: disjoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import datasets

from builders.card import CITATION, KINDS, write_card
from builders.layout import op_config_name, regroup_by_operation
from gsi_bench.schema import features

HOMEPAGE = "https://arxiv.org/abs/2604.20570"
DEFAULT_SHARD_SIZE = 200
STAGING_DIR = ".gsi_staging"


def subset_operations() -> dict[str, tuple[str, ...]]:
    """Subset → operations the generator produces for it (the generator is the authority)."""
    from gsi_syn.sampler import SUBSET_OPERATIONS

    return dict(SUBSET_OPERATIONS)


@dataclass
class GsiSynConfig(datasets.BuilderConfig):
    """One GSI-Syn configuration.

    ``subset``: tabletop / room. ``operations``: the operations to generate (empty = all of the
    subset's). ``test_per_op`` / ``train_per_op``: records per operation in each split (0 = no
    such split). ``resolution``: image width = height in pixels. ``seed``: run seed.
    ``renderer``: ``gl`` (moderngl, EGL), ``raycast`` (trimesh + embree) or ``cycles`` (GL labels,
    Blender Cycles RGB); ``cycles_samples``: Cycles paths per pixel.
    ``edits_per_scene``: consecutive records sharing one sampled scene.
    """

    subset: str = "tabletop"
    operations: tuple[str, ...] = ()
    test_per_op: int = 100
    train_per_op: int = 0
    resolution: int = 512
    seed: int = 0
    renderer: str = "gl"
    edits_per_scene: int = 2
    cycles_samples: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        ops_of = subset_operations()
        if self.subset not in ops_of:
            raise ValueError(f"unknown subset {self.subset!r}; choose one of {sorted(ops_of)}")
        self.operations = tuple(self.operations) or ops_of[self.subset]
        bad = [op for op in self.operations if op not in ops_of[self.subset]]
        if bad:
            raise ValueError(f"operations {bad} are not generated for subset {self.subset!r}")
        if self.test_per_op < 0 or self.train_per_op < 0 or self.test_per_op + self.train_per_op == 0:
            raise ValueError("test_per_op and train_per_op must be ≥ 0 and not both 0")

    def split_sizes(self) -> dict[str, int]:
        """Split → number of records (only the splits that are built)."""
        n = len(self.operations)
        sizes = {"test": self.test_per_op * n, "train": self.train_per_op * n}
        return {k: v for k, v in sizes.items() if v > 0}

    def generation_config(self, split: str, shard_size: int = DEFAULT_SHARD_SIZE):
        """The pipeline configuration of one split."""
        from gsi_syn.render.cycles import CyclesSettings
        from gsi_syn.sampler import GenerationConfig

        per_scene = self.edits_per_scene
        return GenerationConfig(subset=self.subset, split=split, num=self.split_sizes()[split], seed=self.seed,
                                resolution=self.resolution, renderer=self.renderer, operations=self.operations,
                                cycles=CyclesSettings(samples=self.cycles_samples),
                                edits_per_scene=per_scene, shard_size=max(per_scene, shard_size - shard_size % per_scene))


def _builder_configs() -> list[GsiSynConfig]:
    out = []
    for subset, ops in subset_operations().items():
        out.append(GsiSynConfig(name=subset, subset=subset, description=f"GSI-Syn {subset}: all operations"))
        out.extend(GsiSynConfig(name=op_config_name(subset, op), subset=subset, operations=(op,),
                                description=f"GSI-Syn {subset}: {op} only") for op in ops)
    return out


class GsiSyn(datasets.GeneratorBasedBuilder):
    """GSI-Syn: synthetic spatial edits with exact labels (one row = one edit, see FIELD_DOCS).

    >>> b = GsiSyn(config_name="tabletop-rotate", test_per_op=2, resolution=64)  # doctest: +SKIP
    >>> b.download_and_prepare(); b.as_dataset("test")                           # doctest: +SKIP
    """

    BUILDER_CONFIG_CLASS = GsiSynConfig
    BUILDER_CONFIGS: ClassVar[list[GsiSynConfig]] = _builder_configs()
    DEFAULT_CONFIG_NAME = "tabletop"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=KINDS["syn"]["summary"], features=features(),
                                    homepage=HOMEPAGE, citation=CITATION, license=KINDS["syn"]["license"])

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        names = {"test": datasets.Split.TEST, "train": datasets.Split.TRAIN}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s})
                for s in self.config.split_sizes()]

    def _generate_examples(self, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
        from gsi_syn.render.base import get_renderer
        from gsi_syn.sampler import generate_unit

        cfg = self.config.generation_config(split)
        renderer = get_renderer(cfg.renderer)
        for unit in range(cfg.num_units):
            for record in generate_unit(cfg, unit, renderer):
                yield record.id, record.to_example(cfg.png_compress_level)


# ----------------------------------------------------------------------------------------------
# Fast path: the Hub folder straight from the pipeline
# ----------------------------------------------------------------------------------------------
@dataclass
class BuildSummary:
    out_dir: Path
    #: (subset, split) → rows
    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    shards: list[Path] = field(default_factory=list)
    card: list[Path] = field(default_factory=list)


def build_syn_folder(out_dir: str | Path, subsets: Sequence[str] = ("tabletop",), test_per_op: int = 100,
                     train_per_op: int = 0, resolution: int = 512, seed: int = 0, renderer: str = "gl",
                     operations: Sequence[str] = (), workers: int = 1, shard_size: int = DEFAULT_SHARD_SIZE,
                     edits_per_scene: int = 2, repo_id: str = "gsi-bench/syn", progress: bool = True,
                     keep_staging: bool = False, engine=None, cycles_samples: int = 16) -> BuildSummary:
    """Write the GSI-Syn Hub folder ``out_dir``: ``data/<subset>/<split>-*.parquet`` grouped by
    operation, ``README.md``, ``eval.yaml`` and ``gsi_checksums.json``.

    The pipeline writes into ``out_dir/.gsi_staging`` first (resumable: re-running the same
    command skips complete shards); the final shards are then regrouped by operation and the
    staging folder is removed unless ``keep_staging``. ``operations`` restricts every subset to
    those operations (empty = each subset's own list). ``engine`` (a :class:`gsi_bench.engine.Engine`,
    e.g. Ray) runs the scene units; default: a local pool of ``workers`` processes.
    """
    from gsi_syn.pipeline import generate

    out_dir = Path(out_dir)
    staging = out_dir / STAGING_DIR
    summary = BuildSummary(out_dir)
    configs = []
    for subset in subsets:
        ops = tuple(op for op in operations if op in subset_operations().get(subset, ())) if operations else ()
        if operations and not ops:
            raise ValueError(f"none of the operations {list(operations)} is generated for subset {subset!r}")
        configs.append(GsiSynConfig(name=subset, subset=subset, operations=ops, test_per_op=test_per_op,
                                    train_per_op=train_per_op, resolution=resolution, seed=seed,
                                    renderer=renderer, edits_per_scene=edits_per_scene,
                                    cycles_samples=cycles_samples))
    for bc in configs:
        for split in bc.split_sizes():
            gen_cfg = bc.generation_config(split, shard_size)
            generate(gen_cfg, staging, workers=workers, progress=progress, engine=engine)
            meta = {"config": json.loads(gen_cfg.to_json()), "config_sha256": gen_cfg.sha256}
            summary.shards += regroup_by_operation(staging, out_dir, bc.subset, split, gen_cfg.shard_size, meta)
            summary.rows[(bc.subset, split)] = gen_cfg.num
    summary.card = write_card(out_dir, repo_id, "syn", default_config=configs[0].subset)
    if not keep_staging:
        shutil.rmtree(staging, ignore_errors=True)
    return summary
