"""Embedded demo captures: GSI-Syn room views rendered close to a piece of furniture, with
sensor-like depth noise, written in the generic capture layout as if they were real RGB-D scans.

Each capture folder also holds ``gt/<frame>.json`` (the exact scene spec and every object's true
box in the camera frame). The pipeline never reads it; :func:`lifting_errors` and the filter
evaluation (:mod:`gsi_real.evaluate`) compare the pipeline's estimates against it.

Depth noise (per pixel, metres): Gaussian with σ(z) = ``sigma0 + sigma2·z²`` (structured-light /
time-of-flight style), quantised to millimetres, plus dropouts: a fraction of random pixels and
of pixels on depth discontinuities read 0 (no data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gsi_bench.geometry import intrinsics_from_fov, look_at
from gsi_real.captures import write_generic_frame


@dataclass(frozen=True)
class DepthNoise:
    sigma0: float = 0.001
    sigma2: float = 0.0025
    dropout: float = 0.01
    edge_dropout: float = 0.3
    edge_jump_m: float = 0.05


def add_depth_noise(depth: np.ndarray, rng: np.random.Generator, noise: DepthNoise = DepthNoise()) -> np.ndarray:
    """Sensor-like noisy copy of a float depth map (metres, 0 = no hit)."""
    d = depth.astype(np.float64)
    valid = d > 0
    out = d + rng.normal(size=d.shape) * (noise.sigma0 + noise.sigma2 * d * d)
    out = np.round(out * 1000.0) / 1000.0
    jump = np.zeros_like(valid)
    gy = np.abs(np.diff(d, axis=0)) > noise.edge_jump_m
    gx = np.abs(np.diff(d, axis=1)) > noise.edge_jump_m
    jump[1:] |= gy
    jump[:-1] |= gy
    jump[:, 1:] |= gx
    jump[:, :-1] |= gx
    drop = (rng.random(d.shape) < noise.dropout) | (jump & (rng.random(d.shape) < noise.edge_dropout))
    out[~valid | drop] = 0.0
    return np.clip(out, 0, None).astype(np.float32)


def _close_view(scene, rng: np.random.Generator, width: int, height: int):
    """A camera 0.6–1.0 m in front of a furniture top that holds objects, looking down at them."""
    from gsi_syn.placement import object_box_world

    movable = [o for o in scene.objects if o.role == "object"]
    supports: dict[int, list] = {}
    for o in movable:
        supports.setdefault(o.support_id, []).append(o)
    options = [sid for sid, objs in supports.items() if sid != 0 and len(objs) >= 2] or \
        [sid for sid in supports if sid != 0]
    if not options:
        return None
    sid = options[int(rng.integers(len(options)))]
    objs = supports[sid]
    centres = np.array([object_box_world(o).center for o in objs])
    focus = centres.mean(axis=0)
    # look from the room's open side (−y), with some azimuth spread
    to_viewer = np.array([0.0, -1.0]) + 0.25 * (np.array([0.0, -1.0]) - focus[:2] / max(np.linalg.norm(focus[:2]), 1))
    to_viewer /= np.linalg.norm(to_viewer)
    az = np.radians(rng.uniform(-30, 30))
    c, s = np.cos(az), np.sin(az)
    horiz = np.array([c * to_viewer[0] - s * to_viewer[1], s * to_viewer[0] + c * to_viewer[1]])
    dist = rng.uniform(0.6, 1.0)
    eye = np.array([focus[0] + horiz[0] * dist, focus[1] + horiz[1] * dist, focus[2] + rng.uniform(0.4, 0.65)])
    K = intrinsics_from_fov(width, height, float(rng.uniform(55, 65)))
    return K, look_at(eye, focus)


def editable_ids(scene, instances: np.ndarray, big: set[int]) -> list[int]:
    """Movable objects of a rendered view that the pipeline can edit by name: at least the
    minimum pixel count (``big``), not touching the image border, and of a category no other
    visible movable object has (visible objects of any size count: the pipeline's uniqueness
    counts every labelled instance in the frame)."""
    present = set(np.unique(instances).tolist())
    visible = [o for o in scene.objects if o.role == "object" and o.instance_id in present]
    counts: dict[str, int] = {}
    for o in visible:
        counts[o.category] = counts.get(o.category, 0) + 1
    border = set(np.unique(np.concatenate([instances[0], instances[-1], instances[:, 0], instances[:, -1]])).tolist())
    return [o.instance_id for o in visible
            if o.instance_id in big and o.instance_id not in border and counts[o.category] == 1]


def make_demo_captures(out_dir: str | Path, num_captures: int = 3, frames_per_capture: int = 2,
                       width: int = 256, height: int = 192, seed: int = 0, renderer: str = "gl",
                       noise: DepthNoise = DepthNoise(), min_object_pixels: int | None = None) -> list[Path]:
    """Render ``num_captures`` rooms × ``frames_per_capture`` views into ``out_dir/<capture>/``
    (generic layout + ``gt/``). Deterministic in ``seed``. Returns the capture folders."""
    import dataclasses

    from gsi_syn.placement import box_in_camera, object_box_world
    from gsi_syn.render.base import get_renderer
    from gsi_syn.room import sample_room_scene

    rend = get_renderer(renderer)
    out_dir = Path(out_dir)
    min_px = min_object_pixels if min_object_pixels is not None else max(40, int(width * height * 0.004))
    folders = []
    for ci in range(num_captures):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7, ci]))
        folder = out_dir / f"demo_{ci:03d}"
        written = 0
        intrinsics, poses = {}, {}
        for _attempt in range(60):
            if written >= frames_per_capture:
                break
            scene = sample_room_scene(rng, width, height)
            view = _close_view(scene, rng, width, height)
            if view is None:
                continue
            K, C = view
            cam = dataclasses.replace(scene.camera, K=K.tolist(), cam_from_world=C.tolist(), width=width, height=height)
            scene = scene.with_camera(cam)
            r = rend.render(scene)
            ids, counts = np.unique(r.instances, return_counts=True)
            big = {int(i) for i, n in zip(ids, counts) if n >= min_px}
            movable = [o for o in scene.objects if o.role == "object" and o.instance_id in big]
            if len(movable) < 2:
                continue
            # an object cut by the image border cannot be lifted whole, and only an object whose
            # category is unique in the frame can be named without a referring expression (every
            # operation but remove): require two such objects fully inside, so that a frame
            # supports every real operation (object_relative_place needs a distinct anchor), also
            # in the dense rooms where categories repeat on a furniture top
            if len(editable_ids(scene, r.instances, big)) < 2:
                continue
            fid = f"{written:06d}"
            depth = add_depth_noise(r.depth, rng, noise)
            write_generic_frame(folder, fid, r.rgb, depth, r.instances)
            intrinsics[fid] = K.tolist()
            poses[fid] = C.tolist()
            frame_labels = {}
            for o in scene.objects:
                frame_labels[str(o.instance_id)] = {
                    "category": o.category, "category_zh": o.category_zh,
                    "description": o.description or o.category, "description_zh": o.description_zh or o.category_zh,
                    "movable": o.role == "object"}
            gt = {"scene": scene.to_dict(), "boxes": {}}
            for o in scene.objects:
                if o.role != "object":
                    continue
                b = box_in_camera(object_box_world(o), C)
                gt["boxes"][str(o.instance_id)] = {"center": b.center.tolist(), "size": b.size.tolist(),
                                                   "rotation": b.rotation.tolist()}
            (folder / "gt").mkdir(parents=True, exist_ok=True)
            (folder / "gt" / f"{fid}.json").write_text(json.dumps(gt))
            (folder / "labels").mkdir(exist_ok=True)
            (folder / "labels" / f"{fid}.json").write_text(json.dumps(frame_labels, ensure_ascii=False))
            written += 1
        if written == 0:
            raise RuntimeError(f"demo capture {ci}: no usable view found")
        (folder / "intrinsics.json").write_text(json.dumps({"frames": intrinsics}))
        (folder / "poses.json").write_text(json.dumps(poses))
        (folder / "capture.json").write_text(json.dumps({
            "name": folder.name, "depth_scale": 1000.0, "kind": "gsi-real demo (GSI-Syn room render + depth noise)",
            "seed": seed, "noise": dataclasses.asdict(noise), "renderer": renderer}))
        folders.append(folder)
    return folders


def load_ground_truth(frame) -> dict | None:
    """The demo ground truth of a frame (``None`` for real captures)."""
    path = Path(frame.source).parent.parent / "gt" / f"{frame.frame_id}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())
