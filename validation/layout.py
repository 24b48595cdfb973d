"""What a dataset folder holds: the card's configs (or the folder structure) and the shards they reference.

A dataset folder follows DESIGN §5: ``data/<config>/<split>-NNNNN-of-MMMMM.parquet`` plus, when a
builder wrote it, a ``README.md`` card whose YAML front matter lists ``configs`` with their
``data_files`` (``[{split, path}]``; ``path`` a glob or a list of globs, relative to the root).
Without a card the folder structure itself defines the configs.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from gsi_bench.datasource import card_configs
from gsi_bench.errors import InvalidInput
from gsi_bench.hub_io import SHARD_RE
from gsi_bench.schema import SPLITS


@dataclass
class ShardInfo:
    """One Parquet shard: ``rel`` is its POSIX path relative to the root."""

    path: Path
    rel: str
    config: str
    split: str
    index: int | None = None
    total: int | None = None


@dataclass
class Layout:
    """The configs (name → {split → [glob]}) and the shards they reference."""

    root: Path
    configs: dict[str, dict[str, list[str]]]
    from_card: bool
    shards: list[ShardInfo] = field(default_factory=list)
    #: (check message, file) problems found while reading the layout
    problems: list[tuple[str, str]] = field(default_factory=list)


def discover(root: Path) -> Layout:
    """Read the configs (card first, folder structure otherwise) and assign shards to them."""
    files = sorted(p for p in (root / "data").rglob("*") if p.is_file()) if (root / "data").is_dir() else []
    rels = {p.relative_to(root).as_posix(): p for p in files}
    problems: list[tuple[str, str]] = []
    try:
        card = card_configs(root)
    except InvalidInput as err:
        card = None
        problems.append((str(err), "README.md"))
    shards: list[ShardInfo] = []
    if card is not None:
        claimed: set[str] = set()
        for config, splits in card.items():
            for split, globs in splits.items():
                for pattern in globs:
                    hits = [r for r in rels if fnmatch.fnmatchcase(r, pattern) and not _hidden(r)]
                    if not hits:
                        problems.append((f"config {config!r} split {split!r}: data_files {pattern!r} matches no file", "README.md"))
                    for r in hits:
                        claimed.add(r)
                        shards.append(_shard(rels[r], r, config, split, problems))
        for r in rels:
            if r.endswith(".parquet") and r not in claimed and not _hidden(r):
                problems.append(("shard is not referenced by any config of README.md", r))
        layout = Layout(root, card, True, shards, problems)
    else:
        configs: dict[str, dict[str, list[str]]] = {}
        for r, p in rels.items():
            if _hidden(r):
                continue
            parts = r.split("/")
            if len(parts) != 3 or not r.endswith(".parquet"):
                problems.append(("unexpected file: shards live at data/<config>/<split>-NNNNN-of-MMMMM.parquet", r))
                continue
            m = SHARD_RE.match(parts[2])
            split = m.group("split") if m else parts[2].split("-")[0]
            configs.setdefault(parts[1], {}).setdefault(split, []).append(r)
            shards.append(_shard(p, r, parts[1], split, problems))
        layout = Layout(root, configs, False, shards, problems)
    if not layout.shards and not problems:
        problems.append(("no Parquet shards under data/", "data"))
    return layout


def _hidden(rel: str) -> bool:
    """Temp files of an interrupted atomic write (``.name.tmp``) are not part of the dataset."""
    return any(part.startswith(".") for part in rel.split("/"))


def _shard(path: Path, rel: str, config: str, split: str, problems: list[tuple[str, str]]) -> ShardInfo:
    m = SHARD_RE.match(path.name)
    if not m:
        problems.append(("shard name is not <split>-NNNNN-of-MMMMM.parquet", rel))
        return ShardInfo(path, rel, config, split)
    if m.group("split") != split:
        problems.append((f"file name says split {m.group('split')!r} but the config assigns it to {split!r}", rel))
    if split not in SPLITS:
        problems.append((f"split {split!r} is not one of {SPLITS}", rel))
    return ShardInfo(path, rel, config, split, int(m.group("index")), int(m.group("total")))


def _numbering_groups(shards: list[ShardInfo]) -> dict[tuple[str, str], dict[int, set[int]]]:
    """(folder, split) → {MMMMM total → indices present}."""
    groups: dict[tuple[str, str], dict[int, set[int]]] = {}
    for s in shards:
        if s.index is not None and s.total is not None:
            folder = s.rel.rsplit("/", 1)[0]
            groups.setdefault((folder, s.split), {}).setdefault(s.total, set()).add(s.index)
    return groups


def _dominant_total(totals: dict[int, set[int]]) -> int:
    """The numbering most shards of a folder/split agree on (ties: the more complete set)."""
    return max(totals, key=lambda t: (len(totals[t]), len(totals[t]) / t, -t))


def missing_by_numbering(shards: list[ShardInfo]) -> list[str]:
    """Shard paths implied by ``-NNNNN-of-MMMMM`` numbering that are absent (per folder and split,
    for the numbering most of its shards use; shards numbered otherwise are
    :func:`stray_by_numbering`, not evidence of missing ones)."""
    missing = []
    for (folder, split), totals in sorted(_numbering_groups(shards).items()):
        total = _dominant_total(totals)
        have = totals[total]
        missing += [f"{folder}/{split}-{i:05d}-of-{total:05d}.parquet" for i in range(total) if i not in have]
    return missing


def stray_by_numbering(shards: list[ShardInfo]) -> list[tuple[str, int]]:
    """``(path, expected total)`` of shards whose ``-of-MMMMM`` disagrees with the other shards of
    their folder and split (an extra file named like a real shard)."""
    stray = []
    for (folder, split), totals in sorted(_numbering_groups(shards).items()):
        total = _dominant_total(totals)
        for t, have in sorted(totals.items()):
            if t != total:
                stray += [(f"{folder}/{split}-{i:05d}-of-{t:05d}.parquet", total) for i in sorted(have)]
    return stray
