"""Dataset cards (``README.md`` with YAML front matter) and ``eval.yaml`` for a built Hub folder.

The card's YAML is computed from what the folder actually holds (see
:func:`builders.layout.discover_configs`), so its ``configs`` and ``dataset_info.splits`` always
match the shards; its ``dataset_info.features`` is :func:`gsi_bench.schema.features`, and its
field table is :data:`gsi_bench.schema.FIELD_DOCS`. The prose lives in ``cards/<kind>.md``
(``string.Template`` placeholders ``$name``).
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from builders.layout import ConfigFiles, discover_configs
from builders.card_assets import attribution_section, used_asset_ids, write_sample_figure
from builders.card_baselines import baseline_table
from gsi_bench.datasource import CARD_FILE
from gsi_bench.fileio import atomic_write_many
from gsi_bench.operations import OPERATION_FRAME, OPERATIONS
from gsi_bench.schema import features, field_docs_markdown
from validation.evaluator.hub_results import HEADLINE_METRIC

EVAL_FILE = "eval.yaml"

PAPER_TITLE = "Exploring Spatial Intelligence from a Generative Perspective"
ARXIV_ID = "2604.20570"
CITATION = f"""@inproceedings{{gsibench2026,
  title     = {{{PAPER_TITLE}}},
  author    = {{Zhu and Jiang and others}},
  booktitle = {{Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)}},
  year      = {{2026}},
  eprint    = {{{ARXIV_ID}}},
  archivePrefix = {{arXiv}}
}}"""

PAPER_NAMES = {
    "camera_relative_move": "Camera-Relative Movement", "object_relative_place": "Object Placement",
    "receptacle_place": "Receptacle Placement", "rotate": "Object Rotation", "scale": "Object Scaling",
    "remove": "Object Removal", "perspective": "Perspective Control",
}

#: Per kind of card: pretty name, licence, one-line summary.
KINDS: dict[str, dict[str, str]] = {
    "syn": {"pretty_name": "GSI-Bench: GSI-Syn", "license": "cc-by-4.0",
            "summary": "Synthetic spatially grounded image edits (tabletop and room scenes) with exact "
                       "3D labels: source / target images, masks, depth, instance maps, cameras, 3D boxes "
                       "and the full scene description of every edit."},
    "real": {"pretty_name": "GSI-Bench: GSI-Real", "license": "unknown",
             "summary": "Real-photo spatial edits of GSI-Bench in the typed GSI-Bench record. The "
                        "licence of the official release applies to the converted data."},
}


def template_dir() -> Path:
    """Folder holding the card templates: the ``cards`` package when installed, else the
    repository's ``cards/`` next to ``builders/``; ``GSI_CARDS_DIR`` overrides both."""
    if os.environ.get("GSI_CARDS_DIR"):
        return Path(os.environ["GSI_CARDS_DIR"])
    repo = Path(__file__).resolve().parent.parent / "cards"
    if repo.is_dir():
        return repo
    try:  # installed as a package (pyproject: include "cards*" + package data)
        from importlib.resources import files

        return Path(str(files("cards")))
    except ModuleNotFoundError as err:
        raise FileNotFoundError("card templates not found: set GSI_CARDS_DIR to the repository's cards/ folder") from err


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def card_metadata(configs: Sequence[ConfigFiles], kind: str = "syn",
                  default_config: str | None = None) -> dict[str, Any]:
    """The card's YAML front matter as a dict (license, task categories, configs, dataset_info)."""
    import datasets

    if not configs:
        raise ValueError("the folder holds no shards: nothing to describe (run `gsi-bench build` first)")
    meta = KINDS[kind]
    default = default_config or configs[0].name
    if default not in {c.name for c in configs}:
        raise ValueError(f"default config {default!r} is not among {[c.name for c in configs]}")
    yaml_configs = []
    infos = []
    feats = features()
    for c in configs:
        entry: dict[str, Any] = {"config_name": c.name, "data_files": c.data_files_yaml()}
        if c.name == default:
            entry["default"] = True
        yaml_configs.append(entry)
        splits = datasets.SplitDict({s: datasets.SplitInfo(s, num_bytes=c.bytes[s], num_examples=c.rows[s])
                                     for s in c.splits()})
        info = datasets.DatasetInfo(features=feats, splits=splits)._to_yaml_dict()
        infos.append({"config_name": c.name, **info})
    total_rows = sum(sum(c.rows.values()) for c in configs if c.operation is None)
    return {
        "license": meta["license"],
        "pretty_name": meta["pretty_name"],
        "language": ["en", "zh"],
        "task_categories": ["image-to-image"],
        "tags": ["image-editing", "spatial-reasoning", "3d", "benchmark", "synthetic" if kind == "syn" else "real"],
        "size_categories": [size_category(total_rows)],
        "configs": yaml_configs,
        "dataset_info": infos,
    }


