"""Analysis-by-synthesis: estimate what a predicted image did to the scene.

From a record's stored *source* scene we render hypotheses of the edit at a reduced resolution
(``search_size`` px on the longest side, intrinsics scaled accordingly) and keep the hypothesis
whose render is closest to the prediction (downsampled with a box filter to the same size):

* object edits (move / place / rotate / scale): the target object at candidate positions on its
  support plane, yaws or scales, plus "absent" and "unchanged". Each hypothesis is the scene
  without the target (rendered once, with shadows) composited with the target rendered alone
  (depth-tested), so one hypothesis costs about a millisecond;
* removal: for the target and every other instance of its category, "present" versus "absent",
  decided on the pixels where the two renders differ;
* perspective: the camera at candidate poses (moves along the ground directions, yaw, pitch),
  full renders.

Searches are coarse-to-fine: a coarse grid (which always contains the unchanged scene, the
instructed edit and edits in the opposite sense), then three refinements that halve the step
around the best hypothesis.

Distance between a prediction ``P`` and a hypothesis ``H`` (both blurred by a 3×3 box filter):
the mean over pixels of ``min(|P − H|₁ / 3, 0.25)`` — a clipped L1, robust to colour shifts and
to regions no hypothesis explains.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from gsi_bench.geometry import ground_direction
from gsi_bench.scene import Camera, Scene, SceneObject

#: Clip of the per-pixel L1 distance (mean over RGB, [0, 1] units).
CLIP = 0.25


def _blur(img: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(img, size=(3, 3, 1), mode="nearest")


def distance(pred_blurred: np.ndarray, hyp: np.ndarray, region: np.ndarray | None = None) -> float:
    """Clipped-L1 distance of a blurred prediction and a (not yet blurred) hypothesis image."""
    d = np.minimum(np.abs(pred_blurred - _blur(hyp)).mean(axis=2), CLIP)
    if region is not None:
        return float(d[region].mean()) if region.any() else 0.0
    return float(d.mean())


def scaled_camera(camera: Camera, size: int, cam_from_world: np.ndarray | None = None) -> Camera:
    """``camera`` with its image scaled so the longest side is ``size`` px (pixel-centre exact:
    ``u' = (u + ½)·f − ½``)."""
    f = size / max(camera.width, camera.height)
    w, h = max(1, round(camera.width * f)), max(1, round(camera.height * f))
    fx, fy = w / camera.width, h / camera.height
    K = np.asarray(camera.K, dtype=np.float64).copy()
    K[0, :] *= fx
    K[1, :] *= fy
    K[0, 2] = (camera.K[0][2] + 0.5) * fx - 0.5
    K[1, 2] = (camera.K[1][2] + 0.5) * fy - 0.5
    C = camera.cam_from_world if cam_from_world is None else np.asarray(cam_from_world).tolist()
    return dataclasses.replace(camera, K=K.tolist(), width=w, height=h,
                               cam_from_world=[list(map(float, r)) for r in C])


@dataclass
class ObjectHypothesis:
    """A pose of the target object (``None`` = absent)."""

    obj: SceneObject | None
    label: str = ""


@dataclass
class Realised:
    """What the prediction did, as estimated. For object edits ``obj`` is the target's estimated
    pose (None when it is absent); for camera edits ``cam_from_world`` the estimated camera; for
    removal ``present`` maps instance id → still present. ``distance`` is the best hypothesis'
    image distance, ``runner_up`` the distance of the unchanged hypothesis (for reporting)."""

    kind: str
    obj: SceneObject | None = None
    cam_from_world: np.ndarray | None = None
    camera_motion: tuple[str, str, float] | None = None
    present: dict[int, bool] = field(default_factory=dict)
    distance: float = float("nan")
    unchanged_distance: float = float("nan")
    hypotheses: int = 0


class Synthesizer:
    """Renders hypotheses for one record. ``shaded`` renders full scenes (with shadows), ``flat``
    renders the target alone (no shadows)."""

    def __init__(self, shaded, flat, search_size: int = 128):
        self.shaded = shaded
        self.flat = flat
        self.search_size = int(search_size)

    # -- helpers -----------------------------------------------------------------------------
    def _small(self, scene: Scene, cam_from_world: np.ndarray | None = None) -> Scene:
        return scene.with_camera(scaled_camera(scene.camera, self.search_size, cam_from_world))

    def prediction(self, pred_rgb: np.ndarray, scene: Scene) -> np.ndarray:
        """The prediction at the search size, float [0, 1], blurred."""
        from validation.evaluator.imageops import downsample

        cam = scaled_camera(scene.camera, self.search_size)
        return _blur(downsample(pred_rgb, cam.width, cam.height))

    # -- object edits --------------------------------------------------------------------------
    def _object_renderer(self, scene: Scene, tid: int):
        small = self._small(scene)
        bg = self.shaded.render(small.without(tid))
        bg_depth = np.where(bg.depth > 0, bg.depth, np.inf)
        bg_rgb = bg.rgb.astype(np.float32) / 255.0
        shaded = self.shaded
        log: list[tuple[float, tuple, SceneObject | None]] = []

        class _R:
            count = 1

            def render(self, obj: SceneObject | None) -> np.ndarray:
                _R.count += 1
                if obj is None:
                    return bg_rgb
                alone = self_flat.render(small.replace_object(obj), only=[tid])
                m = (alone.instances == tid) & (alone.depth < bg_depth)
                out = bg_rgb.copy()
                out[m] = alone.rgb[m].astype(np.float32) / 255.0
                return out

            def exact(self, obj: SceneObject | None) -> np.ndarray:
                _R.count += 1
                if obj is None:
                    return bg_rgb
                return shaded.render(small.replace_object(obj)).rgb.astype(np.float32) / 255.0

        self_flat = self.flat
        r = _R()
        r.log = log
        return r, r

    def _search(self, pred: np.ndarray, r, candidates: list[SceneObject | None]) -> tuple[int, list[float]]:
        d = []
        for c in candidates:
            dist = distance(pred, r.render(c))
            d.append(dist)
            r.log.append((dist, _key(c), c))
        return int(np.argmin(d)), d

    def _rerank(self, pred: np.ndarray, r, top: int = 4) -> tuple[SceneObject | None, float]:
        """Re-score the ``top`` best distinct hypotheses with full shaded renders (shadows cast
        and received), which separates near-ties the fast composite cannot."""
        seen, picked = set(), []
        for dist, key, obj in sorted(r.log, key=lambda x: (x[0], x[1])):  # ties: deterministic order
            if key in seen:
                continue
            seen.add(key)
            picked.append(obj)
            if len(picked) == top:
                break
        scores = [distance(pred, r.exact(o)) for o in picked]
        b = int(np.argmin(scores))
        return picked[b], scores[b]

    def localise_translation(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                             levels: int = 3) -> Realised:
        """Target position on its support plane (and on the instructed receptacle's plane)."""
        render, r = self._object_renderer(scene, tid)
        obj = scene.get(tid)
        C = scene.camera.cam_from_world_array
        right, fwd = ground_direction(C, "right"), ground_direction(C, "forward")
        p0 = np.asarray(obj.position, dtype=np.float64)
        pg = np.asarray(gt_obj.position, dtype=np.float64)
        dist = float(np.linalg.norm((pg - p0)[:2]))
        reach = max(1.5 * dist, 0.15)
        step = reach / 2

        def at(p):
            return dataclasses.replace(gt_obj if abs(p[2] - pg[2]) < 1e-9 else obj,
                                       position=tuple(float(v) for v in p))

        cands: list[SceneObject | None] = [obj, gt_obj, None]
        for i in range(-2, 3):
            for j in range(-2, 3):
                cands.append(at(p0 + (i * right + j * fwd) * step))
        if abs(pg[2] - p0[2]) > 0.005 or dist > reach * 0.8:
            s2 = max(dist / 4, 0.02)
            for i in range(-1, 2):
                for j in range(-1, 2):
                    cands.append(at(pg + (i * right + j * fwd) * s2))
            step = min(step, s2 * 2)
        best, d = self._search(pred, render, cands)
        unchanged = d[0]
        best_d = d[best]
        cur = cands[best]
        for _ in range(levels):
            if cur is None:
                break
            step /= 2
            c0 = np.asarray(cur.position)
            local = [at(c0 + (i * right + j * fwd) * step) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
            b, dl = self._search(pred, render, local)
            if dl[b] < best_d:
                cur, best_d = local[b], dl[b]
        cur, best_d = self._rerank(pred, r)
        return Realised("object", obj=cur, distance=best_d, unchanged_distance=unchanged, hypotheses=r.count)

    def localise_rotation(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                          levels: int = 3) -> Realised:
        render, r = self._object_renderer(scene, tid)
        obj = scene.get(tid)
        yaw0 = obj.yaw_deg

        def rot(delta):
            return dataclasses.replace(obj, yaw_deg=float((yaw0 + delta) % 360.0))

        gt_delta = _wrap(gt_obj.yaw_deg - yaw0)
        deltas = [0.0, gt_delta] + [float(a) for a in range(-165, 181, 15) if a != 0]
        cands: list[SceneObject | None] = [rot(a) for a in deltas] + [None]
        best, d = self._search(pred, render, cands)
        best_d, unchanged = d[best], d[0]
        cur = deltas[best] if best < len(deltas) else None
        step = 15.0
        for _ in range(levels):
            if cur is None:
                break
            step /= 2
            local = [cur - step, cur + step]
            b, dl = self._search(pred, render, [rot(a) for a in local])
            if dl[b] < best_d:
                cur, best_d = local[b], dl[b]
        obj_best, best_d = self._rerank(pred, r)
        return Realised("object", obj=obj_best, distance=best_d, unchanged_distance=unchanged, hypotheses=r.count)

    def localise_scale(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                       levels: int = 3) -> Realised:
        render, r = self._object_renderer(scene, tid)
        obj = scene.get(tid)

        def sc(logf):
            return dataclasses.replace(obj, scale=float(obj.scale * np.exp(logf)))

        gt_log = float(np.log(gt_obj.scale / obj.scale))
        logs = [0.0, gt_log] + [float(x) for x in np.linspace(np.log(0.3), np.log(3.0), 13)]
        cands: list[SceneObject | None] = [sc(x) for x in logs] + [None]
        best, d = self._search(pred, render, cands)
        best_d, unchanged = d[best], d[0]
        cur = logs[best] if best < len(logs) else None
        step = (np.log(3.0) - np.log(0.3)) / 12
        for _ in range(levels):
            if cur is None:
                break
            step /= 2
            local = [cur - step, cur + step]
            b, dl = self._search(pred, render, [sc(x) for x in local])
            if dl[b] < best_d:
                cur, best_d = local[b], dl[b]
        obj_best, best_d = self._rerank(pred, r)
        return Realised("object", obj=obj_best, distance=best_d, unchanged_distance=unchanged, hypotheses=r.count)

    # -- removal -------------------------------------------------------------------------------
    def localise_presence(self, pred: np.ndarray, scene: Scene, ids: list[int]) -> Realised:
        """For each instance in ``ids``: does the prediction look more like the scene with it or
        without it (judged on the pixels where those two renders differ)?"""
        small = self._small(scene)
        full = self.shaded.render(small).rgb.astype(np.float32) / 255.0
        out: dict[int, bool] = {}
        n = 1
        total_present = total_absent = 0.0
        for i in ids:
            without = self.shaded.render(small.without(i)).rgb.astype(np.float32) / 255.0
            n += 1
            region = np.abs(_blur(full) - _blur(without)).mean(axis=2) > 0.02
            if not region.any():
                out[i] = True
                continue
            dp, da = distance(pred, full, region), distance(pred, without, region)
            out[i] = dp <= da
            total_present += dp
            total_absent += da
        return Realised("presence", present=out, distance=float(total_absent), unchanged_distance=float(total_present),
                        hypotheses=n)

    # -- camera ----------------------------------------------------------------------------------
    def localise_camera(self, pred: np.ndarray, scene: Scene, gt_motion: tuple[str, str, float],
                        levels: int = 2) -> Realised:
        from gsi_syn.edits import moved_camera

        C = scene.camera.cam_from_world_array
        cache: dict[tuple, float] = {}

        def dist_of(motion: tuple[str, str, float]) -> float:
            key = (motion[0], motion[1], round(float(motion[2]), 6))
            if key not in cache:
                C2 = C if motion[0] == "none" or motion[2] == 0 else moved_camera(C, *motion)
                cache[key] = distance(pred, self.shaded.render(self._small(scene, C2)).rgb.astype(np.float32) / 255.0)
            return cache[key]

        cands: list[tuple[str, str, float]] = [("none", "", 0.0), gt_motion]
        cands += [("move", d, a) for d in ("left", "right", "forward", "backward") for a in (0.1, 0.2, 0.3)]
        cands += [(m, s, a) for m, senses in (("yaw", ("left", "right")), ("pitch", ("up", "down")))
                  for s in senses for a in (10.0, 20.0, 30.0, 40.0)]
        d = [dist_of(c) for c in cands]
        best = int(np.argmin(d))
        cur, best_d, unchanged = cands[best], d[best], d[0]
        if cur[0] != "none":
            step = 0.1 if cur[0] == "move" else 10.0
            for _ in range(levels):
                step /= 2
                local = [(cur[0], cur[1], cur[2] + s) for s in (-step, step) if cur[2] + s > 0]
                dl = [dist_of(c) for c in local]
                if dl and min(dl) < best_d:
                    b = int(np.argmin(dl))
                    cur, best_d = local[b], dl[b]
        C2 = C if cur[0] == "none" else moved_camera(C, *cur)
        return Realised("camera", cam_from_world=C2, camera_motion=cur, distance=best_d,
                        unchanged_distance=unchanged, hypotheses=len(cache))


def _key(obj: SceneObject | None) -> tuple:
    if obj is None:
        return ((1e9, 1e9, 1e9), -1.0, -1.0)
    return (tuple(round(v, 5) for v in obj.position), round(obj.yaw_deg % 360.0, 4), round(obj.scale, 5))


def _wrap(deg: float) -> float:
    """Angle wrapped to (−180, 180]."""
    a = (float(deg) + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a

