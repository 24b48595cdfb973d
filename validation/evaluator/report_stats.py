"""Statistics and figures that make an evaluation report readable (called by :mod:`.report`):

* :func:`bootstrap_intervals` — percentile-bootstrap 95 % intervals of every headline number
  (IC, SA, EL, AC, avg; overall and per operation), seeded, so the same results give the same bytes;
* :func:`failure_reasons` — why samples failed (IC = 0 or not scored), per operation, with the
  numbers in the reasons folded (``moved 87° off …`` → ``moved #° off …``);
* :func:`confusion` — instructed vs realised **direction** (camera-relative moves), **sense**
  (rotation: clockwise / counterclockwise; scale: larger / smaller) and **camera motion**
  (perspective: ``yaw left`` …), from the per-sample ``realised`` fields and the records' ``params``;
* :func:`overlay` — the prediction with the source box (grey), the instructed target box (green)
  and the box at the realised pose (red) drawn on it, for the report's worst samples.

Realised direction of a translation (``realised.translation_m``, source camera frame, OpenCV): the
camera-x component against the ground component in the camera's y-z plane; ``forward`` (away from
the viewer) when ``z − y > 0`` (deeper and higher in the image), ``none`` below 1 cm, ``absent``
when the object vanished.

>>> samples = [{"operation": "rotate", "status": "ok", "ic": 0, "sa": 0.1, "el": 90.0, "ac": 50.0,
...             "reason": "rotation off by 43° (tolerance 20°)", "realised": {"yaw_change_deg": -40.0}, "id": "a"}]
>>> failure_reasons(samples)
{'rotate': {'rotation off by #° (tolerance #°)': 1}}
>>> confusion(samples, {"a": {"rotation_sense": "counterclockwise"}})["sense"]
{'counterclockwise': {'clockwise': 1}}
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

HEADLINE = ("ic", "sa", "el", "ac", "avg")
_SCALE = {"ic": 100.0, "sa": 100.0, "el": 1.0, "ac": 1.0}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
MIN_MOVE_M = 0.01
MIN_ROTATION_DEG = 5.0  # as in scoring.score_rotation ("not rotated")


# ---------------------------------------------------------------------------------------------
# intervals
# ---------------------------------------------------------------------------------------------
def _metric_matrix(samples: Sequence[Mapping]) -> np.ndarray:
    """(n, 5) float64: IC, SA (percent), EL, AC (0–100) and their mean, per sample."""
    m = np.array([[float(s[k]) * _SCALE[k] for k in ("ic", "sa", "el", "ac")] for s in samples], dtype=np.float64)
    return np.concatenate([m, m.mean(axis=1, keepdims=True)], axis=1) if len(m) else np.zeros((0, 5))


def bootstrap_interval(samples: Sequence[Mapping], resamples: int = 2000, seed: int = 0,
                       level: float = 0.95) -> dict[str, list[float]]:
    """``{metric: [low, high]}`` percentile-bootstrap interval of the mean of each headline metric.

    ``n = 1`` gives the degenerate interval ``[x, x]``; ``n = 0`` gives ``[0, 0]``.

    >>> s = [{"ic": i % 2, "sa": 0.5, "el": 80.0, "ac": 40.0} for i in range(40)]
    >>> ci = bootstrap_interval(s)
    >>> ci["sa"], ci["ic"][0] < 50.0 < ci["ic"][1]
    ([50.0, 50.0], True)
    """
    x = _metric_matrix(samples)
    if len(x) == 0:
        return {k: [0.0, 0.0] for k in HEADLINE}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    means = x[idx].mean(axis=1)  # (resamples, 5)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    return {k: [round(float(a), 2), round(float(b), 2)] for k, a, b in zip(HEADLINE, lo, hi)}


def bootstrap_intervals(samples: Sequence[Mapping], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """95 % intervals overall and per operation (each group resampled within itself)."""
    groups: dict[str, list] = defaultdict(list)
    for s in samples:
        groups[s["operation"]].append(s)
    return {"level": 0.95, "method": f"percentile bootstrap, {resamples} resamples, seed {seed}",
            "overall": bootstrap_interval(samples, resamples, seed),
            "per_operation": {op: bootstrap_interval(g, resamples, seed) for op, g in sorted(groups.items())}}


# ---------------------------------------------------------------------------------------------
# failures and confusions
# ---------------------------------------------------------------------------------------------
def failure_reasons(samples: Sequence[Mapping]) -> dict[str, dict[str, int]]:
    """``{operation: {reason pattern: count}}`` over samples with IC = 0 or not scored."""
    out: dict[str, Counter] = defaultdict(Counter)
    for s in samples:
        if s["status"] != "ok":
            out[s["operation"]][f"{s['status']}: {_NUMBER.sub('#', s.get('reason', ''))}".rstrip(": ")] += 1
        elif not s["ic"]:
            out[s["operation"]][_NUMBER.sub("#", s.get("reason", ""))] += 1
    return {op: dict(c.most_common()) for op, c in sorted(out.items())}


def translation_direction(t: Sequence[float] | None) -> str:
    """Camera-relative direction of a realised translation (see module doc)."""
    if t is None:
        return "absent"
    x, y, z = (float(v) for v in t)
    ground = float(np.hypot(y, z))
    if max(abs(x), ground) < MIN_MOVE_M:
        return "none"
    if abs(x) >= ground:
        return "right" if x > 0 else "left"
    return "forward" if z - y > 0 else "backward"


#: Operations with an instructed-vs-realised confusion, and the axis it is over.
_CONFUSION_KIND = {"camera_relative_move": "direction", "rotate": "sense", "scale": "sense",
                   "perspective": "camera_motion"}


def _realised_label(s: Mapping) -> tuple[str, str] | None:
    """(kind, realised label) of one scored sample, or None when it has no such axis.

    >>> _realised_label({"status": "ok", "operation": "receptacle_place", "realised": {"absent": True}}) is None
    True
    >>> _realised_label({"status": "ok", "operation": "rotate", "realised": {"absent": True}})
    ('sense', 'absent')
    """
    r = s.get("realised") or {}
    op = s["operation"]
    if s["status"] != "ok" or op not in _CONFUSION_KIND:
        return None
    if r.get("absent"):
        label = "absent"
    elif op == "camera_relative_move":
        label = translation_direction(r.get("translation_m"))
    elif op == "rotate":
        d = float(r.get("yaw_change_deg", 0.0))
        label = "none" if abs(d) < MIN_ROTATION_DEG else ("counterclockwise" if d > 0 else "clockwise")
    elif op == "scale":
        f = float(r.get("scale_factor", 1.0))
        label = "unchanged" if abs(np.log(max(f, 1e-9))) < 0.05 else ("larger" if f > 1 else "smaller")
    elif op == "perspective":
        label = "none" if r.get("motion") in (None, "none") else f"{r['motion']} {r.get('direction', '')}".strip()
    return _CONFUSION_KIND[op], label


def _instructed_label(op: str, p: Mapping) -> str:
    if op == "camera_relative_move":
        return str(p.get("direction", ""))
    if op == "rotate":
        return str(p.get("rotation_sense", ""))
    if op == "scale":
        f = float(p.get("scale_factor") or 1.0)
        return "larger" if f > 1 else "smaller"
    if op == "perspective":
        how = p.get("direction") if p.get("camera_motion") == "move" else p.get("rotation_sense")
        return f"{p.get('camera_motion', '')} {how or ''}".strip()
    return ""


def confusion(samples: Sequence[Mapping], instructed: Mapping[str, Mapping]) -> dict[str, dict[str, dict[str, int]]]:
    """``{"direction" | "sense" | "camera_motion": {instructed: {realised: count}}}`` over scored samples;
    ``instructed`` maps a record id to its ``params`` (samples without params are skipped)."""
    out: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for s in samples:
        lab = _realised_label(s)
        params = instructed.get(s["id"])
        if lab is None or params is None:
            continue
        out[lab[0]][_instructed_label(s["operation"], params)][lab[1]] += 1
    return {k: {i: dict(sorted(c.items())) for i, c in sorted(v.items())} for k, v in sorted(out.items())}


def instructed_params(shards: Sequence) -> dict[str, dict]:
    """``{record id: params}`` read from the shards (only the ``id`` and ``params`` columns)."""
    from gsi_bench.hub_io import iter_rows

    return {r["id"]: dict(r["params"] or {}) for r in iter_rows(shards, columns=["id", "params"])}


def summarise(samples: Sequence[Mapping], instructed: Mapping[str, Mapping] | None = None,
              seed: int = 0) -> dict[str, Any]:
    """Everything above in one JSON-ready dict (written into ``summary.json`` as ``statistics``)."""
    return {"intervals_95": bootstrap_intervals(samples, seed=seed), "failure_reasons": failure_reasons(samples),
            "confusion": confusion(samples, instructed or {})}


# ---------------------------------------------------------------------------------------------
# overlays
# ---------------------------------------------------------------------------------------------
_EDGES = [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def box_corners(center: Sequence[float], size: Sequence[float], rotation: Sequence[Sequence[float]]) -> np.ndarray:
    """(8, 3) corners of an oriented box (camera frame, metres)."""
    half = np.asarray(size, dtype=np.float64) / 2.0
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    return np.asarray(center, dtype=np.float64) + (signs * half) @ np.asarray(rotation, dtype=np.float64).T


def realised_box(record, sample: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(center, size, rotation) of the target's box at its realised pose (source camera frame), or None
    (object absent, camera / removal edits)."""
    r = sample.get("realised") or {}
    b = record.source_box
    c, size, rot = np.asarray(b.center, float), np.asarray(b.size, float), np.asarray(b.rotation, float)
    if r.get("absent") or sample["status"] != "ok":
        return None
    if "translation_m" in r:
        return c + np.asarray(r["translation_m"], float), size, rot
    up = np.asarray(record.source_cam_from_world, float)[:3, :3] @ np.array([0.0, 0.0, 1.0])  # world z in camera
    if "yaw_change_deg" in r:
        a = np.radians(float(r["yaw_change_deg"]))
        k = np.array([[0, -up[2], up[1]], [up[2], 0, -up[0]], [-up[1], up[0], 0]])
        turn = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)  # Rodrigues about world up
        return c, size, turn @ rot
    if "scale_factor" in r:
        f = float(r["scale_factor"])
        base = c - up * size[2] / 2.0  # scaled about the base centre
        return base + up * size[2] * f / 2.0, size * f, rot
    return None


