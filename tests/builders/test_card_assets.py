"""The GSI-Syn card credits the Sweet Home 3D models its scenes use and shows a sample figure
stored in the Hub folder; validation and publishing accept the extra file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from builders.card import write_card
from builders.card_assets import SAMPLE_FIGURE, attribution_section, used_asset_ids
from gsi_bench.datasource import CARD_FILE
from gsi_syn.assets import sweethome3d as sh3d


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from builders.gsi_syn import build_syn_folder

    out = tmp_path_factory.mktemp("hub")
    build_syn_folder(out, subsets=("tabletop",), test_per_op=1, resolution=64, seed=3,
                     operations=("rotate", "remove"), progress=False)
    return out


def test_attribution_lists_each_used_model_with_author_and_licence():
    assets = sh3d.read_manifest()["assets"]
    picked = [assets[0]["id"], assets[100]["id"], "proc/table", "pybullet/mug"]
    text = attribution_section(picked)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`sh3d/" in line]
    assert len(rows) == 2
    for a in (assets[0], assets[100]):
        row = next(r for r in rows if f"`{a['id']}`" in r)
        assert a["licence"] in row and (a["author"] or "unknown") in row and f"{a['archive']}.sh3f" in row
    assert "No Sweet Home 3D model" in attribution_section(["proc/table"])


def test_built_card_shows_sample_figure_and_credits_the_models_of_its_scenes(folder):
    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    assert f"]({SAMPLE_FIGURE})" in card
    fig = Image.open(folder / SAMPLE_FIGURE)
    assert fig.width > 3 * 192 and fig.height >= 192 and np.asarray(fig).std() > 10
    used = [i for i in used_asset_ids(folder) if i.startswith("sh3d/")]
    if not used:
        pytest.skip("these scenes happen to use no Sweet Home 3D model")
    section = card.split("### Asset attribution", 1)[1]
    licences = {a["id"]: a["licence"] for a in sh3d.read_manifest()["assets"]}
    for asset_id in used:
        row = next(line for line in section.splitlines() if f"`{asset_id}`" in line)
        assert licences[asset_id] in row
    assert section.count("`sh3d/") == len(used)


def test_folder_with_figure_validates_and_publishes(folder):
    from builders.publish import plan_publish
    from validation.runner import RunConfig, validate

    report = validate(str(folder), RunConfig(integrity_only=True))
    assert report.passed, report.failed_checks()
    plan = plan_publish(folder, "org/gsi-syn")
    assert SAMPLE_FIGURE in [rel for rel, _ in plan.files]


def test_write_card_is_deterministic(folder):
    before = {p: (folder / p).read_bytes() for p in (CARD_FILE, SAMPLE_FIGURE)}
    paths = write_card(folder, "gsi-bench/syn", "syn", default_config="tabletop")
    assert folder / SAMPLE_FIGURE in paths
    assert before == {p: (folder / p).read_bytes() for p in (CARD_FILE, SAMPLE_FIGURE)}
    assert json.loads((folder / "gsi_checksums.json").read_text())["files"]