def _config_table(configs: Sequence[ConfigFiles]) -> str:
    lines = ["| config | operation | split | rows |", "|---|---|---|---|"]
    for c in configs:
        for s in c.splits():
            lines.append(f"| `{c.name}` | {c.operation or 'all'} | {s} | {c.rows[s]} |")
    return "\n".join(lines)


def _operation_table() -> str:
    return "\n".join(f"| `{op}` | {PAPER_NAMES[op]} | {OPERATION_FRAME[op]} |" for op in OPERATIONS)


def _figure_markdown(figure: str | None) -> str:
    if figure is None:
        return "*(No sample figure: the folder was described without its records.)*"
    return (f"![Sample edits: source, target, masks (red: before, green: after) and instruction per row]({figure})\n\n"
            "*Each row: source render · target render · masks · the instruction and its checks.*")


def render_card(configs: Sequence[ConfigFiles], repo_id: str, kind: str = "syn",
                default_config: str | None = None, baselines: dict | None = None,
                root: str | Path | None = None, figure: str | None = None) -> str:
    """The full ``README.md`` text (YAML front matter + body from ``cards/<kind>.md``).

    ``root``: the Hub folder the configs describe; its scenes give the asset attribution list
    (every Sweet Home 3D model they use, :func:`builders.card_assets.attribution_section`).
    ``figure``: path (relative to the folder) of the sample figure the card shows.
    """
    meta = card_metadata(configs, kind, default_config)
    body_template = string.Template((template_dir() / f"{kind}.md").read_text(encoding="utf-8"))
    example = default_config or configs[0].name
    attribution = (attribution_section(used_asset_ids(root)) if root is not None
                   else "*(Attribution list written at build time from the data's scenes.)*\n")
    body = body_template.substitute(
        pretty_name=meta["pretty_name"], summary=KINDS[kind]["summary"], repo_id=repo_id,
        example_config=example, config_table=_config_table(configs), operation_table=_operation_table(),
        field_table=field_docs_markdown(), citation=CITATION,
        arxiv_id=ARXIV_ID, baseline_table=baseline_table(baselines or {}),
        asset_attribution=attribution, sample_figure=_figure_markdown(figure))
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=120)
    return f"---\n{front}---\n\n{body}"


def eval_metadata(configs: Sequence[ConfigFiles], kind: str = "syn") -> dict[str, Any]:
    """``eval.yaml``: the benchmark's tasks, one per subset config with a ``test`` split.

    ``evaluation_framework`` is ``gsi-bench`` (this package's evaluator); the Hub only shows the
    benchmark tag once that identifier is registered with it. The Hub's schema has no metric field,
    so the headline metric (the one ``.eval_results`` report, :data:`HEADLINE_METRIC`) is named in
    the description.
    """
    tasks = [{"id": c.name, "config": c.name, "split": "test"}
             for c in configs if c.operation is None and "test" in c.files]
    if not tasks:
        raise ValueError("no config has a test split: the benchmark has nothing to evaluate")
    return {
        "name": KINDS[kind]["pretty_name"],
        "description": f"Spatially grounded image editing ({', '.join(t['id'] for t in tasks)}); "
                       "scored on instruction compliance, spatial accuracy, edit locality and "
                       f"appearance consistency. Headline metric: {HEADLINE_METRIC} (0-100, the mean of "
                       "IC, SA, EL and AC; the IC-gated variant is reported beside it). "
                       f"Paper: arXiv {ARXIV_ID}.",
        "evaluation_framework": "gsi-bench",
        "tasks": tasks,
    }


def write_card(root: str | Path, repo_id: str, kind: str = "syn", default_config: str | None = None,
               baselines: dict | None = None) -> list[Path]:
    """Write ``README.md`` and ``eval.yaml`` into the Hub folder ``root`` (atomically) from its
    shards; for GSI-Syn also the sample figure (:data:`builders.card_assets.SAMPLE_FIGURE`, a
    contact sheet of test records that the card shows) and the attribution list of the models
    the scenes use. Returns the paths written."""
    root = Path(root)
    configs = discover_configs(root)
    figure = None
    if kind == "syn" and configs:
        example = default_config or configs[0].name
        subset = next((c.subset for c in configs if c.name == example), configs[0].subset)
        figure = write_sample_figure(root, subset)
    card = render_card(configs, repo_id, kind, default_config, baselines, root=root if kind == "syn" else None,
                       figure=figure)
    ev = yaml.safe_dump(eval_metadata(configs, kind), sort_keys=False, allow_unicode=True)
    out = atomic_write_many({root / CARD_FILE: card, root / EVAL_FILE: ev})
    if figure is not None:
        out.append(root / figure)
    return out
