"""The GSI-Real pipeline: captures → lifting → rule-based edits → target synthesis → filters →
records (:class:`gsi_bench.schema.EditRecord`, subset ``real``), written as Hub-layout shards.

Determinism: frame ``k`` of a run draws every random number from
``default_rng(SeedSequence([seed, 3, k]))``; a (version, config, seed, captures) names one output.
Records are *candidates* until a person accepts them on the review page
(:mod:`gsi_real.review`); :func:`gsi_real.review.export_accepted` writes the accepted ones.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gsi_bench
from gsi_bench.assembly import EditView, InstructionText, Transform, assemble_record, render_instructions
from gsi_bench.config import HashedConfig
from gsi_bench.hashing import canonical_json
from gsi_bench.operations import num_templates, operations_for_subset
from gsi_bench.schema import (
    Box3D,
    Checks,
    EditRecord,
    ObjectRef,
    Provenance,
    depth_to_mm,
)
from gsi_real.captures import Frame, iter_frames
from gsi_real.edits import RealProposal, propose
from gsi_real.filters import RealMeasurements, RealThresholds, failed_filters, measure
from gsi_real.lifting import LiftConfig, LiftedFrame, lift_frame
from gsi_real.synthesis import Synthesis, synthesize

GENERATOR = "gsi_real.pipeline"
#: Operations a single real frame supports (perspective needs unseen geometry; receptacle
#: placement needs receptacle interiors — neither is sampled).
REAL_OPERATIONS = operations_for_subset("real")


@dataclass(frozen=True)
class RealConfig(HashedConfig):
    seed: int = 0
    split: str = "test"
    operations: tuple[str, ...] = REAL_OPERATIONS
    edits_per_frame: int = 3
    attempts_per_edit: int = 12
    min_object_pixels: int = 60
    inpainter: str = "harmonic"
    inpaint_steps: int = 20
    #: optional model backends filling frames that lack depth / instances (Hub id or local folder)
    depth_model: str = ""
    detector: str = ""
    detector_labels: tuple[str, ...] = ()
    box_threshold: float = 0.1
    use_pose_gravity: bool = False
    #: MLLM gate (:mod:`gsi_real.gate`): ``openai:<model>@<base_url>`` or ``transformers:<checkpoint>``; "" = none
    mllm_gate: str = ""
    thresholds: RealThresholds = field(default_factory=RealThresholds)
    lift: LiftConfig = field(default_factory=LiftConfig)

    def __post_init__(self) -> None:
        bad = [o for o in self.operations if o not in REAL_OPERATIONS]
        if bad:
            raise ValueError(f"operations {bad} are not supported on real frames (choose from {', '.join(REAL_OPERATIONS)})")
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be train or test, not {self.split!r}")
        if self.edits_per_frame < 1 or self.attempts_per_edit < 1:
            raise ValueError("edits_per_frame and attempts_per_edit must be ≥ 1")
        if self.inpaint_steps < 1:
            raise ValueError("inpaint_steps must be ≥ 1")



def frame_rng(cfg: RealConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, 3, index]))


def lift(frame: Frame, cfg: RealConfig, rng: np.random.Generator) -> LiftedFrame:
    prior = frame.cam_from_world[:3, :3] @ np.array([0.0, 0.0, 1.0]) if (cfg.use_pose_gravity and frame.pose_known) else None
    cats = {i: frame.labels[i].category for i in frame.movable_ids()}
    return lift_frame(frame.depth, frame.K, frame.instances, frame.movable_ids(), rng, cfg.lift,
                      rgb=frame.rgb, categories=cats, up_prior=prior)


def make_inpainter(name: str, steps: int = 20, seed: int = 0, device: str | None = None):
    if name == "harmonic":
        return None
    if name.startswith("diffusers:"):
        from gsi_real.backends import DiffusersInpainter

        return DiffusersInpainter(name.split(":", 1)[1], steps=steps, seed=seed, device=device)
    raise ValueError(f"unknown inpainter {name!r}; use 'harmonic' or 'diffusers:<checkpoint id or path>'")


@dataclass
class Candidate:
    """A synthesised and measured edit."""

    frame: Frame
    lifted: LiftedFrame
    proposal: RealProposal
    synthesis: Synthesis
    measurements: RealMeasurements
    failed: list[str]


def evaluate_proposal(frame: Frame, lifted: LiftedFrame, p: RealProposal, cfg: RealConfig,
                      rng: np.random.Generator, inpainter=None) -> Candidate:
    obj = lifted.objects[p.target_id]
    syn = synthesize(frame, obj, p.warp if p.target_present else None, inpainter)
    m = measure(frame, lifted, p, syn, cfg.thresholds, rng, cfg.lift)
    failed = failed_filters(m, p, frame.depth.size, cfg.thresholds, float(np.linalg.norm(obj.center)))
    return Candidate(frame, lifted, p, syn, m, failed)


def frame_candidates(frame: Frame, index: int, cfg: RealConfig, inpainter=None,
                     log: list | None = None) -> list[Candidate]:
    """Accepted candidates of one frame: cycles through the operations, ``attempts_per_edit``
    proposals each, and keeps the first that passes every filter (distinct targets+ops)."""
    rng = frame_rng(cfg, index)
    lifted = lift(frame, cfg, rng)
    cats = {i: frame.labels[i].category for i in frame.movable_ids()}
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    ops = list(cfg.operations)
    start = int(rng.integers(len(ops)))
    for k in range(cfg.edits_per_frame):
        op = ops[(start + k) % len(ops)]
        for _ in range(cfg.attempts_per_edit):
            p = propose(op, lifted, cats, rng, cfg.min_object_pixels,
                        min_displacement_m=cfg.thresholds.min_place_displacement_m)
            if p is None:
                break
            if (op, p.target_id) in seen:
                continue
            c = evaluate_proposal(frame, lifted, p, cfg, rng, inpainter)
            if log is not None:
                log.append({"frame": frame.key, "operation": op, "target": p.target_id, "failed": c.failed})
            if not c.failed:
                seen.add((op, p.target_id))
                out.append(c)
                break
    return out


def _ref(frame: Frame, iid: int, referring: str = "") -> ObjectRef:
    if not iid:
        return ObjectRef()
    lab = frame.labels[iid]
    return ObjectRef(instance_id=int(iid), category=lab.category, category_zh=lab.category_zh,
                     description=lab.description or lab.category, referring_expression=referring)


def capture_manifest_sha256(frame: Frame) -> str:
    """sha256 naming the input frame (its source path, image sizes and K): real data has no asset
    manifest, so this stands in for it in provenance."""
    h = hashlib.sha256()
    h.update(frame.key.encode())
    h.update(json.dumps({"shape": list(frame.rgb.shape), "K": np.asarray(frame.K).round(6).tolist()}).encode())
    h.update(hashlib.sha256(frame.rgb.tobytes()).digest())
    h.update(hashlib.sha256(frame.depth.tobytes()).digest())
    return h.hexdigest()


def instructions(c: Candidate, template: int) -> InstructionText:
    """Both languages of candidate ``c``'s instruction rendered with ``template``."""
    f, p = c.frame, c.proposal
    lab = f.labels[p.target_id]
    ref_lab = f.labels[p.reference_id] if p.reference_id else None
    return render_instructions(
        p.operation, template, p.params, referring=p.referring,
        target=(lab.description or lab.category, lab.description_zh or lab.category_zh or lab.category),
        reference=(ref_lab.description or ref_lab.category, ref_lab.description_zh or ref_lab.category_zh or ref_lab.category)
        if ref_lab else ("", ""))


