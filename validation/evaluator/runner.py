"""The evaluation loop: records × predictions → per-sample results → reports.

Each sample is scored independently (so results do not depend on ``workers``) and every sample of
the split appears in the results exactly once, with a ``status``:

``ok`` (scored), ``missing`` (no prediction), ``unreadable`` (corrupt file, not an image, too
large / decompression bomb), ``duplicate`` (several predictions for one id), ``unscorable``
(the record cannot be re-synthesised, e.g. a scene the renderer cannot load). Everything but
``ok`` scores 0 on every metric.
"""

from __future__ import annotations

import functools
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gsi_bench
from gsi_bench.engine import Engine, LocalEngine
from gsi_bench.fileio import check_output_dir
from gsi_bench.workers import die_with_parent
from gsi_bench.hub_io import iter_rows, list_shards
from gsi_bench.schema import EditRecord
from validation.evaluator import imageops
from validation.evaluator.loading import load_prediction, zero_result
from validation.evaluator.predictions import PredictionIndex, open_predictions
from validation.evaluator.protocols.default import OBJECT_TRANSLATIONS  # noqa: F401 - re-exported
from validation.evaluator.synthesis import Synthesizer

SCORER_VERSION = "1.0.0"
PROTOCOLS = ("default", "official")


@dataclass
class EvalConfig:
    data: str
    predictions: str
    out: str
    config: str | None = "tabletop"
    split: str = "test"
    protocol: str = "default"
    resize: str = "stretch"
    layout: str = "auto"
    search_size: int = 128
    workers: int = 1
    limit: int | None = None
    renderer: str = "gl"
    detections: str | None = None
    ac_scores: str | None = None
    official_dataset: str = "GSI-Syn"
    features_backend: str | None = None
    judge_backend: str | None = None
    #: converted release records: optional model-backed localisation "depth=<ckpt>,detector=<ckpt>"
    release_models: str = ""
    html_examples: int = 6
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose one of {PROTOCOLS}")
        if self.resize not in imageops.RESIZE_POLICIES:
            raise ValueError(f"unknown resize policy {self.resize!r}; choose one of {sorted(imageops.RESIZE_POLICIES)}")


# ---------------------------------------------------------------------------------------------
# scoring context (renderers, caches): one per process, passed explicitly
# ---------------------------------------------------------------------------------------------
@dataclass
class ScoringContext:
    """What scoring one sample needs besides the record and the prediction: the configuration,
    the analysis-by-synthesis renderer (made at first use) and a cache for backends."""

    cfg: EvalConfig
    cache: dict = field(default_factory=dict)
    _synth: Synthesizer | None = None

    @property
    def synth(self) -> Synthesizer:
        if self._synth is None:
            self._synth = make_synthesizer(self.cfg.renderer, self.cfg.search_size)
        return self._synth


def make_synthesizer(renderer: str, search_size: int) -> Synthesizer:
    """The hypothesis renderers: GL shaded (512-texel shadow map) + GL flat, or one other backend."""
    if renderer == "gl":
        from gsi_syn.render.gl import GLRenderer

        shaded, flat = GLRenderer(shadow_map_size=512), GLRenderer(shadow_map_size=0)
    else:
        from gsi_syn.render.base import get_renderer

        shaded = flat = get_renderer(renderer)
    return Synthesizer(shaded, flat, search_size)


@functools.lru_cache(maxsize=4)
def _shared_context(cfg_key: tuple) -> ScoringContext:
    return ScoringContext(EvalConfig(data="", predictions="", out="", renderer=cfg_key[0], search_size=cfg_key[1]))


def score_default(record: EditRecord, pred: np.ndarray, cfg: EvalConfig, ctx: ScoringContext | None = None) -> dict:
    """Default protocol for one sample (:func:`validation.evaluator.protocols.default.score`);
    without ``ctx`` the renderers are shared per (renderer, search size) in this process."""
    from validation.evaluator.protocols import real_default, release_default, scorer_for

    ctx = ctx or _shared_context((cfg.renderer, cfg.search_size))
    if real_default.is_real_capture(record):  # GSI-Real pipeline records: their own synthesis
        return real_default.score_real(record, pred)
    if release_default.is_release_record(record):  # converted from the paper's release: no depth, no scene
        return release_default.score_release(record, pred, release_default.models_for(cfg, ctx.cache))
    return scorer_for("default", record.subset)(record, pred, ctx.synth)


