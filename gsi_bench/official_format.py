"""The paper's official release format, in one place.

The official evaluator (``aim-uofa/GSI-Bench``, ``evaluation/eval``) knows no operation ids: it
routes each sample from the prompt's first word through a verb table to one of five evaluators
(``move | rotate | remove | scale | view``), and it reads boxes as 7-vectors
``[x, y, z, w, h, l, yaw]`` in the source camera frame (metres, OpenCV axes, y down; ``w`` / ``h``
/ ``l`` are the extents along the box's own x / vertical / y axes, ``yaw`` in radians) with a 3×3
rotation whose columns are the box axes in the Omni3D order (x, down, y), object → camera.

This module owns:

* :data:`OFFICIAL_VERBS` and :func:`route_prompt` — the verb table and the routing rule, exact
  (``strict=True``) or by meaning (the default, used to interpret prompts);
* :data:`OPERATION_ROUTE` — which evaluator scores each of our seven operations;
* both box conversions — :func:`official_rotation` / :func:`box_to_official_7vec` (ours →
  official) and :func:`rotation_from_official` / :func:`box_from_official` (official → ours);
* :func:`official_corners` — the 8 corners of an official box, as the official code builds them.

The converter (``builders.official``), the exporter (``builders.export_official``) and the
official protocol (``validation.evaluator.protocols.official``) import these; none keeps a copy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # schema imports nothing from here; keep the import lazy for geometry's re-export
    from gsi_bench.schema import Box3D

__all__ = [
    "OFFICIAL_VERBS",
    "VERB_ROUTE",
    "ROUTES",
    "OPERATION_ROUTE",
    "UnroutablePrompt",
    "route_prompt",
    "upstream_operation_word",
    "official_rotation",
    "rotation_from_official",
    "box_to_official_7vec",
    "box_from_official",
    "official_box",
    "official_corners",
    "EDIT_JSON_RE",
    "release_names",
    "release_has_target_image",
]

#: An official edit JSON: ``<img_id>_edit_<query_id>.json`` (the image id ends at the first
#: ``_edit_``, the query id at the first ``.``, as the official evaluator splits them).
EDIT_JSON_RE = re.compile(r"^(?P<img>.+?)_edit_(?P<qid>[^.]+)\.json$")

#: The official evaluator's verb table: route → first words of the prompt that select it.
OFFICIAL_VERBS: dict[str, tuple[str, ...]] = {
    "move": ("move", "shift", "relocate", "place", "put", "push", "pull"),
    "rotate": ("rotate", "turn", "spin"),
    "remove": ("remove",),
    "scale": ("scale", "resize", "make", "shrink", "reduce", "enlarge", "expand", "increase"),
    "view": ("view", "changeview", "look"),
}
#: verb → route
VERB_ROUTE: dict[str, str] = {verb: route for route, verbs in OFFICIAL_VERBS.items() for verb in verbs}
#: The five official evaluators.
ROUTES: tuple[str, ...] = tuple(OFFICIAL_VERBS)
#: Which official evaluator scores each of our operations.
OPERATION_ROUTE: dict[str, str] = {
    "camera_relative_move": "move", "object_relative_place": "move", "receptacle_place": "move",
    "rotate": "rotate", "scale": "scale", "remove": "remove", "perspective": "view"}

#: Substrings that exempt a prompt mentioning "camera" from the viewpoint route (upstream's two,
#: then the two that the meaning-based reading adds).
_CAMERA_EXEMPT_STRICT = ("from the camera", "to the camera")
_CAMERA_EXEMPT_MEANING = _CAMERA_EXEMPT_STRICT + ("toward the camera", "towards the camera")


class UnroutablePrompt(ValueError):
    """A prompt whose first word the official verb table does not know (the official evaluator
    aborts the whole run on it)."""


def upstream_operation_word(prompt: str) -> str:
    """The official ``get_operation`` reading of ``prompt``, byte for byte: the first token of
    ``prompt.split(" ")`` lower-cased (the second after ``please``), mapped through the verb
    table, then ``view`` when the prompt contains ``camera`` (case-sensitive) but neither ``from
    the camera`` nor ``to the camera``. An unknown word is returned unchanged.

    >>> upstream_operation_word("Please turn the lamp 45 degrees.")
    'rotate'
    >>> upstream_operation_word(" Move the mug left.")   # leading space: first token is ''
    ''
    >>> upstream_operation_word("Move the Camera forward.")  # capital C: not a viewpoint change
    'move'
    """
    tokens = prompt.split(" ")
    word = tokens[0].lower()
    if word == "please" and len(tokens) > 1:
        word = tokens[1].lower()
    word = VERB_ROUTE.get(word, word)
    if "camera" in prompt and not any(s in prompt for s in _CAMERA_EXEMPT_STRICT):
        word = "view"
    return word


def route_prompt(prompt: str, strict: bool = False) -> str:
    """The official evaluator that scores ``prompt`` (one of :data:`ROUTES`).

    ``strict=True`` is the official code's reading exactly (:func:`upstream_operation_word`).
    The default reads the prompt by meaning: surrounding whitespace and trailing punctuation of
    the verb are ignored, "camera" matches in any case, and "toward(s) the camera" counts like
    "to the camera" (a camera-relative move, not a viewpoint change).

    Raises :class:`UnroutablePrompt` when the verb is not in the table.

    >>> route_prompt("  Rotate the Camera 30 degrees to the left.")
    'view'
    >>> route_prompt("Move the mug 12 cm toward the camera."), route_prompt("Move the mug 12 cm toward the camera.", strict=True)
    ('move', 'view')
    """
    if strict:
        word = upstream_operation_word(prompt)
    else:
        words = prompt.strip().split()
        if not words:
            raise UnroutablePrompt("the prompt is empty")
        word = words[0].lower()
        if word == "please" and len(words) > 1:
            word = words[1].lower()
        word = word.strip(",.;:!")
        low = prompt.lower()
        if "camera" in low and not any(s in low for s in _CAMERA_EXEMPT_MEANING):
            return "view"
        word = VERB_ROUTE.get(word, word)
    if word not in ROUTES:
        raise UnroutablePrompt(f"the prompt starts with {word!r}, which maps to no operation "
                               f"(known verbs: {', '.join(sorted(VERB_ROUTE))})")
    return word


# ---------------------------------------------------------------------------------------------
# box conversions
# ---------------------------------------------------------------------------------------------
def official_rotation(rotation_cam: np.ndarray) -> np.ndarray:
    """Our object axes (x, y, z-up) re-ordered into the official order (x, down, y): columns
    ``[R·x, −R·z, R·y]`` — still a proper rotation (det +1), object → camera; float64 (3, 3)."""
    r = np.asarray(rotation_cam, dtype=np.float64)
    return np.stack([r[:, 0], -r[:, 2], r[:, 1]], axis=1)


def rotation_from_official(r_official: np.ndarray) -> np.ndarray:
    """Inverse of :func:`official_rotation`: columns ``[r0, r2, −r1]``; float64 (3, 3)."""
    r = np.asarray(r_official, dtype=np.float64)
    return np.stack([r[:, 0], r[:, 2], -r[:, 1]], axis=1)


def box_to_official_7vec(center_cam: Sequence[float], size_xyz: Sequence[float],
                         rotation_cam: np.ndarray) -> list[float]:
    """The official ``[x, y, z, w, h, l, yaw]`` of a box in the camera frame given by our centre
    (m), extents along our object axes (x, y, z-up; m) and rotation (object → camera).

    ``w`` = extent along object x, ``h`` = along the vertical, ``l`` = along object y; ``yaw``
    (radians) = ``atan2(−R[2,0], R[0,0])`` of the official-order rotation, i.e. the angle of
    ``R_y(yaw) = [[c,0,s],[0,1,0],[−s,0,c]]`` that the official code uses when no matrix is given.

    >>> box_to_official_7vec([0, 0, 2], [0.2, 0.4, 0.6], np.eye(3))
    [0.0, 0.0, 2.0, 0.2, 0.6, 0.4, -0.0]
    """
    r = official_rotation(rotation_cam)
    yaw = math.atan2(-r[2, 0], r[0, 0])
    w, l_, h = float(size_xyz[0]), float(size_xyz[1]), float(size_xyz[2])
    return [float(center_cam[0]), float(center_cam[1]), float(center_cam[2]), w, h, l_, yaw]


def box_from_official(vec7: Sequence[float], r_official: np.ndarray) -> Box3D:
    """Our :class:`~gsi_bench.schema.Box3D` from an official 7-vector and its official rotation
    (the 7-vector is kept verbatim in ``official_7vec``)."""
    from gsi_bench.schema import Box3D

    v = [float(x) for x in vec7]
    return Box3D(center=v[:3], size=[v[3], v[5], v[4]],
                 rotation=rotation_from_official(r_official).tolist(), official_7vec=v)


def official_box(box: Box3D) -> tuple[list[float], list[list[float]]]:
    """``(7-vector, official 3×3 rotation)`` of one of our boxes (its stored ``official_7vec``)."""
    return list(map(float, box.official_7vec)), official_rotation(box.rotation).tolist()


def official_corners(vec7: Sequence[float], r_official: np.ndarray | None = None) -> np.ndarray:
    """The 8 corners (float64 (8, 3), camera frame) of an official box: ``R·[±w/2, ±h/2, ±l/2] + c``
    with ``R`` the given rotation, or ``R_y(yaw)`` when it is ``None`` (as the official IoU does).
    The first four corners share one vertical level (``−h/2`` before rotation)."""
    x, y, z, w, h, l_, yaw = (float(t) for t in vec7[:7])
    if r_official is None:
        c, s = math.cos(yaw), math.sin(yaw)
        r = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    else:
        r = np.asarray(r_official, dtype=np.float64)
    half = np.array([[sx * w, sy * h, sz * l_] for sy in (-0.5, 0.5)
                     for sx, sz in ((0.5, 0.5), (0.5, -0.5), (-0.5, -0.5), (-0.5, 0.5))])
    return half @ r.T + np.array([x, y, z])


# ---------------------------------------------------------------------------------------------
# file names
# ---------------------------------------------------------------------------------------------
def release_names(record_id: str, generator: str, thresholds_json: str) -> tuple[str, str]:
    """``(img_id, query_id)`` of a record in the official layout.

    A record converted from the release (``provenance.generator`` ``official-release:*``) keeps the
    names of its source JSON, stored in ``checks.thresholds["json"]``; any other record is written
    as ``(record id, "0")``. Keys derived from these: the detector cache ``<img_id>_<query_id>``,
    the judge file ``<img_id>_edit_<query_id>``.

    >>> release_names("x", "official-release:official-verb", '{"json": "fine/a_edit_b_edit_1.json"}')
    ('a', 'b_edit_1')
    >>> release_names("tabletop-test-000003", "gsi_syn", "{}")
    ('tabletop-test-000003', '0')
    """
    source_json = ""
    if generator.startswith("official-release"):
        try:
            source_json = str(json.loads(thresholds_json or "{}").get("json", ""))
        except (ValueError, AttributeError):
            source_json = ""
    if source_json:
        base = re.split(r"[/!]", source_json)[-1]
        m = EDIT_JSON_RE.match(base)
        if m is None:
            raise ValueError(f"source file name {base!r} is not '<img_id>_edit_<query_id>.json'")
        return m.group("img"), m.group("qid")
    return record_id, "0"


def release_has_target_image(thresholds_json: str) -> bool:
    """False only for a record converted from a release that had no ground-truth edit image (the
    converter notes ``has_target_image`` in ``checks.thresholds``; its ``target_image`` is then all
    zero). True for every other record.

    >>> release_has_target_image('{"has_target_image": false}'), release_has_target_image("{}")
    (False, True)
    """
    try:
        return bool(json.loads(thresholds_json or "{}").get("has_target_image", True))
    except (ValueError, AttributeError):
        return True