def build_record(c: Candidate, cfg: RealConfig, record_index: int, frame_index: int, template: int,
                 gate_verdict: dict | None = None) -> EditRecord:
    f, p, syn, m = c.frame, c.proposal, c.synthesis, c.measurements
    obj = c.lifted.objects[p.target_id]
    text = instructions(c, template)
    src_box = Box3D.from_pose(obj.center, obj.size, obj.rotation)
    if p.target_present:
        tgt_box = Box3D.from_pose(p.apply(obj.center[None])[0], obj.size * p.s, p.R @ obj.rotation)
    else:
        tgt_box = src_box
    scene = {
        "kind": "real",
        # the frame the edit was sampled on (its identity: leak checks hash this)
        "source": {"kind": "rgbd_capture", "capture": f.capture, "frame": f.frame_id, "source_path": f.source,
                   "pose_known": f.pose_known, "width": int(f.rgb.shape[1]), "height": int(f.rgb.shape[0]),
                   **({"filled_by_models": f.meta["filled"]} if f.meta.get("filled") else {}),
                   "lifting": {"up": c.lifted.up.tolist(),
                               "up_plane": c.lifted.up_plane.to_dict() if c.lifted.up_plane else None,
                               "support_plane": obj.plane.to_dict(), "support_fit": obj.support_fit,
                               "object_points": int(len(obj.points))}},
        # how the target image was made and what the filters measured on it
        "target": {"kind": "synthesized", "method": "forward_warp+" + cfg.inpainter,
                   "filters": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                               for k, v in m.filter_values().items()}},
        "mllm_gate": gate_verdict, "human_review": None,
    }
    checks = Checks(visible_fraction_source=m.visible_fraction_source,
                    visible_fraction_target=m.visible_fraction_target if p.target_present else math.nan,
                    visible_pixels_source=m.visible_pixels_source, visible_pixels_target=m.visible_pixels_target,
                    min_clearance_m=m.min_clearance_m if p.target_present else math.nan,
                    support_margin_m=m.support_margin_m if p.target_present else math.nan, ambiguity_margin=m.ambiguity_margin,
                    changed_pixel_fraction=m.changed_pixel_fraction, thresholds=cfg.thresholds.to_json())
    empty = np.zeros(f.instances.shape, bool)
    return assemble_record(
        id=f"real-{cfg.split}-{cfg.seed}-{record_index:06d}", subset="real", split=cfg.split,
        operation=p.operation, params=p.params, instruction=text,
        target=_ref(f, p.target_id, p.referring), reference=_ref(f, p.reference_id),
        transform=Transform(p.R, [float(p.s)] * 3, p.t),
        source=EditView(image=f.rgb, mask=f.instances == p.target_id, instances=f.instances.astype(np.uint16),
                        depth_mm=depth_to_mm(f.depth), cam_from_world=f.cam_from_world),
        target_view=EditView(image=syn.rgb, mask=syn.mask if p.target_present else empty, instances=syn.instances,
                             depth_mm=depth_to_mm(syn.depth), cam_from_world=f.cam_from_world),
        K=f.K, source_box=src_box, target_box=tgt_box, target_present=p.target_present,
        scene=canonical_json(scene, allow_nan=False),
        provenance=Provenance(generator=GENERATOR, generator_version=gsi_bench.__version__, seed=cfg.seed,
                              scene_index=frame_index, asset_manifest_sha256=capture_manifest_sha256(f),
                              renderer="forward_warp+" + cfg.inpainter, config_sha256=cfg.sha256),
        checks=checks,
    )


