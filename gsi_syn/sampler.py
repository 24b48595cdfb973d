"""From a scene index to finished edit records: sample a scene, render it, propose edits, check
them, and assemble :class:`gsi_bench.schema.EditRecord` rows.

Determinism: scene unit ``k`` of a run draws every random number from
``numpy.random.default_rng(SeedSequence([seed, subset, split, k]))``, so a record depends only on
(generator version, config, seed, unit index), not on which worker made it or in what order.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

import gsi_bench
from gsi_bench.assembly import EditView, Transform, assemble_record, render_instructions
from gsi_bench.checks import (
    CheckThresholds,
    Measurements,
    changed_fraction,
    failed_checks,
    min_visible_pixels,
    view_overlap,
    visibility,
)
from gsi_bench.config import HashedConfig
from gsi_bench.operations import OPERATION_SPECS, OPERATIONS, drawn_for_reference, num_templates, operation_spec
from gsi_bench.scene import Scene, SceneObject, encode_scene_pair
from gsi_bench.schema import Box3D, EditRecord, ObjectRef, Provenance, depth_to_mm
from gsi_syn.assets import get_library
from gsi_syn.edits import (
    PROPOSERS,
    Proposal,
    camera_frame_transform,
    projected_area_bound,
    realise_placement,
    receptacle_candidates,
    unique_category_objects,
)
from gsi_syn.physics import settle
from gsi_syn.placement import (
    box_in_camera,
    min_clearance,
    object_box_world,
    receptacle_kind,
    support_margin,
)
from gsi_syn.render.base import BACKENDS, Renderer, RenderOutput
from gsi_syn.render.cycles import CyclesSettings
from gsi_syn.room import RoomConfig, sample_room_scene
from gsi_syn.tabletop import TabletopConfig, sample_tabletop_scene

SUBSET_CODES = {"tabletop": 1, "room": 2}
#: Records per operation of the split presets (DESIGN: test 100, train 1,500 per op and subset).
SPLIT_PRESETS = {"test": 100, "train": 1500}
SPLIT_CODES = {"train": 1, "test": 2}
#: The order records cycle through the operations (object edits first, camera edits last).
CYCLE_ORDER = ("camera_relative_move", "object_relative_place", "rotate", "scale",
               "receptacle_place", "remove", "perspective")
assert sorted(CYCLE_ORDER) == sorted(OPERATIONS)


class _SubsetOperations(Mapping[str, tuple[str, ...]]):
    """subset → the operations GSI-Syn generates there, in :data:`CYCLE_ORDER` (then any other
    registered operation): a live view of the operation table's ``subsets``."""

    def __getitem__(self, subset: str) -> tuple[str, ...]:
        if subset not in SUBSET_CODES:
            raise KeyError(subset)
        ops = [op for op, spec in OPERATION_SPECS.items() if subset in spec.subsets and op in PROPOSERS]
        rank = {op: i for i, op in enumerate(CYCLE_ORDER)}
        return tuple(sorted(ops, key=lambda op: rank.get(op, len(rank))))

    def __iter__(self) -> Iterator[str]:
        return iter(SUBSET_CODES)

    def __len__(self) -> int:
        return len(SUBSET_CODES)


#: Operations each subset generates: all seven in both (the paper's data has 3 and 6).
SUBSET_OPERATIONS: Mapping[str, tuple[str, ...]] = _SubsetOperations()


