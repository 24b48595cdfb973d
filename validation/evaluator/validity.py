"""Scorer validity suite: predictions of known correctness, crossed with nuisances, scored.

For every stored record we build predictions whose correctness is known because we construct
the scene they show (from the record's stored source scene) and render it:

* ``correct`` — the ground-truth target image; ``other_backend`` — the same scene rendered by the
  other renderer (ray casting vs GL: different shading, anti-aliasing, shadows);
* ``unchanged`` — the source image; ``wrong_direction`` — the opposite edit (displacement −Δ,
  rotation −θ, scale 1/s, the opposite camera motion); ``wrong_object`` — the same edit applied
  to another object (another instance removed, for ``remove``);
* ``half`` / ``double`` — the edit at 0.5× / 2× its amount; ``tol_low`` / ``tol_high`` — at
  0.7× / 1.3× (inside the documented tolerance for translations, scale and camera moves; for
  object placements 0.7× / 1.3× the instructed distance *to the anchor*, the quantity IC bounds;
  for rotations 0.6× the angular tolerance either side).

The *expected* IC of each prediction is the scorer's own IC formula applied to the true,
constructed pose (so labels follow the documented definition, not the localiser) — 0 when the
constructed object is not visible in the image (< 20 px: moved out of view or behind something),
as the image does not show the edit. Each
prediction is then degraded by a nuisance (:data:`NUISANCES`: JPEG, brightness/contrast, blur,
hue/saturation, global shifts of 3 and 8 px, 4 % zoom, resize to another size / aspect ratio)
and scored by the default protocol. ``correct`` is crossed with every nuisance; the other kinds
with ``none`` and one nuisance drawn per record (seeded).

Reported (see :func:`summarise`): IC decision accuracy (scored IC == expected IC) per operation
× nuisance and per kind; SA ordering (correct > half/double > wrong direction); the change of EL
and AC of correct edits per nuisance; the realised-pose recovery fraction (position within
max(5 cm, 10 % of the displacement), yaw within 10° modulo symmetry, scale within 10 %) per
operation, over predictions whose object is visible.
"""

from __future__ import annotations

import dataclasses
import io
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from PIL import Image, ImageEnhance

from gsi_bench.schema import EditRecord

OBJECT_OPS = ("camera_relative_move", "object_relative_place", "receptacle_place", "rotate", "scale")
TRANSLATIONS = ("camera_relative_move", "object_relative_place", "receptacle_place")
OPPOSITE = {"left": "right", "right": "left", "forward": "backward", "backward": "forward", "up": "down", "down": "up"}
KINDS = ("correct", "other_backend", "unchanged", "wrong_direction", "wrong_object", "half", "double",
         "tol_low", "tol_high")
#: kinds whose amount factor is applied to the instructed edit
AMOUNT = {"correct": 1.0, "other_backend": 1.0, "half": 0.5, "double": 2.0, "tol_low": 0.7, "tol_high": 1.3,
          "wrong_direction": -1.0}


