"""The main job on the embedded default: generate a small test split of both GSI-Syn subsets,
validate it, run the baselines, score them, print a leaderboard and write the HTML reports.

Every step is an ordinary ``gsi-bench`` subcommand run in-process, so the demo exercises exactly
what users run; the first failing step stops it with its exit code.
"""

from __future__ import annotations

from pathlib import Path

from validation.evaluator.leaderboard import format_table, load_entries, write_outputs

DEMO_SUBSETS = ("tabletop", "room")
DEMO_BASELINES = ("identity", "cut-paste", "oracle")


def run_demo(out: Path, per_op: int, resolution: int, workers: int, seed: int = 0, quiet: bool = False) -> int:
    """Run the whole loop into ``out`` (resumable: generated shards are reused)."""
    from gsi_bench.cli import main
    from gsi_syn.sampler import SUBSET_OPERATIONS

    def step(title: str, argv: list[str]) -> None:
        print(f"\n== {title}\n$ gsi-bench {' '.join(argv)}", flush=True)
        code = main(argv)
        if code:
            raise SystemExit(code)

    q = ["--quiet"] if quiet else []
    data = out / "data-folder"
    for subset in DEMO_SUBSETS:
        num = per_op * len(SUBSET_OPERATIONS[subset])
        step(f"generate {subset}", ["generate", "syn", "--subset", subset, "--split", "test", "--num", str(num),
                                    "--seed", str(seed), "--out", str(data), "--resolution", str(resolution),
                                    "--workers", str(workers), *q])
    for subset in DEMO_SUBSETS:
        step(f"preview {subset}", ["preview", str(data), "--config", subset, "--out", str(out / f"preview-{subset}.png"),
                                   "--num", str(min(7, per_op * 7))])
    step("validate", ["validate", str(data), "--out", str(out / "validation.json"), "--workers", str(workers), *q])
    reports = []
    for baseline in DEMO_BASELINES:
        for subset in DEMO_SUBSETS:
            preds = out / "predictions" / baseline / subset
            step(f"baseline {baseline} on {subset}", ["baseline", baseline, "--data", str(data), "--config", subset,
                                                      "--out", str(preds), *q])
            report = out / "eval" / baseline / subset
            step(f"evaluate {baseline} on {subset}", ["evaluate", "--data", str(data), "--config", subset,
                                                      "--predictions", str(preds), "--out", str(report),
                                                      "--workers", str(workers), *q])
            reports.append(report)
    entries = load_entries(reports)
    write_outputs(entries, out, reports)
    print("\n== leaderboard\n" + format_table(entries))
    print(f"\nreports: {out / 'leaderboard.html'} (links to each baseline's report.html); "
          f"contact sheets: {out / 'preview-tabletop.png'}, {out / 'preview-room.png'}")
    return 0
