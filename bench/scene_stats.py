"""Scene statistics of generated GSI-Syn records: how much a view shows and how large the edit is.

Generates ``--num`` records of a subset (or reads a folder written by ``gsi-bench generate``) and
prints, over the records: movable objects visible in the source image (at least the validity
checks' minimum visible area), pieces of furniture / supports in the scene, the edited object's
area fraction in the source image (object edits only) — median, percentiles and the share under
1 % — the changed-pixel fraction, the models (asset ids) and categories used by the scenes'
movable objects and furniture (floor and walls left out), and the share of Sweet Home 3D models.

    python bench/scene_stats.py --subset room --num 140 --resolution 256 --workers 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from gsi_bench.hub_io import iter_records  # noqa: E402
from gsi_syn.pipeline import generate  # noqa: E402
from gsi_syn.sampler import GenerationConfig  # noqa: E402


def scene_statistics(root: Path, subset: str) -> dict:
    """Per-record figures of the records under ``root`` (see module docstring)."""
    visible, supports, area, changed, cats, models = [], [], [], [], Counter(), Counter()
    for rec in iter_records(root, subset):
        spec = json.loads(rec.scene)["source"]
        objs = spec["objects"]
        movable = {o["instance_id"]: o for o in objs if o["role"] in ("object", "receptacle")}
        h, w = rec.source_instances.shape
        th = json.loads(rec.checks.thresholds)
        ids, n = np.unique(rec.source_instances, return_counts=True)
        visible.append(sum(1 for i, c in zip(ids, n) if int(i) in movable and c >= th["min_visible_area"] * h * w))
        supports.append(sum(1 for o in objs if o["role"] == "support"))
        cats.update(o["category"] for o in movable.values())
        models.update(o["asset_id"] for o in objs if o["category"] not in ("floor", "wall"))
        if rec.operation != "perspective":
            area.append(float(np.count_nonzero(rec.source_mask)) / (h * w))
        changed.append(float(rec.checks.changed_pixel_fraction))
    return {"records": len(visible), "visible": np.array(visible), "supports": np.array(supports),
            "area": np.array(area), "changed": np.array(changed), "categories": cats,
            "models": models}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", default="room")
    ap.add_argument("--num", type=int, default=140)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, help="read this generated folder instead of generating")
    args = ap.parse_args()
    root = args.dir
    tmp = None
    if root is None:
        root = tmp = Path(tempfile.mkdtemp(prefix="gsi-stats-"))
        cfg = GenerationConfig(subset=args.subset, split="test", num=args.num, seed=args.seed,
                               resolution=args.resolution, shard_size=args.num + args.num % 2)
        generate(cfg, root, workers=args.workers, progress=False)
    try:
        s = scene_statistics(root, args.subset)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp)
    a = s["area"] * 100
    print(f"{args.subset}: {s['records']} records")
    print(f"  movable objects visible: median {np.median(s['visible']):.1f}  mean {s['visible'].mean():.2f}  "
          f"p10 {np.percentile(s['visible'], 10):.0f}  p90 {np.percentile(s['visible'], 90):.0f}")
    print(f"  supports / furniture in scene: median {np.median(s['supports']):.1f}  mean {s['supports'].mean():.2f}")
    print(f"  target area % of image: median {np.median(a):.2f}  p10 {np.percentile(a, 10):.2f}  "
          f"p90 {np.percentile(a, 90):.2f}  under 1 %: {np.mean(a < 1.0) * 100:.0f} % of {len(a)} object edits")
    print(f"  changed-pixel fraction: median {np.median(s['changed']) * 100:.2f} %")
    print(f"  categories used (movable objects): {len(s['categories'])}")
    sh3d = sum(n for m, n in s["models"].items() if m.startswith("sh3d/"))
    print(f"  models used (objects and furniture): {len(s['models'])}  "
          f"({sum(m.startswith('sh3d/') for m in s['models'])} Sweet Home 3D; "
          f"{sh3d / max(sum(s['models'].values()), 1) * 100:.0f} % of placed instances)")


if __name__ == "__main__":
    main()
