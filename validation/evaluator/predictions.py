"""Prediction sources: where each sample's predicted image comes from.

Three layouts are accepted (:func:`open_predictions` picks one):

* **folder** — ``<dir>/<id>.png`` (also ``.jpg``, ``.jpeg``, ``.webp``), ``id`` = a record id;
* **official** — ``eval/<model>/generated_images_<subset>/<img_id>_edit_<qid>.(png|jpg)`` (any folder
  whose files are named ``*_edit_*``); a file maps to the record whose id is ``<img_id>``,
  ``<img_id>_<qid>`` or ``<img_id>_edit_<qid>`` (first that exists);
* **dataset** — Parquet files (a Hub-layout folder or a single file) or a Hub id with columns
  ``id`` and ``image`` (``{"bytes", "path"}`` or PIL); only embedded bytes are read.

Nothing is dropped silently: files that name no record (``unknown``), several files for one record
(``duplicate``: the sample scores 0), names with path separators or ``..`` (``unsafe_name``),
symbolic links leaving the folder (``outside``) and files with extensions that are not images
(``not_image``) are all listed in :attr:`PredictionIndex.issues`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gsi_bench.datasource import REPO_ID_RE
from gsi_bench.fileio import read_regular_file
from validation.evaluator.imageops import MAX_PREDICTION_BYTES

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_OFFICIAL_RE = re.compile(r"^(?P<img>.+?)_edit_(?P<qid>[^.]+)$")


@dataclass
class PredictionIndex:
    """``locators``: record id → how to read its bytes; ``duplicates``: record id → the competing
    names; ``issues``: list of ``{"kind", "name", "detail"}``."""

    layout: str
    root: str
    locators: dict[str, tuple] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    issues: list[dict] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def issue(self, kind: str, name: str, detail: str) -> None:
        self.issues.append({"kind": kind, "name": name, "detail": detail})

    def read(self, record_id: str) -> bytes | None:
        """The prediction's bytes; None when there is none. Raises OSError on read failures."""
        loc = self.locators.get(record_id)
        if loc is None:
            return None
        if loc[0] == "file":  # type and size checked before opening: a FIFO or a huge file never hangs
            return read_regular_file(loc[1], MAX_PREDICTION_BYTES)
        if loc[0] == "parquet":
            return _read_parquet_cell(loc[1], loc[2], loc[3])
        if loc[0] == "bytes":
            return loc[1]
        raise ValueError(f"unknown locator {loc[0]!r}")


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") \
        and ".." not in name.split("/") and "\x00" not in name


def _add(index: PredictionIndex, rid: str, name: str, locator: tuple) -> None:
    if rid in index.locators or rid in index.duplicates:
        first = index.names.pop(rid, None)
        index.locators.pop(rid, None)
        index.duplicates.setdefault(rid, [first] if first else []).append(name)
        return
    index.locators[rid] = locator
    index.names[rid] = name


def index_folder(path: Path, record_ids: set[str], layout: str = "auto") -> PredictionIndex:
    """Index a folder of image files (flat ``<id>.png`` or the official ``*_edit_*`` names)."""
    root = path.resolve()
    files = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    if layout == "auto":
        stems = [p.name.split(".")[0] for p in files if p.is_file()]
        official = any(_OFFICIAL_RE.match(s) for s in stems) and not any(s in record_ids for s in stems)
        layout = "official" if official else "folder"
    index = PredictionIndex(layout=layout, root=str(path))
    for p in files:
        name = p.name
        if p.is_dir():
            index.issue("unexpected_folder", name, "sub-folders are not read")
            continue
        if not p.is_file():  # a FIFO, socket or device: never opened (reading a FIFO blocks)
            index.issue("not_regular_file", name, "not a regular file: refused")
            continue
        if p.is_symlink():
            try:
                p.resolve(strict=True).relative_to(root)
            except (ValueError, OSError):
                index.issue("outside", name, "symbolic link leaving the predictions folder: refused")
                continue
        suffix = p.suffix.lower()
        stem = name[: -len(p.suffix)] if p.suffix else name
        if suffix not in IMAGE_EXTENSIONS:
            index.issue("not_image", name, f"extension {suffix or '(none)'} is not one of {', '.join(IMAGE_EXTENSIONS)}")
            continue
        rid = _match_id(stem, record_ids, layout)
        if rid is None:
            index.issue("unknown", name, "names no record of the evaluated split")
            continue
        _add(index, rid, name, ("file", str(p)))
    return index


