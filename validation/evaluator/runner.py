"""The evaluation loop: records × predictions → per-sample results → reports.

Each sample is scored independently (so results do not depend on ``workers``) and every sample of
the split appears in the results exactly once, with a ``status``:

``ok`` (scored), ``missing`` (no prediction), ``unreadable`` (corrupt file, not an image, too
large / decompression bomb), ``duplicate`` (several predictions for one id), ``unscorable``
(the record cannot be re-synthesised, e.g. a scene the renderer cannot load). Everything but
``ok`` scores 0 on every metric.
"""

from __future__ import annotations

import math
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gsi_bench
from gsi_bench.engine import Engine, LocalEngine
from gsi_bench.hub_io import iter_rows, list_shards
from gsi_bench.schema import EditRecord
from validation.evaluator import imageops, scoring
from validation.evaluator.predictions import PredictionIndex, open_predictions
from validation.evaluator.synthesis import Synthesizer, scenes_of

SCORER_VERSION = "1.0.0"
PROTOCOLS = ("default", "official")
OBJECT_TRANSLATIONS = ("camera_relative_move", "object_relative_place", "receptacle_place")


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
    html_examples: int = 6
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose one of {PROTOCOLS}")
        if self.resize not in imageops.RESIZE_POLICIES:
            raise ValueError(f"unknown resize policy {self.resize!r}; choose one of {sorted(imageops.RESIZE_POLICIES)}")


# ---------------------------------------------------------------------------------------------
# per-process state
# ---------------------------------------------------------------------------------------------
_STATE: dict = {}


def _synth(cfg: EvalConfig) -> Synthesizer:
    if "synth" not in _STATE:
        if cfg.renderer == "gl":
            from gsi_syn.render.gl import GLRenderer

            shaded, flat = GLRenderer(shadow_map_size=512), GLRenderer(shadow_map_size=0)
        else:
            from gsi_syn.render.base import get_renderer

            shaded = flat = get_renderer(cfg.renderer)
        _STATE["synth"] = Synthesizer(shaded, flat, cfg.search_size)
    return _STATE["synth"]


def _zero(record: EditRecord, status: str, reason: str, name: str = "") -> dict:
    return {"id": record.id, "subset": record.subset, "split": record.split, "operation": record.operation,
            "frame": record.frame, "status": status, "reason": reason, "prediction": name,
            "ic": 0, "sa": 0.0, "el": 0.0, "el_ssim": 0.0, "el_psnr": 0.0, "ac": 0.0}


def load_prediction(index: PredictionIndex, record: EditRecord, cfg: EvalConfig) -> tuple[np.ndarray | None, dict | None]:
    """(prediction at the record's size, None) or (None, zero result naming the problem)."""
    rid = record.id
    if rid in index.duplicates:
        names = ", ".join(index.duplicates[rid])
        return None, _zero(record, "duplicate", f"several predictions for this id ({names}); none used", names)
    name = index.names.get(rid, "")
    try:
        data = index.read(rid)
    except OSError as err:
        return None, _zero(record, "unreadable", f"cannot read prediction: {err}", name)
    if data is None:
        if rid in index.locators:
            return None, _zero(record, "unreadable", "prediction row holds no embedded image bytes", name)
        return None, _zero(record, "missing", "no prediction for this id", "")
    try:
        img = imageops.decode_prediction(data)
    except imageops.PredictionError as err:
        return None, _zero(record, "unreadable", f"{err.kind}: {err}", name)
    h, w = record.source_image.shape[:2]
    fitted = imageops.fit_to(img, w, h, cfg.resize)
    return fitted, {"prediction": name, "prediction_size": [int(img.shape[1]), int(img.shape[0])],
                    "resized": bool(img.shape[:2] != (h, w))}


def edit_locality(pred: np.ndarray, record: EditRecord) -> tuple[float, float, float]:
    """(EL 0–100, masked SSIM, masked PSNR dB) outside the dilated union of the object masks."""
    h, w = pred.shape[:2]
    union = (record.source_mask > 0) | (record.target_mask > 0)
    keep = ~imageops.dilate(union, max(1, round(scoring.MASK_DILATION * max(h, w))))
    p, g = imageops.to_float(pred), imageops.to_float(record.target_image)
    ssim = imageops.masked_ssim(p, g, keep)
    psnr = imageops.masked_psnr(p, g, keep)
    if not math.isfinite(ssim):
        return 100.0, 1.0, 60.0
    el = 100.0 * (0.5 * max(0.0, ssim) + 0.5 * min(psnr, scoring.EL_PSNR_CAP_DB) / scoring.EL_PSNR_CAP_DB)
    return el, ssim, psnr


