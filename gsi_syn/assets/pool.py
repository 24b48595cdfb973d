"""The pool the scene samplers draw from: core assets plus the Sweet Home 3D models that have a
role (:mod:`.roles`, committed role table :func:`.sweethome3d.build_roles`), with their "goes
with" groups.

>>> [e.category for e in objects("tabletop", 0.4, "kitchen")][:3]        # doctest: +SKIP
['mug', 'bottle', 'bread']

Everything is listed in a fixed order (core manifest order, then Sweet Home 3D manifest order),
so a seeded sampler draws the same assets on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gsi_syn.assets.library import get_library
from gsi_syn.assets.manifest import AssetEntry
from gsi_syn.assets.roles import CORE_GROUPS, GROUPS

#: Core parametric furniture of room scenes: asset id → (groups, where).
CORE_FURNITURE: dict[str, tuple[tuple[str, ...], str]] = {
    "proc/table": (("dining", "kitchen", "office", "living"), "free"),
    "proc/shelf": (("living", "office", "bedroom", "dining"), "wall"),
    "proc/cabinet": (("living", "bedroom", "dining", "office"), "wall"),
    "proc/counter": (("kitchen",), "wall"),
    "proc/sofa": (("living",), "wall"),
    "proc/bed": (("bedroom",), "wall"),
}


@dataclass(frozen=True)
class PoolItem:
    """One asset of the pool: its ``entry``, ``groups`` (subset of :data:`.roles.GROUPS`) and,
    for furniture, ``where`` it stands (``"wall"`` or ``"free"``)."""

    entry: AssetEntry
    groups: tuple[str, ...]
    where: str = ""

    @property
    def parametric(self) -> bool:
        return self.entry.is_parametric


@lru_cache(maxsize=1)
def pool() -> tuple[PoolItem, ...]:
    """Every asset scenes may use (see module docstring)."""
    lib = get_library()
    items = [PoolItem(e, CORE_GROUPS.get(e.category, GROUPS)) for e in lib.entries()
             if e.role in ("object", "receptacle")]
    items += [PoolItem(lib.entry(a), g, w) for a, (g, w) in CORE_FURNITURE.items()]
    for e in lib.entries(source="sweethome3d"):
        row = lib.scene_role(e.id)
        if row is not None:
            items.append(PoolItem(e, tuple(row["groups"]), row["where"]))
    return tuple(items)


def objects(scene_type: str, max_size: float, group: str | None = None) -> list[AssetEntry]:
    """Movable objects and receptacles for ``scene_type`` (``tabletop`` / ``room``) whose largest
    extent at the top of their scale range is at most ``max_size`` (m), of ``group`` if given."""
    return [i.entry for i in pool() if i.entry.role in ("object", "receptacle") and scene_type in i.entry.scenes
            and max(i.entry.size_m) * i.entry.size_range[1] <= max_size and (group is None or group in i.groups)]


def furniture(group: str | None = None, *, supports: bool | None = None) -> list[PoolItem]:
    """Room furniture of ``group`` (all groups if ``None``): supports (carry objects; ``supports=True``),
    furnishing pieces (``False``) or both (``None``)."""
    out = []
    for i in pool():
        if i.entry.role not in ("support", "structure") or i.entry.category in ("floor", "wall"):
            continue
        if supports is not None and (i.entry.role == "support") != supports:
            continue
        if group is None or group in i.groups:
            out.append(i)
    return out
