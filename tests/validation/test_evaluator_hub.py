"""``gsi-bench evaluate --data`` (and ``baseline --data``) with a Hub dataset id, resolved offline
from a hub-cache snapshot that ``gsi-bench install-cache`` placed in a temporary HF_HOME; unknown
ids end with exit code 2 and a message naming the id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moderngl")

from gsi_bench.cli import main as cli_main

REPO = "test-org/tiny"
NUM = 7


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "XDG_CACHE_HOME")}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1")
    return env


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gsi_bench.cli", *args], env=env, capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A generated 7-record tabletop folder with a card, installed as ``test-org/tiny`` in a fresh
    HF_HOME, plus oracle predictions for it."""
    from builders.card import write_card
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig
    from validation.baselines import run_baseline

    base = tmp_path_factory.mktemp("hubeval")
    folder = base / "tiny"
    generate(GenerationConfig(subset="tabletop", split="test", num=NUM, seed=0, resolution=64), folder, progress=False)
    write_card(folder, REPO)
    env = _env(base / "hf")
    proc = _cli(["install-cache", str(folder), "--repo-id", REPO], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any((base / "hf" / "hub" / "datasets--test-org--tiny" / "snapshots").iterdir())
    preds = base / "oracle"
    assert run_baseline("oracle", str(folder), str(preds)) == NUM
    return {"folder": folder, "env": env, "home": base / "hf", "preds": preds}


def test_evaluate_by_hub_id_offline_matches_folder(hub, tmp_path):
    out_hub, out_dir = tmp_path / "by-id", tmp_path / "by-folder"
    proc = _cli(["evaluate", "--data", REPO, "--predictions", str(hub["preds"]), "--out", str(out_hub), "--quiet"],
                hub["env"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{NUM} samples ({NUM} scored" in proc.stdout
    by_id = json.loads((out_hub / "summary.json").read_text())
    assert by_id["counts"]["total"] == by_id["counts"]["ok"] == NUM
    ds = by_id["dataset"]
    assert ds["path"] == REPO
    assert ds["revision"]["hub"]["repo_id"] == REPO and len(ds["revision"]["hub"]["commit"]) == 40
    assert ds["revision"]["checksums_manifest"] is True

    assert cli_main(["evaluate", "--data", str(hub["folder"]), "--predictions", str(hub["preds"]),
                     "--out", str(out_dir), "--quiet"]) == 0
    by_folder = json.loads((out_dir / "summary.json").read_text())
    assert "hub" not in by_folder["dataset"]["revision"]
    # same shards, same scores
    assert by_folder["dataset"]["revision"]["sha256"] == ds["revision"]["sha256"]
    assert by_folder["per_operation"] == by_id["per_operation"] and by_folder["overall"] == by_id["overall"]
    assert by_id["overall"]["ic"] >= 95


def test_unknown_hub_id_exits_2_naming_it(hub, tmp_path):
    proc = _cli(["evaluate", "--data", "test-org/missing", "--predictions", str(hub["preds"]),
                 "--out", str(tmp_path / "r"), "--quiet"], hub["env"])
    assert proc.returncode == 2
    assert "test-org/missing" in proc.stderr and "Traceback" not in proc.stderr
    assert "install-cache" in proc.stderr  # says how to fix it offline
    assert not (tmp_path / "r" / "summary.json").exists()


def test_in_process_resolution_reads_env_now(hub, tmp_path, monkeypatch, capsys):
    """The resolver reads HF_HOME / HF_HUB_OFFLINE when called (huggingface_hub reads them at import)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(hub["home"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from gsi_bench.datasource import resolve_dataset

    src = resolve_dataset(REPO, "tabletop", "test")
    assert src.repo_id == REPO and (src.root / "data" / "tabletop").is_dir()
    assert resolve_dataset(f"{REPO}@main", "tabletop", "test").root == src.root
    # the baseline runner takes a Hub id too
    assert cli_main(["baseline", "identity", "--data", REPO, "--out", str(tmp_path / "ident"), "--quiet"]) == 0
    assert len(list((tmp_path / "ident").glob("*.png"))) == NUM
    capsys.readouterr()

    for bad in ("test-org/missing", f"{REPO}@no-such-branch"):
        assert cli_main(["evaluate", "--data", bad, "--predictions", str(hub["preds"]),
                         "--out", str(tmp_path / "r"), "--quiet"]) == 2
        assert bad.split("@")[0] in capsys.readouterr().err
    assert cli_main(["evaluate", "--data", "./no/such/folder", "--predictions", str(hub["preds"]),
                     "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "no such folder" in capsys.readouterr().err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert cli_main(["evaluate", "--data", str(a_file), "--predictions", str(hub["preds"]),
                     "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
