"""Per-record edit statistics of a generated GSI-Syn folder: the edited object's area in the source
and target masks, the changed-pixel fraction per operation, the receptacle placements used, and
how removals name their target (category instances present, referring expression).

    python bench/edit_stats.py DIR room
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from gsi_bench.hub_io import iter_records  # noqa: E402


def edit_statistics(root: Path, subset: str) -> dict:
    """Figures over the records under ``root`` (see module docstring); areas are fractions of
    the image area."""
    src_area, tgt_area, changed = [], [], defaultdict(list)
    placements, remove_counts, referring, examples = Counter(), Counter(), Counter(), []
    for rec in iter_records(root, subset):
        h, w = rec.source_instances.shape
        changed[rec.operation].append(float(np.count_nonzero(rec.source_instances != rec.target_instances)) / (h * w))
        if rec.operation == "perspective":
            continue
        src_area.append(float(np.count_nonzero(rec.source_mask)) / (h * w))
        if rec.target_present:
            tgt_area.append(float(np.count_nonzero(rec.target_mask)) / (h * w))
        if rec.operation == "receptacle_place":
            placements[rec.params.placement] += 1
        if rec.operation == "remove":
            objs = json.loads(rec.scene)["source"]["objects"]
            remove_counts[sum(o["category"] == rec.target.category for o in objs)] += 1
            referring[rec.target.referring_expression or "(none)"] += 1
            if len(examples) < 4:
                examples.append(rec.instruction)
    return {"src_area": np.array(src_area), "tgt_area": np.array(tgt_area), "changed": changed,
            "placements": placements, "remove_counts": remove_counts, "referring": referring,
            "examples": examples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("subset")
    args = ap.parse_args()
    s = edit_statistics(args.dir, args.subset)
    for name in ("src_area", "tgt_area"):
        a = s[name] * 100
        print(f"{name} % of image: min {a.min():.2f}  p10 {np.percentile(a, 10):.2f}  median {np.median(a):.2f}  "
              f"under 0.5 %: {np.mean(a < 0.5) * 100:.0f} %  under 1 %: {np.mean(a < 1.0) * 100:.0f} % (n={len(a)})")
    allc = np.concatenate([np.array(v) for v in s["changed"].values()]) * 100
    print(f"changed % of image: min {allc.min():.3f}  p10 {np.percentile(allc, 10):.3f}  "
          f"median {np.median(allc):.2f}  under 0.25 %: {np.mean(allc < 0.25) * 100:.0f} %")
    for op, v in sorted(s["changed"].items()):
        v = np.array(v) * 100
        print(f"  {op:22s} n={len(v):3d}  min {v.min():.3f}  median {np.median(v):.2f} %")
    n = sum(s["placements"].values())
    print("placements:", ", ".join(f"{k} {c / n * 100:.0f} %" for k, c in s["placements"].most_common()), f"(n={n})")
    print("remove: instances of the category in the scene:", dict(sorted(s["remove_counts"].items())),
          " referring:", dict(s["referring"]))
    for e in s["examples"]:
        print("  e.g.", e)


if __name__ == "__main__":
    main()