def overlay(record, sample: Mapping, prediction: np.ndarray, size: int = 256) -> np.ndarray:
    """uint8 ``(size, size·H/W, 3)``: the prediction with grey = source box, green = instructed
    target box, red = box at the realised pose (object edits; camera / removal edits get no boxes)."""
    from PIL import Image, ImageDraw

    h, w = prediction.shape[:2]
    scale = size / max(h, w)
    img = Image.fromarray(np.ascontiguousarray(prediction[..., :3], dtype=np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    K = np.asarray(record.K, dtype=np.float64)
    boxes = []
    if sample["operation"] not in ("perspective", "remove"):
        boxes.append(((record.source_box.center, record.source_box.size, record.source_box.rotation), (160, 160, 160)))
        if record.target_present:
            boxes.append(((record.target_box.center, record.target_box.size, record.target_box.rotation), (0, 200, 0)))
        real = realised_box(record, sample)
        if real is not None:
            boxes.append((real, (230, 0, 0)))
    for (c, sz, rot), colour in boxes:
        pts = box_corners(c, sz, rot)
        if (pts[:, 2] <= 1e-3).any():
            continue  # behind the camera
        uv = (K @ pts.T).T
        uv = uv[:, :2] / uv[:, 2:3] * scale
        for a, b in _EDGES:
            draw.line([tuple(uv[a]), tuple(uv[b])], fill=colour, width=2)
    return np.asarray(img)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
def model_name(cfg) -> str:
    """The evaluated model's name: ``cfg.extra["model"]``, else the predictions' folder name."""
    from pathlib import Path

    name = (getattr(cfg, "extra", None) or {}).get("model")
    if name:
        return str(name)
    spec = getattr(cfg.predictions, "root", cfg.predictions)
    return Path(str(spec).rstrip("/")).name or str(spec)


def html_section(stats: Mapping[str, Any] | None) -> str:
    """HTML tables: intervals, failure reasons, confusions."""
    import html

    if not stats:
        return ""
    ci = stats["intervals_95"]
    rows = [("overall", ci["overall"])] + list(ci["per_operation"].items())
    parts = [f"<h2>95 % intervals ({html.escape(ci['method'])})</h2><table><tr><th>group</th>"
             + "".join(f"<th>{m.upper()}</th>" for m in HEADLINE) + "</tr>"]
    parts += ["<tr><td>" + html.escape(k) + "</td>" + "".join(f"<td>{v[m][0]:.1f}–{v[m][1]:.1f}</td>" for m in HEADLINE)
              + "</tr>" for k, v in rows]
    parts.append("</table><h2>Failure reasons (IC = 0 or not scored)</h2><table><tr><th>operation</th><th>reason</th><th>n</th></tr>")
    for op, reasons in stats["failure_reasons"].items():
        parts += [f"<tr><td>{html.escape(op)}</td><td style='text-align:left'>{html.escape(r)}</td><td>{n}</td></tr>"
                  for r, n in reasons.items()]
    parts.append("</table>")
    for kind, table in stats["confusion"].items():
        cols = sorted({c for row in table.values() for c in row})
        parts.append(f"<h2>Instructed vs realised {html.escape(kind.replace('_', ' '))}</h2><table><tr><th>instructed \\ realised</th>"
                     + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>")
        parts += ["<tr><td>" + html.escape(i) + "</td>" + "".join(f"<td>{row.get(c, 0)}</td>" for c in cols) + "</tr>"
                  for i, row in table.items()]
        parts.append("</table>")
    return "".join(parts)


def statistics_for(cfg, results: Sequence[Mapping]) -> dict[str, Any]:
    """:func:`summarise` with the instructed params read from the run's data (confusions are left
    empty when the data cannot be read again)."""
    from validation.evaluator.runner import resolve_data

    try:
        instructed = instructed_params(resolve_data(cfg.data, cfg.config, cfg.split))
    except (OSError, ValueError, KeyError):
        instructed = {}
    return summarise(results, instructed)
