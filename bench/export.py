"""Training-export throughput: edits/s of each format on one generated split (same data, same run),
with and without resizing; peak Python memory of the export at two split sizes (flat = streamed).

    python bench/export.py --num 80 --resolution 256
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from builders.export_train import FORMATS, ExportConfig, export_train
from gsi_syn.pipeline import generate
from gsi_syn.sampler import GenerationConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=80)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in (args.num // 2, args.num):
            generate(GenerationConfig(num=n, seed=21, resolution=args.resolution, shard_size=20), tmp / f"data{n}",
                     workers=args.workers, progress=False)
        data = tmp / f"data{args.num}"
        print(f"{args.num} edits at {args.resolution}px")
        for fmt in FORMATS:
            for res in (None, args.resolution // 2):
                t = time.perf_counter()
                export_train(str(data), tmp / f"{fmt}-{res}", ExportConfig(format=fmt, resolution=res, shard_size=20),
                             split="test", progress=False)
                rate = args.num / (time.perf_counter() - t)
                print(f"  {fmt:10s} resolution {res or 'as stored':>9}: {rate:7.1f} edits/s")
        for n in (args.num // 2, args.num):
            tracemalloc.start()
            export_train(str(tmp / f"data{n}"), tmp / f"mem{n}", ExportConfig(format="webdataset", shard_size=20),
                         split="test", progress=False)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  webdataset peak Python memory, N={n:4d}: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
