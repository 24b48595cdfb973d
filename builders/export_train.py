"""Training-ready exports of a GSI split (``gsi-bench export train``).

Three layouts, from any split of a Hub-layout folder or Hub dataset id:

* ``diffusers`` — a Hub-layout Parquet folder (``data/<split>-NNNNN-of-NNNNN.parquet``) with the
  columns diffusers' instruction-editing training example reads: ``input_image`` (Image, the
  source render), ``edit_prompt`` (string), ``edited_image`` (Image, the target), plus ``id``,
  ``operation`` and ``language``. ``load_dataset(folder, split=...)`` reads it.
* ``webdataset`` — tar shards ``<split>-NNNNNN.tar``; sample ``<key>`` has ``<key>.input.png``,
  ``<key>.edited.png`` and ``<key>.json`` (instruction + 3D labels). Tar members carry fixed
  metadata (mtime 0, uid/gid 0), so the bytes are reproducible.
* ``jsonl`` — ``images/<id>_{source,target}.png`` and ``..._{source,target}_mask.png`` plus
  ``<split>.jsonl``: one line per edit and language with ``source_image``, ``instruction``,
  ``target_image`` (paths relative to the JSONL file) and the labels.

Labels (webdataset / jsonl): operation name, frame, template id, target / reference objects,
params (NaN → null), the 3D transform (source camera frame, metres), the 3D boxes (camera frame)
and the camera (``K`` scaled to the exported size, pixel centres at integers; ``cam_from_world`` 4×4, OpenCV frame).

``language``: ``en``, ``zh`` or ``both`` (one sample per edit and language, keys ``<id>-en`` /
``<id>-zh``). ``seed``: a global, deterministic shuffle (``None`` keeps the data order); memory
stays bounded: rows are first spilled to one Arrow file per output shard, then each shard is
ordered and written alone. ``resolution``: the longer image side after resizing (Lanczos for RGB,
nearest for masks; ``None`` keeps the stored PNG bytes untouched). The output folder is built
under a temporary name and renamed when complete: it is there whole or not at all.
"""

from __future__ import annotations

import argparse

import io
import json
import math
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image as PILImage

from gsi_bench.schema import MAX_IMAGE_PIXELS, features

FORMATS = ("diffusers", "webdataset", "jsonl")
LANGUAGES = ("en", "zh", "both")
#: record columns an export reads (the heavy instance / depth maps and the scene spec are left out)
COLUMNS = ("id", "subset", "split", "operation", "frame", "instruction", "instruction_zh", "template_id",
           "target", "reference", "params", "transform", "camera", "boxes",
           "source_image", "target_image", "source_mask", "target_mask")