def appearance(pred: np.ndarray, record: EditRecord, src, realised, synth: Synthesizer) -> tuple[float, str]:
    """AC 0–100 and a note (see :mod:`validation.evaluator.scoring`)."""
    p = imageops.to_float(pred)
    op = record.operation
    if op == "remove":
        mask = imageops.dilate(record.source_mask > 0, 2)
        ssim, colour = imageops.region_similarity(p, imageops.to_float(record.target_image), mask)
        return 100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour), "inpainted region vs ground truth"
    if op == "perspective":
        import dataclasses

        cam = dataclasses.replace(src.camera, cam_from_world=realised.cam_from_world.tolist())
        out = _exact_renderer(synth).render(src.with_camera(cam))
        ssim = imageops.masked_ssim(p, imageops.to_float(out.rgb))
        colour = float(np.exp(-np.linalg.norm(p.reshape(-1, 3).mean(0) - out.rgb.reshape(-1, 3).mean(0) / 255.0) / 0.1))
        return 100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour), "whole image vs render from the realised camera"
    if realised.obj is None:
        return 0.0, "object missing"
    tid = record.target.instance_id
    full = _exact_renderer(synth).render(src.replace_object(realised.obj))
    visible = full.instances == tid
    if visible.sum() < 4:
        return 0.0, "object not visible at its realised pose"
    ssim, colour = imageops.region_similarity(p, imageops.to_float(full.rgb), visible)
    return 100.0 * (0.5 * max(0.0, ssim) + 0.5 * colour), "object vs its render at the realised pose"


def _exact_renderer(synth: Synthesizer):
    """Full-resolution renders with the generator's settings (default shadow map)."""
    if "exact" not in _STATE:
        if getattr(synth.shaded, "name", "") == "gl":
            from gsi_syn.render.gl import GLRenderer

            _STATE["exact"] = GLRenderer()
        else:
            _STATE["exact"] = synth.shaded
    return _STATE["exact"]


def score_default(record: EditRecord, pred: np.ndarray, cfg: EvalConfig) -> dict:
    synth = _synth(cfg)
    src, tgt = scenes_of(record)
    small_pred = synth.prediction(pred, src)
    op = record.operation
    if op in OBJECT_TRANSLATIONS:
        realised = synth.localise_translation(small_pred, src, record.target.instance_id,
                                              tgt.get(record.target.instance_id))
        res = scoring.score_translation(record, src, tgt, realised)
    elif op == "rotate":
        realised = synth.localise_rotation(small_pred, src, record.target.instance_id, tgt.get(record.target.instance_id))
        res = scoring.score_rotation(record, src, tgt, realised)
    elif op == "scale":
        realised = synth.localise_scale(small_pred, src, record.target.instance_id, tgt.get(record.target.instance_id))
        res = scoring.score_scale(record, src, tgt, realised)
    elif op == "remove":
        tid = record.target.instance_id
        cat = src.get(tid).category
        ids = [tid] + [o.instance_id for o in src.movable() if o.category == cat and o.instance_id != tid]
        realised = synth.localise_presence(small_pred, src, ids)
        res = scoring.score_remove(record, src, realised)
    elif op == "perspective":
        realised = synth.localise_camera(small_pred, src, scoring.camera_motion_of(record))
        res = scoring.score_perspective(record, realised)
    else:
        raise ValueError(f"operation {op!r} has no default-protocol scorer")
    el, el_ssim, el_psnr = edit_locality(pred, record)
    ac, ac_note = appearance(pred, record, src, realised, synth)
    res.update(el=el, el_ssim=el_ssim, el_psnr=el_psnr, ac=ac, ac_region=ac_note,
               search={"hypotheses": realised.hypotheses, "distance": realised.distance,
                       "unchanged_distance": realised.unchanged_distance})
    res["_realised"] = realised
    return res


def score_record(record: EditRecord, index: PredictionIndex, cfg: EvalConfig) -> dict:
    """Score one record; never raises (failures become ``unscorable`` with the error)."""
    pred, meta = load_prediction(index, record, cfg)
    if pred is None:
        return meta
    out = _zero(record, "ok", "", meta["prediction"])
    out.update(prediction_size=meta["prediction_size"], resized=meta["resized"])
    try:
        if cfg.protocol == "official":
            from validation.evaluator import official

            res = official.score_record_official(record, pred, cfg, _synth(cfg), _STATE)
        else:
            res = score_default(record, pred, cfg)
            res.pop("_realised", None)
    except Exception as err:  # noqa: BLE001 - one bad record never stops a run
        out.update(status="unscorable", reason=f"{type(err).__name__}: {err}",
                   traceback=traceback.format_exc(limit=3)[-800:])
        return out
    out.update(res)
    if cfg.judge_backend or cfg.features_backend:
        from validation.evaluator import backends

        out.update(backends.extra_scores(record, pred, cfg, _STATE))
    return out


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def _tasks(shards: list[Path]) -> list[tuple[str, int]]:
    import pyarrow.parquet as pq

    return [(str(p), g) for p in shards for g in range(pq.ParquetFile(p).num_row_groups)]


