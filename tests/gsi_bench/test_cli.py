"""The ``gsi-bench`` command line: one vocabulary, defaults in --help, bad values exit 2 with one
line, typed errors → exit codes, evaluate refuses a wrong config, leaderboard keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gsi_bench.cli import COMMANDS, build_parser, main

CLI = [sys.executable, "-m", "gsi_bench.cli"]


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def _leaf_commands() -> list[list[str]]:
    """Every runnable (sub)command, e.g. ['build', 'syn'] and ['real', 'run']."""
    leaves = []
    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        leaves += [[name, child] for child in nested[0].choices] if nested else [[name]]
    return leaves


def test_every_command_is_listed_and_shows_exit_codes(capsys):
    text = _help([], capsys)
    for name in COMMANDS:
        assert name in text
    assert "exit codes:" in text and "130" in text


@pytest.mark.parametrize("argv", _leaf_commands(), ids=lambda a: " ".join(a))
def test_help_shows_defaults_and_every_flag_has_help(argv, capsys):
    text = _help(argv, capsys)
    parser = build_parser(argv)
    for word in argv:  # walk down to the leaf parser
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[word]
    for action in parser._actions:
        if action.help == "==SUPPRESS==" or action.dest == "help":
            continue
        assert action.help, f"{' '.join(argv)} {action.option_strings or action.dest}: no help text"
        default = action.default
        if action.option_strings and default not in (None, False, []) and not isinstance(default, list):
            assert "(default:" in text, (argv, action.dest)
    assert "usage: gsi-bench " + " ".join(argv) in text.replace("\n", " ")


def test_same_thing_same_flag(capsys):
    """The dataset config is --config everywhere; sizes per operation are --per-op everywhere."""
    for argv in (["generate"], ["preview"], ["build", "syn"], ["build", "real"], ["install-cache"],
                 ["export-official"], ["evaluate"], ["baseline"]):
        text = _help(argv, capsys)
        assert "--config" in text, argv
        assert "--subset" not in text and "--configs" not in text, argv
    for argv in (["generate"], ["build", "syn"], ["demo"]):
        text = _help(argv, capsys)
        assert "--per-op" in text and "--num " not in text and "--test-per-op" not in text, argv


@pytest.mark.parametrize("args, value", [
    (["evaluate", "--data", "D", "--predictions", "P", "--out", "O", "--limit", "-1"], "-1"),
    (["evaluate", "--data", "D", "--predictions", "P", "--out", "O", "--limit", "0"], "0"),
    (["evaluate", "--data", "D", "--predictions", "P", "--out", "O", "--search-size", "0"], "0"),
    (["evaluate", "--data", "D", "--predictions", "P", "--out", "O", "--workers", "-3"], "-3"),
    (["generate", "syn", "--out", "O", "--seed", "-1"], "-1"),
    (["baseline", "identity", "--data", "D", "--out", "O", "--seed", "-1"], "-1"),
    (["real", "demo-captures", "--out", "O", "--seed", "-1"], "-1"),
    (["build", "syn", "--out", "O", "--resolution", "8"], "8"),
    (["generate", "syn", "--out", "O", "--per-op", "x"], "'x'"),
])
def test_bad_values_exit_2_with_one_line(tmp_path, args, value):
    done = subprocess.run(CLI + args, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("pybullet build time")]
    assert len(lines) == 1, done.stderr
    assert f"argument {args[-2]}: {value}" in lines[0] and "pass" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "O").exists()


def test_unusable_data_is_a_typed_error(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path / "none"), "--predictions", str(tmp_path),
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "none" in err[0]


def test_deprecated_spelling_warns_and_maps(capsys):
    args = build_parser(["build"]).parse_args(["build", "syn", "--out", "o", "--subsets", "room"])
    assert args.config == ["room"]
    assert "--subsets is deprecated; use --config" in capsys.readouterr().err


# -- evaluate: wrong config ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_configs(tmp_path_factory) -> dict[str, Path]:
    """A folder holding tabletop and room (2 rotate records each, 64 px) and identity predictions
    for the room records only."""
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig
    from validation.baselines import run_baseline

    root = tmp_path_factory.mktemp("two")
    data = root / "data"
    for subset in ("tabletop", "room"):
        generate(GenerationConfig(subset=subset, split="test", num=2, seed=0, resolution=64,
                                  operations=("rotate",)), data, progress=False)
    preds = root / "room-preds"
    run_baseline("identity", str(data), str(preds), config="room", split="test", progress=False)
    return {"data": data, "preds": preds, "root": root}


def test_evaluate_wrong_config_fails_and_missing_config_is_inferred(two_configs, tmp_path):
    data, preds = str(two_configs["data"]), str(two_configs["preds"])
    common = ["--predictions", preds, "--renderer", "raycast", "--search-size", "32", "--quiet"]
    done = subprocess.run(CLI + ["evaluate", "--data", data, "--config", "tabletop", "--out", str(tmp_path / "a"),
                                 *common], capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nothing scored" in done.stderr and "--config" in done.stderr
    done = subprocess.run(CLI + ["evaluate", "--data", data, "--out", str(tmp_path / "b"), *common],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--config room inferred" in done.stderr
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["dataset"]["config"] == "room"


def test_baseline_requires_config_when_data_has_several(two_configs, tmp_path, capsys):
    assert main(["baseline", "identity", "--data", str(two_configs["data"]), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "several configs (room, tabletop)" in err and "pass --config" in err
    assert not (tmp_path / "p").exists()


# -- leaderboard -----------------------------------------------------------------------------------
def _summary(folder: Path, config: str, protocol: str, avg: float, ok: int, n: int = 4) -> Path:
    folder.mkdir(parents=True)
    scores = {"ic": avg, "sa": avg, "el": avg, "ac": avg, "avg": avg, "n": n}
    (folder / "summary.json").write_text(json.dumps({
        "dataset": {"config": config}, "protocol": protocol, "overall": scores,
        "counts": {"total": n, "ok": ok, "missing": n - ok}}))
    return folder


def test_leaderboard_keys_runs_by_model_protocol_config(tmp_path, capsys):
    from validation.evaluator.leaderboard import load_entries

    runs = [_summary(tmp_path / "default" / "m1" / "tabletop", "tabletop", "default", 40.0, 4),
            _summary(tmp_path / "official" / "m1" / "tabletop", "tabletop", "official", 60.0, 4),
            _summary(tmp_path / "default" / "m2" / "tabletop", "tabletop", "default", 0.0, 0)]
    entries = load_entries(runs)
    assert sorted((e.model, e.protocol) for e in entries) == [("m1", "default"), ("m1", "official"), ("m2", "default")]
    m2 = next(e for e in entries if e.model == "m2")
    assert m2.overall() is None and entries[-1] is m2  # nothing scored: not a 0.0, ranked last
    assert main(["leaderboard", *map(str, runs), "--out", str(tmp_path / "board")]) == 0
    table = capsys.readouterr().out
    row = next(ln for ln in table.splitlines() if ln.startswith("m2"))
    assert "n/a" in row and "0.0" not in row
    assert any(ln.startswith("m1 (official)") and "60.0" in ln for ln in table.splitlines())
    board = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert {(b["model"], b["protocol"]) for b in board} == {("m1", "default"), ("m1", "official"), ("m2", "default")}
    assert next(b for b in board if b["model"] == "m2")["overall"] is None
    assert "n/a" in (tmp_path / "board" / "leaderboard.html").read_text()


def test_leaderboard_refuses_two_runs_with_one_key(tmp_path, capsys):
    a = _summary(tmp_path / "x" / "m1" / "room", "room", "default", 10.0, 4)
    b = _summary(tmp_path / "y" / "m1" / "room", "room", "default", 20.0, 4)
    assert main(["leaderboard", str(a), str(b)]) == 2
    assert "both model 'm1', protocol 'default', config 'room'" in capsys.readouterr().err
