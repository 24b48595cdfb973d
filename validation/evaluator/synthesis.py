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
  full renders: every other amount of each direction first, then the amounts next to the best of
  the two best directions (:data:`CAMERA_EXPANDED`), then two halving refinements.

A fast composite differs from the scene without the target only around the target, so its
distance is filtered only there (:meth:`_ObjectSearch.fast_distance`, bit-identical to the whole
image's); the prediction's filtered images are computed once per search.

Hypotheses are rendered in the look of the record's published images (:func:`render_style`): a
record whose scene JSON carries the generator's ``"render"`` settings was published as GL photos
(anti-aliased PBR with the scene HDRI's light and tone mapping) or Cycles photos, and is searched
with :class:`PhotoRenderer` (GL photo RGB, 1-sample GL labels); older records with the fast shading.

Searches are coarse-to-fine: a coarse grid (which always contains the unchanged scene, the
instructed edit and edits in the opposite sense), then three refinements that halve the step
around the best hypothesis. The decision is made on full renders: the best *distinct* answers of
the fast search (plus the unchanged and instructed poses) are re-ranked, and for in-place edits
(rotate, scale) the winner is polished by a short descent on full renders. For in-place edits the
fast composites are first calibrated to the light the scene puts on the object where it stands
(:meth:`_ObjectSearch.calibrate_light`: a wall's shadow over a pale carton otherwise biases its
yaw by 10–20°).

Distance between a prediction ``P`` and a hypothesis ``H`` (both blurred by a 3×3 box filter),
the mean over pixels of: ``min(|P − H|₁ / 3, 0.25)`` (a clipped L1, robust to regions no
hypothesis explains) + ``0.5·|W(P) − W(H)|₁ / 3`` with a 9×9 box blur ``W`` (soft overlap: it keeps
decreasing as a hypothesis approaches the object) + ``min(|S(P) − S(H)|₁, 0.25)`` on the luma
gradients in doubled-angle form ``S`` (:func:`_structure`: edges and their orientation, insensitive
to the smooth shading and tone differences between renderers and to an edge's contrast polarity).
A prediction whose background does not look like our render (:func:`foreign_look`: another
renderer, an editor's regeneration) is first "explained" by the scene without the target
(:func:`explain`): what a local gain/offset of that render accounts for is replaced by the render, so another renderer's or
editor's look of the background (untextured walls, other materials, a panel darker or paler) is
not taken for the object; the object, small against the windows, stays. Removal decisions compare
the prediction explained the same way by the render without the instance.

In another look the objects themselves differ too (a black phone on a black desk becomes a pale
ghost on our orange one once tone-normalised; a bottle renders white), so colours, and the change
maps derived from them, can prefer a pose that hides the object. The decisions on full renders —
object re-ranking and polish (:meth:`_ObjectSearch.decision_distance`), removal, and the camera
search — then blend in, by the foreign-look weight, the residual of a local gain/offset fit of the
prediction on each render (:func:`fit_residual`, 7×7 windows for objects): whether the outlines
and inner edges are where the render has them, whatever their colours. Translations in another
look also re-rank the unchanged, instructed and opposite poses. Predictions in our look are
decided exactly as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import ndimage

from gsi_bench.geometry import ground_direction
from gsi_bench.scene import Camera, Scene, SceneObject
from validation.evaluator.imageops import bbox_of

#: Clip of the per-pixel L1 distance (mean over RGB, [0, 1] units).
CLIP = 0.25


def _blur(img: np.ndarray) -> np.ndarray:
    """3×3 box filter (edges replicated), float32 ``(H, W, C)``."""
    import cv2

    return cv2.blur(np.ascontiguousarray(img, dtype=np.float32), (3, 3), borderType=cv2.BORDER_REPLICATE)


def distance(pred_blurred: np.ndarray, hyp: np.ndarray, region: np.ndarray | None = None) -> float:
    """Clipped-L1 distance of a blurred prediction and a (not yet blurred) hypothesis image, plus
    the same on a 4× wider blur (:data:`SOFT_WEIGHT`): the wide term keeps decreasing as a
    hypothesis that does not overlap the object yet approaches it, so refinement converges."""
    return _distance_blurred(pred_blurred, _blur(hyp), region)


def _distance_blurred(pred_blurred: np.ndarray, hb: np.ndarray, region: np.ndarray | None = None) -> float:
    """:func:`distance` of an already blurred hypothesis ``hb``."""
    total = _distance_map(_features(pred_blurred), _features(hb))
    if region is not None:
        return float(total[region].mean()) if region.any() else 0.0
    return float(total.mean())


def _features(blurred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`_distance_map` compares of a blurred image ``(H, W, 3)`` float32: the image,
    its :func:`_wide` blur ``(H, W, 3)`` and its :func:`_structure` ``(H, W, 2)``."""
    return blurred, _wide(blurred), _structure(blurred)


def _distance_map(pf: tuple, hf: tuple) -> np.ndarray:
    """Per-pixel distance ``(H, W)`` float32 of :func:`_distance_blurred` between the
    :func:`_features` of a prediction and of a hypothesis (or of equal crops of them)."""
    d = np.minimum(np.abs(pf[0] - hf[0]).mean(axis=2), CLIP)
    soft = np.abs(pf[1] - hf[1]).mean(axis=2)
    grad = np.minimum(np.abs(pf[2] - hf[2]).sum(axis=2), CLIP)
    return d + SOFT_WEIGHT * soft + GRAD_WEIGHT * grad


def _luma_grad(img: np.ndarray) -> np.ndarray:
    """Luma gradients (central differences) ``(H, W, 2)``: structure, insensitive to smooth shading/tone."""
    import cv2

    lum = np.ascontiguousarray(img @ np.array([0.299, 0.587, 0.114], np.float32))
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    return np.stack([gx, gy], -1)


def _structure(img: np.ndarray) -> np.ndarray:
    """Edge structure ``(H, W, 2)``, independent of the edges' polarity: the luma gradient
    ``g = (gx, gy)`` in the doubled-angle form ``((gx² − gy²), 2·gx·gy) / |g|`` — magnitude ``|g|``,
    direction twice the edge's angle, so an edge and the same edge with its contrast reversed (a
    brown box on a pale table rendered as a pale box by another renderer or re-toned by an editor)
    are the same structure; an edge where there is none, or a crossing one, costs ``|g|`` to
    ``2·|g|``."""
    g = _luma_grad(img)
    gx, gy = g[..., 0], g[..., 1]
    mag = np.sqrt(gx * gx + gy * gy) + 1e-12
    return np.stack([(gx * gx - gy * gy) / mag, 2.0 * gx * gy / mag], -1)


#: Pixels beyond a fast composite's changed box that its distance terms reach (1 for the 3×3 blur
#: + 4 for the 9×9 wide blur of :func:`_distance_blurred`; the structure term reaches 1 + 1).
_REACH = 5

#: Weight of the silhouette term of :meth:`_ObjectSearch.distance` (a pixel whose change is wholly
#: misexplained costs as much as the clipped colour term's maximum, :data:`CLIP`).
SILHOUETTE_WEIGHT = 0.25
#: Mean |ΔRGB| against the empty scene at which a pixel counts as fully changed (the change
#: threshold of :meth:`_ObjectSearch.image_candidates` is 0.06).
SILHOUETTE_CHANGE = 0.1
#: Weight of the wide-blur (soft-overlap) term of :func:`distance`.
SOFT_WEIGHT = 0.5
#: Weight of the luma-gradient (structure) term of :func:`distance`.
GRAD_WEIGHT = 1.0
#: "absent" must beat the best visible hypothesis by this relative margin to win.
ABSENT_MARGIN = 0.05
#: Hypotheses whose target covers fewer pixels (at search size) count as invisible (= absent).
MIN_VISIBLE_PX = 3
#: Two hypotheses whose renders differ by less than this mean |ΔRGB| (over the pixels either
#: changes) are indistinguishable.
INDISTINGUISHABLE = 0.01
#: The instructed pose is reported in place of an indistinguishable winner only when the
#: prediction does not prefer the winner by more than this relative margin on the pixels where the
#: two renders differ (:meth:`_ObjectSearch._prediction_prefers`).
TIE_RELATIVE = 0.05
#: A decision is low-confidence when the best hypothesis beats the unchanged scene (or, when the
#: unchanged scene wins, the best edited hypothesis) by less than this relative margin.
LOW_CONFIDENCE_MARGIN = 0.03


#: :meth:`_ObjectSearch._explain`: window half-width in units of the target's extent, its
#: minimum (px at search size) and the regulariser of the local fit (variance, [0, 1]² units: a
#: background flatter than ±5 % is fitted by its mean).
EXPLAIN_WINDOW = 1.5
EXPLAIN_MIN_RADIUS = 6
EXPLAIN_EPS = 0.05 ** 2
#: Median per-pixel |ΔRGB| between a prediction and the background render below which the
#: prediction is taken as in our look (not explained), and above which it is fully explained
#: (:func:`foreign_look`).
FOREIGN_RESIDUAL = (0.008, 0.016)


def explain(pred: np.ndarray, bg: np.ndarray, radius: int) -> np.ndarray:
    """``pred`` (float32 ``(h, w, 3)``, blurred) with what ``bg`` (same shape, blurred) explains
    locally replaced by ``bg``: ``P − q + q_B``, where ``q = a·B + b`` is a per-channel local affine
    fit of ``P`` on ``B`` over ``(2·radius + 1)²`` windows (a guided filter regularised by
    :data:`EXPLAIN_EPS`; gain bounded to [−2, 2]: another look may reverse a contrast) and ``q_B``
    the same fit of ``B`` on itself (so ``P = B`` gives ``B`` exactly, whatever the regulariser
    smooths). What ``bg`` lacks and that is small against the window (an object) stays as the
    residual ``P − q``."""
    import cv2

    k = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.blur(np.ascontiguousarray(x, dtype=np.float32), k, borderType=cv2.BORDER_REPLICATE)

    B, P = bg.astype(np.float32), pred.astype(np.float32)
    mb, mp = box(B), box(P)
    var = box(B * B) - mb * mb
    cov = box(B * P) - mb * mp
    a = np.clip(cov / (var + EXPLAIN_EPS), -2.0, 2.0)
    q = box(a) * B + box(mp - a * mb)
    a_self = var / (var + EXPLAIN_EPS)  # the same fit of B on itself: what the regulariser loses
    q_self = box(a_self) * B + box(mb - a_self * mb)
    return (P - q + q_self).astype(np.float32)


def foreign_look(pred: np.ndarray, bg: np.ndarray) -> float:
    """How much ``pred``'s background differs from our render ``bg`` (both float ``(h, w, 3)``,
    blurred): 0 when the median pixel differs by at most :data:`FOREIGN_RESIDUAL` [0], 1 from
    :data:`FOREIGN_RESIDUAL` [1] on, linear between. Our own renders under photometric and
    geometric nuisances (JPEG, tone, blur, aligned shifts and zooms) stay below 0.007; another
    renderer's re-render is at 0.018–0.053 (untextured walls and floors, other materials)."""
    m = float(np.median(np.abs(pred - bg).mean(axis=2)))
    lo, hi = FOREIGN_RESIDUAL
    return float(np.clip((m - lo) / (hi - lo), 0.0, 1.0))


#: :meth:`_ObjectSearch.decision_distance`: half-width (px at search size) of the local fit of a
#: prediction in another look on a full render (7×7 windows: an object's outline against what is
#: right next to it).
OBJECT_FIT_RADIUS = 3
#: :meth:`Synthesizer.localise_camera`: half-width of the local fit of a prediction in another
#: look (:func:`fit_residual`), as a fraction 1/n of the image's shorter side (8 px at 128 px).
CAMERA_FIT_FRACTION = 16


def fit_residual(pred: np.ndarray, hyp: np.ndarray, radius: int, region: np.ndarray | None = None) -> float:
    """Mean over pixels of the per-channel residual ``|P − q|`` (mean over RGB, [0, 1] units) of
    the local affine fit ``q = a·H + b`` of the prediction ``P`` on the hypothesis ``H`` (both
    float32 ``(h, w, 3)``, blurred; :func:`explain`'s guided filter over ``(2·radius + 1)²``
    windows, gain within [−2, 2]): how much of the prediction's structure the hypothesis' structure
    does not account for, whatever the colours of either (another renderer's materials, a reversed
    contrast). Used only for predictions in another look: within our look the colours themselves
    are evidence (:func:`distance`). ``region`` (bool ``(h, w)``): the mean over those pixels only."""
    import cv2

    k = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.blur(np.ascontiguousarray(x, dtype=np.float32), k, borderType=cv2.BORDER_REPLICATE)

    H, P = hyp.astype(np.float32), pred.astype(np.float32)
    mh, mp = box(H), box(P)
    a = np.clip((box(H * P) - mh * mp) / (box(H * H) - mh * mh + EXPLAIN_EPS), -2.0, 2.0)
    q = box(a) * H + box(mp - a * mh)
    res = np.abs(P - q).mean(axis=2)
    if region is not None:
        return float(res[region].mean()) if region.any() else 0.0
    return float(res.mean())


def foreign_look_global(pred: np.ndarray, ref: np.ndarray) -> float:
    """:func:`foreign_look` of ``pred`` against ``ref`` (float ``(h, w, 3)``, blurred) after a
    global per-channel least-squares gain/offset of ``pred`` on ``ref``: 0 for a prediction that
    is ``ref`` up to brightness, contrast or a colour cast (a tone nuisance, which camera edits
    are not normalised for), up to 1 for one whose materials and shading differ (another
    renderer)."""
    R = ref.reshape(-1, 3).astype(np.float64)
    P = pred.reshape(-1, 3).astype(np.float64)
    mr, mp = R.mean(0), P.mean(0)
    a = ((R - mr) * (P - mp)).mean(0) / np.maximum(((R - mr) ** 2).mean(0), 1e-9)
    fit = (R - mr) * a + mp
    return foreign_look(P.reshape(pred.shape), fit.reshape(pred.shape))


def explained(pred: np.ndarray, bg: np.ndarray, radius: int) -> np.ndarray:
    """``pred`` blended towards :func:`explain` by :func:`foreign_look`: unchanged for a prediction
    in our renderer's look (the local fit would only blur its object's details), fully explained
    for one whose whole background looks different."""
    alpha = foreign_look(pred, bg)
    if alpha <= 0.0:
        return pred
    return (pred + alpha * (explain(pred, bg, radius) - pred)).astype(np.float32)


def _wide(img: np.ndarray) -> np.ndarray:
    """9×9 box filter (edges replicated)."""
    import cv2

    return cv2.blur(np.ascontiguousarray(img, dtype=np.float32), (9, 9), borderType=cv2.BORDER_REPLICATE)


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
    runner_up_distance: float = float("nan")
    absent_distance: float = float("nan")
    out_of_range: bool = False
    undecidable: bool = False

    def confidence(self) -> dict:
        """Relative margins of the decision: to the unchanged scene and to the runner-up
        (the best hypothesis that differs from the winner); ``low`` below
        :data:`LOW_CONFIDENCE_MARGIN`."""
        def rel(other: float) -> float:
            if not np.isfinite(other) or not np.isfinite(self.distance):
                return float("nan")
            return float((other - self.distance) / max(other, 1e-6))

        mu, mr = rel(self.unchanged_distance), rel(self.runner_up_distance)
        margins = [m for m in (mu if mu > 1e-9 else float("nan"), mr) if np.isfinite(m)]
        low = bool(margins and min(margins) < LOW_CONFIDENCE_MARGIN)
        return {"margin_unchanged": round(mu, 4) if np.isfinite(mu) else None,
                "margin_runner_up": round(mr, 4) if np.isfinite(mr) else None,
                "low": low, "out_of_range": bool(self.out_of_range), "undecidable": bool(self.undecidable)}


def render_style(record) -> str:
    """How the record's published RGB was rendered: ``"photo"`` when its scene JSON carries the
    generator's ``"render"`` settings (GL's anti-aliased PBR :meth:`~gsi_syn.render.gl.GLRenderer.photo`
    or a Cycles path-traced photo), else ``"shading"`` (the renderer's plain ``render`` RGB: records
    made before photos, or by a backend without one)."""
    import json

    text = getattr(record, "scene", "") or ""
    if '"render"' not in text:
        return "shading"
    try:
        spec = json.loads(text)
    except ValueError:
        return "shading"
    return "photo" if isinstance(spec, dict) and isinstance(spec.get("render"), dict) else "shading"


class PhotoRenderer:
    """A GL renderer whose RGB is the published photo's look (:meth:`GLRenderer.photo`: PBR with the
    scene HDRI's light, tone mapping, tent shadows, anti-aliased), with the instance ids and depth of
    its 1-sample :meth:`render` (the labels the photos are pixel-aligned with). ``only`` renders the
    listed instances alone, in the same look. Cycles photos are approximated by the GL photo look
    (the same HDRI and tone mapping; far closer to them than the fast shading)."""

    def __init__(self, gl):
        self.gl = gl
        self.name = getattr(gl, "name", "gl")

    def render(self, scene: Scene, *, only=None, around: int | None = None, margin: int = 0):
        """:meth:`GLRenderer.photo_with_labels` (the photo and the labels of one call, the shadow
        map drawn once); for a GL-like renderer without it, :meth:`photo` + :meth:`render`.
        ``around`` / ``margin``: only the pixels within ``margin`` px of instance ``around``'s
        rectangle are wanted (the GL renderer draws just those; others may draw everything)."""
        if hasattr(self.gl, "photo_with_labels"):
            window = {} if around is None else {"around": around, "margin": margin}
            return self.gl.photo_with_labels(scene, only=only, **window)
        from gsi_syn.render.base import RenderOutput

        labels = self.gl.render(scene, only=only)
        rgb = self.gl.photo(scene, only=only)
        return RenderOutput(rgb=np.asarray(rgb), instances=labels.instances, depth=labels.depth)

    def rgb(self, scene: Scene, *, only=None) -> np.ndarray:
        """:meth:`render`'s RGB alone (:meth:`GLRenderer.photo`: the same pixels, no labels pass)."""
        return np.asarray(self.gl.photo(scene, only=only))


def rgb_of(renderer, scene: Scene) -> np.ndarray:
    """uint8 ``(H, W, 3)``: the RGB of ``renderer.render(scene)``, bit for bit, without the
    instance ids and depth where the renderer can skip them (:meth:`PhotoRenderer.rgb`: no labels
    pass)."""
    rgb = getattr(renderer, "rgb", None)
    return np.asarray(rgb(scene)) if callable(rgb) else renderer.render(scene).rgb


class Synthesizer:
    """Renders hypotheses for one record. ``shaded`` renders full scenes (with shadows), ``flat``
    renders the target alone (no shadows). ``style`` is the look of their RGB (``"shading"`` or
    ``"photo"``, see :func:`render_style`); :meth:`for_record` gives the synthesiser in a record's look."""

    def __init__(self, shaded, flat, search_size: int = 128, style: str = "shading"):
        self.shaded = shaded
        self.flat = flat
        self.search_size = int(search_size)
        self.style = style

    def at_size(self, search_size: int) -> "Synthesizer":
        """The same renderers at another search size."""
        if int(search_size) == self.search_size:
            return self
        other = Synthesizer(self.shaded, self.flat, search_size, self.style)
        other.exact = getattr(self, "exact", None)
        other._twin = getattr(self, "_twin", None)
        other._sized_from = getattr(self, "_sized_from", self)  # where a later exact renderer is kept
        return other

    def for_record(self, record) -> "Synthesizer":
        """This synthesiser with hypotheses rendered in the look of ``record``'s published images
        (:func:`render_style`): GL photos for records published as photos, when the hypothesis
        renderers are GL; itself otherwise. The twin is made once and shared."""
        want = render_style(record)
        if want == self.style or (want == "photo" and not hasattr(self.shaded, "photo")):
            return self  # already in that look, or a backend without a photo look (raycast)
        return self._other(want)

    def _other(self, style: str) -> "Synthesizer":
        twin = getattr(self, "_twin", None)
        if twin is None or twin.style != style:
            if style == "photo":
                twin = Synthesizer(PhotoRenderer(self.shaded), PhotoRenderer(self.flat), self.search_size, "photo")
                exact = getattr(self, "exact", None)
                twin.exact = PhotoRenderer(exact) if exact is not None and hasattr(exact, "photo") else None
            else:
                twin = Synthesizer(self.shaded.gl, self.flat.gl, self.search_size, "shading")
                exact = getattr(self, "exact", None)
                twin.exact = exact.gl if isinstance(exact, PhotoRenderer) else exact
            twin._twin = self
            self._twin = twin
        return twin if twin.search_size == self.search_size else twin.at_size(self.search_size)

    # -- helpers -----------------------------------------------------------------------------
    def _small(self, scene: Scene, cam_from_world: np.ndarray | None = None) -> Scene:
        return scene.with_camera(scaled_camera(scene.camera, self.search_size, cam_from_world))

    def prediction(self, pred_rgb: np.ndarray, scene: Scene) -> np.ndarray:
        """The prediction at the search size, float [0, 1], blurred."""
        from validation.evaluator.imageops import downsample

        cam = scaled_camera(scene.camera, self.search_size)
        return _blur(downsample(pred_rgb, cam.width, cam.height))

    # -- object edits --------------------------------------------------------------------------
    def _object_renderer(self, scene: Scene, tid: int) -> "_ObjectSearch":
        return _ObjectSearch(self, scene, tid)

    def localise_translation(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                             levels: int = 3) -> Realised:
        """Target position on its support plane (and on the instructed receptacle's plane).

        Candidates: the unchanged pose, the instructed pose, a 5×5 grid around the source
        position, and poses read from the image — blobs where the prediction differs from the
        scene without the target, back-projected onto each support plane. The best few are
        refined coarse-to-fine; invisible poses count as "absent", which wins only with
        :data:`ABSENT_MARGIN`."""
        S = self._object_renderer(scene, tid)
        obj = scene.get(tid)
        C = scene.camera.cam_from_world_array
        right, fwd = ground_direction(C, "right"), ground_direction(C, "forward")
        p0 = np.asarray(obj.position, dtype=np.float64)
        pg = np.asarray(gt_obj.position, dtype=np.float64)
        dist = float(np.linalg.norm((pg - p0)[:2]))
        reach = max(1.5 * dist, 0.15)
        step = reach / 2
        heights = sorted({round(float(p0[2]), 5), round(float(pg[2]), 5)})

        def at(p):
            base = gt_obj if abs(p[2] - pg[2]) < 1e-6 else obj
            return dataclasses.replace(base, position=tuple(float(v) for v in p))

        # the unchanged pose, the instructed one and the instructed displacement in the opposite sense
        # (on the source's support: a left/right or near/far confusion), whatever the grid's step
        opposite = at(np.append((2 * p0 - pg)[:2], p0[2]))
        cands: list[SceneObject] = [obj, gt_obj, opposite]
        for i in range(-2, 3):
            for j in range(-2, 3):
                cands.append(at(p0 + (i * right + j * fwd) * step))
        if abs(pg[2] - p0[2]) > 0.005 or dist > reach * 0.8:
            s2 = max(dist / 4, 0.02)
            cands += [at(pg + (i * right + j * fwd) * s2) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        for z in heights:
            cands += [at(p) for p in S.image_candidates(pred, z)]
        S.evaluate(pred, cands)
        s0 = max(min(step, 0.08), 0.02)
        for start in S.top(2):
            cur, best_d, st = start, S.dist_of(pred, start), s0
            for _ in range(levels):
                st /= 2
                c0 = np.asarray(cur.position)
                local = [at(c0 + (i * right + j * fwd) * st) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
                for c in local:
                    d = S.dist_of(pred, c)
                    if d < best_d:
                        cur, best_d = c, d
        # in another look the fast composites' colours may miss the object altogether: the unchanged,
        # instructed and opposite poses are then re-ranked too (all three: the image, not the
        # instruction, settles between the senses)
        return S.decide(pred, obj, gt_obj, opposite=opposite if S._look(pred) > 0.0 else None)

    def localise_rotation(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                          levels: int = 4) -> Realised:
        """Target yaw, refined jointly with a small position offset (an object shifted a little
        is not explained by a wrong yaw)."""
        S = self._object_renderer(scene, tid)
        obj = scene.get(tid)
        yaw0 = obj.yaw_deg
        C = scene.camera.cam_from_world_array
        right, fwd = ground_direction(C, "right"), ground_direction(C, "forward")

        def pose(delta, off=(0.0, 0.0)):
            p = np.asarray(obj.position) + off[0] * right + off[1] * fwd
            return dataclasses.replace(obj, yaw_deg=float((yaw0 + delta) % 360.0), position=tuple(float(v) for v in p))

        S.calibrate_light(obj)
        gt_delta = _wrap(gt_obj.yaw_deg - yaw0)
        deltas = [0.0, gt_delta] + [float(a) for a in range(-170, 181, 10) if a != 0]
        S.evaluate(pred, [pose(a) for a in deltas])
        for start in S.top(2):  # yaw alone, coarse-to-fine, from the two best yaws
            cur, best_d, step = _wrap(start.yaw_deg - yaw0), S.dist_of(pred, start), 10.0
            for _ in range(levels):
                step /= 2
                for a in (cur - step, cur + step):
                    d = S.dist_of(pred, pose(a))
                    if d < best_d:
                        cur, best_d = a, d
        best = S.top(1)[0] if S.top(1) else obj
        cur = (_wrap(best.yaw_deg - yaw0), _offset(best, obj, right, fwd))
        best_d, step, sp = S.dist_of(pred, best), 2.5, 0.02
        for _ in range(3):  # then yaw and position jointly around the best
            local = [(cur[0] + dy, (cur[1][0] + i * sp, cur[1][1] + j * sp))
                     for dy in (-step, 0.0, step) for i in (-1, 0, 1) for j in (-1, 0, 1) if (dy, i, j) != (0.0, 0, 0)]
            for c in local:
                d = S.dist_of(pred, pose(*c))
                if d < best_d:
                    cur, best_d = c, d
            step /= 2
            sp /= 2

        def yaw_steps(o: SceneObject, level: int) -> list[SceneObject]:
            st = POLISH_YAW_DEG / 2 ** level
            return [dataclasses.replace(o, yaw_deg=float((o.yaw_deg + sg * st) % 360.0)) for sg in (-1, 1)]

        return S.decide(pred, obj, gt_obj, yaw_steps, polish_levels=2, opposite=pose(-gt_delta))

    def localise_scale(self, pred: np.ndarray, scene: Scene, tid: int, gt_obj: SceneObject,
                       levels: int = 4) -> Realised:
        """Target scale over ×:data:`SCALE_RANGE` (a best value at the range's end is flagged
        ``out_of_range``)."""
        S = self._object_renderer(scene, tid)
        obj = scene.get(tid)
        lo, hi = np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1])

        def sc(logf):
            return dataclasses.replace(obj, scale=float(obj.scale * np.exp(np.clip(logf, lo, hi))))

        S.calibrate_light(obj)
        gt_log = float(np.log(gt_obj.scale / obj.scale))
        logs = [0.0, gt_log] + [float(x) for x in np.linspace(lo, hi, 21)]
        S.evaluate(pred, [sc(x) for x in logs])
        for start in S.top(2):
            cur, best_d, step = float(np.log(start.scale / obj.scale)), S.dist_of(pred, start), (hi - lo) / 20
            for _ in range(levels):
                step /= 2
                for x in (cur - step, cur + step):
                    d = S.dist_of(pred, sc(x))
                    if d < best_d:
                        cur, best_d = x, d
        def scale_steps(o: SceneObject, level: int) -> list[SceneObject]:
            x = float(np.log(o.scale / obj.scale))
            return [sc(x + sg * POLISH_LOG_SCALE / 2 ** level) for sg in (-1, 1)]

        out = S.decide(pred, obj, gt_obj, scale_steps, polish_levels=2, opposite=sc(-gt_log))
        if out.obj is not None:
            f = out.obj.scale / obj.scale
            out.out_of_range = bool(f <= SCALE_RANGE[0] * 1.02 or f >= SCALE_RANGE[1] / 1.02)
        return out

    # -- removal -------------------------------------------------------------------------------
    def localise_presence(self, pred: np.ndarray, scene: Scene, ids: list[int]) -> Realised:
        """For each instance in ``ids``: does the prediction look more like the scene with it or
        without it (judged on the pixels where those two renders differ)?"""
        small = self._small(scene)
        full = rgb_of(self.shaded, small).astype(np.float32) / 255.0
        out: dict[int, bool] = {}
        n = 1
        total_present = total_absent = 0.0
        for i in ids:
            without = rgb_of(self.shaded, small.without(i)).astype(np.float32) / 255.0
            n += 1
            region = np.abs(_blur(full) - _blur(without)).mean(axis=2) > 0.02
            if not region.any():
                out[i] = True
                continue
            # the prediction with what the scene without the instance explains locally replaced
            # by that render (another renderer's background is not taken for the instance)
            r = int(np.clip(round(EXPLAIN_WINDOW * np.sqrt(region.sum())), EXPLAIN_MIN_RADIUS, max(region.shape) // 4))
            seen = explained(pred, _blur(without), r)
            dp, da = distance(seen, full, region), distance(seen, without, region)
            alpha = foreign_look(pred, _blur(without))
            if alpha > 0.0:  # another look: blended with where the structure is (as decision_distance)
                reach = ndimage.binary_dilation(region, iterations=2 * OBJECT_FIT_RADIUS + 1)  # what the fit can change
                fp, fa = (fit_residual(pred, _blur(x), OBJECT_FIT_RADIUS, reach) for x in (full, without))
                k = da / max(fa, 1e-6)  # the residual in the distance's units
                dp, da = (1.0 - alpha) * dp + alpha * k * fp, (1.0 - alpha) * da + alpha * k * fa
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
        renders: dict[tuple, np.ndarray] = {}

        def key(motion: tuple[str, str, float]) -> tuple:
            return (motion[0], motion[1], round(float(motion[2]), 6))

        def render(motion: tuple[str, str, float]) -> np.ndarray:
            k = key(motion)
            if k not in renders:
                C2 = C if motion[0] == "none" or motion[2] == 0 else moved_camera(C, *motion)
                renders[k] = rgb_of(self.shaded, self._small(scene, C2)).astype(np.float32) / 255.0
            return renders[k]

        def ours(motion: tuple[str, str, float]) -> float:
            return distance(pred, render(motion))

        cache, cur, best_d, unchanged = self._camera_search(ours, gt_motion, levels)
        # a prediction in another look (another renderer, an editor's regeneration): the colour
        # distance is drawn to whichever view happens to share its colours; searched again on
        # the residual of a local gain/offset fit of the prediction on each view (structure)
        alpha = foreign_look_global(pred, _blur(render(cur)))
        if alpha > 0.0:
            radius = max(EXPLAIN_MIN_RADIUS, min(pred.shape[:2]) // CAMERA_FIT_FRACTION)

            def blended(motion: tuple[str, str, float]) -> float:
                return (1.0 - alpha) * ours(motion) + alpha * fit_residual(pred, _blur(render(motion)), radius)

            cache, cur, best_d, unchanged = self._camera_search(blended, gt_motion, levels)
        C2 = C if cur[0] == "none" else moved_camera(C, *cur)
        limit = MOVE_AMOUNTS_M[-1] if cur[0] == "move" else TURN_AMOUNTS_DEG[-1]
        others = sorted(v for k, v in cache.items() if k != (cur[0], cur[1], round(float(cur[2]), 6)))
        return Realised("camera", cam_from_world=C2, camera_motion=cur, distance=best_d,
                        unchanged_distance=unchanged, hypotheses=len(renders),
                        runner_up_distance=others[0] if others else float("nan"),
                        out_of_range=bool(cur[0] != "none" and cur[2] >= limit * 0.99))

    @staticmethod
    def _camera_search(dist: Callable[[tuple[str, str, float]], float], gt_motion: tuple[str, str, float],
                       levels: int) -> tuple[dict[tuple, float], tuple[str, str, float], float, float]:
        """The camera search of :meth:`localise_camera` under the distance ``dist`` (motion →
        float): the unchanged and instructed motions and the coarse grid, the grid neighbours of
        the :data:`CAMERA_EXPANDED` best directions, then ``levels`` halving refinements of the
        amount in each of the :data:`CAMERA_REFINED` best directions; the best of all wins. Returns (distance of every motion searched, by rounded key; the best
        motion; its distance; the unchanged scene's distance)."""
        cache: dict[tuple, float] = {}

        def dist_of(motion: tuple[str, str, float]) -> float:
            key = (motion[0], motion[1], round(float(motion[2]), 6))
            if key not in cache:
                cache[key] = dist(motion)
            return cache[key]

        cands = [("none", "", 0.0), gt_motion] + _coarse_camera_motions()
        d = [dist_of(c) for c in cands]
        for motion in _camera_grid_neighbours(cands, d, CAMERA_EXPANDED):
            cands.append(motion)
            d.append(dist_of(motion))
        order = sorted(range(len(cands)), key=lambda i: (d[i], i))  # np.argmin's tie-break: the first
        unchanged = d[0]
        # the amounts of the best CAMERA_REFINED directions are refined, each from its best grid
        # amount: a turn between two grid amounts can sit farther than a move at a grid amount until
        # refined (a 13° turn lost to a 0.325 m move when only the winner was refined)
        starts: list[int] = []
        for i in order:
            if cands[i][0] != "none" and all(cands[i][:2] != cands[j][:2] for j in starts):
                starts.append(i)
            if len(starts) == CAMERA_REFINED:
                break
        results = [(d[order[0]], order[0], cands[order[0]])]  # the best before refinement (maybe "none")
        for i in starts:
            cur, best_d = cands[i], d[i]
            step = 0.1 if cur[0] == "move" else 10.0
            for _ in range(levels):
                step /= 2
                local = [(cur[0], cur[1], cur[2] + s) for s in (-step, step) if cur[2] + s > 0]
                dl = [dist_of(c) for c in local]
                if dl and min(dl) < best_d:
                    b = int(np.argmin(dl))
                    cur, best_d = local[b], dl[b]
            results.append((best_d, i, cur))
        best_d, _, cur = min(results, key=lambda r: (r[0], r[1]))
        return cache, cur, best_d, unchanged


#: First steps of the full-render polish (:meth:`_ObjectSearch.polish`) of in-place edits, halved
#: at each level: yaw ±5° (then 2.5°: at most 4 full renders per start), log scale ±0.05 (then
#: 0.025: at most 4). Translations are not polished (their fast composites are not calibrated either: the
#: light where the object went is unknown; their image-derived candidates bound the error).
POLISH_YAW_DEG = 5.0
#: Number of best full-render answers polished (two: a pale or nearly 2-fold object's modes tie
#: within a few per cent before the last steps).
POLISH_STARTS = 2
POLISH_LOG_SCALE = 0.05
#: Camera moves (m) and turns (deg) searched: up to 1 m and 60° (a best value at the end of the
#: range is flagged ``out_of_range``; it is never clamped into a pass: see scoring).
MOVE_AMOUNTS_M = (0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
TURN_AMOUNTS_DEG = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
#: Scale factors searched (beyond: the best value sits at the end of the range, flagged out of range).
SCALE_RANGE = (0.2, 5.0)


#: Every other amount of the camera grids (both ends kept) is searched first; the missing amounts
#: next to the best coarse amount of the :data:`CAMERA_EXPANDED` best directions are then added.
#: For a distance that is unimodal along each direction this finds the full grid's best amount
#: (the best fine amount lies between the coarse amounts around the best coarse one) with about
#: 35 full renders instead of 54.
CAMERA_EXPANDED = 2
#: Directions (kind and sense) whose best amount the camera search refines, best first.
CAMERA_REFINED = 2


def _coarse(amounts: tuple[float, ...]) -> tuple[float, ...]:
    """Every other amount of a grid, the last one always included."""
    return tuple(a for i, a in enumerate(amounts) if i % 2 == 0 or i == len(amounts) - 1)


def _camera_directions() -> list[tuple[str, str, tuple[float, ...]]]:
    """``(kind, sense, amounts)`` of the camera motions searched: moves along the four ground
    directions (:data:`MOVE_AMOUNTS_M`), yaw and pitch turns both ways (:data:`TURN_AMOUNTS_DEG`)."""
    return [("move", s, MOVE_AMOUNTS_M) for s in ("left", "right", "forward", "backward")] + \
        [(m, s, TURN_AMOUNTS_DEG) for m, senses in (("yaw", ("left", "right")), ("pitch", ("up", "down")))
         for s in senses]


def _coarse_camera_motions() -> list[tuple[str, str, float]]:
    """The coarse camera grid: every direction at the :func:`_coarse` amounts."""
    return [(k, s, a) for k, s, amounts in _camera_directions() for a in _coarse(amounts)]


def _camera_grid_neighbours(cands: list[tuple[str, str, float]], dists: list[float],
                            n_dirs: int) -> list[tuple[str, str, float]]:
    """Grid amounts not yet searched next to the best searched amount of each of the ``n_dirs``
    directions whose best distance is lowest (ties: grid order): the grid amounts just below and
    just above that best amount."""
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for (k, s, a), dv in zip(cands, dists):
        if k != "none" and ((k, s) not in best or dv < best[(k, s)][0]):
            best[(k, s)] = (dv, a)
    order = [(k, s, amounts) for k, s, amounts in _camera_directions() if (k, s) in best]
    order.sort(key=lambda t: best[(t[0], t[1])][0])  # stable: grid order among equals
    seen = {(k, s, round(float(a), 6)) for k, s, a in cands}
    out = []
    for k, s, amounts in order[:n_dirs]:
        a = best[(k, s)][1]  # a grid amount, or the instructed one between two
        below = [x for x in amounts if x < a - 1e-9]
        above = [x for x in amounts if x > a + 1e-9]
        for x in ([below[-1]] if below else []) + ([above[0]] if above else []):
            if (k, s, round(float(x), 6)) not in seen:
                seen.add((k, s, round(float(x), 6)))
                out.append((k, s, float(x)))
    return out


def _far(a: SceneObject, b: SceneObject) -> bool:
    """Whether two poses are different answers: position ≥ 5 cm, yaw ≥ 10° or scale ≥ 10 % apart."""
    dp = float(np.linalg.norm(np.asarray(a.position) - np.asarray(b.position)))
    return dp >= 0.05 or abs(_wrap(a.yaw_deg - b.yaw_deg)) >= 10.0 or abs(np.log(a.scale / b.scale)) >= np.log(1.1)


def _offset(o: SceneObject, ref: SceneObject, right: np.ndarray, fwd: np.ndarray) -> tuple[float, float]:
    d = np.asarray(o.position) - np.asarray(ref.position)
    return float(d @ right), float(d @ fwd)


class _ObjectSearch:
    """Hypotheses of the target's pose for one record, rendered at the search size.

    ``render(obj)`` composites the target rendered alone (no shadows, depth-tested) over the scene
    rendered without it (with shadows) — about a millisecond each; ``exact(obj)`` renders the full
    shaded scene. Every distance is cached by pose key; hypotheses in which the target is not
    visible are recorded as invisible (they are the "absent" hypothesis)."""

    def __init__(self, synth: "Synthesizer", scene: Scene, tid: int):
        self.scene, self.tid = scene, tid
        self.small = synth._small(scene)
        self.flat, self.shaded = synth.flat, synth.shaded
        bg = synth.shaded.render(self.small.without(tid))
        self.bg_depth = np.where(bg.depth > 0, bg.depth, np.inf)
        self.bg_rgb = bg.rgb.astype(np.float32) / 255.0
        self.bg_blur = _blur(self.bg_rgb)
        self.cache: dict[tuple, tuple[float, bool, SceneObject]] = {}
        self.count = 1

    def distance(self, pred: np.ndarray, hyp: np.ndarray) -> float:
        """:func:`distance` plus :data:`SILHOUETTE_WEIGHT` × the mean of ``|c(P) − c(H)|``, where
        ``c(X) = min(1, |X − B|₁ / 3 / SILHOUETTE_CHANGE)`` marks where an image differs from the
        scene without the target ``B`` (both blurred): *where* the prediction shows something
        that the empty scene does not, whatever its colour. A prediction whose object came out in
        another colour or shading (another renderer, an editor's re-toning) still has its change
        where the object is, so the hypothesis that puts the object there is not beaten by one
        that hides it (both pay the same clipped colour difference on the object)."""
        hb = _blur(hyp)
        if getattr(self, "bg_blur", None) is None:
            return _distance_blurred(pred, hb)
        explained, change = self._prepared(pred)
        base = _distance_blurred(explained, hb)
        return base + SILHOUETTE_WEIGHT * float(np.abs(change - self._change(hb)).mean())

    def _prepared(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The prediction with its background explained (:meth:`_explain`) and its change map
        (:meth:`_change`), computed once per prediction array."""
        if getattr(self, "_pred_id", None) is not pred:
            seen = self._explain(pred)
            self._pred_id, self._pred_explained, self._pred_change = pred, seen, self._change(seen)
        return self._pred_explained, self._pred_change

    def _explain(self, pred: np.ndarray) -> np.ndarray:
        """The blurred prediction ``P`` (float32 ``(h, w, 3)`` at search size), when its background
        does not look like ours (:func:`foreign_look`; else ``P`` as it is), with what the scene
        without the target ``B`` explains locally replaced by ``B`` itself: ``B + (P − q) − (B − q_B)``,
        where ``q = a·B + b`` is a per-channel local affine fit of ``P`` on ``B`` and ``q_B`` the
        same fit of ``B`` on itself (:func:`explain`, windows of :meth:`_window` px).

        A prediction made by another renderer or editor differs from our renders over the whole
        background (untextured walls, other materials, other shadows); those differences are
        smooth, or large regions, that a local gain/offset of our background absorbs, whereas an
        object much smaller than the window is not absorbed and stays as the residual ``P − q``.
        Without this, the hypotheses are drawn to where the background happens to differ and a
        hypothesised object there explains the difference (a dark object "explains" a drawer front
        that the other renderer made dark). For a prediction in our own look ``q ≈ P`` away from
        the object, so it changes nothing there."""
        if foreign_look(pred, self.bg_blur) <= 0.0:
            return pred  # in our look: as it is (and no render for the window)
        return explained(pred, self.bg_blur, self._window())

    def _window(self) -> int:
        """Half-width (px at search size) of :meth:`_explain`'s windows: :data:`EXPLAIN_WINDOW` ×
        the target's extent (square root of its visible area at the source pose), within
        [:data:`EXPLAIN_MIN_RADIUS`, a quarter of the image side]."""
        if getattr(self, "_radius", None) is None:
            alone = self.flat.render(self.small, only=[self.tid])
            area = int(((alone.instances == self.tid) & (alone.depth < self.bg_depth)).sum())
            h, w = self.bg_rgb.shape[:2]
            self._radius = int(np.clip(round(EXPLAIN_WINDOW * np.sqrt(max(area, 1))), EXPLAIN_MIN_RADIUS,
                                       max(EXPLAIN_MIN_RADIUS, min(h, w) // 4)))
        return self._radius

    def fast_distance(self, pred: np.ndarray, hyp: np.ndarray) -> float:
        """:meth:`distance`, bit for bit, at the cost of filtering only around the pixels where
        ``hyp`` (float32 ``(H, W, 3)``, a fast composite) differs from the scene without the
        target: elsewhere its blurred image, wide blur and structure are those of that scene, and
        the prediction's features and per-pixel distance to that scene are computed once per
        prediction (``pred``: blurred, at search size; cached by identity). Like :meth:`distance`
        it compares the prediction as :meth:`_prepared` gives it (explained when in another look)."""
        if getattr(self, "bg_blur", None) is None:
            return self.distance(pred, hyp)
        box = bbox_of(np.any(hyp != self.bg_rgb, axis=2), pad=_REACH)
        if box is None:
            return self.distance(pred, hyp)
        seen, pred_change = self._prepared(pred)
        pf, bg_map = self._prediction_features(seen)
        y0, y1, x0, x1 = box  # every pixel whose distance terms can differ from the empty scene's
        h, w = bg_map.shape
        cy, cx = max(0, y0 - _REACH), max(0, x0 - _REACH)  # the crop the filters need around it
        crop = hyp[cy:min(h, y1 + _REACH), cx:min(w, x1 + _REACH)]
        inner = (slice(y0 - cy, y1 - cy), slice(x0 - cx, x1 - cx))
        hf = [f[inner] for f in _features(_blur(crop))]
        total = bg_map.copy()
        total[y0:y1, x0:x1] = _distance_map(tuple(f[y0:y1, x0:x1] for f in pf), tuple(hf))
        hb = self.bg_blur.copy()
        hb[y0:y1, x0:x1] = hf[0]
        return float(total.mean()) + SILHOUETTE_WEIGHT * float(np.abs(pred_change - self._change(hb)).mean())

    def _prediction_features(self, pred: np.ndarray) -> tuple[tuple, np.ndarray]:
        """The :func:`_features` of the blurred prediction and its per-pixel :func:`_distance_map`
        ``(H, W)`` to the blurred scene without the target (cached for the last ``pred``)."""
        if getattr(self, "_features_of", None) is not pred:
            pf = _features(pred)
            self._features_of, self._pred_features = pred, (pf, _distance_map(pf, _features(self.bg_blur)))
        return self._pred_features

    def _change(self, blurred: np.ndarray) -> np.ndarray:
        """Soft change map ``(H, W)`` in [0, 1] of a blurred image against the blurred empty scene."""
        return np.minimum(np.abs(blurred - self.bg_blur).mean(axis=2) / SILHOUETTE_CHANGE, 1.0)

    def _alone(self, obj: SceneObject):
        """The target rendered alone at pose ``obj`` (the flat renderer's output at search size);
        the last one is kept, so :meth:`calibrate_light` and :meth:`render` of the same pose
        share it."""
        k = _key(obj)
        last = getattr(self, "_last_alone", None)
        if last is None or last[0] != k:
            last = self._last_alone = (k, self.flat.render(self.small.replace_object(obj), only=[self.tid]))
        return last[1]

    def render(self, obj: SceneObject) -> tuple[np.ndarray, int]:
        """Fast composite of pose ``obj``: float32 ``(H, W, 3)`` and the number of target pixels."""
        self.count += 1
        alone = self._alone(obj)
        m = (alone.instances == self.tid) & (alone.depth < self.bg_depth)
        out = self.bg_rgb.copy()
        out[m] = alone.rgb[m].astype(np.float32) / 255.0 * getattr(self, "light_gain", 1.0)
        return out, int(m.sum())

    def exact(self, obj: SceneObject | None) -> np.ndarray:
        if obj is None:
            return self.bg_rgb
        images = self.__dict__.setdefault("exact_images", {})
        k = _key(obj)
        if k not in images:
            self.count += 1
            images[k] = rgb_of(self.shaded, self.small.replace_object(obj)).astype(np.float32) / 255.0
        return images[k]

    def calibrate_light(self, obj: SceneObject) -> None:
        """Set :attr:`light_gain`, the per-channel ratio (full render / target rendered alone) of
        the target's pixels at pose ``obj``: the light the rest of the scene takes from the object
        where it stands (a wall's or a shelf's shadow over it), which the alone-render lacks. For
        edits that keep the object in place (rotate, scale) it makes the fast composites as bright
        as full renders; one full render (reused by :meth:`decide` when ``obj`` is the unchanged
        pose). The ratio of medians, over ≥ :data:`MIN_VISIBLE_PX` pixels, bounded to [0.25, 2]."""
        alone = self._alone(obj)
        m = (alone.instances == self.tid) & (alone.depth < self.bg_depth)
        if m.sum() < MIN_VISIBLE_PX:
            return
        full = self.exact(obj)[m]
        fast = alone.rgb[m].astype(np.float32) / 255.0
        gain = np.median(full, axis=0) / np.maximum(np.median(fast, axis=0), 1e-3)
        self.light_gain = np.clip(gain, 0.25, 2.0).astype(np.float32)

    def dist_of(self, pred: np.ndarray, obj: SceneObject) -> float:
        """Distance of a pose (``inf`` when the target would be invisible there)."""
        k = _key(obj)
        if k not in self.cache:
            img, n = self.render(obj)
            vis = n >= MIN_VISIBLE_PX
            self.cache[k] = (self.fast_distance(pred, img) if vis else float("inf"), vis, obj)
        return self.cache[k][0]

    def evaluate(self, pred: np.ndarray, cands: list[SceneObject]) -> None:
        for c in cands:
            self.dist_of(pred, c)

    def top(self, n: int) -> list[SceneObject]:
        """The ``n`` best visible poses (ties: by pose key, deterministic)."""
        vis = sorted((d, k, o) for k, (d, v, o) in self.cache.items() if v)
        return [o for _, _, o in vis[:n]]

    def image_candidates(self, pred: np.ndarray, z: float, max_blobs: int = 4) -> list[np.ndarray]:
        """World points on the plane ``z`` below blobs where ``pred`` differs from the scene
        without the target (the object, wherever it went): for each of the largest blobs, the
        rays through its centroid and through its bottom-centre pixel."""
        diff = np.abs(self._prepared(pred)[0] - self.bg_blur).mean(axis=2) > 0.06
        lab, n = ndimage.label(diff)
        if n == 0:
            return []
        sizes = ndimage.sum(diff, lab, index=np.arange(1, n + 1))
        order = np.argsort(-sizes)[:max_blobs]
        cam = self.small.camera
        K = np.asarray(cam.K, dtype=np.float64)
        C = cam.cam_from_world_array
        R, t = C[:3, :3], C[:3, 3]
        eye = -R.T @ t
        out = []
        for idx in order:
            if sizes[idx] < 3:
                continue
            ys, xs = np.nonzero(lab == idx + 1)
            pts = [(xs.mean(), ys.mean()), (xs.mean(), ys.max()), (xs.mean(), 0.5 * (ys.mean() + ys.max()))]
            for u, v in pts:
                ray = R.T @ np.linalg.solve(K, np.array([u, v, 1.0]))
                if abs(ray[2]) < 1e-9:
                    continue
                lam = (z - eye[2]) / ray[2]
                if lam <= 0:
                    continue
                out.append(eye + lam * ray)
        return out

    def _prediction_prefers(self, pred: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the prediction is closer to render ``a`` than to ``b`` by more than
        :data:`TIE_RELATIVE`, judged only on the pixels where the two renders differ (mean
        |ΔRGB| > 0.02 after the 3×3 blur): two renders that are alike overall (a remote control
        and its half-turn) still differ in a few details, and a prediction that shows those
        details tells them apart. False when they differ on fewer than :data:`MIN_VISIBLE_PX`."""
        region = np.abs(_blur(a) - _blur(b)).mean(axis=2) > 0.02
        if region.sum() < MIN_VISIBLE_PX:
            return False
        seen = self._prepared(pred)[0]
        da, db = distance(seen, a, region), distance(seen, b, region)
        return da * (1.0 + TIE_RELATIVE) < db

    def _distinguishable(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether two hypothesis renders differ: mean |ΔRGB| over the pixels either changes
        (relative to the scene without the target) ≥ :data:`INDISTINGUISHABLE`."""
        region = (np.abs(a - self.bg_rgb).sum(2) + np.abs(b - self.bg_rgb).sum(2)) > 0.01
        if not region.any():
            return False
        return float(np.abs(a - b).mean(axis=2)[region].mean()) >= INDISTINGUISHABLE

    def modes(self, n: int) -> list[SceneObject]:
        """The best visible poses that are *different answers* (each :func:`_far` from the better
        ones), at most ``n``: the candidates worth a full render (the best few by fast distance
        are often neighbours from one refinement, i.e. one answer)."""
        out: list[SceneObject] = []
        for _, _, o in sorted((d, k, o) for k, (d, v, o) in self.cache.items() if v):
            if all(_far(o, c) for c in out):
                out.append(o)
                if len(out) == n:
                    break
        return out

    def exact_dist(self, pred: np.ndarray, obj: SceneObject) -> tuple[float, np.ndarray]:
        """Distance and image of the full shaded render of a pose (cached by pose key)."""
        cache = self.__dict__.setdefault("exact_cache", {})
        k = _key(obj)
        if k not in cache:
            img = self.exact(obj)
            cache[k] = (self.decision_distance(pred, img), img)
        return cache[k]

    def decision_distance(self, pred: np.ndarray, img: np.ndarray) -> float:
        """The distance full renders are ranked by (:meth:`decide`, :meth:`polish`): :meth:`distance`
        for a prediction in our look; for one in another look (:func:`foreign_look` of the
        prediction against the scene without the target, ``α``), blended by ``α`` with the
        :func:`fit_residual` of the prediction on the render over windows of
        :data:`OBJECT_FIT_RADIUS` px — whether the object's outline and inner edges are where the
        render has them, whatever its colour (another renderer's black phone on a black desk is
        a pale ghost on our orange one once tone-normalised: colour and change maps then prefer a
        pose that hides the object). Its changes reach only ``2·radius`` px beyond the render's,
        so the whole image's mean ranks poses as the mean over the pixels they change would."""
        alpha = self._look(pred)
        d = self.distance(pred, img)
        if alpha <= 0.0:
            return d
        return (1.0 - alpha) * d + alpha * self._fit_scale * fit_residual(pred, _blur(img), OBJECT_FIT_RADIUS)

    def _look(self, pred: np.ndarray) -> float:
        """:func:`foreign_look` of the prediction against the scene without the target (cached for
        the last ``pred``); for another look also :attr:`_fit_scale`, the ratio of the scene
        without the target's :meth:`distance` to its :func:`fit_residual` (the residual in the
        distance's units, so that the blend of :meth:`decision_distance` weighs the two alike)."""
        if getattr(self, "bg_blur", None) is None:
            return 0.0  # no scene without the target to compare with: taken as our look
        if getattr(self, "_look_of", None) is not pred:
            self._look_of, self._look_alpha = pred, foreign_look(pred, self.bg_blur)
            if self._look_alpha > 0.0:
                fit = fit_residual(pred, self.bg_blur, OBJECT_FIT_RADIUS)
                self._fit_scale = self.distance(pred, self.bg_rgb) / max(fit, 1e-6)
        return self._look_alpha

    def polish(self, pred: np.ndarray, best: SceneObject, best_d: float,
               neighbours: Callable[[SceneObject, int], list[SceneObject]], levels: int) -> tuple[SceneObject, float]:
        """Local descent on full renders from ``best``: at each level the poses
        ``neighbours(cur, level)`` (steps halving with the level), moving to the best that
        improves. The fast composites lack the target's shadow and the light it bounces, which can
        bias a pale object's yaw by 10–20°; the full render decides the last steps. Costs
        ``levels × len(neighbours)`` full renders."""
        cur, cur_d = best, best_d
        for level in range(levels):
            for c in neighbours(cur, level):
                if self.dist_of(pred, c) == float("inf"):
                    continue  # invisible there: the absent hypothesis, not a pose
                d, _ = self.exact_dist(pred, c)
                if (d, _key(c)) < (cur_d, _key(cur)):
                    cur, cur_d = c, d
        return cur, cur_d

    def decide(self, pred: np.ndarray, unchanged: SceneObject, instructed: SceneObject,
               neighbours: Callable[[SceneObject, int], list[SceneObject]] | None = None,
               polish_levels: int = 3, opposite: SceneObject | None = None) -> Realised:
        """Re-rank the best distinct visible poses (:meth:`modes`) with full shaded renders —
        together with the three named answers when ``opposite`` is given: the unchanged pose, the
        instructed one and the edit in the opposite sense (all three or none: a near-tie between
        the two senses is then settled by the image, not in the instruction's favour) — then
        :meth:`polish` the winner when ``neighbours`` is given; "absent" wins only when it beats
        the best visible pose by :data:`ABSENT_MARGIN` (ties can never make it win).
        Among poses whose renders cannot be told apart (mean |ΔRGB| < :data:`INDISTINGUISHABLE`,
        e.g. a symmetric object's equivalent yaws) and that the prediction does not tell apart
        either where they differ (:meth:`_prediction_prefers`), the instructed one is reported — unless the
        instructed result itself looks like the unchanged scene (``undecidable``, flagged).
        Ties between equal distances go to the smaller pose key (deterministic)."""
        picked = self.modes(4)
        d_unch = self.dist_of(pred, unchanged)
        absent_d = self.decision_distance(pred, self.bg_rgb)
        if not picked:
            return Realised("object", obj=None, distance=absent_d, unchanged_distance=d_unch,
                            hypotheses=self.count, absent_distance=absent_d)
        if opposite is not None:
            for extra in (unchanged, instructed, opposite):
                if self.dist_of(pred, extra) < float("inf") and all(_key(extra) != _key(o) for o in picked):
                    picked.append(extra)
        scored = sorted(((self.exact_dist(pred, o)[0], _key(o), i) for i, o in enumerate(picked)))
        if neighbours is not None:  # polish the two best answers: near-ties between modes are common
            polished = [self.polish(pred, picked[i], d, neighbours, polish_levels) for d, _, i in scored[:POLISH_STARTS]]
            best, best_d = min(polished, key=lambda t: (t[1], _key(t[0])))
        else:
            best_d, _, b = scored[0]
            best = picked[b]
        best_img = self.exact_dist(pred, best)[1]
        inst_img = self.exact_dist(pred, instructed)[1]
        unch_exact, unch_img = self.exact_dist(pred, unchanged)
        # an instruction whose result looks like the unchanged scene is undecidable from the image:
        # it is flagged, and never credited by the tie-break below
        undecidable = not self._distinguishable(inst_img, unch_img)
        if (_key(best) != _key(instructed) and not undecidable and not self._distinguishable(inst_img, best_img)
                and not self._prediction_prefers(pred, best_img, inst_img)):
            best = instructed
        runner = self._runner_up(pred, best, best_d)
        if absent_d < best_d * (1.0 - ABSENT_MARGIN):
            return Realised("object", obj=None, distance=absent_d, unchanged_distance=unch_exact,
                            hypotheses=self.count, runner_up_distance=best_d, absent_distance=absent_d)
        return Realised("object", obj=best, distance=best_d, unchanged_distance=unch_exact, hypotheses=self.count,
                        runner_up_distance=min(runner, absent_d), absent_distance=absent_d, undecidable=undecidable)

    def _runner_up(self, pred: np.ndarray, best: SceneObject, best_d: float) -> float:
        """Distance of the best hypothesis that is a *different answer* (position ≥ 5 cm, yaw ≥ 10°
        or scale ≥ 10 % away from ``best``), on the scale of full renders: those rendered in full
        as they are, fast composites rescaled by the winner's full/fast ratio."""
        fast_best = self.dist_of(pred, best)
        ratio = best_d / fast_best if np.isfinite(fast_best) and fast_best > 0 else 1.0
        far = [d * ratio for d, v, o in self.cache.values() if v and _far(o, best)]
        exact = self.__dict__.get("exact_cache", {})
        far += [d for k, (d, _) in exact.items() if k in self.cache and _far(self.cache[k][2], best)]
        return min(far) if far else float("inf")


def _key(obj: SceneObject | None) -> tuple:
    if obj is None:
        return ((1e9, 1e9, 1e9), -1.0, -1.0)
    return (tuple(round(v, 5) for v in obj.position), round(obj.yaw_deg % 360.0, 4), round(obj.scale, 5))


def _wrap(deg: float) -> float:
    """Angle wrapped to (−180, 180]."""
    a = (float(deg) + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a

