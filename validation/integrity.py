"""Integrity checks: manifest and checksums per shard, the typed schema per record, unique ids and
split hygiene across the dataset.

Record checks work on a row read straight from Parquet (plain Python values) plus the PNG
headers of its images, so they are cheap enough to run on every record; decoding pixels is left
to :mod:`validation.consistency`.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_bench.checks import CheckThresholds, min_visible_pixels
from gsi_bench.hashing import bytes_sha256, canonical_json, file_sha256
from gsi_bench.hub_io import CHECKSUMS_FILE
from gsi_bench.operations import (
    NUMERIC_PARAMS,
    OPERATIONS,
    OperationSpec,
    num_templates,
    operation_spec,
    param_is_set,
    rotation_is_sense_free,
)
from gsi_bench.schema import MAX_IMAGE_PIXELS, SPLITS, SUBSETS
from validation.layout import Layout, ShardInfo, missing_by_numbering, stray_by_numbering
from validation.report import Report


@dataclass(frozen=True)
class Finding:
    """A failed check on one record: ``value`` is the check's metric (larger = worse), if any."""

    check: str
    message: str
    value: float | None = None


# ----------------------------------------------------------------------------------------------
# Shards: manifest and checksums
# ----------------------------------------------------------------------------------------------
def check_layout(layout: Layout, report: Report) -> None:
    """Report the layout problems :func:`validation.layout.discover` found."""
    report.checked("layout", max(1, len(layout.shards)))
    for message, rel in layout.problems:
        report.fail("layout", message, file=rel)