def score_record(record: EditRecord, index: PredictionIndex, ctx: ScoringContext) -> dict:
    """Score one record; never raises (failures become ``unscorable`` with the error)."""
    cfg = ctx.cfg
    pred, meta = load_prediction(index, record, cfg)
    if pred is None:
        return meta
    out = zero_result(record, "ok", "", meta["prediction"])
    out.update(prediction_size=meta["prediction_size"], resized=meta["resized"])
    if meta.get("decode_notes"):
        out["decode_notes"] = meta["decode_notes"]
    try:
        if cfg.protocol == "official":
            from validation.evaluator.protocols import official

            res = official.score_record_official(record, pred, cfg, ctx.synth, ctx.cache)
        else:
            res = score_default(record, pred, cfg, ctx)
            res.pop("_realised", None)
    except Exception as err:  # noqa: BLE001 - one bad record never stops a run
        out.update(status="unscorable", reason=f"{type(err).__name__}: {err}",
                   traceback=traceback.format_exc(limit=3)[-800:])
        return out
    out.update(res)
    if cfg.judge_backend or cfg.features_backend:
        from validation.evaluator import backends

        out.update(backends.extra_scores(record, pred, cfg, ctx.cache))
    return out


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def _tasks(shards: list[Path]) -> list[tuple[str, int]]:
    import pyarrow.parquet as pq

    return [(str(p), g) for p in shards for g in range(pq.ParquetFile(p).num_row_groups)]


#: Tasks handed to each worker on average (at least): the pool gives the next task to whichever
#: worker is free, so samples of very different cost (a camera search, a removal) even out.
TASKS_PER_WORKER = 8


def _split_tasks(shards: list[Path], limit: int, workers: int) -> list[tuple[str, int, int, int]]:
    """The first ``limit`` rows of ``shards`` as tasks ``(shard path, row group, start, stop)``:
    row groups cut into runs of about ``limit / (workers · TASKS_PER_WORKER)`` rows (at least
    one), in data order — whole row groups would leave one worker idle while another scores a
    larger or costlier group. A task reads its row group and keeps its run (milliseconds)."""
    import pyarrow.parquet as pq

    size = max(1, -(-limit // (max(1, workers) * TASKS_PER_WORKER)))
    tasks, left = [], limit
    for path, group in _tasks(shards):
        if left <= 0:
            break
        n = min(pq.ParquetFile(path).metadata.row_group(group).num_rows, left)
        tasks += [(path, group, a, min(a + size, n)) for a in range(0, n, size)]
        left -= n
    return tasks


class Worker:
    """Scores a run of rows of one Parquet row group (a task); picklable, so a pool can run it. Its
    :class:`ScoringContext` is made lazily in the process that runs it."""

    def __init__(self, cfg: EvalConfig, index: PredictionIndex):
        import uuid

        self.cfg, self.index = cfg, index
        self.token = uuid.uuid4().hex  # names this evaluation's context in each worker process
        self._ctx: ScoringContext | None = None

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg, "index": self.index, "token": self.token, "_ctx": None, "_copy": True}

    @property
    def ctx(self) -> ScoringContext:
        """The scoring context of this evaluation in this process. A pool sends each task with its
        own copy of the worker: the copies share one context per process (renderers and their
        mesh caches are made once per process, not once per task). The worker that the driver
        made (inline runs) keeps its own, released with it: a process-wide one would keep the
        driver's GL objects alive into the processes it forks later."""
        if self._ctx is None:
            if getattr(self, "_copy", False):
                self._ctx = _process_contexts(self.token).setdefault("ctx", ScoringContext(self.cfg))
            else:
                self._ctx = ScoringContext(self.cfg)
        return self._ctx

    def __call__(self, task: tuple[str, int, int, int]) -> list[dict]:
        """Score rows ``start`` to ``stop`` (exclusive) of row group ``group`` of shard ``path``."""
        import pyarrow.parquet as pq

        path, group, start, stop = task
        rows = pq.ParquetFile(path).read_row_group(group).slice(start, stop - start).to_pylist()
        out = []
        for row in rows:
            try:
                record = EditRecord.from_example(_lighten(row))
            except Exception as err:  # noqa: BLE001
                out.append({"id": str(row.get("id")), "subset": str(row.get("subset")), "split": str(row.get("split")),
                            "operation": str(row.get("operation")), "frame": str(row.get("frame")),
                            "status": "unscorable", "reason": f"record cannot be decoded: {err}", "prediction": "",
                            "ic": 0, "sa": 0.0, "el": 0.0, "el_ssim": 0.0, "el_psnr": 0.0, "ac": 0.0})
                continue
            out.append(score_record(record, self.index, self.ctx))
        return out


@functools.lru_cache(maxsize=2)
def _process_contexts(token: str) -> dict:
    """Per process, per evaluation (:attr:`Worker.token`): a holder for its :class:`ScoringContext`."""
    return {}


#: Image columns the scorer never reads: decoded as 1×1 placeholders to save time.
_UNUSED_IMAGES = ("target_instances", "target_depth", "source_instances")


@functools.lru_cache(maxsize=1)
def _placeholder() -> dict:
    from gsi_bench.schema import encode_png

    return {"bytes": encode_png(np.zeros((1, 1), np.uint16)), "path": None}


def _lighten(row: dict) -> dict:
    return {**row, **{k: _placeholder() for k in _UNUSED_IMAGES}}


def record_ids(shards: list[Path]) -> list[str]:
    return [r["id"] for r in iter_rows(shards, columns=["id"])]


def resolve_data(data: str, config: str | None, split: str) -> list[Path]:
    """The shards of ``config`` / ``split`` of ``data`` (a folder or a Hub dataset id, see
    :mod:`gsi_bench.datasource`)."""
    from gsi_bench.datasource import resolve_dataset

    source = resolve_dataset(data, config, split)
    shards = list_shards(source.root, config, split)
    if not shards:
        where = source.root / "data" / (config or "")
        named = f" (Hub dataset {source.repo_id})" if source.repo_id else ""
        raise FileNotFoundError(f"no Parquet shards for config {config!r}, split {split!r} under {where}{named}")
    return shards


def dataset_revision(data: str, shards: list[Path], config: str | None = None, split: str | None = None) -> dict:
    """Identify the data: the sha256 of the checksum manifest when present, else of the shards."""
    import hashlib

    from gsi_bench.datasource import resolve_dataset
    from gsi_bench.hashing import file_sha256
    from gsi_bench.hub_io import CHECKSUMS_FILE

    source = resolve_dataset(data, config, split)
    root = source.root
    h = hashlib.sha256()
    for p in shards:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(file_sha256(p).encode())
    return {"shards": [p.relative_to(root).as_posix() for p in shards], "sha256": h.hexdigest(),
            "checksums_manifest": (root / CHECKSUMS_FILE).exists(), **source.describe()}


def evaluate(cfg: EvalConfig, progress: bool = False, engine: Engine | None = None) -> dict:
    """Run an evaluation and write its reports into ``cfg.out``; returns the summary dict.
    ``engine`` maps row groups to workers (default: a local pool of ``cfg.workers``; or Ray)."""
    from validation.evaluator import report

    # fail before scoring, not after: --out a file, unwritable, or inside the data folder
    check_output_dir(cfg.out, data_dir=cfg.data if Path(str(cfg.data)).is_dir() else None)
    shards = resolve_data(cfg.data, cfg.config, cfg.split)
    ids = record_ids(shards)
    if cfg.limit is not None:
        ids = ids[: cfg.limit]
    dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    # an already-built index (e.g. in-memory predictions from validation.evaluator.api) is used as is
    index = cfg.predictions if isinstance(cfg.predictions, PredictionIndex) else \
        open_predictions(cfg.predictions, set(ids), cfg.layout, cfg.split)
    tasks = _split_tasks(shards, len(ids), cfg.workers)
    worker = Worker(cfg, index)
    results: list[dict] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ids), unit="sample", desc=f"evaluate ({cfg.protocol})")
    engine = engine or LocalEngine(cfg.workers, start_method=_start_method())
    for chunk in engine.map(worker, tasks, initializer=_init_child):
        results.extend(chunk)
        if bar:
            bar.update(len(chunk))
    if bar:
        bar.close()
    meta = {"dataset": {"path": str(cfg.data), "config": cfg.config, "split": cfg.split,
                        "revision": dataset_revision(cfg.data, shards, cfg.config, cfg.split), "duplicate_record_ids": dupes},
            "predictions": {"path": str(getattr(cfg.predictions, "root", cfg.predictions)), "layout": index.layout, "issues": index.issues},
            "scorer_version": SCORER_VERSION, "gsi_bench_version": gsi_bench.__version__,
            "protocol": cfg.protocol, "resize_policy": {"name": cfg.resize, "description": imageops.RESIZE_POLICIES[cfg.resize]},
            "search": {"size_px": cfg.search_size, "renderer": cfg.renderer},
            "backends": _backend_info(cfg)}
    return report.write_reports(cfg, results, meta)


