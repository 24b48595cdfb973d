"""GSI-Real as a ``datasets`` builder (configs ``official`` and ``regenerate``), and the fast path
that writes its Hub folder.

* ``official``: the paper's published evaluation release — the Hub dataset ``GSI-Bench/GSI-Bench``
  (fetched with :func:`huggingface_hub.snapshot_download`), or a local folder / zip of it —
  converted by :mod:`builders.official` into typed records. Files that cannot be interpreted are
  collected in a rejects report (``official_rejects.json`` in the built folder), never guessed.
* ``regenerate``: runs the GSI-Real pipeline (``gsi_real.pipeline.iter_records``) on local captures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import datasets

from builders.card import CITATION, KINDS, write_card
from builders.layout import op_config_name
from builders.official import ConversionReport, iter_official_records
from builders.release_files import open_release
from gsi_bench.hub_io import (
    list_shards,
    shard_path,
    update_checksums,
    write_shard_atomic,
)
from gsi_bench.operations import OPERATIONS
from gsi_bench.schema import EditRecord, features

OFFICIAL_REPO_ID = "GSI-Bench/GSI-Bench"
REJECTS_FILE = "official_rejects.json"
HUB_SOURCE = "hub"
logger = logging.getLogger(__name__)


def fetch_official_release(revision: str | None = None, cache_dir: str | None = None) -> Path:
    """Download (or reuse from the hub cache) the official release and return its local folder.
    Needs network access unless the snapshot is already cached."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(OFFICIAL_REPO_ID, repo_type="dataset", revision=revision, cache_dir=cache_dir))


def resolve_source(source: str, revision: str | None = None) -> Path:
    """``"hub"`` → the downloaded official release; anything else → that local path."""
    return fetch_official_release(revision) if source == HUB_SOURCE else Path(source)


def regenerate_records(captures: str | Path, **options: Any) -> Iterator[EditRecord]:
    """Records of the GSI-Real pipeline run on ``captures`` (delegates to ``gsi_real.pipeline``)."""
    from gsi_real.pipeline import iter_records

    yield from iter_records(captures, **options)


@dataclass
class GsiRealConfig(datasets.BuilderConfig):
    """``source``: release folder, zip, or ``"hub"`` (official) / captures folder (regenerate).
    ``subset``: override of the subset inferred from folder names (official only).
    ``revision``: Hub revision of the official release."""

    source: str = HUB_SOURCE
    subset: str | None = None
    revision: str | None = None
    options: dict = field(default_factory=dict)


class GsiReal(datasets.GeneratorBasedBuilder):
    """GSI-Real in the GSI-Bench record (one row = one edit; see FIELD_DOCS)."""

    BUILDER_CONFIG_CLASS = GsiRealConfig
    BUILDER_CONFIGS: ClassVar[list[GsiRealConfig]] = [
        GsiRealConfig(name="official", description="The paper's published release, converted."),
        GsiRealConfig(name="regenerate", description="The GSI-Real pipeline run on local captures."),
    ]
    DEFAULT_CONFIG_NAME = "official"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=KINDS["real"]["summary"], features=features(),
                                    citation=CITATION, homepage="https://arxiv.org/abs/2604.20570")

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        return [datasets.SplitGenerator(name=datasets.Split.TEST, gen_kwargs={})]

    def _generate_examples(self) -> Iterator[tuple[str, dict[str, Any]]]:
        cfg: GsiRealConfig = self.config
        if cfg.name == "regenerate":
            for rec in regenerate_records(cfg.source, **cfg.options):
                yield rec.id, rec.to_example()
            return
        report = ConversionReport()
        self.report = report
        with open_release(resolve_source(cfg.source, cfg.revision)) as files:
            for rec in iter_official_records(files, report, cfg.subset):
                yield rec.id, rec.to_example()
        for r in report.rejects:
            logger.warning("rejected %s", r)


def build_real_folder(source: str | Path, out_dir: str | Path, subset: str | None = None,
                      revision: str | None = None, shard_size: int = 200,
                      repo_id: str = "gsi-bench/real") -> ConversionReport:
    """Convert the official release into the Hub folder ``out_dir``: shards grouped by operation
    under ``data/<subset>/test-*.parquet``, ``README.md``, ``eval.yaml``, checksums and
    ``official_rejects.json`` (the report, also returned)."""
    out = Path(out_dir)
    report = ConversionReport()
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with open_release(resolve_source(str(source), revision)) as files:
        for rec in iter_official_records(files, report, subset):
            by_key.setdefault((rec.subset, rec.operation), []).append(rec.to_example())
    for sub in sorted({s for s, _ in by_key}):
        plan = []
        for op in OPERATIONS:
            rows = by_key.get((sub, op), [])
            plan.extend((op, rows[i:i + shard_size]) for i in range(0, len(rows), shard_size))
        written = [write_shard_atomic(shard_path(out, sub, "test", k, len(plan)), rows,
                                      {"source": "official release", "operation": op})
                   for k, (op, rows) in enumerate(plan)]
        keep = {p.resolve() for p in written}
        for old in list_shards(out, sub, "test"):
            if old.resolve() not in keep:
                old.unlink()
        update_checksums(out, written)
    out.mkdir(parents=True, exist_ok=True)
    (out / REJECTS_FILE).write_text(report.to_json(), encoding="utf-8")
    if by_key:
        write_card(out, repo_id, "real")
    return report


__all__ = [
    "GsiReal",
    "GsiRealConfig",
    "build_real_folder",
    "fetch_official_release",
    "op_config_name",
    "regenerate_records",
]
