"""Baseline editors: registered functions ``edit(record) -> uint8 (H, W, 3)``.

* ``identity`` — returns the source image (the "do nothing" editor);
* ``oracle`` — returns the ground-truth target image;
* ``cut-paste`` — a classical 2D editor: cuts the target's mask, moves / rotates / scales it in
  the image plane following the instructed 3D edit projected with the camera, and fills the hole
  (see :mod:`validation.baselines.cutpaste`); camera edits become 2D shifts / zooms;
* ``diffusers`` — an InstructPix2Pix-style ``diffusers`` pipeline from any checkpoint (Hub id or
  local path; :mod:`validation.baselines.diffusers_editor`).

``run_baseline`` writes ``<out>/<id>.png`` for every record (atomic per file, skipping files that
already exist so an interrupted run resumes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

EDITORS: dict[str, Callable] = {}


def register(name: str):
    def deco(factory):
        EDITORS[name] = factory
        return factory
    return deco


@register("identity")
def identity(**_):
    return lambda record: record.source_image


@register("oracle")
def oracle(**_):
    return lambda record: record.target_image


@register("cut-paste")
def cut_paste(**_):
    from validation.baselines.cutpaste import cut_paste_edit

    return cut_paste_edit


@register("diffusers")
def diffusers_editor(checkpoint: str | None = None, **kwargs):
    from validation.baselines.diffusers_editor import DiffusersEditor

    if not checkpoint:
        raise ValueError("the diffusers baseline needs --checkpoint (a Hub id or a local pipeline folder)")
    return DiffusersEditor(checkpoint, **kwargs)


def get_editor(name: str, **kwargs) -> Callable:
    if name not in EDITORS:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(sorted(EDITORS))}")
    return EDITORS[name](**kwargs)


def run_baseline(name: str, data: str, out: str, config: str | None = "tabletop", split: str = "test",
                 limit: int | None = None, progress: bool = False, **kwargs) -> int:
    """Write one ``<id>.png`` per record of ``data`` (a folder or a Hub dataset id; config / split)
    into ``out``; returns the count."""
    from PIL import Image

    from gsi_bench.hub_io import iter_records, list_shards
    from gsi_bench.datasource import resolve_dataset

    root = resolve_dataset(data, config, split).root  # a folder or a Hub dataset id
    if not list_shards(root, config, split):
        raise FileNotFoundError(f"no Parquet shards for config {config!r}, split {split!r} under {Path(root) / 'data'}")
    editor = get_editor(name, **kwargs)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    it = iter_records(root, config, split)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, unit="sample", desc=name)
    for record in it:
        if limit is not None and n >= limit:
            break
        path = out_dir / f"{record.id}.png"
        n += 1
        if path.exists():
            continue
        img = np.ascontiguousarray(editor(record), dtype=np.uint8)
        tmp = path.with_name(f".{path.name}.tmp")
        Image.fromarray(img).save(tmp, format="PNG")
        os.replace(tmp, path)
    return n