# ---------------------------------------------------------------------------------------------
# nuisances: uint8 (H, W, 3) -> uint8 image (possibly of another size)
# ---------------------------------------------------------------------------------------------
def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=70)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _brightness_contrast(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = 1.0 + rng.choice([-1, 1]) * 0.1
    contrast = 1.0 + rng.choice([-1, 1]) * 0.1
    f = img.astype(np.float32) / 255.0
    f = (f - 0.5) * contrast + 0.5
    return (np.clip(f * gain, 0, 1) * 255 + 0.5).astype(np.uint8)


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(img.astype(np.float32), sigma=(1.0, 1.0, 0)).round().clip(0, 255).astype(np.uint8)


def _hue_saturation(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = np.asarray(Image.fromarray(img).convert("HSV")).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(rng.choice([-1, 1])) * 6) % 256
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    return np.asarray(ImageEnhance.Color(out).enhance(float(1.0 + rng.choice([-1, 1]) * 0.2)))


def _warp(img: np.ndarray, A: np.ndarray) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    return cv2.warpAffine(img, A, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def _shift(px: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def f(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = rng.uniform(0, 2 * math.pi)
        # shifts are stated for 512-px images; scaled to the image size
        s = px * max(img.shape[:2]) / 512.0
        return _warp(img, np.array([[1, 0, s * math.cos(a)], [0, 1, s * math.sin(a)]], np.float64))
    return f


def _zoom(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    z = 1.0 + rng.uniform(0.03, 0.05) * rng.choice([-1, 1])
    h, w = img.shape[:2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    return _warp(img, np.array([[z, 0, cx - z * cx], [0, z, cy - z * cy]], np.float64))


def _resize(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    f = float(rng.choice([0.75, 1.5]))
    return np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), Image.Resampling.BICUBIC))


def _aspect(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    return np.asarray(Image.fromarray(img).resize((round(w * 1.25), h), Image.Resampling.BICUBIC))


NUISANCES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "none": lambda img, rng: img,
    "jpeg": _jpeg,
    "bright_contrast": _brightness_contrast,
    "blur": _blur,
    "hue_sat": _hue_saturation,
    "shift3": _shift(3.0),
    "shift8": _shift(8.0),
    "zoom5": _zoom,
    "resize": _resize,
    "aspect": _aspect,
}


# ---------------------------------------------------------------------------------------------
# constructed predictions
# ---------------------------------------------------------------------------------------------
@dataclass
class Variant:
    """A prediction of known content: ``scene`` is what the image shows (None: use ``image``)."""

    kind: str
    image: np.ndarray
    expected_ic: int
    truth: object = None  # SceneObject (object ops) / cam_from_world (perspective) / None
    visible: bool = True
    displacement_m: float = 0.0


def _other_object(src, record):
    skip = {record.target.instance_id, record.reference.instance_id}
    others = [o for o in src.movable() if o.role == "object" and o.instance_id not in skip]
    return others[0] if others else None


def _edited(obj0, obj1, k: float, record, src):
    """``obj0`` with the instructed change ``obj0 → obj1`` applied ``k`` times (log-space for scale)."""
    op = record.operation
    if op in TRANSLATIONS:
        p0, p1 = np.asarray(obj0.position), np.asarray(obj1.position)
        p = p0 + k * (p1 - p0)
        if op == "receptacle_place" or abs(p1[2] - p0[2]) > 0.005:
            p[2] = p1[2] if _on_support(record, src, p) else p0[2]
        return dataclasses.replace(obj0, position=tuple(float(v) for v in p))
    if op == "rotate":
        from validation.evaluator.synthesis import _wrap

        d = _wrap(obj1.yaw_deg - obj0.yaw_deg)
        return dataclasses.replace(obj0, yaw_deg=float((obj0.yaw_deg + k * d) % 360.0))
    s = obj1.scale / obj0.scale
    return dataclasses.replace(obj0, scale=float(obj0.scale * s ** k))


def _relative_tolerance(obj1, k: float, record, src):
    """An object placement within tolerance: the instructed end pose with its offset from the
    anchor scaled by ``k`` (same side, ``k``× the instructed distance to the anchor — IC allows
    ±50 %). Scaling the *displacement* instead can leave the end point anywhere relative to the
    anchor (on the IC boundary when the object starts near the anchor), which is no tolerance case."""
    anchor = np.asarray(src.get(record.reference.instance_id).position)
    p1 = np.asarray(obj1.position)
    p = anchor + k * (p1 - anchor)
    p[2] = p1[2]
    return dataclasses.replace(obj1, position=tuple(float(v) for v in p))


def _on_support(record, src, p: np.ndarray) -> bool:
    if record.operation != "receptacle_place":
        return True
    from shapely.geometry import Point

    from gsi_syn.placement import support_region

    region, _ = support_region(src.get(record.reference.instance_id))
    return bool(region.contains(Point(p[0], p[1])))


def _rotation_k(kind: str, theta: float) -> float:
    """Rotation amount factor: tolerance variants stay inside ``min(θ/2, 20°)``."""
    if kind in ("tol_low", "tol_high"):
        tol = min(abs(theta) / 2, 20.0)
        return 1.0 + (-0.6 if kind == "tol_low" else 0.6) * tol / max(abs(theta), 1e-9)
    return AMOUNT[kind]


def build_variants(record: EditRecord, render, render_other, kinds=KINDS) -> Iterator[Variant]:
    """The predictions of known correctness for one record (uint8 images at the record's size)."""
    from validation.evaluator import scoring
    from validation.evaluator.synthesis import Realised

    src, tgt = record.scenes()
    op = record.operation
    tid = record.target.instance_id

    def expected(obj=None, cam=None, motion=None, present=None) -> int:
        if op in TRANSLATIONS:
            return scoring.score_translation(record, src, tgt, Realised("object", obj=obj))["ic"]
        if op == "rotate":
            return scoring.score_rotation(record, src, tgt, Realised("object", obj=obj))["ic"]
        if op == "scale":
            return scoring.score_scale(record, src, tgt, Realised("object", obj=obj))["ic"]
        if op == "perspective":
            return scoring.score_perspective(record, Realised("camera", cam_from_world=cam, camera_motion=motion))["ic"]
        return scoring.score_remove(record, src, Realised("presence", present=present))["ic"]

    for kind in kinds:
        if op in OBJECT_OPS:
            obj0, obj1 = src.get(tid), tgt.get(tid)
            if kind == "unchanged":
                yield Variant(kind, record.source_image, expected(obj=obj0), obj0, True, 0.0)
                continue
            if kind == "wrong_object":
                other = _other_object(src, record)
                if other is None:
                    continue
                moved = _edited(other, _apply_same(other, obj0, obj1, op), 1.0, record, src)
                scene = src.replace_object(moved)
                yield Variant(kind, render(scene).rgb, expected(obj=obj0), obj0, True, 0.0)
                continue
            k = _rotation_k(kind, obj1.yaw_deg - obj0.yaw_deg) if op == "rotate" else AMOUNT[kind]
            if op == "object_relative_place" and kind in ("tol_low", "tol_high"):
                obj = _relative_tolerance(obj1, k, record, src)
            else:
                obj = obj1 if k == 1.0 else _edited(obj0, obj1, k, record, src)
            scene = src.replace_object(obj)
            out = (render_other if kind == "other_backend" else render)(scene)
            img = record.target_image if kind == "correct" else out.rgb
            visible = int((render(scene).instances == tid).sum()) >= 20 if kind != "correct" else bool(
                (record.target_mask > 0).sum() >= 20)
            disp = float(np.linalg.norm(np.asarray(obj.position) - np.asarray(obj0.position)))
            # an image in which the object cannot be seen does not show the edit (IC is judged on
            # the image: "object missing"), whatever its constructed pose
            yield Variant(kind, img, expected(obj=obj) if visible else 0, obj, visible, disp)
        elif op == "perspective":
            from gsi_syn.edits import moved_camera

            motion, sense, amount = scoring.camera_motion_of(record)
            C = src.camera.cam_from_world_array
            if kind == "wrong_object":
                continue
            if kind == "unchanged":
                yield Variant(kind, record.source_image, expected(cam=C, motion=("none", "", 0.0)), C)
                continue
            k = AMOUNT[kind]
            m = (motion, OPPOSITE[sense] if k < 0 else sense, abs(k) * amount)
            C2 = moved_camera(C, *m)
            scene = src.with_camera(dataclasses.replace(src.camera, cam_from_world=C2.tolist()))
            img = record.target_image if kind == "correct" else (
                render_other if kind == "other_backend" else render)(scene).rgb
            yield Variant(kind, img, expected(cam=C2, motion=m), C2)
        else:  # remove
            others = [o.instance_id for o in src.movable() if o.instance_id != tid]
            cat_ids = [tid] + [o.instance_id for o in src.movable()
                               if o.category == src.get(tid).category and o.instance_id != tid]
            if kind in ("correct", "other_backend"):
                scene = src.without(tid)
                img = record.target_image if kind == "correct" else render_other(scene).rgb
                yield Variant(kind, img, expected(present={i: i != tid for i in cat_ids}))
            elif kind == "unchanged":
                yield Variant(kind, record.source_image, expected(present={i: True for i in cat_ids}))
            elif kind == "wrong_object" and others:
                j = others[0]
                yield Variant(kind, render(src.without(j)).rgb,
                              expected(present={i: i != j for i in cat_ids}))


def _apply_same(other, obj0, obj1, op):
    """The instructed change of the target (``obj0 → obj1``), applied to another object."""
    if op in TRANSLATIONS:
        d = np.asarray(obj1.position) - np.asarray(obj0.position)
        p = np.asarray(other.position) + d
        p[2] = other.position[2]
        return dataclasses.replace(other, position=tuple(float(v) for v in p))
    if op == "rotate":
        return dataclasses.replace(other, yaw_deg=float((other.yaw_deg + obj1.yaw_deg - obj0.yaw_deg) % 360.0))
    return dataclasses.replace(other, scale=float(other.scale * obj1.scale / obj0.scale))


# ---------------------------------------------------------------------------------------------
# pose recovery
# ---------------------------------------------------------------------------------------------
def pose_recovered(record, truth, realised, src) -> dict[str, bool] | None:
    """Position within max(5 cm, 10 % of the displacement), yaw within 10° (mod symmetry),
    scale within 10 %; None when not applicable (no object truth)."""
    from validation.evaluator.scoring import symmetry_period
    from validation.evaluator.synthesis import _wrap

    if truth is None or not hasattr(truth, "position"):
        return None
    obj = getattr(realised, "obj", None)
    if obj is None:
        return {"position": False, "yaw": False, "scale": False, "all": False}
    p0 = np.asarray(src.get(record.target.instance_id).position)
    disp = float(np.linalg.norm(np.asarray(truth.position) - p0))
    pos = float(np.linalg.norm(np.asarray(obj.position) - np.asarray(truth.position))) <= max(0.05, 0.1 * disp)
    period = symmetry_period(truth.asset_id)
    yaw = period <= 0.0 or min(abs(_wrap(obj.yaw_deg - truth.yaw_deg + k * period)) for k in range(-4, 5)) <= 10.0
    scale = abs(obj.scale / truth.scale - 1.0) <= 0.10
    return {"position": bool(pos), "yaw": bool(yaw), "scale": bool(scale), "all": bool(pos and yaw and scale)}


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
@dataclass
class CheckConfig:
    data: str
    config: str = "tabletop"
    split: str = "test"
    limit: int | None = None
    seed: int = 0
    nuisances: tuple[str, ...] = tuple(NUISANCES)
    kinds: tuple[str, ...] = KINDS
    search_size: int = 128
    extra: dict = field(default_factory=dict)


def run_check(cfg: CheckConfig, progress: bool = True) -> list[dict]:
    """Score every constructed prediction; one row per (record, kind, nuisance)."""
    from gsi_bench.hub_io import iter_rows
    from gsi_syn.render.base import get_renderer
    from gsi_syn.render.gl import GLRenderer
    from validation.evaluator import imageops
    from validation.evaluator.runner import EvalConfig, resolve_data, score_default
    from validation.evaluator.synthesis import PhotoRenderer, render_style

    shards = resolve_data(cfg.data, cfg.config, cfg.split)
    ecfg = EvalConfig(data=cfg.data, predictions="", out="", config=cfg.config, split=cfg.split,
                      search_size=cfg.search_size)
    gl, ray = GLRenderer(), get_renderer("raycast")
    photo = PhotoRenderer(gl)
    rows = list(iter_rows(shards))[: cfg.limit]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), unit="record", desc=f"scorer-check {cfg.config}")
    out: list[dict] = []
    for n, row in enumerate(rows):
        record = EditRecord.from_example(row)
        src, _ = record.scenes()
        h, w = record.source_image.shape[:2]
        rng = np.random.default_rng([cfg.seed, n])
        # constructed predictions in the look of the record's published images (GL photos for
        # records published as photos); "other_backend" stays the raycast look (a style nuisance)
        look = photo if render_style(record) == "photo" else gl
        for v in build_variants(record, look.render, ray.render, cfg.kinds):
            extra = [x for x in cfg.nuisances if x != "none"]
            names = cfg.nuisances if v.kind == "correct" else (
                ["none"] + ([str(rng.choice(extra))] if extra else []))
            for nz in names:
                # the nuisance's own draw (shift direction, tone signs): seeded by a stable hash of its
                # name (``hash(str)`` is salted per process, so two runs drew different shifts)
                img = NUISANCES[nz](np.ascontiguousarray(v.image), np.random.default_rng([cfg.seed, n, zlib.crc32(nz.encode()) % 997]))
                pred = imageops.fit_to(img, w, h, "stretch")
                res = score_default(record, pred, ecfg)
                realised = res.pop("_realised")
                rec = {"id": record.id, "subset": record.subset, "operation": record.operation, "kind": v.kind,
                       "nuisance": nz, "expected_ic": int(v.expected_ic), "ic": int(res["ic"]),
                       "sa": float(res["sa"]), "el": float(res["el"]), "ac": float(res["ac"]),
                       "el_raw": float(res.get("el_raw", res["el"])), "ac_raw": float(res.get("ac_raw", res["ac"])),
                       "visible": bool(v.visible), "confidence": res.get("confidence")}
                rec["pose"] = pose_recovered(record, v.truth, realised, src) if record.operation in OBJECT_OPS else None
                if record.operation in OBJECT_OPS:
                    rec["poses"] = {"realised": _pose_json(getattr(realised, "obj", None)),
                                    "truth": _pose_json(v.truth), "source": _pose_json(src.get(record.target.instance_id))}
                    rec["search"] = {k: res.get("search", {}).get(k) for k in ("hypotheses", "distance", "unchanged_distance")}
                out.append(rec)
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return out


def _pose_json(obj) -> dict | None:
    """Position (m, world), yaw (deg) and scale of a scene object, rounded, for the rows; None when absent."""
    if obj is None or not hasattr(obj, "position"):
        return None
    return {"position": [round(float(v), 4) for v in obj.position], "yaw_deg": round(float(obj.yaw_deg), 2),
            "scale": round(float(obj.scale), 4)}


def _pct(xs: list[bool]) -> float:
    return 100.0 * float(np.mean(xs)) if xs else float("nan")


def summarise(rows: list[dict]) -> dict:
    """Tables from :func:`run_check` rows (percentages; EL/AC deltas in points)."""
    acc = defaultdict(list)
    by_kind = defaultdict(list)
    by_nuisance = defaultdict(list)
    for r in rows:
        ok = r["ic"] == r["expected_ic"]
        if r["kind"] in ("correct", "tol_low", "tol_high", "other_backend"):
            acc[(r["operation"], r["nuisance"] if r["kind"] != "other_backend" else "other_backend")].append(ok)
            by_nuisance[r["nuisance"] if r["kind"] != "other_backend" else "other_backend"].append(ok)
        if r["kind"] not in ("half", "double"):  # on the IC boundary (ratio 0.5 / 2): SA ordering only
            by_kind[(r["kind"], r["operation"])].append(ok)
    # SA ordering per record, nuisance none
    sa = defaultdict(dict)
    for r in rows:
        if r["nuisance"] == "none" or (r["kind"] == "correct" and r["nuisance"] == "none"):
            sa[r["id"]][r["kind"]] = r["sa"]
    order = []
    for d in sa.values():
        if "correct" in d and "wrong_direction" in d and ("half" in d or "double" in d):
            mids = [d[k] for k in ("half", "double") if k in d]
            order.append(all(d["correct"] >= m >= d["wrong_direction"] for m in mids) and d["correct"] > d["wrong_direction"])
    base = {r["id"]: r for r in rows if r["kind"] == "correct" and r["nuisance"] == "none"}
    delta = defaultdict(lambda: {"el": [], "ac": [], "el_raw": [], "ac_raw": []})
    for r in rows:
        if r["kind"] == "correct" and r["id"] in base:
            for k in ("el", "ac", "el_raw", "ac_raw"):
                delta[r["nuisance"]][k].append(r.get(k, r[k[:2]]) - base[r["id"]].get(k, base[r["id"]][k[:2]]))
    pose = defaultdict(list)
    for r in rows:
        if r["pose"] is not None and r["visible"] and r["kind"] != "unchanged" and r["kind"] != "wrong_object":
            pose[r["operation"]].append(r["pose"]["all"])
    low = [r for r in rows if r.get("confidence") is not None and r["confidence"].get("low", False)]
    return {
        "ic_accuracy": {f"{op}|{nz}": _pct(v) for (op, nz), v in sorted(acc.items())},
        "ic_accuracy_by_nuisance": {k: _pct(v) for k, v in sorted(by_nuisance.items())},
        "ic_accuracy_by_kind": {f"{k}|{op}": _pct(v) for (k, op), v in sorted(by_kind.items())},
        "ic_accuracy_kind_total": {k: _pct(sum((v for (kk, _), v in by_kind.items() if kk == k), []))
                                   for k in KINDS if any(kk == k for kk, _ in by_kind)},
        "sa_ordering": _pct(order), "sa_ordering_n": len(order),
        "el_ac_change": {k: {**{m: float(np.mean(v[m])) for m in ("el", "ac", "el_raw", "ac_raw")}, "n": len(v["el"])}
                         for k, v in delta.items()},
        "pose_recovered": {op: _pct(v) for op, v in sorted(pose.items())},
        "pose_recovered_n": {op: len(v) for op, v in sorted(pose.items())},
        "oracle": {"ic": _pct([r["ic"] == 1 for r in rows if r["kind"] == "correct" and r["nuisance"] == "none"]),
                   "sa": 100.0 * float(np.mean([r["sa"] for r in rows if r["kind"] == "correct" and r["nuisance"] == "none"] or [float("nan")]))},
        "low_confidence": len(low), "n": len(rows),
    }


def format_tables(s: dict) -> str:
    """Plain-text tables of :func:`summarise` output."""
    lines = [f"oracle: IC {s['oracle']['ic']:.1f}  SA {s['oracle']['sa']:.1f}   ({s['n']} scored predictions, "
             f"{s['low_confidence']} low-confidence)"]
    ops = sorted({k.split("|")[0] for k in s["ic_accuracy"]})
    nzs = [n for n in list(NUISANCES) + ["other_backend"] if any(k.endswith("|" + n) for k in s["ic_accuracy"])]
    lines.append("IC decision accuracy (%), correct + within-tolerance edits, operation × nuisance")
    lines.append(f"{'operation':22s}" + "".join(f"{n[:8]:>9s}" for n in nzs))
    for op in ops:
        lines.append(f"{op[:22]:22s}" + "".join(f"{s['ic_accuracy'].get(f'{op}|{n}', float('nan')):9.1f}" for n in nzs))
    lines.append(f"{'all':22s}" + "".join(f"{s['ic_accuracy_by_nuisance'].get(n, float('nan')):9.1f}" for n in nzs))
    lines.append("IC decision accuracy (%) per kind (nuisance none + one drawn nuisance)")
    for k, v in s["ic_accuracy_kind_total"].items():
        lines.append(f"  {k:18s} {v:6.1f}")
    lines.append(f"SA ordering correct ≥ half/double ≥ wrong direction: {s['sa_ordering']:.1f} % of {s['sa_ordering_n']} records")
    lines.append("EL / AC change of correct edits vs no nuisance (points)")
    for k, v in s["el_ac_change"].items():
        lines.append(f"  {k:16s} EL {v['el']:+6.1f}  AC {v['ac']:+6.1f}   (unaligned: EL {v['el_raw']:+6.1f}  "
                     f"AC {v['ac_raw']:+6.1f})  (n={v['n']})")
    lines.append("realised pose recovered (%), visible object, correct/tolerance/half/double/wrong-direction")
    for op, v in s["pose_recovered"].items():
        lines.append(f"  {op:22s} {v:6.1f}  (n={s['pose_recovered_n'][op]})")
    return "\n".join(lines)
