"""Dataset card and eval.yaml: the YAML parses, matches the shards, and documents every feature."""

import glob

import pytest
import yaml

from builders.card import ARXIV_ID, render_card
from gsi_bench.datasource import read_card_metadata
from builders.gsi_syn import build_syn_folder
from builders.layout import discover_configs
from gsi_bench.hub_io import list_shards
from gsi_bench.schema import FIELD_DOCS, features


@pytest.fixture(autouse=True)
def _offline_tmp_caches(tmp_path, monkeypatch):
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("card") / "syn"
    build_syn_folder(root, subsets=["tabletop"], test_per_op=1, train_per_op=1, resolution=64, progress=False)
    return root


def _leaf_names(feature, prefix=""):
    """Dotted names of the leaves of a Features tree (struct members joined with dots)."""
    if isinstance(feature, dict):
        for k, v in feature.items():
            yield from _leaf_names(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


def test_card_yaml_parses_and_matches_the_shards(folder):
    meta = read_card_metadata(folder)
    assert meta["license"] and meta["task_categories"] == ["image-to-image"]
    names = [c["config_name"] for c in meta["configs"]]
    assert names[0] == "tabletop" and meta["configs"][0].get("default") is True
    assert len(names) == 8 and len(set(names)) == 8
    covered = set()
    for c in meta["configs"]:
        splits = {d["split"] for d in c["data_files"]}
        assert splits == {"test", "train"}, c["config_name"]
        for d in c["data_files"]:
            paths = d["path"] if isinstance(d["path"], list) else [d["path"]]
            matched = sorted(m for p in paths for m in glob.glob(str(folder / p)))
            assert matched, (c["config_name"], d)
            if c["config_name"] != "tabletop":
                covered.update(matched)
    # operation configs partition the subset's shards exactly (no duplicates, nothing left out)
    assert covered == {str(p) for p in list_shards(folder, "tabletop")}
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert set(infos) == set(names)
    from datasets import Features

    for c in discover_configs(folder):
        info = infos[c.name]
        assert Features._from_yaml_list(info["features"]) == features()
        assert {s["name"]: s["num_examples"] for s in info["splits"]} == c.rows


def test_every_feature_is_documented_in_the_card(folder):
    documented = {d.name for d in FIELD_DOCS}
    leaves = set(_leaf_names(features()))
    assert leaves <= documented, leaves - documented
    text = (folder / "README.md").read_text()
    for d in FIELD_DOCS:
        assert f"| `{d.name}` |" in text
    assert ARXIV_ID in text and "CVPR" in text
    for section in ("## How the data was made", "## Intended use", "## Limitations", "## Citation"):
        assert section in text
    assert "$" not in text.split("---", 2)[2].replace("$$", "")  # every template placeholder filled


def test_eval_yaml_registers_subset_tasks(folder):
    ev = yaml.safe_load((folder / "eval.yaml").read_text())
    assert ev["evaluation_framework"] == "gsi-bench"
    assert ev["tasks"] == [{"id": "tabletop", "config": "tabletop", "split": "test"}]
    configs = {c["config_name"] for c in read_card_metadata(folder)["configs"]}
    assert all(t["config"] in configs for t in ev["tasks"])


def test_card_refuses_an_empty_folder(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match="no shards"):
        render_card(discover_configs(tmp_path), "gsi-bench/syn")


def test_load_by_card_yaml_only_train_split(folder):
    from datasets import load_dataset

    ds = load_dataset(str(folder), "tabletop-scale", split="train")
    assert len(ds) == 1 and ds.features["operation"].int2str(ds[0]["operation"]) == "scale"