def check_manifest(layout: Layout, report: Report) -> set[str]:
    """Compare the shards on disk with ``gsi_checksums.json`` (presence, sha256, size, rows).

    Returns the relative paths of the shards whose bytes are as the manifest says (all present
    shards when the manifest is missing, which is itself reported). Shards failing their
    checksum are not read further: their content cannot be trusted.
    """
    present = {s.rel: s for s in layout.shards}
    path = layout.root / CHECKSUMS_FILE
    if not path.exists():
        report.checked("manifest")
        report.fail("manifest", f"no {CHECKSUMS_FILE}: shards cannot be verified against checksums", file=CHECKSUMS_FILE)
        _report_numbering(layout, report, set())
        return set(present)
    try:
        files = json.loads(path.read_text())["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as err:
        report.checked("manifest")
        report.fail("manifest", f"{CHECKSUMS_FILE} is malformed ({err})", file=CHECKSUMS_FILE)
        return set(present)
    trusted: set[str] = set()
    listed_missing: set[str] = set()
    for rel, entry in sorted(files.items()):
        report.checked("manifest")
        if rel not in present:
            if not (layout.root / rel).exists():
                listed_missing.add(rel)
                report.fail("manifest", "shard listed in the manifest is missing", file=rel)
            continue
        report.checked("checksum")
        problems = _checksum_problems(present[rel].path, entry)
        if problems:
            report.fail("checksum", "; ".join(problems) + " — shard is corrupt or truncated; its records are not checked",
                        file=rel)
        else:
            trusted.add(rel)
    for rel in present:
        if rel not in files:
            report.checked("manifest")
            report.fail("manifest", f"shard is not listed in {CHECKSUMS_FILE}", file=rel)
            trusted.add(rel)  # nothing to verify it against; its records are still checked
    _report_numbering(layout, report, listed_missing)
    return trusted


def _report_numbering(layout: Layout, report: Report, already: set[str]) -> None:
    for rel in missing_by_numbering(layout.shards):
        if rel not in already:
            report.fail("manifest", "shard implied by the -NNNNN-of-MMMMM numbering is missing", file=rel)
    for rel, total in stray_by_numbering(layout.shards):
        report.fail("manifest", f"shard numbering disagrees with the other shards of its folder and split "
                                f"(-of-{total:05d}): a stray file named like a shard", file=rel)


def _checksum_problems(path, entry: dict[str, Any]) -> list[str]:
    out = []
    size = path.stat().st_size
    if "bytes" in entry and int(entry["bytes"]) != size:
        out.append(f"size {size} B ≠ manifest {entry['bytes']} B")
    digest = file_sha256(path)
    if entry.get("sha256") != digest:
        out.append(f"sha256 {digest[:12]}… ≠ manifest {str(entry.get('sha256'))[:12]}…")
    if not out and "num_rows" in entry:
        import pyarrow.parquet as pq

        rows = pq.read_metadata(path).num_rows
        if rows != int(entry["num_rows"]):
            out.append(f"{rows} rows ≠ manifest {entry['num_rows']}")
    return out


# ----------------------------------------------------------------------------------------------
# Images: PNG headers
# ----------------------------------------------------------------------------------------------
IMAGE_FIELDS: dict[str, str] = {
    "source_image": "RGB", "target_image": "RGB", "source_mask": "L", "target_mask": "L",
    "source_instances": "I;16", "target_instances": "I;16", "source_depth": "I;16", "target_depth": "I;16",
}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
#: (bit depth, colour type) → PIL mode
_PNG_MODES = {(8, 2): "RGB", (8, 0): "L", (16, 0): "I;16", (8, 6): "RGBA", (1, 0): "1", (8, 3): "P"}


def png_header(head: bytes | None) -> tuple[str, int, int]:
    """(mode, width, height) from the first 33 bytes of a PNG; ValueError if it is not one."""
    if not head:
        raise ValueError("no embedded image bytes")
    if len(head) < 33 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
        raise ValueError("not a PNG (bad signature or header)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return _PNG_MODES.get((depth, colour), f"bit depth {depth}, colour type {colour}"), width, height


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _finite_array(x: Any, shape: tuple[int, ...]) -> tuple[np.ndarray | None, str]:
    """(array, problem): problem is "" when ``x`` is a float array of ``shape``."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"is not numeric (got {type(x).__name__})"
    if a.shape != shape:
        return None, f"has shape {a.shape}, expected {shape}"
    return a, ""


def _rotation_error(r: np.ndarray) -> float:
    """How far a 3×3 matrix is from a proper rotation (max |RRᵀ − I|, or 1 if det < 0)."""
    if np.linalg.det(r) <= 0:
        return 1.0
    return float(np.abs(r @ r.T - np.eye(3)).max())


def check_row(row: dict[str, Any], images: dict[str, bytes | None], shard: ShardInfo) -> list[Finding]:
    """Every integrity problem of one record (empty list = sound).

    ``row``: the record's non-image fields as read from Parquet; ``images``: field → the first
    bytes (≥ 33) of its PNG, or None when absent.
    """
    out: list[Finding] = []
    bad = lambda check, msg, value=None: out.append(Finding(check, msg, value))  # noqa: E731
    try:
        _check_fields(row, shard, bad)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        bad("schema", f"malformed record ({type(err).__name__}: {err})")
    w = _int(row.get("camera", {}).get("width")) if isinstance(row.get("camera"), dict) else None
    h = _int(row.get("camera", {}).get("height")) if isinstance(row.get("camera"), dict) else None
    for name, mode in IMAGE_FIELDS.items():
        try:
            got_mode, gw, gh = png_header(images.get(name))
        except ValueError as err:
            bad("image_size", f"{name}: {err}")
            continue
        if gw * gh > MAX_IMAGE_PIXELS:
            bad("image_size", f"{name} is {gw}×{gh} px, over the {MAX_IMAGE_PIXELS} px decompression-bomb limit")
        elif got_mode != mode:
            bad("image_size", f"{name} is a {got_mode} PNG, expected {mode}")
        elif (gw, gh) != (w, h):
            bad("image_size", f"{name} is {gw}×{gh} px but camera.width × height is {w}×{h}",
                float(abs(gw - (w or 0)) + abs(gh - (h or 0))))
    return out


def _int(x: Any) -> int | None:
    return int(x) if isinstance(x, int) and not isinstance(x, bool) else None


def _check_fields(row: dict[str, Any], shard: ShardInfo, bad) -> None:  # noqa: C901 - a flat list of rules
    rid = row["id"]
    if not isinstance(rid, str) or not rid.strip():
        bad("schema", "id is empty")
    if row["subset"] not in SUBSETS:
        bad("schema", f"subset {row['subset']!r} not in {SUBSETS}")
    if row["split"] not in SPLITS:
        bad("schema", f"split {row['split']!r} not in {SPLITS}")
    elif row["split"] != shard.split:
        bad("schema", f"split {row['split']!r} but the shard belongs to split {shard.split!r}")
    if shard.config in SUBSETS and row["subset"] != shard.config:
        bad("schema", f"subset {row['subset']!r} in config {shard.config!r}")
    label = row["operation"]
    if not isinstance(label, int) or not 0 <= label < len(OPERATIONS):
        bad("schema", f"operation label {label!r} is not in 0…{len(OPERATIONS) - 1}")
        return
    op = OPERATIONS[label]
    spec = operation_spec(op)
    if shard.config in OPERATIONS and op != shard.config:
        bad("schema", f"operation {op!r} in config {shard.config!r}")
    if row["frame"] != spec.frame:
        bad("schema", f"frame {row['frame']!r}, expected {spec.frame!r} for {op}")
    for k in ("instruction", "instruction_zh"):
        if not isinstance(row[k], str) or not row[k].strip():
            bad("schema", f"{k} is empty")
    m = re.fullmatch(r"(\w+)/(\d+)", row["template_id"] or "")
    if not m or m.group(1) != op or int(m.group(2)) >= num_templates(op):
        bad("schema", f"template_id {row['template_id']!r} is not {op}/<0…{num_templates(op) - 1}>")
    camera_edit = not spec.names_target
    for which in ("target", "reference"):
        iid = row[which]["instance_id"]
        if not isinstance(iid, int) or not 0 <= iid <= 65535:
            bad("schema", f"{which}.instance_id {iid!r} is not a uint16 instance id")
    needs_ref = spec.needs_reference
    if (row["target"]["instance_id"] == 0) != camera_edit:
        bad("schema", f"target.instance_id {row['target']['instance_id']} for {op}")
    if (row["reference"]["instance_id"] != 0) != needs_ref:
        bad("schema", f"reference.instance_id {row['reference']['instance_id']} for {op}")
    check_params(op, row["params"], bad)
    _check_numbers(op, row, bad)
    scene = parsed_scene(row)
    if isinstance(scene, str):
        bad("schema", scene)
    prov = row["provenance"]
    for k in ("asset_manifest_sha256", "config_sha256"):
        if prov.get(k) and not _HEX64.match(prov[k]):
            bad("schema", f"provenance.{k} {prov[k]!r} is not a sha256 hex digest")
    if not prov.get("generator_version"):
        bad("schema", "provenance.generator_version is empty")
    for k in ("seed", "scene_index"):
        if not isinstance(prov.get(k), int) or prov[k] < 0:
            bad("schema", f"provenance.{k} {prov.get(k)!r} is not a non-negative integer")
    gen = prov.get("generator", "")
    if gen.startswith("gsi_syn") and isinstance(prov.get("seed"), int):
        prefix = f"{row['subset']}-{row['split']}-{prov['seed']}-"
        if not (isinstance(rid, str) and rid.startswith(prefix) and rid[len(prefix):].isdigit()):
            bad("schema", f"id {rid!r} does not follow <subset>-<split>-<seed>-<index> ({prefix}…)")
    try:
        th = json.loads(row["checks"]["thresholds"])
        if not isinstance(th, dict):
            raise ValueError("not an object")
    except (TypeError, ValueError) as err:
        bad("schema", f"checks.thresholds is not a JSON object ({err})")


def check_params(op: str, p: dict[str, Any], bad: Callable[..., None]) -> None:
    """Check a record's ``params`` against the operation's :class:`OperationSpec`: the required
    fields are stated and no other, enumerated values are among the spec's choices, numbers are
    finite and in range; then the operation's own rule in :data:`PARAM_RULES`, if any.
    ``bad(check, message, value=None)`` collects findings."""
    spec = operation_spec(op)
    allowed = spec.allowed_values(p)
    for k, values in allowed.items():
        if k in p and k not in NUMERIC_PARAMS and p[k] and p[k] not in values:
            bad("schema", f"params.{k} {p[k]!r} not in {values} for {op}")
    required = spec.required_params(p)
    for k in p:
        numeric = k in NUMERIC_PARAMS
        empty = not param_is_set(p, k)
        if k in required and empty:
            bad("finite" if numeric else "schema", f"params.{k} is missing (NaN / empty) but {op} requires it")
        elif k not in required and k not in spec.optional and not empty:
            bad("schema", f"params.{k} = {p[k]!r} is set but does not apply to {op}")
        elif numeric and not empty and not math.isfinite(p[k]):
            bad("finite", f"params.{k} is {p[k]}")
        elif numeric and not empty:
            span = spec.accepted_range(k, p)
            if span is not None and not span[0] - 1e-9 <= p[k] <= span[1] + 1e-9:
                bad("schema", f"params.{k} = {p[k]} outside [{span[0]}, {span[1]}] for {op}")
            elif span is None and k in allowed and p[k] not in allowed[k]:
                bad("schema", f"params.{k} {p[k]} not in {allowed[k]}")
    rule = PARAM_RULES.get(op)
    if rule is not None:
        rule(spec, p, bad)


def _rotate_sense_rule(spec: OperationSpec, p: dict[str, Any], bad: Callable[..., None]) -> None:
    """A rotation states its sense unless it looks the same either way for some symmetry period
    (180°; 90° for 2-fold; 45° / 135° for 4-fold objects): the consistency re-run checks it
    against the object's own symmetry."""
    angle = p.get("angle_deg")
    if not p.get("rotation_sense") and param_is_set(p, "angle_deg") and math.isfinite(angle) \
            and not rotation_is_sense_free(angle, 90.0):
        bad("schema", f"params.rotation_sense is empty but a {angle}° rotation has a visible sense")


#: operation → extra params rule ``(spec, params, bad)`` beyond what its spec states
PARAM_RULES: dict[str, Callable[[OperationSpec, dict[str, Any], Callable[..., None]], None]] = {
    "rotate": _rotate_sense_rule,
}


def _check_numbers(op: str, row: dict[str, Any], bad) -> None:
    """Shapes, finiteness and sanity of the numeric fields."""
    arrays = {
        "transform.translation": (row["transform"]["translation"], (3,)),
        "transform.rotation": (row["transform"]["rotation"], (3, 3)),
        "transform.scale": (row["transform"]["scale"], (3,)),
        "camera.K": (row["camera"]["K"], (3, 3)),
        "camera.source_cam_from_world": (row["camera"]["source_cam_from_world"], (4, 4)),
        "camera.target_cam_from_world": (row["camera"]["target_cam_from_world"], (4, 4)),
    }
    for which in ("source", "target"):
        b = row["boxes"][which]
        for k, shape in (("center", (3,)), ("size", (3,)), ("rotation", (3, 3)), ("official_7vec", (7,))):
            arrays[f"boxes.{which}.{k}"] = (b[k], shape)
    values: dict[str, np.ndarray] = {}
    for name, (x, shape) in arrays.items():
        a, problem = _finite_array(x, shape)
        if a is None:
            bad("schema", f"{name} {problem}")
        elif not np.all(np.isfinite(a)):
            bad("finite", f"{name} contains {'NaN' if np.isnan(a).any() else 'inf'}")
        else:
            values[name] = a
    w, h = row["camera"]["width"], row["camera"]["height"]
    if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
        bad("schema", f"camera width × height {w!r}×{h!r} must be positive integers")
        w = h = 0
    K = values.get("camera.K")
    if K is not None and not (K[0, 0] > 0 and K[1, 1] > 0 and np.allclose(K[2], [0, 0, 1]) and K[1, 0] == 0):
        bad("schema", "camera.K is not a pinhole intrinsics matrix (fx, fy > 0, last row 0 0 1)")
    for name in ("camera.source_cam_from_world", "camera.target_cam_from_world"):
        T = values.get(name)
        if T is not None and (not np.allclose(T[3], [0, 0, 0, 1]) or _rotation_error(T[:3, :3]) > 1e-6):
            bad("schema", f"{name} is not a rigid transform")
    for name in ("transform.rotation", "boxes.source.rotation", "boxes.target.rotation"):
        R = values.get(name)
        if R is not None and _rotation_error(R) > 1e-6:
            bad("schema", f"{name} is not a rotation matrix (error {_rotation_error(R):.2g})")
    s = values.get("transform.scale")
    if s is not None and (np.any(s <= 0) or np.ptp(s) > 1e-9):
        bad("schema", f"transform.scale {s.tolist()} is not a positive uniform scale")
    spec = operation_spec(op)
    camera_edit = not spec.names_target
    for which in ("source", "target"):
        size = values.get(f"boxes.{which}.size")
        if size is not None and not camera_edit and np.any(size <= 0):
            bad("schema", f"boxes.{which}.size {size.tolist()} must be positive")
    present = row["boxes"]["target_present"]
    if present != spec.target_present:
        bad("schema", f"boxes.target_present is {present} for {op}")
    _check_measurements(op, row["checks"], w * h, bad)


def _check_measurements(op: str, c: dict[str, Any], area: int, bad) -> None:
    spec = operation_spec(op)
    must = []  # (field, must be finite, may be +inf)
    if spec.names_target:
        must += [("visible_fraction_source", False), ("ambiguity_margin", True)]
    if spec.target_present:
        must += [("visible_fraction_target", False), ("min_clearance_m", True), ("support_margin_m", False)]
    must.append(("changed_pixel_fraction", False))
    # (a field the record predates, e.g. placement_gap in older data, is not required)
    must += [(k, k == "placement_gap") for k in spec.extra_checks if k in c]
    for k, inf_ok in must:
        v = c[k]
        if _nan(v) or (math.isinf(v) and not (inf_ok and v > 0)):
            bad("finite", f"checks.{k} is {v} but {op} measures it")
    for k in ("visible_fraction_source", "visible_fraction_target", "changed_pixel_fraction", "view_overlap"):
        v = c[k]
        if not _nan(v) and math.isfinite(v) and not 0.0 <= v <= 1.0 + 1e-9:
            bad("schema", f"checks.{k} = {v} is not a fraction in [0, 1]")
    for k in ("visible_pixels_source", "visible_pixels_target"):
        v = c[k]
        if not isinstance(v, int) or v < 0 or (area and v > area):
            bad("schema", f"checks.{k} = {v!r} is not a pixel count in [0, {area}]")
    _check_floors(op, c, area, bad)


def _check_floors(op: str, c: dict[str, Any], area: int, bad) -> None:
    """The recorded measurements against the record's own thresholds: the edited object reaches
    the minimum target size and the edit the visible-change floor (a threshold the record
    predates is not applied; :meth:`CheckThresholds.from_json`)."""
    try:
        th = CheckThresholds.from_json(c.get("thresholds") or "{}", strict=False)
    except (TypeError, ValueError, AttributeError):
        return  # reported by the schema rules
    spec = operation_spec(op)
    floor = min_visible_pixels(area, th, edited=True)
    sides = (["source"] if spec.names_target else []) + (["target"] if spec.names_target and spec.target_present else [])
    for side in sides:
        v = c[f"visible_pixels_{side}"]
        if isinstance(v, int) and th.min_target_area > 0 and v < floor:
            bad("schema", f"checks.visible_pixels_{side} = {v} is under the minimum target size "
                          f"({th.min_target_area:g} of {area} px)")
    v = c["changed_pixel_fraction"]
    if not _nan(v) and v < th.min_changed_fraction:
        bad("schema", f"checks.changed_pixel_fraction = {v:.4g} is under the visible-change floor "
                      f"{th.min_changed_fraction:g}")


# ----------------------------------------------------------------------------------------------
# Dataset-wide: unique ids and split hygiene
# ----------------------------------------------------------------------------------------------
def parsed_scene(row: dict[str, Any]) -> dict[str, Any] | str:
    """The record's scene JSON as a dict (parsed once per row and cached in ``row``), or a
    problem description."""
    cached = row.get("_scene")
    if cached is None:
        try:
            cached = json.loads(row["scene"])
            if not isinstance(cached, dict) or not {"source", "target"} <= set(cached):
                cached = "scene JSON lacks 'source' / 'target'"
        except (TypeError, ValueError) as err:
            cached = f"scene is not valid JSON ({err})"
        row["_scene"] = cached
    return cached


def scene_keys(row: dict[str, Any]) -> tuple[str, list[Any]]:
    """(hash of the source scene's canonical JSON, its movable object instances) of a record.

    An object instance is (asset id, parameters, position, yaw, scale): the same instance in
    train and test means a leaked scene part even when the scenes differ elsewhere.
    """
    scene = parsed_scene(row)
    try:
        src = scene["source"]
        digest = bytes_sha256(canonical_json(src).encode())
        objs = [(o["asset_id"], tuple(sorted(o.get("params", {}).items())), tuple(o["position"]),
                 o.get("yaw_deg"), o.get("scale"))
                for o in src.get("objects", []) if o.get("role") in ("object", "receptacle")]
        return digest, objs
    except (TypeError, ValueError, KeyError, AttributeError):
        return "", []


class DatasetIndex:
    """Accumulates ids and split keys over all records; :meth:`report` adds the verdicts."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.duplicates: list[tuple[str, str, str]] = []
        # key kind → key → {split: first record id}
        # The random stream of a record is SeedSequence([seed, subset, split, scene_index]): the
        # split is part of it, so train and test never share a stream even with the same --seed;
        # what must not repeat across splits is the sampled content (scene, object instances).
        self.keys: dict[str, dict[Any, dict[str, tuple[str, str]]]] = {"scene": {}, "object": {}}

    def add(self, row: dict[str, Any], file: str) -> None:
        rid = row.get("id")
        if rid in self.ids:
            self.duplicates.append((rid, self.ids[rid], file))
        else:
            self.ids[rid] = file
        split = row.get("split")
        if split not in SPLITS:
            return
        scene, objects = scene_keys(row)
        entries = [("scene", scene)] if scene else []
        entries += [("object", o) for o in objects]
        for kind, key in entries:
            self.keys[kind].setdefault(key, {}).setdefault(split, (rid, file))

    def report(self, report: Report) -> None:
        report.checked("unique_ids", len(self.ids) + len(self.duplicates))
        for rid, first, file in self.duplicates:
            report.fail("unique_ids", f"id {rid!r} appears more than once (first in {first})", file=file, record=rid)
        what = {"scene": "the same source scene", "object": "the same object instance (asset, pose, material)"}
        n = 0
        for kind, table in self.keys.items():
            for key, splits in table.items():
                n += 1
                if len(splits) > 1:
                    ids = " / ".join(f"{s}: {r} ({f})" for s, (r, f) in sorted(splits.items()))
                    rid, file = splits.get("test", next(iter(splits.values())))
                    report.fail("split_hygiene", f"train and test share {what[kind]}: {ids}", file=file, record=rid)
        report.checked("split_hygiene", n)




# ----------------------------------------------------------------------------------------------
# Configs against their shards: per-operation configs hold only their operation, and the card's
# split sizes equal the rows on disk (``load_dataset`` raises NonMatchingSplitsSizesError else)
# ----------------------------------------------------------------------------------------------
def operation_of_config(config: str) -> str | None:
    """``"rotate"`` for a per-operation config ``"<subset>-rotate"``, else None."""
    subset, _, op = config.partition("-")
    return op.replace("-", "_") if subset in SUBSETS and op.replace("-", "_") in OPERATIONS else None


def configs_by_shard(layout: Layout) -> dict[str, list[str]]:
    """Shard path → every config that claims it (a shard serves its subset and its operation)."""
    out: dict[str, list[str]] = {}
    for s in layout.shards:
        out.setdefault(s.rel, []).append(s.config)
    return out


def row_config_findings(row: dict[str, Any], configs: list[str]) -> list[Finding]:
    """A row in a per-operation config's shard must be of that operation."""
    op = row.get("operation")
    if isinstance(op, int) and 0 <= op < len(OPERATIONS):
        op = OPERATIONS[op]
    out = []
    for config in configs:
        want = operation_of_config(config)
        if want is not None and op != want:
            out.append(Finding("configs", f"a {op} record in a shard of config {config!r}, which holds only {want}"))
    return out


def check_split_sizes(layout: Layout, report: Report) -> None:
    """Compare ``dataset_info.splits[*].num_examples`` of the card with the rows of each config's
    shards (Parquet footers only)."""
    card = layout.root / "README.md"
    if not layout.from_card or not card.is_file():
        return
    from huggingface_hub.repocard import metadata_load

    try:
        meta = metadata_load(card) or {}
    except Exception as err:  # noqa: BLE001 - YAML errors of any kind
        report.checked("configs")
        report.fail("configs", f"card YAML does not parse ({err})", file="README.md")
        return
    infos = meta.get("dataset_info") or []
    if isinstance(infos, dict):
        infos = [infos]
    import pyarrow.parquet as pq

    rows: dict[tuple[str, str], int] = {}
    for s in layout.shards:
        try:
            n = pq.read_metadata(s.path).num_rows
        except Exception:  # noqa: BLE001 - unreadable shards are the readable check's finding
            continue
        rows[(s.config, s.split)] = rows.get((s.config, s.split), 0) + n
    for info in infos:
        name = info.get("config_name", "default") if isinstance(info, dict) else None
        for split in (info.get("splits") or []) if isinstance(info, dict) else []:
            report.checked("configs")
            want = split.get("num_examples")
            got = rows.get((name, split.get("name")), 0)
            if want is not None and int(want) != got:
                report.fail("configs", f"card says config {name!r} split {split.get('name')!r} has {want} "
                                       f"examples, its shards hold {got}", file="README.md", value=float(abs(int(want) - got)))
