"""Card content for researchers: paper link, licence section (data vs code vs assets), the baseline table
filled from evaluation reports at build time, and "how to evaluate your model" in five lines."""

from __future__ import annotations

import json
import re

import pytest

from builders.card import ARXIV_ID, render_card
from builders.card_baselines import PLACEHOLDER, baseline_table
from builders.layout import discover_configs


def _summary(avg: float, ok: int, total: int) -> dict:
    return {"protocol": "default", "counts": {"total": total, "ok": ok},
            "overall": {"n": total, "ic": 50.0, "sa": 60.0, "el": 70.0, "ac": avg, "avg": avg}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("card")
    generate(GenerationConfig(subset="tabletop", split="test", num=1, seed=2, resolution=64), out, progress=False)
    return out


@pytest.mark.parametrize("kind", ["syn", "real"])
def test_card_has_paper_licences_howto_and_baselines(hub, tmp_path, kind):
    rep = tmp_path / "identity"
    rep.mkdir()
    (rep / "summary.json").write_text(json.dumps(_summary(12.5, 3, 4)))
    text = render_card(discover_configs(hub), "org/GSI", kind, baselines={"identity": rep})
    assert f"https://arxiv.org/abs/{ARXIV_ID}" in text and f"huggingface.co/papers/{ARXIV_ID}" in text
    lic = text.split("## Licences", 1)[1].split("\n## ", 1)[0]
    assert "**Data**" in lic and "**Code**" in lic and "Apache-2.0" in lic
    howto = text.split("## How to evaluate your model", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in howto.strip().splitlines() if line.strip()]
    assert len(commands) <= 5 and any("gsi-bench evaluate --data org/GSI" in c for c in commands)
    row = next(line for line in text.splitlines() if line.startswith("| identity |"))
    assert re.search(r"\| 12\.5 \| 1 \|$", row)  # avg and the one unscored sample
    assert PLACEHOLDER not in text


def test_syn_licence_names_asset_licences_and_placeholder_without_reports(hub):
    text = render_card(discover_configs(hub), "org/GSI", "syn")
    assert PLACEHOLDER in text
    lic = text.split("## Licences", 1)[1].split("\n## ", 1)[0]
    assert "CC BY 4.0" in lic and "zlib" in lic and "MIT" in lic and "gsi-bench assets --list" in lic


def test_missing_report_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.json"):
        baseline_table({"x": tmp_path})
