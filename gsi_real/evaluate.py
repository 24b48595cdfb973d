"""Measure the pipeline against the demo captures' ground truth.

* :func:`lifting_report` — lifted boxes vs the true boxes: centre error, size error, yaw error
  (modulo 90°, only for objects whose true footprint is elongated), upright 3D IoU, and the
  angle between the estimated and the true "up".
* :func:`filter_report` — raw rule-based proposals (no filtering) plus deliberately broken edits
  (wrong warp, collision, out of frame, off the support) are synthesised and filtered. The truth
  of each comes from the exact scene: Φ3D is mapped to the world and applied to the true object,
  then GSI-Syn's own placement checks decide (clearance ≥ 0, footprint inside its support, box
  inside the image); a wrong warp is invalid by construction. Precision / recall of "accepted"
  against "truly valid" are reported, and the rejection rate per breakage.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from gsi_real.captures import iter_frames
from gsi_real.demo import load_ground_truth
from gsi_real.edits import break_collision, break_off_support, break_out_of_frame, break_warp, propose
from gsi_bench.geometry import upright_box_iou
from gsi_real.lifting import yaw_error_deg
from gsi_real.pipeline import REAL_OPERATIONS, RealConfig, evaluate_proposal, frame_rng, lift


def lifting_report(captures: str | Path, cfg: RealConfig = RealConfig()) -> dict:
    rows, ups = [], []
    for fi, frame in enumerate(iter_frames(captures)):
        gt = load_ground_truth(frame)
        if gt is None:
            continue
        lifted = lift(frame, cfg, frame_rng(cfg, fi))
        true_up = frame.cam_from_world[:3, :3] @ np.array([0.0, 0.0, 1.0])
        ups.append(math.degrees(math.acos(float(np.clip(lifted.up @ true_up, -1, 1)))))
        for iid, o in lifted.objects.items():
            g = gt["boxes"].get(str(iid))
            if g is None or o.touches_border:
                continue
            gc, gs, gr = (np.asarray(g[k], dtype=np.float64) for k in ("center", "size", "rotation"))
            yaw = yaw_error_deg(o.rotation, gr)
            # match footprint sides: swap when the lifted x is closer to the true y
            s = o.size.copy()
            if yaw_error_deg(o.rotation, gr, period=180.0) > 45.0 and yaw_error_deg(o.rotation, gr, period=180.0) < 135.0:
                s[[0, 1]] = s[[1, 0]]
            fp = np.sort(gs[:2])
            rows.append({"frame": frame.key, "id": iid, "category": o.category, "pixels": o.mask_pixels,
                         "center_error_m": float(np.linalg.norm(o.center - gc)),
                         "size_error_m": float(np.abs(s - gs).max()),
                         "height_error_m": float(abs(s[2] - gs[2])),
                         "yaw_error_deg": yaw if fp[1] > 1.25 * fp[0] else None,
                         "iou": upright_box_iou(o.center, o.size, o.rotation, gc, gs, gr)})

    def stats(key):
        v = np.array([r[key] for r in rows if r[key] is not None], dtype=np.float64)
        if not len(v):
            return None
        return {"n": int(len(v)), "median": float(np.median(v)), "mean": float(v.mean()),
                "p90": float(np.percentile(v, 90)), "max": float(v.max())}

    return {"objects": len(rows), "up_error_deg": {"median": float(np.median(ups)), "max": float(np.max(ups))} if ups else None,
            "center_error_m": stats("center_error_m"), "size_error_m": stats("size_error_m"),
            "height_error_m": stats("height_error_m"), "yaw_error_deg": stats("yaw_error_deg"),
            "iou": stats("iou"), "rows": rows}


def true_validity(gt: dict, frame, p) -> tuple[bool, dict]:
    """Apply the proposal's Φ3D to the true scene and run GSI-Syn's checks."""
    from gsi_syn.edits import in_view
    from gsi_syn.placement import min_clearance, support_margin
    from gsi_bench.scene import Scene

    if p.broken == "wrong_warp":
        return False, {"reason": "wrong_warp"}
    if not p.target_present:
        return True, {}
    scene = Scene.from_dict(gt["scene"])
    obj = scene.get(p.target_id)
    C = np.asarray(frame.cam_from_world, dtype=np.float64)
    Ci = np.linalg.inv(C)
    phi = np.eye(4)
    phi[:3, :3] = p.R * p.s
    phi[:3, 3] = p.t
    W = Ci @ phi @ C
    pos = W[:3, :3] @ np.asarray(obj.position) + W[:3, 3]
    yaw_delta = math.degrees(math.atan2(W[1, 0], W[0, 0]))
    new = dataclasses.replace(obj, position=(float(pos[0]), float(pos[1]), float(obj.position[2])),
                              yaw_deg=obj.yaw_deg + yaw_delta, scale=obj.scale * p.s)
    out = scene.replace_object(new)
    clear, margin, view = min_clearance(out, obj.instance_id), support_margin(out, obj.instance_id), in_view(out, new)
    info = {"clearance": clear, "support_margin": margin, "in_view": view}
    return bool(clear >= 0.0 and margin >= 0.0 and view), info


def filter_report(captures: str | Path, cfg: RealConfig = RealConfig(), proposals_per_op: int = 3,
                  broken_per_kind: int = 1) -> dict:
    items = []
    for fi, frame in enumerate(iter_frames(captures)):
        gt = load_ground_truth(frame)
        if gt is None:
            continue
        rng = frame_rng(cfg, 10_000 + fi)
        lifted = lift(frame, cfg, rng)
        cats = {i: frame.labels[i].category for i in frame.movable_ids()}
        props = []
        for op in REAL_OPERATIONS:
            for _ in range(proposals_per_op):
                p = propose(op, lifted, cats, rng, cfg.min_object_pixels,
                            min_displacement_m=cfg.thresholds.min_place_displacement_m)
                if p is not None:
                    props.append(p)
        good_moves = [p for p in props if p.operation in ("camera_relative_move", "object_relative_place", "rotate")]
        editable = [o for o in lifted.objects.values() if not o.touches_border and o.mask_pixels >= cfg.min_object_pixels]
        for _ in range(broken_per_kind):
            if good_moves:
                src = good_moves[int(rng.integers(len(good_moves)))]
                b = break_warp(src, lifted.objects[src.target_id], rng)
                if b is not None:
                    props.append(b)
            if editable:
                o = editable[int(rng.integers(len(editable)))]
                for b in (break_collision(lifted, o, rng), break_out_of_frame(o, rng), break_off_support(o, rng)):
                    if b is not None:
                        props.append(b)
        for p in props:
            c = evaluate_proposal(frame, lifted, p, cfg, rng)
            valid, info = true_validity(gt, frame, p)
            items.append({"frame": frame.key, "operation": p.operation, "broken": p.broken, "truly_valid": valid,
                          "accepted": not c.failed, "failed": c.failed,
                          **{k: (float(v) if isinstance(v, (bool, np.bool_, float, int)) else v) for k, v in info.items()}})
    tp = sum(1 for x in items if x["accepted"] and x["truly_valid"])
    fp = sum(1 for x in items if x["accepted"] and not x["truly_valid"])
    fn = sum(1 for x in items if not x["accepted"] and x["truly_valid"])
    tn = sum(1 for x in items if not x["accepted"] and not x["truly_valid"])
    by_kind = {}
    for kind in ("wrong_warp", "collision", "out_of_frame", "off_support"):
        xs = [x for x in items if x["broken"] == kind]
        if xs:
            by_kind[kind] = {"n": len(xs), "rejected": sum(not x["accepted"] for x in xs),
                             "truly_invalid": sum(not x["truly_valid"] for x in xs)}
    by_op = {}
    for x in items:
        if x["broken"]:
            continue
        d = by_op.setdefault(x["operation"], {"n": 0, "truly_valid": 0, "accepted": 0, "accepted_valid": 0})
        d["n"] += 1
        d["truly_valid"] += x["truly_valid"]
        d["accepted"] += x["accepted"]
        d["accepted_valid"] += x["accepted"] and x["truly_valid"]
    return {"candidates": len(items), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
            "broken": by_kind, "by_operation": by_op, "items": items}