def _start_method() -> str:
    """How the local pool starts its workers: ``fork`` (cheap: the modules are already loaded),
    unless this thread has rendered (:func:`gsi_syn.render.gl.holds_context`: a forked child
    could hang in the driver's state) or the platform has no fork — then ``spawn``."""
    import sys

    if os.name != "posix":
        return "spawn"
    gl = sys.modules.get("gsi_syn.render.gl")  # not imported: nothing rendered here
    return "spawn" if gl is not None and gl.holds_context() else "fork"


def _init_child() -> None:
    die_with_parent()  # a killed driver takes its workers with it
    # one rasteriser thread per worker process: the processes already use every core
    os.environ.setdefault("LP_NUM_THREADS", "1")


def _backend_info(cfg: EvalConfig) -> dict:
    info = {"localisation": f"analysis-by-synthesis ({cfg.renderer} renderer, {cfg.search_size}px search)"}
    if cfg.protocol == "official":
        info["detections"] = cfg.detections or "analysis-by-synthesis boxes (no detector)"
        info["ac_scores"] = cfg.ac_scores or "default-protocol AC / 10"
        info["lpips"] = "1 - masked SSIM (proxy; no LPIPS weights)"
    if cfg.features_backend:
        info["features"] = cfg.features_backend
    if cfg.judge_backend:
        info["judge"] = cfg.judge_backend
    return info
