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


class StepFailed(Exception):
    """A demo step exited non-zero; ``code`` is its exit status."""

    def __init__(self, title: str, code: int) -> None:
        super().__init__(f"step {title!r} failed with exit code {code}")
        self.code = code


def _step(title: str, argv: list[str]) -> None:
    from gsi_bench.cli import main

    print(f"\n== {title}\n$ gsi-bench {' '.join(argv)}", flush=True)
    code = main(argv)
    if code:
        raise StepFailed(title, code)


def run_demo(out: Path, per_op: int, resolution: int, workers: int, seed: int = 0, quiet: bool = False) -> int:
    """Run the whole loop into ``out`` (resumable: generated shards are reused); returns the exit
    code (that of the first failing step, 0 when all pass)."""
    try:
        _run_steps(out, per_op, resolution, workers, seed, quiet)
    except StepFailed as err:
        print(f"demo stopped: {err}")
        return err.code
    return 0


def _run_steps(out: Path, per_op: int, resolution: int, workers: int, seed: int, quiet: bool) -> None:
    q = ["--quiet"] if quiet else []
    data = out / "data-folder"
    for subset in DEMO_SUBSETS:
        _step(f"generate {subset}", ["generate", "syn", "--config", subset, "--split", "test", "--per-op", str(per_op),
                                    "--seed", str(seed), "--out", str(data), "--resolution", str(resolution),
                                    "--workers", str(workers), *q])
    for subset in DEMO_SUBSETS:
        _step(f"preview {subset}", ["preview", str(data), "--config", subset, "--out", str(out / f"preview-{subset}.png"),
                                   "--limit", str(min(7, per_op * 7))])
    _step("validate", ["validate", str(data), "--out", str(out / "validation.json"), "--workers", str(workers), *q])
    reports = []
    for baseline in DEMO_BASELINES:
        for subset in DEMO_SUBSETS:
            preds = out / "predictions" / baseline / subset
            _step(f"baseline {baseline} on {subset}", ["baseline", baseline, "--data", str(data), "--config", subset,
                                                      "--out", str(preds), *q])
            report = out / "eval" / baseline / subset
            _step(f"evaluate {baseline} on {subset}", ["evaluate", "--data", str(data), "--config", subset,
                                                      "--predictions", str(preds), "--out", str(report),
                                                      "--workers", str(workers), *q])
            reports.append(report)
    entries = load_entries(reports)
    write_outputs(entries, out, reports)
    print("\n== leaderboard\n" + format_table(entries))
    print(f"\nreports: {out / 'leaderboard.html'} (links to each baseline's report.html); "
          f"contact sheets: {out / 'preview-tabletop.png'}, {out / 'preview-room.png'}")
