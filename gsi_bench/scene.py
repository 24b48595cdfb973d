"""The scene specification: everything needed to re-render a GSI-Syn image exactly.

The spec is part of the record (its ``scene`` field holds ``{"source": Scene, "target": Scene}``
as canonical JSON, see :func:`encode_scene_pair` / :func:`decode_scene_pair` and
:meth:`gsi_bench.schema.EditRecord.scenes`), so it lives in the core: the generator
(:mod:`gsi_syn`) builds and renders scenes, ``validation`` re-renders them.

A :class:`Scene` is plain data (JSON round-trippable via :meth:`Scene.to_json` /
:meth:`Scene.from_json`). It names assets by id from the versioned asset manifest
(``gsi_syn.assets``), places each with a pose in the world frame (metres, ``+z`` up), gives it a
material, and carries the light and the camera.

Asset canonical frame (every asset mesh, after canonicalisation by the asset library): metres,
``+z`` up, the footprint centre of its bounding box at the origin, its lowest point at ``z = 0``,
its canonical *front* facing ``-y``. An object's pose is therefore "the point where it touches its
support" plus a yaw: ``world_from_object = T(position) · Rz(yaw_deg) · S(scale)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_bench.geometry import make_transform, rot_z
from gsi_bench.hashing import canonical_json

SCENE_FORMAT_VERSION = 1

#: Instance id reserved for "no surface hit" in instance maps.
BACKGROUND_ID = 0


@dataclass
class Material:
    """Surface appearance of one object.

    ``color``: sRGB base colour in [0, 1]³ multiplied with the texture (or used alone).
    ``texture``: id of a texture in the asset manifest (``None`` = the asset's own texture if it
    has one, else plain colour). ``texture_scale``: texture repeats per metre for procedural UVs
    (ignored for assets with their own UVs). ``specular``: strength in [0, 1] of a Blinn-Phong
    highlight.
    """

    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    texture: str | None = None
    texture_scale: float = 1.0
    specular: float = 0.1


@dataclass
class SceneObject:
    """One rigid object instance.

    ``instance_id``: uint16 id written in instance maps (1–65535, unique in the scene).
    ``asset_id``: manifest id; ``params``: parameters of a procedural asset (e.g. a table's
    ``width``/``depth``/``height`` in metres) — part of the asset's identity.
    ``category``: the name used in instructions (English); ``category_zh``: Chinese name;
    ``description`` / ``description_zh``: the noun phrase naming it in instructions (e.g.
    "red mug" / "红色的杯子").
    ``position``: world position (m) of the footprint centre of the object's base.
    ``yaw_deg``: rotation about world ``+z`` (degrees, counter-clockwise seen from above).
    ``scale``: uniform scale applied to the canonical asset mesh.
    ``role``: ``"object"`` (movable, may be edited), ``"support"`` (table, floor, furniture top),
    ``"receptacle"`` (tray, bowl… something others can be put into) or ``"structure"`` (walls).
    ``support_id``: instance id of what it rests on (0 = the ground / nothing).
    """

    instance_id: int
    asset_id: str
    category: str
    position: tuple[float, float, float]
    yaw_deg: float = 0.0
    scale: float = 1.0
    material: Material = field(default_factory=Material)
    params: dict[str, float] = field(default_factory=dict)
    category_zh: str = ""
    description: str = ""
    description_zh: str = ""
    role: str = "object"
    support_id: int = 0

    def world_from_object(self) -> np.ndarray:
        """4×4 float64 ``T(position) · Rz(yaw) · S(scale)``."""
        return make_transform(rot_z(self.yaw_deg), self.position, self.scale)


@dataclass
class Light:
    """A directional sun light plus ambient light.

    ``direction``: world unit vector the light travels along (from the light towards the scene,
    so its z is negative). ``intensity``: sun strength (linear, ~1). ``ambient``: uniform ambient
    term (linear). ``color``: light colour, sRGB [0, 1]³.
    """

    direction: tuple[float, float, float] = (0.3, 0.4, -0.87)
    intensity: float = 1.0
    ambient: float = 0.35
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass
class Camera:
    """A pinhole camera (OpenCV frame). ``K``: 3×3 intrinsics in pixels; ``cam_from_world``: 4×4
    world→camera; ``width``/``height``: image size in pixels; ``near``/``far``: clip range (m)."""

    K: list[list[float]]
    cam_from_world: list[list[float]]
    width: int
    height: int
    near: float = 0.05
    far: float = 50.0

    @property
    def K_array(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64)

    @property
    def cam_from_world_array(self) -> np.ndarray:
        return np.asarray(self.cam_from_world, dtype=np.float64)

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates (m), float64 ``(3,)``."""
        t = self.cam_from_world_array
        return -t[:3, :3].T @ t[:3, 3]

    @classmethod
    def create(cls, K: np.ndarray, cam_from_world: np.ndarray, width: int, height: int,
               near: float = 0.05, far: float = 50.0) -> "Camera":
        return cls(K=np.asarray(K, dtype=np.float64).tolist(),
                   cam_from_world=np.asarray(cam_from_world, dtype=np.float64).tolist(),
                   width=int(width), height=int(height), near=near, far=far)