_WORK: dict = {}


def _work(task: tuple[str, int, int]) -> list[dict]:
    import pyarrow.parquet as pq

    path, group, budget = task
    cfg, index = _WORK["cfg"], _WORK["index"]
    rows = pq.ParquetFile(path).read_row_group(group).to_pylist()
    out = []
    for row in rows[:budget]:
        try:
            record = EditRecord.from_example(_lighten(row))
        except Exception as err:  # noqa: BLE001
            out.append({"id": str(row.get("id")), "subset": str(row.get("subset")), "split": str(row.get("split")),
                        "operation": str(row.get("operation")), "frame": str(row.get("frame")),
                        "status": "unscorable", "reason": f"record cannot be decoded: {err}", "prediction": "",
                        "ic": 0, "sa": 0.0, "el": 0.0, "el_ssim": 0.0, "el_psnr": 0.0, "ac": 0.0})
            continue
        out.append(score_record(record, index, cfg))
    return out


#: Image columns the scorer never reads: decoded as 1×1 placeholders to save time.
_UNUSED_IMAGES = ("target_instances", "target_depth", "source_instances")
_PLACEHOLDER: dict = {}


def _lighten(row: dict) -> dict:
    if "png" not in _PLACEHOLDER:
        from gsi_bench.schema import encode_png

        _PLACEHOLDER["png"] = {"bytes": encode_png(np.zeros((1, 1), np.uint16)), "path": None}
    return {**row, **{k: _PLACEHOLDER["png"] for k in _UNUSED_IMAGES}}


def record_ids(shards: list[Path]) -> list[str]:
    return [r["id"] for r in iter_rows(shards, columns=["id"])]


def resolve_data(data: str, config: str | None, split: str) -> list[Path]:
    """The shards of ``config`` / ``split`` of ``data`` (a folder or a Hub dataset id, see
    :mod:`validation.evaluator.hubdata`)."""
    from validation.evaluator.hubdata import resolve_dataset

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

    from gsi_bench.hub_io import CHECKSUMS_FILE, file_sha256
    from validation.evaluator.hubdata import resolve_dataset

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

    shards = resolve_data(cfg.data, cfg.config, cfg.split)
    ids = record_ids(shards)
    if cfg.limit is not None:
        ids = ids[: cfg.limit]
    dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    index = open_predictions(cfg.predictions, set(ids), cfg.layout, cfg.split)
    tasks, left = [], len(ids)
    for path, group in _tasks(shards):
        if left <= 0:
            break
        import pyarrow.parquet as pq

        n = pq.ParquetFile(path).metadata.row_group(group).num_rows
        tasks.append((path, group, min(n, left)))
        left -= n
    _WORK.update(cfg=cfg, index=index)
    results: list[dict] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ids), unit="sample", desc=f"evaluate ({cfg.protocol})")
    engine = engine or LocalEngine(cfg.workers, start_method="fork" if os.name == "posix" else "spawn")
    for chunk in engine.map(_work, tasks, initializer=_init_child, initargs=(cfg, index)):
        results.extend(chunk)
        if bar:
            bar.update(len(chunk))
    if bar:
        bar.close()
    meta = {"dataset": {"path": str(cfg.data), "config": cfg.config, "split": cfg.split,
                        "revision": dataset_revision(cfg.data, shards, cfg.config, cfg.split), "duplicate_record_ids": dupes},
            "predictions": {"path": str(cfg.predictions), "layout": index.layout, "issues": index.issues},
            "scorer_version": SCORER_VERSION, "gsi_bench_version": gsi_bench.__version__,
            "protocol": cfg.protocol, "resize_policy": {"name": cfg.resize, "description": imageops.RESIZE_POLICIES[cfg.resize]},
            "search": {"size_px": cfg.search_size, "renderer": cfg.renderer},
            "backends": _backend_info(cfg)}
    return report.write_reports(cfg, results, meta)


def _init_child(cfg: EvalConfig, index: PredictionIndex) -> None:
    # one rasteriser thread per worker process: the processes already use every core
    os.environ.setdefault("LP_NUM_THREADS", "1")
    _STATE.clear()
    _WORK.update(cfg=cfg, index=index)


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