_POS = "__export_position"


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how (see the module docstring)."""

    format: str = "diffusers"
    language: str = "en"
    seed: int | None = 0
    resolution: int | None = None
    #: edits per output shard (Parquet file / tar)
    shard_size: int = 1000

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if self.language not in LANGUAGES:
            raise ValueError(f"unknown language {self.language!r}; choose one of {', '.join(LANGUAGES)}")
        if self.resolution is not None and not 16 <= self.resolution <= 8192:
            raise ValueError(f"resolution must be within 16..8192 px, got {self.resolution}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be ≥ 1, got {self.shard_size}")

    @property
    def languages(self) -> tuple[str, ...]:
        return ("en", "zh") if self.language == "both" else (self.language,)


@dataclass
class ExportSummary:
    out_dir: Path
    edits: int
    samples: int
    files: list[str]


# ----------------------------------------------------------------------------------------------
# images and labels
# ----------------------------------------------------------------------------------------------
def _open(png: bytes) -> PILImage.Image:
    img = PILImage.open(io.BytesIO(png))
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise ValueError(f"image of {img.width}×{img.height} px exceeds the {MAX_IMAGE_PIXELS} px limit")
    return img


def _target_size(width: int, height: int, resolution: int | None) -> tuple[int, int]:
    if resolution is None:
        return width, height
    scale = resolution / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _png(cell: dict | None, size: tuple[int, int] | None, mask: bool) -> bytes:
    """The PNG bytes of an image cell, resized to ``size`` when it differs (deterministic encoder)."""
    data = (cell or {}).get("bytes")
    if not data:
        raise ValueError("an image cell is empty")
    img = _open(data)
    if size is None or img.size == size:
        return data
    img = img.convert("L" if mask else "RGB").resize(size, PILImage.NEAREST if mask else PILImage.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # as the generator (fast, lossless)
    return buf.getvalue()


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN / inf floats → None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def labels(row: dict, operation_names: list[str], size: tuple[int, int]) -> dict:
    """The 3D labels of a record row for a training sample of ``size`` = (width, height) px."""
    cam = dict(row["camera"])
    sx, sy = size[0] / cam["width"], size[1] / cam["height"]
    K = np.asarray(cam["K"], dtype=np.float64)
    # pixel centres at integer coordinates: x' + 0.5 = (x + 0.5)·s
    K[0, :2] *= sx
    K[1, :2] *= sy
    K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    cam.update(K=K.tolist(), width=size[0], height=size[1])
    return _clean({"id": row["id"], "subset": row["subset"], "split": row["split"],
                   "operation": operation_names[row["operation"]], "frame": row["frame"],
                   "template_id": row["template_id"], "target": row["target"], "reference": row["reference"],
                   "params": row["params"], "transform": row["transform"], "boxes": row["boxes"], "camera": cam})


def _instruction(row: dict, lang: str) -> str:
    return row["instruction"] if lang == "en" else row["instruction_zh"]


# ----------------------------------------------------------------------------------------------
# format writers: one output shard at a time
# ----------------------------------------------------------------------------------------------
def diffusers_features():
    """The typed columns of the ``diffusers`` export."""
    from datasets import Features, Image, Value

    s = Value("string")
    return Features({"input_image": Image(), "edit_prompt": s, "edited_image": Image(),
                     "id": s, "operation": s, "language": s})


class _Writer:
    def __init__(self, root: Path, cfg: ExportConfig, split: str, n_shards: int):
        self.root, self.cfg, self.split, self.n_shards = root, cfg, split, n_shards
        self.files: list[str] = []
        self.samples = 0
        self.op_names = features()["operation"].names

    def write_shard(self, index: int, rows: list[dict]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def _sizes(self, row: dict) -> tuple[int, int]:
        cam = row["camera"]
        return _target_size(int(cam["width"]), int(cam["height"]), self.cfg.resolution)


class _DiffusersWriter(_Writer):
    def write_shard(self, index, rows):
        out = []
        for row in rows:
            size = self._sizes(row)
            src, tgt = _png(row["source_image"], size, False), _png(row["target_image"], size, False)
            for lang in self.cfg.languages:
                out.append({"input_image": {"bytes": src, "path": None}, "edit_prompt": _instruction(row, lang),
                            "edited_image": {"bytes": tgt, "path": None}, "id": row["id"],
                            "operation": self.op_names[row["operation"]], "language": lang})
        rel = f"data/{self.split}-{index:05d}-of-{self.n_shards:05d}.parquet"
        (self.root / "data").mkdir(exist_ok=True)
        table = pa.Table.from_pylist(out, schema=diffusers_features().arrow_schema)
        pq.write_table(table, self.root / rel, row_group_size=64, compression="zstd")
        self.files.append(rel)
        self.samples += len(out)


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


class _WebDatasetWriter(_Writer):
    def write_shard(self, index, rows):
        rel = f"{self.split}-{index:06d}.tar"
        with tarfile.open(self.root / rel, "w", format=tarfile.USTAR_FORMAT) as tar:
            for row in rows:
                size = self._sizes(row)
                src, tgt = _png(row["source_image"], size, False), _png(row["target_image"], size, False)
                lab = labels(row, self.op_names, size)
                for lang in self.cfg.languages:
                    key = f"{row['id']}-{lang}"
                    meta = {"instruction": _instruction(row, lang), "language": lang, **lab}
                    _tar_add(tar, f"{key}.input.png", src)
                    _tar_add(tar, f"{key}.edited.png", tgt)
                    _tar_add(tar, f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode())
                    self.samples += 1
        self.files.append(rel)


class _JsonlWriter(_Writer):
    def __init__(self, *args):
        super().__init__(*args)
        (self.root / "images").mkdir()
        self.rel = f"{self.split}.jsonl"
        self.fh = open(self.root / self.rel, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish()

    def write_shard(self, index, rows):
        for row in rows:
            size = self._sizes(row)
            paths = {}
            for kind, mask in (("source", False), ("target", False), ("source_mask", True), ("target_mask", True)):
                column = kind if mask else f"{kind}_image"
                rel = f"images/{row['id']}_{kind}.png"
                (self.root / rel).write_bytes(_png(row[column], size, mask))
                paths[kind] = rel
            lab = labels(row, self.op_names, size)
            for lang in self.cfg.languages:
                line = {"source_image": paths["source"], "instruction": _instruction(row, lang),
                        "target_image": paths["target"], "source_mask": paths["source_mask"],
                        "target_mask": paths["target_mask"], "language": lang, **lab}
                self.fh.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
                self.samples += 1

    def finish(self):
        self.fh.close()
        self.files = [self.rel, "images/"]


WRITERS = {"diffusers": _DiffusersWriter, "webdataset": _WebDatasetWriter, "jsonl": _JsonlWriter}


# ----------------------------------------------------------------------------------------------
# driver: shuffle with bounded memory, then write shard by shard
# ----------------------------------------------------------------------------------------------
def _row_groups(shards: list[Path]) -> Iterator[pa.Table]:
    for path in shards:
        f = pq.ParquetFile(path)
        missing = [c for c in COLUMNS if c not in f.schema_arrow.names]
        if missing:
            raise ValueError(f"{path} is not a GSI record shard (missing columns {missing})")
        for g in range(f.num_row_groups):
            yield f.read_row_group(g, columns=list(COLUMNS))


def _spill(shards: list[Path], positions: np.ndarray, shard_size: int, tmp: Path) -> int:
    """Write each row into the Arrow stream of its output shard, tagged with its output position."""
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    start = 0
    try:
        for table in _row_groups(shards):
            pos = positions[start: start + table.num_rows]
            start += table.num_rows
            table = table.append_column(_POS, pa.array(pos, pa.int64()))
            buckets = pos // shard_size
            for b in np.unique(buckets):
                if b not in writers:
                    writers[b] = pa.ipc.new_stream(str(tmp / f"{b:06d}.arrow"), table.schema)
                writers[b].write_table(table.take(np.flatnonzero(buckets == b)))
    finally:
        for w in writers.values():
            w.close()
    return len(writers)


def export_train(data: str, out: str | Path, cfg: ExportConfig, config: str | None = None, split: str = "train",
                 progress: bool = True) -> ExportSummary:
    """Export ``config`` / ``split`` of ``data`` (a Hub-layout folder or a Hub dataset id) to ``out``.

    ``out`` must not exist yet (nothing is overwritten); on an error nothing is left there.
    """
    from tqdm.auto import tqdm

    from validation.evaluator.runner import resolve_data

    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another --out or delete it")
    shards = resolve_data(data, config, split)
    n = sum(pq.ParquetFile(p).metadata.num_rows for p in shards)
    if n == 0:
        raise ValueError(f"{data} has no rows in config {config!r}, split {split!r}")
    if cfg.seed is None:
        positions = np.arange(n)
    else:
        order = np.random.default_rng(cfg.seed).permutation(n)  # order[j] = input row at output j
        positions = np.empty(n, np.int64)
        positions[order] = np.arange(n)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        spill = staging / ".spill"
        spill.mkdir()
        n_shards = _spill(shards, positions, cfg.shard_size, spill)
        writer = WRITERS[cfg.format](staging, cfg, split, n_shards)
        bar = tqdm(total=n, unit="edit", desc=f"export {cfg.format}", disable=not progress)
        for b in range(n_shards):
            path = spill / f"{b:06d}.arrow"
            with pa.ipc.open_stream(str(path)) as reader:
                table = reader.read_all()
            table = table.take(pc.sort_indices(table, [(_POS, "ascending")])).drop_columns([_POS])
            rows = table.to_pylist()
            del table
            writer.write_shard(b, rows)
            path.unlink()
            bar.update(len(rows))
        bar.close()
        writer.finish()
        shutil.rmtree(spill)
        (staging / "gsi_export.json").write_text(json.dumps(
            {"source": str(data), "config": config, "split": split, "format": cfg.format, "language": cfg.language,
             "seed": cfg.seed, "resolution": cfg.resolution, "shard_size": cfg.shard_size, "edits": n,
             "samples": writer.samples}, indent=2, sort_keys=True) + "\n")
        os.chmod(staging, 0o755)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(out, n, writer.samples, writer.files)


# ----------------------------------------------------------------------------------------------
# CLI (registered by builders.cli under `gsi-bench export train`)
# ----------------------------------------------------------------------------------------------
def _cmd_export_train(args) -> int:
    import sys

    try:
        cfg = ExportConfig(format=args.format, language=args.language, seed=None if args.no_shuffle else args.seed,
                           resolution=args.resolution, shard_size=args.shard_size)
        summary = export_train(args.data, args.out, cfg, config=args.config, split=args.split, progress=not args.quiet)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {summary.edits} edits ({summary.samples} samples, {cfg.format}) to {summary.out_dir}")
    return 0


def register(subparsers) -> None:
    """Add ``train`` to the ``export`` subcommands."""
    from gsi_bench.argtypes import positive_int

    t = subparsers.add_parser("train", help="a training-ready copy of a split: diffusers Parquet, webdataset tars or JSONL",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("data", help="Hub-layout folder or Hub dataset id (namespace/name[@revision])")
    t.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    t.add_argument("--format", required=True, choices=FORMATS, help="output layout")
    t.add_argument("--config", default=None, help="subset folder under data/ (default: all)")
    t.add_argument("--split", default="train", help="split to export")
    t.add_argument("--language", default="en", choices=LANGUAGES, help="instruction language(s)")
    t.add_argument("--seed", type=int, default=0, help="shuffle seed (same seed → same bytes)")
    t.add_argument("--no-shuffle", action="store_true", help="keep the data order")
    t.add_argument("--resolution", type=positive_int, default=None, help="longer image side in px (default: as stored)")
    t.add_argument("--shard-size", type=positive_int, default=1000, help="edits per output shard")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_export_train)
