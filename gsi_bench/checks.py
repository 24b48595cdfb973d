"""Validity checks of an edit (DESIGN §3), shared by GSI-Syn, GSI-Real and ``validation``:
the thresholds, the generator-independent measurements and the accept decision.

* :class:`CheckThresholds` — the acceptance thresholds (part of a generation config, stored in
  every record as ``checks.thresholds``). GSI-Real extends them with its 3D-consistency
  thresholds (:class:`gsi_real.filters.RealThresholds`).
* :data:`Measurements` — the measured quantities: exactly the record's
  :class:`~gsi_bench.schema.Checks` struct.
* :func:`visibility`, :func:`changed_fraction`, :func:`view_overlap` — measurements that need
  only instance maps / depth / cameras. Measurements that need the generator (GSI-Syn's
  footprints on asset meshes, GSI-Real's re-lifting) live with it and fill the same struct.
* :func:`failed_checks` — the accept decision: the names of the failed checks (empty = accept).

The generators apply these functions and ``validation`` re-runs them on published data: one
implementation.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from gsi_bench.geometry import pixels_to_camera
from gsi_bench.hashing import canonical_json
from gsi_bench.schema import Checks

__all__ = ["CheckThresholds", "NOT_APPLIED", "Measurements", "visibility", "visibility_ok", "min_visible_pixels", "placement_ok",
           "changed_fraction", "view_overlap", "failed_checks"]


@dataclass(frozen=True)
class CheckThresholds:
    """Acceptance thresholds (part of the generation config; recorded per sample).

    ``min_clearance_m``: smallest horizontal gap to any other object on the same support.
    ``min_support_margin_m``: smallest distance from the footprint to the support's edge.
    ``min_visible_fraction``: visible / unoccluded pixels of the target, source and target images.
    ``min_visible_area``: visible target pixels as a fraction of the image area.
    ``min_changed_fraction``: pixels whose instance id changes between source and target.
    ``min_ambiguity_margin_m``: margin by which a referring expression beats the runner-up.
    ``min_view_overlap``: fraction of source-visible scene points still in view (perspective).
    ``max_settle_drift_m``: how far a placed object may move when physics settles it.
    ``min_placement_gap``: the placements a receptacle is named with keep their points at least
    this far apart (fraction of the image width) in the source image (0.04 ≈ 5 px at the
    scorer's 128-px search size, where the old median gap was 3.6 px; 20 px at 512 px); see
    :func:`gsi_syn.edits.placement_vocabulary` (a small receptacle keeps its center only).
    ``min_place_displacement_m``: object_relative_place moves the object at least this far (the
    source must not already nearly satisfy the relation; twice the scorer's 5 cm position tolerance).
    ``min_target_area``: the edited object's visible pixels, as a fraction of the image area, in
    the source and (where it is still there) the target image — the minimum target size (0.005 =
    0.5 % of the image: 328 px at 256², 1,311 px at 512²). It raises ``min_visible_area`` for the
    edited object only (anchors, receptacles and competing instances keep ``min_visible_area``).
    ``min_changed_fraction`` is the visible-change floor: the fraction of image pixels whose
    instance id differs between source and target (0.0025 = half the minimum target size).
    ``min_referring_gap``: a leftmost / rightmost referring expression picks the same instance by
    its position along the camera's ground x (3D) and by its projected box centre (image), and
    beats the runner-up in the image by at least this fraction of the image width (the same
    decidability rule as ``min_placement_gap``).
    ``min_remove_instances``: a removal names its target among at least this many visible
    instances of its category, by a referring expression (1 = a unique category may be removed
    by name alone).

    Records made before a threshold existed do not state it: :meth:`from_json` reads such a
    threshold as not applied (:data:`NOT_APPLIED`).
    """

    min_clearance_m: float = 0.01
    min_support_margin_m: float = 0.01
    min_visible_fraction: float = 0.5
    min_visible_area: float = 0.0015
    min_changed_fraction: float = 0.0025
    min_ambiguity_margin_m: float = 0.05
    min_view_overlap: float = 0.5
    max_settle_drift_m: float = 0.01
    min_placement_gap: float = 0.04
    min_place_displacement_m: float = 0.10
    min_target_area: float = 0.005
    min_referring_gap: float = 0.04
    min_remove_instances: int = 2

    def __post_init__(self) -> None:
        if self.min_remove_instances < 1:
            raise ValueError("min_remove_instances must be at least 1")

    def to_json(self) -> str:
        """Canonical JSON of the thresholds (what ``checks.thresholds`` stores)."""
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str, *, strict: bool = True) -> "CheckThresholds":
        """The thresholds a record states (``checks.thresholds``); a threshold the record predates
        is read as not applied (:data:`NOT_APPLIED`), others the record omits take the defaults.
        ``ValueError`` on keys this class does not know, unless ``strict`` is false (then they
        are ignored: e.g. GSI-Real's own filter thresholds read as the shared ones)."""
        raw = json.loads(text) if text else {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown and strict:
            raise ValueError(f"checks.thresholds has unknown keys {unknown}")
        raw = {k: v for k, v in raw.items() if k in known}
        legacy = {k: v for k, v in NOT_APPLIED.items() if k in known and k not in raw}
        return cls(**{**legacy, **raw})


#: The value that switches off each threshold added after the first published data (a record
#: that does not state it was generated without it).
NOT_APPLIED: dict[str, float | int] = {"min_target_area": 0.0, "min_referring_gap": -math.inf,
                                       "min_remove_instances": 1}


#: The measured quantities of an edit are exactly the record's ``checks`` struct (its
#: ``thresholds`` field is filled in when the record is built).
Measurements = Checks


def placement_ok(clearance: float, margin: float, th: CheckThresholds) -> bool:
    """Clearance and support margin (m) both at least their thresholds."""
    return clearance >= th.min_clearance_m and margin >= th.min_support_margin_m


def visibility(instances_full: np.ndarray, instances_alone: np.ndarray, instance_id: int) -> tuple[float, int]:
    """(visible fraction, visible pixel count) of ``instance_id``: pixels where it is the visible
    surface in the full render over pixels it covers when rendered alone (uint16 ``(H, W)``
    instance maps; 0.0 when it covers none)."""
    visible = int(np.count_nonzero(instances_full == instance_id))
    alone = int(np.count_nonzero(instances_alone == instance_id))
    return (visible / alone if alone else 0.0), visible


def visibility_ok(fraction: float, pixels: int, image_area: int, th: CheckThresholds, *,
                  edited: bool = False) -> bool:
    """Visible fraction and visible area (pixels / ``image_area``) at least their thresholds;
    ``edited``: the object is the edited one, whose area must also reach ``min_target_area``."""
    return fraction >= th.min_visible_fraction and pixels >= min_visible_pixels(image_area, th, edited=edited)


def min_visible_pixels(image_area: int, th: CheckThresholds, *, edited: bool = False) -> float:
    """The fewest visible pixels an object may show in an image of ``image_area`` pixels: the
    edited object ``max(min_visible_area, min_target_area)`` of the area, others ``min_visible_area``."""
    frac = max(th.min_visible_area, th.min_target_area) if edited else th.min_visible_area
    return frac * image_area


def changed_fraction(instances_a: np.ndarray, instances_b: np.ndarray) -> float:
    """Fraction of pixels whose instance id differs between two aligned instance maps."""
    return float(np.count_nonzero(instances_a != instances_b)) / instances_a.size


def view_overlap(source_depth: np.ndarray, K: np.ndarray, source_cam_from_world: np.ndarray,
                 target_cam_from_world: np.ndarray, target_depth: np.ndarray, stride: int = 4,
                 tolerance_m: float = 0.03) -> float:
    """Fraction of the surface points seen by the source camera (depth ``(H, W)`` float m, a
    ``stride`` subsample) that the target camera also sees: inside its image, in front of it and
    not hidden (its depth there within ``tolerance_m``)."""
    h, w = source_depth.shape
    v, u = np.mgrid[0:h:stride, 0:w:stride]
    z = source_depth[v, u]
    ok = z > 0
    if not ok.any():
        return 0.0
    u, v, z = u[ok], v[ok], z[ok].astype(np.float64)
    K = np.asarray(K, dtype=np.float64)
    pc = pixels_to_camera(u, v, z, K)
    rel = np.asarray(target_cam_from_world) @ np.linalg.inv(np.asarray(source_cam_from_world))
    q = pc @ rel[:3, :3].T + rel[:3, 3]
    zq = q[:, 2]
    front = zq > 1e-6
    uq = np.rint(q[:, 0] / np.where(front, zq, 1) * K[0, 0] + K[0, 2]).astype(np.int64)
    vq = np.rint(q[:, 1] / np.where(front, zq, 1) * K[1, 1] + K[1, 2]).astype(np.int64)
    inside = front & (uq >= 0) & (uq < w) & (vq >= 0) & (vq < h)
    seen = np.zeros_like(inside)
    d = target_depth[vq[inside], uq[inside]]
    seen[inside] = (d > 0) & (np.abs(d - zq[inside]) <= tolerance_m)
    return float(seen.mean())


def failed_checks(m: Measurements, image_area: int, th: CheckThresholds, *, target_present: bool = True,
                  object_edit: bool = True, perspective: bool = False, placement: bool = True) -> list[str]:
    """Names of the checks ``m`` fails (empty list = accepted).

    ``visible_source`` / ``visible_target`` also fail an edited object smaller than the minimum
    target size (``min_target_area``); ``unchanged`` is the visible-change floor.
    ``target_present``: the edited object exists after the edit (false for ``remove``);
    ``object_edit``: the edit acts on an object (false for camera edits); ``perspective``: apply
    the view-overlap check; ``placement``: apply the clearance / support-margin check (GSI-Real
    judges placement with its own collision and support filters instead).

    >>> m = Measurements(visible_fraction_source=0.9, visible_pixels_source=500, visible_fraction_target=0.2,
    ...                  visible_pixels_target=500, min_clearance_m=0.05, support_margin_m=0.05,
    ...                  changed_pixel_fraction=0.01)
    >>> failed_checks(m, 100 * 100, CheckThresholds())
    ['visible_target']
    """
    failed = []
    if not math.isnan(m.settle_drift_m) and m.settle_drift_m > th.max_settle_drift_m:
        failed.append("unstable")
    if object_edit:
        if not visibility_ok(m.visible_fraction_source, m.visible_pixels_source, image_area, th, edited=True):
            failed.append("visible_source")
        if target_present and not visibility_ok(m.visible_fraction_target, m.visible_pixels_target, image_area, th,
                                                edited=True):
            failed.append("visible_target")
        if placement and target_present and not placement_ok(m.min_clearance_m, m.support_margin_m, th):
            failed.append("placement")
        if m.ambiguity_margin < th.min_ambiguity_margin_m:
            failed.append("ambiguous")
    if not (m.changed_pixel_fraction >= th.min_changed_fraction):
        failed.append("unchanged")
    if perspective and not (m.view_overlap >= th.min_view_overlap):
        failed.append("view_overlap")
    if not math.isnan(m.placement_gap) and m.placement_gap < th.min_placement_gap:
        failed.append("placement_gap")
    return failed