def _normalise(options: dict) -> dict:
    for key in ("operations", "detector_labels"):
        if key in options and isinstance(options[key], (list, str)):
            v = options[key]
            options[key] = tuple(x.strip() for x in (v.split(",") if isinstance(v, str) else v) if x.strip())
    return options


def make_fill(cfg: RealConfig, device: str | None = None):
    """The :class:`gsi_real.backends.TransformersFill` the config names (None without models)."""
    if not (cfg.depth_model or cfg.detector):
        return None
    from gsi_real.backends import TransformersFill

    return TransformersFill(depth_model=cfg.depth_model or None, detector_model=cfg.detector or None,
                            box_threshold=cfg.box_threshold, vocabulary=cfg.detector_labels, device=device)


def iter_records(captures: str | Path, log: list | None = None, fill=None, device: str | None = None,
                 gate=None, **options) -> Iterator[EditRecord]:
    """Candidate records of the pipeline on every frame under ``captures`` (the builder's
    ``regenerate`` entry point). ``options``: :class:`RealConfig` fields. ``fill``: a ready
    ``fill`` hook (default: the models ``depth_model`` / ``detector`` name, if any); ``device``:
    where model backends run (default cuda when available)."""
    cfg = RealConfig(**_normalise(options))
    inpainter = make_inpainter(cfg.inpainter, cfg.inpaint_steps, cfg.seed, device)
    if fill is None:
        fill = make_fill(cfg, device)
    if gate is None and cfg.mllm_gate:
        from gsi_real.gate import make_gate

        gate = make_gate(cfg.mllm_gate, **({"device": device} if cfg.mllm_gate.startswith("transformers:") else {}))
    index = 0
    for fi, frame in enumerate(iter_frames(captures, fill=fill)):
        rng = frame_rng(cfg, fi)
        for c in frame_candidates(frame, fi, cfg, inpainter, log):
            template = int(rng.integers(num_templates(c.proposal.operation)))
            verdict = None
            if gate is not None:
                verdict = gate(instructions(c, template).en, c.frame.rgb, c.synthesis.rgb)
                if log is not None:
                    log.append({"frame": frame.key, "operation": c.proposal.operation, "target": c.proposal.target_id,
                                "failed": ["mllm_gate"] if verdict.verdict == "fail" else [],
                                "mllm_gate": verdict.to_dict()})
                if verdict.verdict == "fail":
                    continue
            rec = build_record(c, cfg, index, fi, template, verdict.to_dict() if verdict is not None else None)
            rec.validate()
            index += 1
            yield rec