@dataclass
class Scene:
    """A complete scene: objects (supports included), light, camera, background colour.

    ``subset``: ``tabletop`` or ``room``. ``background``: sRGB colour where no surface is hit.
    ``asset_manifest_sha256``: hash of the asset manifests the asset ids refer to (GSI-Syn: the
    library's ``pool_sha256``, core + Sweet Home 3D manifests and role table).
    """

    subset: str
    objects: list[SceneObject]
    light: Light
    camera: Camera
    background: tuple[float, float, float] = (0.85, 0.87, 0.9)
    asset_manifest_sha256: str = ""
    format_version: int = SCENE_FORMAT_VERSION

    # -- lookup -------------------------------------------------------------------------------
    def get(self, instance_id: int) -> SceneObject:
        for obj in self.objects:
            if obj.instance_id == instance_id:
                return obj
        raise KeyError(f"no object with instance id {instance_id} in the scene")

    def movable(self) -> list[SceneObject]:
        return [o for o in self.objects if o.role in ("object", "receptacle")]

    # -- edits (return new scenes; the original is never mutated) -----------------------------
    def replace_object(self, new: SceneObject) -> "Scene":
        objs = [new if o.instance_id == new.instance_id else o for o in self.objects]
        return dataclasses.replace(self, objects=objs)

    def without(self, instance_id: int) -> "Scene":
        return dataclasses.replace(self, objects=[o for o in self.objects if o.instance_id != instance_id])

    def with_camera(self, camera: Camera) -> "Scene":
        return dataclasses.replace(self, camera=camera)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace): equal scenes give equal strings."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Scene":
        if d.get("format_version") != SCENE_FORMAT_VERSION:
            raise SceneFormatError(f"unsupported scene format_version {d.get('format_version')!r} "
                             f"(this gsi-bench reads {SCENE_FORMAT_VERSION})")
        objs = []
        for o in d["objects"]:
            o = dict(o)
            o["material"] = Material(**{**o["material"], "color": tuple(o["material"]["color"])})
            o["position"] = tuple(o["position"])
            objs.append(SceneObject(**o))
        light = d["light"]
        return cls(subset=d["subset"], objects=objs,
                   light=Light(**{k: tuple(v) if isinstance(v, list) else v for k, v in light.items()}),
                   camera=Camera(**d["camera"]), background=tuple(d["background"]),
                   asset_manifest_sha256=d.get("asset_manifest_sha256", ""),
                   format_version=d["format_version"])

    @classmethod
    def from_json(cls, text: str) -> "Scene":
        return cls.from_dict(json.loads(text))


class SceneFormatError(ValueError):
    """A record's ``scene`` field is not a GSI-Syn scene pair this version can read.

    Raised for GSI-Real records (their ``scene`` describes an RGB-D capture, ``"kind": "real"``),
    converted official-release records (``"{}"``), malformed JSON, missing ``source`` /
    ``target`` or fields, and other ``format_version`` values. A ``ValueError``, so callers that
    already treat bad input as ``ValueError`` keep working.
    """


def encode_scene_pair(source: Scene, target: Scene) -> str:
    """The record's ``scene`` field: canonical JSON of ``{"source": ..., "target": ...}``."""
    return canonical_json({"source": source.to_dict(), "target": target.to_dict()})


def decode_scene_pair(text: str) -> tuple[Scene, Scene]:
    """Inverse of :func:`encode_scene_pair`: the (source, target) scenes of a record's ``scene``
    field. Raises :class:`SceneFormatError` (never ``KeyError``) when it holds no GSI-Syn scene
    pair; the message says what it holds instead."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError) as err:
        raise SceneFormatError(f"scene is not valid JSON ({err})") from err
    if not isinstance(d, dict):
        raise SceneFormatError(f"scene JSON is a {type(d).__name__}, expected an object")
    if d.get("kind") == "real":
        raise SceneFormatError("scene describes a GSI-Real capture (kind 'real'), not a GSI-Syn scene spec")
    if not {"source", "target"} <= set(d):
        raise SceneFormatError("scene JSON has no 'source' / 'target' scene spec "
                               "(official-release and other converted records carry none)")
    try:
        return Scene.from_dict(d["source"]), Scene.from_dict(d["target"])
    except SceneFormatError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise SceneFormatError(f"scene spec does not load ({type(err).__name__}: {err})") from err