@dataclass(frozen=True)
class GenerationConfig(HashedConfig):
    """Everything that determines a GSI-Syn run's output (with the generator version)."""

    subset: str = "tabletop"
    split: str = "test"
    num: int = 40
    seed: int = 0
    resolution: int = 512
    #: ``gl``, ``raycast`` or ``cycles`` (GL labels + Cycles RGB, rendered with ``cycles``)
    renderer: str = "gl"
    operations: tuple[str, ...] = ()
    edits_per_scene: int = 2
    shard_size: int = 200
    #: zlib level of the PNGs: 1 is 4× faster than 6 on rendered RGB for ~9 % more bytes
    png_compress_level: int = 1
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)
    tabletop: TabletopConfig = field(default_factory=TabletopConfig)
    room: RoomConfig = field(default_factory=RoomConfig)
    cycles: CyclesSettings = field(default_factory=CyclesSettings)
    #: attempts per record: rendered candidate edits and cheap (geometric) proposals on one
    #: scene, then fresh scenes
    max_param_attempts: int = 12
    max_proposals: int = 60
    max_scene_attempts: int = 200
    #: scenes a record tries with its plan (e.g. the drawn receptacle placement) before it
    #: proposes without one
    max_plan_scene_attempts: int = 60

    def __post_init__(self) -> None:
        if self.subset not in SUBSET_OPERATIONS:
            raise ValueError(f"unknown subset {self.subset!r}; choose one of {sorted(SUBSET_OPERATIONS)}")
        if self.split not in SPLIT_CODES:
            raise ValueError(f"unknown split {self.split!r}; choose one of {sorted(SPLIT_CODES)}")
        if self.renderer not in BACKENDS:
            raise ValueError(f"unknown renderer {self.renderer!r}; choose one of {', '.join(BACKENDS)}")
        if not self.operations:
            object.__setattr__(self, "operations", SUBSET_OPERATIONS[self.subset])
        bad = [op for op in self.operations if op not in SUBSET_OPERATIONS[self.subset]]
        if bad:
            raise ValueError(f"operations {bad} are not generated for subset {self.subset!r} "
                             f"(available: {', '.join(SUBSET_OPERATIONS[self.subset])})")
        if self.num < 1 or self.resolution < 16 or self.edits_per_scene < 1:
            raise ValueError("num ≥ 1, resolution ≥ 16 and edits_per_scene ≥ 1 are required")
        if self.shard_size % self.edits_per_scene:
            raise ValueError("shard_size must be a multiple of edits_per_scene")


    @property
    def num_units(self) -> int:
        return -(-self.num // self.edits_per_scene)

    def unit_record_indices(self, unit: int) -> range:
        return range(unit * self.edits_per_scene, min(self.num, (unit + 1) * self.edits_per_scene))

    def record_id(self, index: int) -> str:
        return f"{self.subset}-{self.split}-{self.seed}-{index:06d}"


def unit_rng(cfg: GenerationConfig, unit: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(
        [cfg.seed, SUBSET_CODES[cfg.subset], SPLIT_CODES[cfg.split], unit]))


class _SceneState:
    """A sampled scene with its source render and per-object 'alone' renders, cached."""

    def __init__(self, scene: Scene, renderer: Renderer, min_pixels: float):
        self.scene = scene
        self.renderer = renderer
        self.source = _labels(renderer, scene)
        self.source_depth_mm = depth_to_mm(self.source.depth)
        self._alone: dict[int, RenderOutput] = {}
        counts = np.bincount(self.source.instances.ravel())  # uint16 ids: a short histogram
        #: instance id → its visible pixels in the source image
        self.pixels = {int(i): int(counts[i]) for i in np.flatnonzero(counts) if i != 0}
        #: ids with at least ``min_pixels`` visible pixels in the source image
        self.visible = {i for i, c in self.pixels.items() if c >= min_pixels}

    def photo(self, cfg: "GenerationConfig") -> np.ndarray:
        """The published source image, from the renderer's ``photo`` (cached)."""
        if getattr(self, "_photo", None) is None:
            self._photo = _photo(self.renderer, self.scene, cfg)
        return self._photo

    def alone(self, instance_id: int) -> RenderOutput:
        if instance_id not in self._alone:
            self._alone[instance_id] = _labels(self.renderer, self.scene, only=[instance_id])
        return self._alone[instance_id]


def _propose(op: str, scene: Scene, rng: np.random.Generator, th: CheckThresholds,
             visible: set[int], targets: set[int] | None = None, plan: Mapping | None = None) -> Proposal | None:
    """A proposal for ``op`` (looked up in :data:`gsi_syn.edits.PROPOSERS`) whose named objects
    are among ``visible`` (source-image ids); a target the sampler picks is among ``targets``
    (ids large enough to be edited; ``visible`` when None). ``plan``: the record's plan (keyword
    arguments of the proposer, see :attr:`gsi_syn.edits.SynOperation.plan`)."""
    entry = PROPOSERS.get(op)
    if entry is None:
        raise ValueError(f"operation {op!r} is not implemented by the sampler")
    if not entry.picks_target:
        return entry.propose(scene, rng, th, None, visible, **(plan or {}))
    candidates = _target_candidates(op, scene, visible if targets is None else targets & visible)
    if not candidates:
        return None
    target = candidates[int(rng.integers(len(candidates)))]
    return entry.propose(scene, rng, th, target, visible, **(plan or {}))


def _target_candidates(op: str, scene: Scene, pool: set[int]) -> list[SceneObject]:
    """The objects the sampler may pick as ``op``'s target: in ``pool``, of a category unique in
    the scene, carrying nothing (never move something that carries other objects), and passing
    the operation's ``target_ok``."""
    entry = PROPOSERS[op]
    carriers = {o.support_id for o in scene.objects}
    return [o for o in unique_category_objects(scene)
            if o.instance_id in pool and entry.target_ok(o) and o.instance_id not in carriers]


def _host_targets(op: str, scene: Scene, pool: set[int], visible: set[int], plan: Mapping | None,
                  th: CheckThresholds, *, first_only: bool = False) -> list[SceneObject]:
    """The targets ``op`` may be drawn with in ``scene`` (empty: the scene cannot host the
    record): its :func:`_target_candidates` among ``pool & visible``, and, for a record's
    ``plan``, only those that realise it where the operation has a :data:`PLAN_REALISABLE` test
    (``first_only``: stop at the first one), else all of them when ``plan_feasible`` allows the
    plan. For operations that pick their target."""
    candidates = _target_candidates(op, scene, pool & visible)
    if not candidates or plan is None:
        return candidates
    test = PLAN_REALISABLE.get(op)
    if test is not None:
        realisable = (t for t in candidates if test(scene, th, t, visible, dict(plan)))
        return list(itertools.islice(realisable, 1)) if first_only else list(realisable)
    feasible = PROPOSERS[op].plan_feasible
    return candidates if feasible is None or feasible(scene, th, candidates, visible, dict(plan)) else []


def _scene_can_host(op: str, state: _SceneState, targets: set[int], plan: Mapping | None,
                    th: CheckThresholds) -> set[int]:
    """Cheap test before any proposal: the ids the sampler may draw ``op``'s target from in the
    rendered scene (:func:`_host_targets`; empty: the scene cannot host the record). Operations
    that pick no target get ``targets`` back whole (any set that is non-empty means "go")."""
    if not PROPOSERS[op].picks_target:
        return targets | {0}
    return {t.instance_id for t in _host_targets(op, state.scene, targets, state.visible, plan, th)}


def _receptacle_realisable(scene: Scene, th: CheckThresholds, target: SceneObject, visible: set[int],
                           plan: dict) -> bool:
    """Whether :func:`~gsi_syn.edits.propose_receptacle_place` can realise the planned placement
    with ``target`` in ``scene``: some visible receptacle passes
    :func:`~gsi_syn.edits.realise_placement` (the proposer's deterministic tests, so a target
    failing them fails every draw)."""
    return any(realise_placement(scene, rec, target, plan["placement"], th) is not None
               for rec in receptacle_candidates(scene, target) if rec.instance_id in visible)


#: operation → ``(scene, thresholds, target, visible ids, plan) → bool``: whether the record's
#: plan can be realised with that target (the sampler draws targets only among those that can,
#: and drops a scene where none can, rendered or not)
PLAN_REALISABLE: dict[str, Callable[[Scene, CheckThresholds, SceneObject, set[int], dict], bool]] = {
    "receptacle_place": _receptacle_realisable,
}


def _may_host(op: str, scene: Scene, plan: Mapping | None, th: CheckThresholds, min_pixels: float,
              target_pixels: float) -> bool:
    """Pre-render relaxation of :func:`_scene_can_host`: False only where the rendered scene
    would fail it too, so a scene that cannot host ``op`` is dropped without rendering (and the
    records drawn are the same). Every object's pixels are bounded by
    :func:`~gsi_syn.edits.projected_area_bound` (``min_pixels``: the visible floor,
    ``target_pixels``: the edited object's floor, px)."""
    if not PROPOSERS[op].picks_target:
        return True
    bound = {o.instance_id: projected_area_bound(scene, o) for o in scene.objects
             if o.role in ("object", "receptacle", "support")}
    visible = {i for i, b in bound.items() if b >= min_pixels}
    targets = {i for i, b in bound.items() if b >= target_pixels}
    return bool(_host_targets(op, scene, targets, visible, plan, th, first_only=True))


def _measure(state: _SceneState, p: Proposal, target_render: RenderOutput, target_alone: RenderOutput | None,
             area: int, th: CheckThresholds) -> Measurements:
    """Every check quantity of a proposal (see :data:`gsi_bench.checks.Measurements`)."""
    tid = p.target_id
    m = Measurements()
    spec = operation_spec(p.operation)
    m.changed_pixel_fraction = changed_fraction(state.source.instances, target_render.instances)
    for k, v in p.measured.items():
        setattr(m, k, v)
    if "view_overlap" in spec.extra_checks:
        cam = state.scene.camera
        m.view_overlap = view_overlap(state.source.depth, cam.K_array, cam.cam_from_world_array,
                                      p.target_scene.camera.cam_from_world_array, target_render.depth)
        return m
    m.visible_fraction_source, m.visible_pixels_source = visibility(
        state.source.instances, state.alone(tid).instances, tid)
    if p.target_present and target_alone is not None:
        m.visible_fraction_target, m.visible_pixels_target = visibility(
            target_render.instances, target_alone.instances, tid)
        m.min_clearance_m = min_clearance(p.target_scene, tid)
        m.support_margin_m = support_margin(p.target_scene, tid)
    m.ambiguity_margin = p.ambiguity_margin
    if p.referring:
        # every instance the expression competes with must be visible, or it cannot be judged
        category = state.scene.get(tid).category
        for o in state.scene.movable():
            if o.category == category and o.instance_id != tid:
                frac, px = visibility(state.source.instances, state.alone(o.instance_id).instances, o.instance_id)
                if frac < th.min_visible_fraction or px < th.min_visible_area * area:
                    m.ambiguity_margin = -1.0
    if "settle_drift_m" in spec.extra_checks:
        m.settle_drift_m = settle(p.target_scene, tid).drift_m
    return m


def _worth_rendering(p: Proposal, targets: set[int], target_pixels: float) -> bool:
    """Cheap pre-render test of a proposal: an edited object must be among ``targets`` (large
    enough in the source image) and, where it stays, may still cover ``target_pixels`` in the
    target image (:func:`~gsi_syn.edits.projected_area_bound`, an upper bound)."""
    if not p.target_id:
        return True  # a camera edit
    if p.target_id not in targets:
        return False
    return not p.target_present or \
        projected_area_bound(p.target_scene, p.target_scene.get(p.target_id)) >= target_pixels


def _proposal_key(p: Proposal) -> tuple:
    """What makes two proposals on one scene the same edit (then the same renders and checks):
    operation, named objects, parameters, referring expression and the edited scene's camera."""
    return (p.operation, p.target_id, p.reference_id, repr(p.params), p.referring,
            repr(p.world_transform.round(9).tolist()), repr(p.camera_delta.round(9).tolist()))


def _drawn_template(op: str, p: Proposal, scene: Scene, rng: np.random.Generator) -> int:
    """The drawn phrasing index of an accepted proposal: uniform over the operation's phrasings;
    a receptacle placement is phrased "on" a surface and "in" a container."""
    drawn = int(rng.integers(num_templates(op)))
    if op == "receptacle_place":
        return drawn_for_reference(op, drawn, p.params, receptacle_kind(scene.get(p.reference_id)))
    return drawn


def _object_ref(obj: SceneObject | None, referring: str = "") -> ObjectRef:
    if obj is None:
        return ObjectRef()
    return ObjectRef(instance_id=obj.instance_id, category=obj.category, category_zh=obj.category_zh,
                     description=obj.description, referring_expression=referring, asset_id=obj.asset_id)


def _names(obj: SceneObject) -> tuple[str, str]:
    """(English, Chinese) head noun naming ``obj`` in an instruction: its description, or its
    category where it has none (furniture, the table)."""
    return obj.description or obj.category, obj.description_zh or obj.category_zh


def _box(obj: SceneObject | None, cam_from_world: np.ndarray) -> Box3D:
    if obj is None:  # camera edits name no object
        return Box3D.zero()
    b = box_in_camera(object_box_world(obj), cam_from_world)
    return Box3D.from_pose(b.center, b.size, b.rotation)


def build_record(cfg: GenerationConfig, index: int, unit: int, state: _SceneState, p: Proposal,
                 target_render: RenderOutput, m: Measurements, drawn_template: int) -> EditRecord:
    """Assemble the record of an accepted proposal."""
    src_scene, tgt_scene = state.scene, p.target_scene
    C = src_scene.camera.cam_from_world_array
    spec = operation_spec(p.operation)
    camera_edit = not spec.names_target
    target_before = None if camera_edit else src_scene.get(p.target_id)
    target_after = tgt_scene.get(p.target_id) if p.target_present else target_before
    reference = src_scene.get(p.reference_id) if p.reference_id else None
    text = render_instructions(
        p.operation, drawn_template, p.params, referring=p.referring,
        target=_names(target_before) if target_before else ("", ""),
        reference=_names(reference) if reference else ("", ""))
    if camera_edit:
        phi = Transform(p.camera_delta[:3, :3], np.ones(3), p.camera_delta[:3, 3])
    else:
        R, s, t = camera_frame_transform(p.world_transform, C)
        phi = Transform(R, s, t)
    tid = p.target_id
    empty = np.zeros_like(state.source.instances, bool)
    source = EditView(image=state.source.rgb, mask=empty if camera_edit else state.source.instances == tid,
                      instances=state.source.instances, depth_mm=state.source_depth_mm,
                      cam_from_world=src_scene.camera.cam_from_world)
    target = EditView(image=target_render.rgb, mask=(target_render.instances == tid) if p.target_present else empty,
                      instances=target_render.instances, depth_mm=depth_to_mm(target_render.depth),
                      cam_from_world=tgt_scene.camera.cam_from_world)
    return assemble_record(
        id=cfg.record_id(index), subset=cfg.subset, split=cfg.split, operation=p.operation, params=p.params,
        instruction=text, target=_object_ref(target_before, p.referring), reference=_object_ref(reference),
        transform=phi, source=source, target_view=target, K=src_scene.camera.K,
        source_box=_box(target_before, C), target_box=_box(target_after, C),  # zero box for camera edits
        target_present=p.target_present, scene=encode_scene_pair(src_scene, tgt_scene),
        provenance=Provenance(generator=f"gsi_syn.{cfg.subset}", generator_version=gsi_bench.__version__,
                              seed=cfg.seed, scene_index=unit,
                              asset_manifest_sha256=get_library().pool_sha256,
                              renderer=cfg.renderer, config_sha256=cfg.sha256),
        checks=dataclasses.replace(m, thresholds=cfg.thresholds.to_json()),
    )


def _sample_scene(cfg: GenerationConfig, rng: np.random.Generator) -> Scene:
    if cfg.subset == "tabletop":
        return sample_tabletop_scene(rng, cfg.resolution, cfg.resolution, cfg.tabletop, split=cfg.split)
    if cfg.subset == "room":
        return sample_room_scene(rng, cfg.resolution, cfg.resolution, cfg.room, split=cfg.split)
    raise ValueError(f"no scene sampler for subset {cfg.subset!r}")


def _labels(renderer: Renderer, scene: Scene, only: list[int] | None = None) -> RenderOutput:
    """Instance map and depth of ``scene`` for the checks and the labels. A renderer that
    publishes photos (:func:`_with_photos` replaces the colour) and can skip the colour
    (``labels``: GL's colourless pass, same ids and depth as ``render``) skips it."""
    if hasattr(renderer, "photo") and hasattr(renderer, "labels"):
        return renderer.labels(scene, only=only)  # type: ignore[attr-defined]
    return renderer.render(scene, only=only)


def _photo(renderer: Renderer, scene: Scene, cfg: GenerationConfig) -> np.ndarray:
    """The published RGB of ``scene``: GL's supersampled ``photo``, or Cycles' with ``cfg.cycles``."""
    if cfg.renderer == "cycles":
        return renderer.photo(scene, cfg.cycles)  # type: ignore[attr-defined]
    return renderer.photo(scene)  # type: ignore[attr-defined]


def _with_photos(record: EditRecord, state: _SceneState, target_scene: Scene, renderer: Renderer,
                 cfg: GenerationConfig) -> EditRecord:
    """``record`` with its source / target RGB replaced by the renderer's photos (anti-aliased GL
    or path-traced Cycles; the labels stay the 1-sample GL ones, pixel-aligned with them) and the
    photo settings (renderer, HDRI, samples…) added to its scene JSON under ``"render"``."""
    spec = json.loads(record.scene)
    spec["render"] = (renderer.describe(state.scene, cfg.cycles) if cfg.renderer == "cycles"  # type: ignore[attr-defined]
                      else renderer.describe(state.scene))  # type: ignore[attr-defined]
    return dataclasses.replace(record, source_image=state.photo(cfg), target_image=_photo(renderer, target_scene, cfg),
                               scene=json.dumps(spec, sort_keys=True, separators=(",", ":")))


def generate_unit(cfg: GenerationConfig, unit: int, renderer: Renderer,
                  on_reject: Callable[[str, list[str]], None] | None = None) -> list[EditRecord]:
    """The records of scene unit ``unit`` (``cfg.edits_per_scene`` of them, fewer at the end)."""
    rng = unit_rng(cfg, unit)
    area = cfg.resolution * cfg.resolution
    records: list[EditRecord] = []
    state: _SceneState | None = None
    target_pixels = min_visible_pixels(area, cfg.thresholds, edited=True)
    min_pixels = cfg.thresholds.min_visible_area * area
    for index in cfg.unit_record_indices(unit):
        op = cfg.operations[index % len(cfg.operations)]
        entry = PROPOSERS[op]
        plan = entry.plan(rng) if entry.plan is not None else None
        record = None
        for attempt in range(cfg.max_scene_attempts):
            live_plan = plan if attempt < cfg.max_plan_scene_attempts else None
            if state is None:
                scene = _sample_scene(cfg, rng)
                if not _may_host(op, scene, live_plan, cfg.thresholds, min_pixels, target_pixels):
                    continue  # it cannot host the operation whatever the render shows
                state = _SceneState(scene, renderer, min_pixels)
            targets = {i for i, c in state.pixels.items() if c >= target_pixels}
            hosted = _scene_can_host(op, state, targets, live_plan, cfg.thresholds)
            if not hosted:
                state = None
                continue
            if entry.picks_target:
                targets = hosted
            rendered = 0
            rejected: set[tuple] = set()  # proposals already rendered and rejected on this scene
            for _ in range(cfg.max_proposals):
                if rendered >= cfg.max_param_attempts:
                    break
                p = _propose(op, state.scene, rng, cfg.thresholds, state.visible, targets, live_plan)
                if p is None or not _worth_rendering(p, targets, target_pixels):
                    continue
                # the same edit of the same scene renders and fails the same way: never twice
                key = _proposal_key(p)
                if key in rejected:
                    continue
                rendered += 1
                target_render = _labels(renderer, p.target_scene)
                target_alone = _labels(renderer, p.target_scene, only=[p.target_id]) if p.target_present else None
                m = _measure(state, p, target_render, target_alone, area, cfg.thresholds)
                spec = operation_spec(op)
                failed = failed_checks(m, area, cfg.thresholds, target_present=p.target_present,
                                       object_edit=spec.names_target,
                                       perspective="view_overlap" in spec.extra_checks)
                if failed:
                    rejected.add(key)
                    if on_reject:
                        on_reject(op, failed)
                    continue
                template = _drawn_template(op, p, state.scene, rng)
                record = build_record(cfg, index, unit, state, p, target_render, m, template)
                if hasattr(renderer, "photo"):  # publish the anti-aliased / path-traced RGB
                    record = _with_photos(record, state, p.target_scene, renderer, cfg)
                break
            if record is not None:
                break
            state = None  # this scene cannot host the operation: draw a new one
        if record is None:
            raise RuntimeError(f"unit {unit}: no valid {op} edit after {cfg.max_scene_attempts} scenes; "
                               "the thresholds or scene config are too strict")
        records.append(record)
    return records


