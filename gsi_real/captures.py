"""RGB-D capture adapters: read frames (RGB, metric depth, intrinsics, pose, instance labels).

Two on-disk layouts are understood; both yield :class:`Frame` objects.

**Generic layout** (what :mod:`gsi_real.demo` writes; easy to produce from any RGB-D sensor)::

    <capture>/
      capture.json        optional: {"name": ..., "depth_scale": 1000.0}  (depth units per metre)
      intrinsics.json     {"K": [[fx,0,cx],[0,fy,cy],[0,0,1]]}  or {"fx","fy","cx","cy"}
                          or per frame: {"frames": {"<frame>": K, ...}}
      rgb/<frame>.png|jpg       RGB
      depth/<frame>.png         uint16 depth (mm unless depth_scale says otherwise; 0 = no data)
      instances/<frame>.png     uint16 instance ids (0 = unlabelled)
      labels.json               {"<instance id>": {"category": "cup", "category_zh": "杯子",
                                  "description": "red cup", "movable": true}, ...}
      labels/<frame>.json       optional per-frame labels (same form; override labels.json)
      poses.json                optional: {"<frame>": 4×4 cam_from_world (OpenCV camera)}

A *captures root* may hold one capture (the folder itself) or several (sub-folders).

**ScanNet++-style layout** (iPhone stream of one scene)::

    <scene>/iphone/rgb/frame_000000.jpg        RGB (1920×1440)
    <scene>/iphone/depth/frame_000000.png      uint16 mm (256×192)
    <scene>/iphone/pose_intrinsic_imu.json     {"frame_000000": {"intrinsic": K, "aligned_pose": 4×4}}
    <scene>/scans/segments_anno.json           {"segGroups": [{"objectId", "label", ...}]}
    <scene>/iphone/instance/frame_000000.png   uint16 objectId + 1 per pixel (rasterised from the
                                               mesh annotation, e.g. with the ScanNet++ toolbox)

RGB is resampled to the depth resolution (intrinsics scaled accordingly), so depth stays metric
and unresampled. ``aligned_pose`` is read as world-from-camera; ``pose_convention`` says whether
that camera is OpenGL-style (ARKit: y up, z backward; the default) or OpenCV.

Missing depth or instances can be filled by optional model backends (:mod:`gsi_real.backends`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gsi_bench.schema import MAX_IMAGE_PIXELS

#: Categories that are never edited (structure and furniture), whatever labels.json says.
FIXED_CATEGORIES = frozenset({
    "door", "floor", "ceiling", "wall", "window frame", "window", "doorframe", "blinds",
    "ceiling light", "bed", "table", "desk", "shelf", "cabinet", "counter", "sofa", "kitchen cabinet",
    "bookshelf", "wardrobe", "curtain", "radiator", "stairs", "object",
})
IMAGE_EXTS = (".png", ".jpg", ".jpeg")


class CaptureError(ValueError):
    """A capture folder is malformed (message names the file)."""


@dataclass
class Label:
    category: str
    category_zh: str = ""
    description: str = ""
    description_zh: str = ""
    movable: bool = True


@dataclass
class Frame:
    """One RGB-D frame with labels.

    ``rgb`` uint8 ``(H, W, 3)``; ``depth`` float32 ``(H, W)`` metres (0 = no data);
    ``K`` float64 3×3; ``cam_from_world`` float64 4×4 (identity when unknown);
    ``instances`` uint16 ``(H, W)``; ``labels`` instance id → :class:`Label`.
    """

    capture: str
    frame_id: str
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    cam_from_world: np.ndarray
    instances: np.ndarray
    labels: dict[int, Label]
    source: str = ""
    pose_known: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.capture}/{self.frame_id}"

    def movable_ids(self) -> list[int]:
        present = set(np.unique(self.instances).tolist()) - {0}
        return sorted(i for i in present if i in self.labels and self.labels[i].movable
                      and self.labels[i].category not in FIXED_CATEGORIES)


# ----------------------------------------------------------------------------------------------
def _read_image(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
    except OSError as err:
        raise CaptureError(f"{path}: not a readable image ({err})") from err
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise CaptureError(f"{path}: {img.width}×{img.height} px exceeds the {MAX_IMAGE_PIXELS} px limit")
    return img


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CaptureError(f"{path}: not readable JSON ({err})") from err


def _parse_K(value, where: str) -> np.ndarray:
    if isinstance(value, dict) and {"fx", "fy", "cx", "cy"} <= set(value):
        K = np.array([[value["fx"], 0, value["cx"]], [0, value["fy"], value["cy"]], [0, 0, 1]], dtype=np.float64)
    else:
        K = np.asarray(value, dtype=np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CaptureError(f"{where}: intrinsics must be a finite 3×3 matrix with positive focal lengths")
    return K


def _parse_pose(value, where: str) -> np.ndarray:
    T = np.asarray(value, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise CaptureError(f"{where}: pose must be a finite 4×4 matrix")
    return T


def _uint16(img: Image.Image, path: Path) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 2:
        raise CaptureError(f"{path}: expected a single-channel 16-bit PNG, got shape {a.shape}")
    return a.astype(np.uint16)


def _frame_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS}


# ----------------------------------------------------------------------------------------------
def is_generic_capture(path: Path) -> bool:
    return (path / "rgb").is_dir() and (path / "intrinsics.json").is_file()


def is_scannetpp_scene(path: Path) -> bool:
    return (path / "iphone" / "rgb").is_dir() and (path / "iphone" / "pose_intrinsic_imu.json").is_file()


def find_captures(root: str | Path) -> list[tuple[str, Path]]:
    """(layout, folder) of every capture under ``root`` (itself or its direct sub-folders)."""
    root = Path(root)
    if not root.is_dir():
        raise CaptureError(f"{root}: no such folder")
    for kind, test in (("generic", is_generic_capture), ("scannetpp", is_scannetpp_scene)):
        if test(root):
            return [(kind, root)]
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if is_generic_capture(sub):
            out.append(("generic", sub))
        elif is_scannetpp_scene(sub):
            out.append(("scannetpp", sub))
    if not out:
        raise CaptureError(f"{root}: no capture found (expected rgb/ + intrinsics.json, or iphone/ of a "
                           "ScanNet++ scene, in the folder or its sub-folders)")
    return out


def _labels(value, where: str) -> dict[int, Label]:
    if not isinstance(value, dict):
        raise CaptureError(f"{where}: expected an object mapping instance ids to labels")
    out = {}
    for k, v in value.items():
        try:
            iid = int(k)
        except ValueError as err:
            raise CaptureError(f"{where}: instance id {k!r} is not an integer") from err
        if isinstance(v, str):
            v = {"category": v}
        if not isinstance(v, dict) or not isinstance(v.get("category"), str):
            raise CaptureError(f"{where}: label of {k} needs a 'category' string")
        out[iid] = Label(category=v["category"], category_zh=str(v.get("category_zh", "")),
                         description=str(v.get("description", "")) or v["category"],
                         description_zh=str(v.get("description_zh", "")) or str(v.get("category_zh", "")),
                         movable=bool(v.get("movable", True)))
    return out


def iter_generic(folder: Path, fill=None) -> Iterator[Frame]:
    """Frames of a generic-layout capture. ``fill``: e.g. a :class:`gsi_real.backends.TransformersFill` for missing
    depth / instances (frames lacking them are skipped otherwise)."""
    meta = _read_json(folder / "capture.json") if (folder / "capture.json").is_file() else {}
    name = str(meta.get("name", folder.name))
    scale = float(meta.get("depth_scale", 1000.0))
    intr = _read_json(folder / "intrinsics.json")
    per_frame = intr.get("frames") if isinstance(intr, dict) and "frames" in intr else None
    shared_K = None if per_frame is not None else _parse_K(intr.get("K", intr) if isinstance(intr, dict) else intr,
                                                            str(folder / "intrinsics.json"))
    labels = _labels(_read_json(folder / "labels.json"), str(folder / "labels.json")) \
        if (folder / "labels.json").is_file() else {}
    poses = _read_json(folder / "poses.json") if (folder / "poses.json").is_file() else {}
    depth_files, inst_files = _frame_files(folder / "depth"), _frame_files(folder / "instances")
    for fid, rgb_path in _frame_files(folder / "rgb").items():
        rgb = np.asarray(_read_image(rgb_path).convert("RGB"))
        K = shared_K if per_frame is None else _parse_K(per_frame.get(fid), f"{folder}/intrinsics.json[{fid}]")
        depth = inst = None
        if fid in depth_files:
            depth = _uint16(_read_image(depth_files[fid]), depth_files[fid]).astype(np.float32) / scale
        if fid in inst_files:
            inst = _uint16(_read_image(inst_files[fid]), inst_files[fid])
        frame_labels = labels
        per_frame_labels = folder / "labels" / f"{fid}.json"
        if per_frame_labels.is_file():
            frame_labels = {**labels, **_labels(_read_json(per_frame_labels), str(per_frame_labels))}
        filled = _fill_meta(fill, depth, inst)
        if depth is None or inst is None:
            if fill is None:
                continue
            depth, inst, frame_labels = fill(rgb, K, depth, inst, frame_labels)
        for n, a in (("depth", depth), ("instances", inst)):
            if a.shape != rgb.shape[:2]:
                raise CaptureError(f"{folder}: {n} of frame {fid} is {a.shape}, rgb is {rgb.shape[:2]}")
        pose = poses.get(fid)
        yield Frame(capture=name, frame_id=fid, rgb=rgb, depth=depth, K=K,
                    cam_from_world=_parse_pose(pose, f"{folder}/poses.json[{fid}]") if pose is not None else np.eye(4),
                    instances=inst, labels=frame_labels, source=str(rgb_path), pose_known=pose is not None,
                    meta=filled)


def _fill_meta(fill, depth, inst) -> dict:
    """``{"filled": {"depth": backend info, ...}}`` for what ``fill`` is about to supply."""
    missing = [n for n, a in (("depth", depth), ("instances", inst)) if a is None]
    if not missing or fill is None:
        return {}
    info = fill.info() if hasattr(fill, "info") else {}
    return {"filled": {n: info.get(n, {"backend": type(fill).__name__}) for n in missing}}


_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def iter_scannetpp(folder: Path, fill=None, frame_stride: int = 10, pose_convention: str = "opengl",
                   instance_dir: str = "instance") -> Iterator[Frame]:
    """Frames of a ScanNet++ scene (every ``frame_stride``-th iPhone frame)."""
    iphone = folder / "iphone"
    meta = _read_json(iphone / "pose_intrinsic_imu.json")
    anno = folder / "scans" / "segments_anno.json"
    labels: dict[int, Label] = {}
    if anno.is_file():
        for g in _read_json(anno).get("segGroups", []):
            cat = str(g.get("label", "object"))
            labels[int(g["objectId"]) + 1] = Label(category=cat, description=cat,
                                                   movable=cat not in FIXED_CATEGORIES)
    depth_files = _frame_files(iphone / "depth")
    inst_files = _frame_files(iphone / instance_dir)
    for k, (fid, rgb_path) in enumerate(_frame_files(iphone / "rgb").items()):
        if k % frame_stride or fid not in meta:
            continue
        rec = meta[fid]
        K = _parse_K(rec.get("intrinsic"), f"{iphone}/pose_intrinsic_imu.json[{fid}]")
        img = _read_image(rgb_path).convert("RGB")
        depth = inst = None
        if fid in depth_files:
            d = _uint16(_read_image(depth_files[fid]), depth_files[fid])
            h, w = d.shape
            sx, sy = w / img.width, h / img.height
            K = K.copy()
            K[0] *= sx
            K[1] *= sy
            # pixel centres: OpenCV u' = (u + 0.5)·s − 0.5
            K[0, 2] += 0.5 * sx - 0.5
            K[1, 2] += 0.5 * sy - 0.5
            img = img.resize((w, h), Image.BILINEAR)
            depth = d.astype(np.float32) / 1000.0
        rgb = np.asarray(img)
        if fid in inst_files:
            inst = _uint16(_read_image(inst_files[fid]), inst_files[fid])
            if inst.shape != rgb.shape[:2]:
                inst = np.asarray(Image.fromarray(inst).resize(rgb.shape[1::-1], Image.NEAREST)).astype(np.uint16)
        frame_labels = labels
        filled = _fill_meta(fill, depth, inst)
        if depth is None or inst is None:
            if fill is None:
                continue
            depth, inst, frame_labels = fill(rgb, K, depth, inst, labels)
        pose = rec.get("aligned_pose", rec.get("pose"))
        cfw = np.eye(4)
        if pose is not None:
            wfc = _parse_pose(pose, f"{iphone}/pose_intrinsic_imu.json[{fid}]")
            if pose_convention == "opengl":
                wfc = wfc @ _GL_TO_CV
            cfw = np.linalg.inv(wfc)
        yield Frame(capture=folder.name, frame_id=fid, rgb=rgb, depth=depth, K=K, cam_from_world=cfw,
                    instances=inst, labels=frame_labels, source=str(rgb_path), pose_known=pose is not None,
                    meta=filled)


def iter_frames(root: str | Path, fill=None, **scannetpp_options) -> Iterator[Frame]:
    """Every frame of every capture under ``root`` (see :func:`find_captures`)."""
    for kind, folder in find_captures(root):
        if kind == "generic":
            yield from iter_generic(folder, fill)
        else:
            yield from iter_scannetpp(folder, fill, **scannetpp_options)


def write_generic_frame(folder: str | Path, frame_id: str, rgb: np.ndarray, depth_m: np.ndarray | None,
                        instances: np.ndarray | None) -> None:
    """Write one frame's images into a generic-layout capture (PNG, lossless)."""
    from gsi_bench.schema import depth_to_mm

    folder = Path(folder)
    for sub in ("rgb", "depth", "instances"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(folder / "rgb" / f"{frame_id}.png")
    if depth_m is not None:
        Image.fromarray(depth_to_mm(depth_m)).save(folder / "depth" / f"{frame_id}.png")
    if instances is not None:
        Image.fromarray(np.ascontiguousarray(instances, dtype=np.uint16)).save(folder / "instances" / f"{frame_id}.png")
