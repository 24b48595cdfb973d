"""Where GSI-Syn generation spends its scenes: per operation, per accepted record, how many scenes
were sampled, how many were dropped before rendering or after it (no target large enough, plan
not realisable), how many proposals came back empty or were not worth rendering, how many were
rendered, and which checks rejected the rendered ones.

Runs the sampler in this process (one GL renderer) with counters wrapped around its steps, so
the figures are exact for the given seed; CPU seconds per record are printed too.

    python bench/rejections.py --subset room --num 28
    python bench/rejections.py --subset tabletop --num 16 --operations receptacle_place
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from gsi_syn import sampler as S  # noqa: E402
from gsi_syn.render.base import get_renderer  # noqa: E402


def rejection_table(cfg: S.GenerationConfig) -> tuple[dict[str, collections.Counter], float]:
    """(operation → counters, CPU seconds) of generating every unit of ``cfg``."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    pending = {"scenes": 0}
    orig = {name: getattr(S, name) for name in ("_sample_scene", "_scene_can_host", "_propose",
                                                  "_worth_rendering", "_may_host") if hasattr(S, name)}

    def sample(*a, **k):
        pending["scenes"] += 1
        return orig["_sample_scene"](*a, **k)

    def attribute(op: str) -> None:  # a sampled scene counts for the record that tests it
        counts[op]["scenes"] += pending["scenes"]
        pending["scenes"] = 0

    def may_host(op, *a, **k):
        ok = orig["_may_host"](op, *a, **k)
        if not ok:
            attribute(op)
            counts[op]["dropped before render"] += 1
        return ok

    def host(op, state, targets, plan, th):
        attribute(op)
        ok = orig["_scene_can_host"](op, state, targets, plan, th)
        counts[op]["hosted" if ok else "dropped after render"] += 1
        return ok

    def propose(op, *a, **k):
        p = orig["_propose"](op, *a, **k)
        counts[op]["proposals"] += 1
        counts[op]["empty proposals"] += p is None
        return p

    def worth(p, targets, target_pixels):
        ok = orig["_worth_rendering"](p, targets, target_pixels)
        counts[p.operation]["worth rendering (repeats incl.)" if ok else "not worth rendering"] += 1
        return ok

    def on_reject(op: str, failed: list[str]) -> None:
        for name in failed:
            counts[op][f"check {name}"] += 1

    for name, fn in (("_sample_scene", sample), ("_scene_can_host", host), ("_propose", propose),
                     ("_worth_rendering", worth), ("_may_host", may_host)):
        if name in orig:  # older samplers have no pre-render test
            setattr(S, name, fn)
    try:
        renderer = get_renderer(cfg.renderer)
        t0 = time.process_time()
        for unit in range(cfg.num_units):
            for rec in S.generate_unit(cfg, unit, renderer, on_reject=on_reject):
                counts[rec.operation]["records"] += 1
        cpu = time.process_time() - t0
    finally:
        for name, fn in orig.items():
            setattr(S, name, fn)
    return counts, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", default="room")
    ap.add_argument("--num", type=int, default=28)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--operations", default="", help="comma-separated (default: all of the subset's)")
    args = ap.parse_args()
    ops = tuple(o for o in args.operations.split(",") if o)
    cfg = S.GenerationConfig(subset=args.subset, split="test", num=args.num, seed=args.seed,
                             resolution=args.resolution, operations=ops)
    counts, cpu = rejection_table(cfg)
    first = ["records", "scenes", "dropped before render", "dropped after render", "hosted", "proposals",
             "empty proposals", "not worth rendering", "worth rendering (repeats incl.)"]
    keys = first + sorted({k for c in counts.values() for k in c} - set(first))
    print(f"{args.subset} seed={args.seed} num={args.num} resolution={args.resolution}: {cpu:.1f} CPU s, "
          f"{cpu / args.num:.3f} CPU s per record (one process)")
    print("per accepted record (totals in brackets):")
    for i, k in enumerate(keys):
        print(f"  [{i}] {k}")
    print("operation".ljust(22) + "".join(f"[{i}]".rjust(13) for i in range(len(keys))))
    total: collections.Counter = collections.Counter()
    for op in [*cfg.operations, "all"]:
        c = total if op == "all" else counts[op]
        if op != "all":
            total.update(c)
        n = max(c["records"], 1)
        print(op.ljust(22) + "".join(f"{c[k] / n:6.1f}({c[k]:4d})" for k in keys))


if __name__ == "__main__":
    main()
