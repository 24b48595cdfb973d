"""Card sections that depend on what a built GSI-Syn folder holds: the attribution list of the
Sweet Home 3D models its scenes use, and a sample figure (a contact sheet PNG stored in the folder
and shown by the card).

>>> ids = used_asset_ids(root)                               # doctest: +SKIP
>>> print(attribution_section(ids))                          # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path

from gsi_bench.hub_io import iter_rows, list_shards

#: Where the sample figure goes in the Hub folder (the card links it by this relative path).
SAMPLE_FIGURE = "images/samples.png"


def used_asset_ids(root: str | Path) -> list[str]:
    """Sorted asset ids of every object in the source and target scenes of every shard under
    ``root/data`` (reads only the ``scene`` column)."""
    ids: set[str] = set()
    for row in iter_rows(list_shards(root), columns=["scene"]):
        pair = json.loads(row["scene"])
        for side in ("source", "target"):
            ids.update(o["asset_id"] for o in (pair.get(side) or {}).get("objects", []))
    return sorted(ids)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def attribution_section(asset_ids: Iterable[str]) -> str:
    """Markdown attribution of the Sweet Home 3D models among ``asset_ids``: how many of the pool
    the data uses and one table row per model (name, category, author, licence, source archive),
    from the committed manifest. A sentence saying so when none is used."""
    from gsi_syn.assets import sweethome3d

    manifest = sweethome3d.read_manifest()
    by_id = {a["id"]: a for a in manifest["assets"]}
    used = [by_id[i] for i in sorted(set(asset_ids)) if i in by_id]
    if not used:
        return "No Sweet Home 3D model appears in this data.\n"
    pool = sweethome3d.read_roles()["assets"] if sweethome3d.ROLES_PATH.is_file() else {}
    licences = sorted({a["licence"] for a in used})
    lines = [f"The scenes use {len(used)} of the {len(pool) or len(by_id)} Sweet Home 3D models of the asset pool "
             f"(Debian package `sweethome3d-furniture`, licences: {', '.join(licences)}). Each is credited here "
             "as its catalogue credits it:", "",
             "| Model | Category | Author | Licence | Source archive |", "|---|---|---|---|---|"]
    for a in used:
        noun = pool.get(a["id"], {}).get("noun", a["category"])
        lines.append(f"| {_cell(a['name'])} (`{a['id']}`) | {_cell(noun)} | {_cell(a['author'] or 'unknown')} | "
                     f"{_cell(a['licence'])} | {_cell(a['archive'])}.sh3f |")
    return "\n".join(lines) + "\n"


def write_sample_figure(root: str | Path, config: str, split: str = "test", per_sheet: int = 6,
                        tile: int = 192) -> str | None:
    """Write a contact sheet of up to ``per_sheet`` records of ``config`` / ``split`` — the first
    record of each operation, in shard order — to :data:`SAMPLE_FIGURE` under ``root``
    (atomically); return its relative path, or ``None`` when there is no record."""
    from gsi_bench.schema import EditRecord
    from gsi_syn.preview import contact_sheet

    rows: list[dict] = []
    seen: set = set()
    for shard in list_shards(root, config, split):
        for row in iter_rows([shard]):
            if row["operation"] in seen:
                if any(r["_shard"] == shard for r in rows):
                    break  # shards grouped by operation: the rest of this one repeats it
                continue
            seen.add(row["operation"])
            rows.append({**row, "_shard": shard})
            if len(rows) >= per_sheet:
                break
        if len(rows) >= per_sheet:
            break
    if not rows:
        return None
    records = [EditRecord.from_example({k: v for k, v in r.items() if k != "_shard"}) for r in rows]
    sheet = contact_sheet(records, tile=tile)
    path = Path(root) / SAMPLE_FIGURE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sheet.save(tmp, format="PNG", optimize=True)
    tmp.replace(path)
    return SAMPLE_FIGURE