def run(captures: str | Path, out_dir: str | Path, shard_size: int = 100, fill=None, device: str | None = None,
        gate=None, **options) -> dict:
    """Write candidate records to ``out_dir/data/real/<split>-NNNNN-of-NNNNN.parquet`` (atomic
    shards, checksums) plus ``out_dir/rejections.jsonl`` (every rejected proposal and why)."""
    from gsi_bench.hub_io import shard_path, update_checksums, write_shard_atomic

    out = Path(out_dir)
    log: list = []
    rows = [r.to_example() for r in iter_records(captures, log=log, fill=fill, device=device, gate=gate, **options)]
    cfg = RealConfig(**_normalise(dict(options)))
    split = cfg.split
    if not rows:
        raise RuntimeError(f"no edit passed the filters on the captures under {captures}")
    chunks = [rows[i:i + shard_size] for i in range(0, len(rows), shard_size)]
    meta = {"generator": GENERATOR, "version": gsi_bench.__version__, "config": json.loads(cfg.to_json())}
    paths = [write_shard_atomic(shard_path(out, "real", split, i, len(chunks)), chunk, meta)
             for i, chunk in enumerate(chunks)]
    update_checksums(out, paths)
    tmp = out / ".rejections.jsonl.tmp"
    tmp.write_text("".join(json.dumps(x) + "\n" for x in log))
    tmp.replace(out / "rejections.jsonl")
    gated = [x["mllm_gate"] for x in log if "mllm_gate" in x]
    return {"records": len(rows), "shards": [str(p) for p in paths],
            "proposals": sum(1 for x in log if "mllm_gate" not in x),
            "rejected": sum(1 for x in log if x["failed"]),
            "mllm_gate": {"asked": len(gated), "passed": sum(g["verdict"] == "pass" for g in gated),
                          "failed": sum(g["verdict"] == "fail" for g in gated),
                          "parse_failed": sum(g["parse_failed"] for g in gated)} if gated else None}