def _match_id(stem: str, record_ids: set[str], layout: str) -> str | None:
    if stem in record_ids:
        return stem
    if layout == "official":
        m = _OFFICIAL_RE.match(stem)
        if m:
            for cand in (m.group("img"), f"{m.group('img')}_{m.group('qid')}", stem):
                if cand in record_ids:
                    return cand
            # records converted from the release are named "<dataset folder>-<img_id>_edit_<qid>"
            converted = [r for r in record_ids if r.endswith("-" + stem)]
            if len(converted) == 1:
                return converted[0]
    return None


def _read_parquet_cell(path: str, row_group: int, row: int) -> bytes | None:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(row_group, columns=["image"])
    cell = table.column("image")[row].as_py()
    if isinstance(cell, dict):
        return cell.get("bytes")
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    return None


def index_parquet(paths: list[Path], record_ids: set[str], root: str) -> PredictionIndex:
    import pyarrow.parquet as pq

    index = PredictionIndex(layout="dataset", root=root)
    for path in paths:
        f = pq.ParquetFile(path)
        names = f.schema_arrow.names
        if "id" not in names or "image" not in names:
            index.issue("bad_dataset", path.name, f"needs columns 'id' and 'image', has {names}")
            continue
        for g in range(f.num_row_groups):
            ids = f.read_row_group(g, columns=["id"]).column("id").to_pylist()
            for r, rid in enumerate(ids):
                name = f"{path.name}[{g}:{r}]"
                if not isinstance(rid, str) or not _safe_name(rid):
                    index.issue("unsafe_name", name, f"id {rid!r} is empty or holds a path")
                    continue
                if rid not in record_ids:
                    index.issue("unknown", name, f"id {rid!r} names no record of the evaluated split")
                    continue
                _add(index, rid, f"{name} id={rid}", ("parquet", str(path), g, r))
    return index


def index_hub_dataset(repo_id: str, split: str, record_ids: set[str]) -> PredictionIndex:
    """Predictions published as a Hub dataset (read through ``datasets``; images not decoded)."""
    import datasets

    ds = datasets.load_dataset(repo_id, split=split)
    if "image" in ds.features and isinstance(ds.features["image"], datasets.Image):
        ds = ds.cast_column("image", datasets.Image(decode=False))
    index = PredictionIndex(layout="dataset", root=repo_id)
    for i, row in enumerate(ds):
        rid, img = row.get("id"), row.get("image")
        name = f"{repo_id}[{i}]"
        if not isinstance(rid, str) or not _safe_name(rid):
            index.issue("unsafe_name", name, f"id {rid!r} is empty or holds a path")
            continue
        if rid not in record_ids:
            index.issue("unknown", name, f"id {rid!r} names no record of the evaluated split")
            continue
        data = img.get("bytes") if isinstance(img, dict) else None
        _add(index, rid, name, ("bytes", data))
    return index


def open_predictions(spec: str | Path, record_ids: set[str], layout: str = "auto", split: str = "test") -> PredictionIndex:
    """Index predictions from a folder, a Parquet file / Hub-layout folder, or a Hub id."""
    path = Path(spec)
    if path.is_file() and path.suffix == ".parquet":
        return index_parquet([path], record_ids, str(path))
    if path.is_dir():
        parquet = sorted(path.rglob("*.parquet"))
        has_images = any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir())
        if layout == "dataset" or (parquet and not has_images and layout == "auto"):
            return index_parquet(parquet, record_ids, str(path))
        return index_folder(path, record_ids, layout)
    if not path.exists() and (m := REPO_ID_RE.fullmatch(str(spec))) and m.group("rev") is None:
        return index_hub_dataset(str(spec), split, record_ids)
    raise FileNotFoundError(f"predictions {spec} not found (expected a folder, a .parquet file or a Hub id)")
