"""Blender Cycles path tracing for the published RGB images (the ``cycles`` renderer).

Hybrid backend: :class:`CyclesRenderer` renders instance maps, depth and proposal images with the
fast GL rasteriser (:class:`gsi_syn.render.gl.GLRenderer`) — so every check and label is the GL
one — and :meth:`CyclesRenderer.photo` path-traces the accepted source and target RGB images with
Cycles through Blender as a Python module (``pip install 'gsi-bench[cycles]'``).

What a photo is made of:

* geometry: the scene's asset meshes (vertex normals, UVs) placed with each object's
  ``world_from_object``; the same camera ``K``, pose, near / far and pixel-centre convention as GL
  (:func:`blender_camera_params`), so the photo is pixel-aligned with the GL instance map
  (:meth:`CyclesRenderer.object_index` measures it);
* materials: a Principled BSDF per object — base colour = the scene material's colour × the asset's
  base colour × its texture (own UVs, else box projection in object space at
  ``texture_scale`` repeats per metre, like GL's tri-planar mapping), roughness from its
  ``specular`` (:func:`gsi_syn.materials.roughness_from_specular`), dielectric;
* lighting: image-based lighting from one of the CC0 Poly Haven HDRIs shipped inside the bpy wheel
  (``datafiles/studiolights/world/*.exr``; :func:`gsi_syn.render.environment.choose_hdri` picks
  one per scene from its light, so source and target share it, and GL lights with the same one) plus a sun lamp along the scene's light direction with a 2°
  angular diameter (soft shadows);
* film: AgX view transform, OpenImageDenoise, ``samples`` paths per pixel (16 by default), fixed
  seed and thread count, so the same scene gives the same bytes.

GPU: CUDA or OptiX when Blender finds such a device (``device="auto"``), else the CPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gsi_syn.materials import roughness_from_specular
from gsi_syn.render.base import RenderOutput
from gsi_syn.render.environment import HDRI_CHOICES, choose_hdri
from gsi_bench.scene import Camera, Scene, SceneObject

__all__ = [
    "CyclesRenderer",
    "CyclesSettings",
    "blender_camera_params",
    "cycles_available",
    "hdri_paths",
]


@dataclass(frozen=True)
class CyclesSettings:
    """How Cycles renders a photo (recorded in each record's scene JSON).

    ``samples``: paths per pixel; ``denoise``: OpenImageDenoise on the result; ``view_transform``:
    ``"AgX"`` or ``"Filmic"`` (or ``"Standard"``); ``exposure``: stops; ``hdri_strength``: world
    light multiplier; ``sun_strength``: sun irradiance (W/m²) per unit of the scene light's
    intensity; ``sun_angle_deg``: angular diameter of the sun (soft-shadow size); ``max_bounces``:
    light path depth; ``threads``: CPU render threads (fixed for reproducibility); ``device``:
    ``"auto"`` (GPU if present), ``"cpu"`` or ``"gpu"``; ``seed``: sampling seed.
    """

    samples: int = 16
    denoise: bool = True
    view_transform: str = "AgX"
    exposure: float = 0.5
    hdri_strength: float = 1.0
    sun_strength: float = 3.0
    sun_angle_deg: float = 2.0
    max_bounces: int = 4
    threads: int = 2
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"cycles samples must be >= 1, not {self.samples}")
        if self.view_transform not in ("AgX", "Filmic", "Standard"):
            raise ValueError(f"view_transform must be AgX, Filmic or Standard, not {self.view_transform!r}")
        if self.device not in ("auto", "cpu", "gpu"):
            raise ValueError(f"device must be auto, cpu or gpu, not {self.device!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads}")


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Send this process's stdout / stderr file descriptors to /dev/null for the block: Blender
    prints its start-up notes and one progress line per render tile straight to them."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


@contextlib.contextmanager
def _no_deprecation_warnings() -> Iterator[None]:
    """Blender 5 warns that ``use_nodes`` goes away in Blender 6; 5.0 still needs it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def cycles_available() -> tuple[bool, str]:
    """``(True, "")`` if ``bpy`` (with Cycles) imports here, else ``(False, reason)``."""
    try:
        with _silenced():
            import bpy  # noqa: F401
            import _cycles  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure means "no Cycles here"
        return False, (f"{type(err).__name__}: {err}; install the extra: pip install 'gsi-bench[cycles]' "
                       "(bpy, Blender as a Python module)")
    return True, ""


def hdri_paths() -> dict[str, Path]:
    """The CC0 HDRIs shipped inside the bpy wheel (stem → ``.exr`` path), Poly Haven originals
    (see ``license.txt`` next to them)."""
    import bpy

    folder = Path(bpy.utils.system_resource("DATAFILES")) / "studiolights" / "world"
    found = {p.stem: p for p in sorted(folder.glob("*.exr"))}
    missing = [h for h in HDRI_CHOICES if h not in found]
    if missing:
        raise FileNotFoundError(f"bpy wheel lacks HDRIs {missing} in {folder}; reinstall bpy")
    return found


def blender_camera_params(camera: Camera) -> dict[str, float]:
    """Blender camera data for an OpenCV pinhole ``camera``, such that Blender's pixel ``i`` (its
    centre at film ``x = i + 0.5``) sees the ray through our pixel centre ``u = i``.

    The sensor (36 mm) spans the larger image side, ``lens = fx · 36 / max(W, H)`` mm; the optical
    axis must land at film ``(cx + 0.5, H - cy - 0.5)`` (Blender's film y grows upwards), which
    fixes the lens shifts (units of the larger image side; the axis lands at ``W/2 − shift_x·side``,
    ``H/2 − shift_y·side``). Pixels must be square (``fx = fy``) and unskewed.

    >>> K = [[100.0, 0, 31.5], [0, 100.0, 31.5], [0, 0, 1]]
    >>> p = blender_camera_params(Camera.create(np.array(K), np.eye(4), 64, 64))
    >>> p["lens"], p["sensor_width"], p["shift_x"], p["shift_y"]
    (56.25, 36.0, 0.0, 0.0)
    """
    K = camera.K_array
    fx, s, cx = K[0]
    fy, cy = K[1, 1], K[1, 2]
    if abs(s) > 1e-9:
        raise ValueError(f"Cycles cameras cannot have a skewed K (K[0,1] = {s})")
    if abs(fx - fy) > 1e-6 * abs(fx):
        raise ValueError(f"Cycles cameras need square pixels (fx = {fx}, fy = {fy})")
    w, h = float(camera.width), float(camera.height)
    side = max(w, h)
    # Blender clamps the sensor to 1…100 mm: a 36 mm sensor over the larger image side
    return {
        "sensor_width": _SENSOR_MM, "lens": float(fx) * _SENSOR_MM / side,
        # a positive shift moves the film window right / up: the axis lands left of / below centre
        "shift_x": float((0.5 * w - cx - 0.5) / side),
        "shift_y": float((cy + 0.5 - 0.5 * h) / side),
        "clip_start": float(camera.near), "clip_end": float(camera.far),
    }


def _srgb_to_linear(c: Any) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# ---------------------------------------------------------------------------------------------
# The Blender side (one bpy session per process)
# ---------------------------------------------------------------------------------------------

_SENSOR_MM = 36.0
_OPENCV_TO_BLENDER_CAM = np.diag([1.0, -1.0, -1.0, 1.0])


class _BlenderSession:
    """The process's Blender scene, its cached meshes / images, and per-render objects."""

    def __init__(self) -> None:
        import bpy

        self.bpy = bpy
        self.pid = os.getpid()
        with _silenced():
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self.meshes: dict[tuple, Any] = {}
        self.images: dict[str, Any] = {}
        self.worlds: dict[tuple, Any] = {}
        self.device = "CPU"
        self.tmp = Path(tempfile.mkdtemp(prefix="gsi_cycles_"))
        self.id_material = self._id_material()

    # -- set-up ---------------------------------------------------------------------------------
    def configure(self, settings: CyclesSettings) -> None:
        sc = self.scene
        sc.render.engine = "CYCLES"
        cy = sc.cycles
        cy.device = "CPU"
        self.device = "CPU"
        if settings.device in ("auto", "gpu"):
            with _silenced():
                gpu = self._enable_gpu()
            if gpu:
                cy.device = "GPU"
                self.device = gpu
            elif settings.device == "gpu":
                raise RuntimeError("device='gpu' but Blender finds no CUDA / OptiX device")
        sc.render.threads_mode = "FIXED"
        sc.render.threads = settings.threads
        cy.seed = settings.seed
        cy.use_animated_seed = False
        cy.samples = settings.samples
        cy.use_adaptive_sampling = False
        cy.use_denoising = settings.denoise
        cy.denoiser = "OPENIMAGEDENOISE"
        cy.max_bounces = settings.max_bounces
        cy.diffuse_bounces = min(settings.max_bounces, 3)
        cy.glossy_bounces = min(settings.max_bounces, 3)
        cy.transparent_max_bounces = 4
        cy.caustics_reflective = False
        cy.caustics_refractive = False
        cy.sample_clamp_indirect = 10.0
        sc.render.film_transparent = False
        sc.render.use_compositing = False
        sc.render.use_sequencer = False
        sc.render.use_persistent_data = False
        sc.display_settings.display_device = "sRGB"
        sc.view_settings.view_transform = settings.view_transform
        sc.view_settings.look = "None"
        sc.view_settings.exposure = settings.exposure
        sc.view_settings.gamma = 1.0

    def _enable_gpu(self) -> str:
        """Enable the first OptiX / CUDA devices Blender finds; their type, or "" for none."""
        try:
            prefs = self.bpy.context.preferences.addons["cycles"].preferences
        except (KeyError, AttributeError):
            return ""
        for kind in ("OPTIX", "CUDA"):
            try:
                prefs.compute_device_type = kind
                prefs.get_devices()
            except (TypeError, ValueError):
                continue
            devices = [d for d in prefs.devices if d.type == kind]
            if devices:
                for d in prefs.devices:
                    d.use = d.type == kind
                return kind
        return ""

    def _id_material(self) -> Any:
        """Emission of the object's pass index (Object Info → Object Index), for index renders."""
        bpy = self.bpy
        mat = bpy.data.materials.new("gsi_object_index")
        with _no_deprecation_warnings():
            mat.use_nodes = True
        nt = mat.node_tree
        nt.nodes.clear()
        info = nt.nodes.new("ShaderNodeObjectInfo")
        emit = nt.nodes.new("ShaderNodeEmission")
        out = nt.nodes.new("ShaderNodeOutputMaterial")
        emit.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
        nt.links.new(info.outputs["Object Index"], emit.inputs["Strength"])
        nt.links.new(emit.outputs["Emission"], out.inputs["Surface"])
        return mat

    # -- data -----------------------------------------------------------------------------------
    def mesh(self, library: Any, obj: SceneObject) -> tuple[Any, np.ndarray | None, tuple]:
        """The Blender mesh of an asset (built once), whether it has UVs and its base colour."""
        key = (obj.asset_id, tuple(sorted(obj.params.items())))
        if key not in self.meshes:
            am = library.mesh(obj.asset_id, dict(obj.params))
            self.meshes[key] = (self._build_mesh(f"mesh{len(self.meshes)}", am),
                                None if am.uv is None or am.texture is None else am.texture,
                                tuple(float(c) for c in am.base_color))
        return self.meshes[key]

    def _build_mesh(self, name: str, am: Any) -> Any:
        v = np.ascontiguousarray(am.vertices, np.float32)
        f = np.ascontiguousarray(am.faces, np.int32)
        me = self.bpy.data.meshes.new(name)
        me.vertices.add(len(v))
        me.vertices.foreach_set("co", v.ravel())
        me.loops.add(3 * len(f))
        me.loops.foreach_set("vertex_index", f.ravel())
        me.polygons.add(len(f))
        me.polygons.foreach_set("loop_start", np.arange(0, 3 * len(f), 3, dtype=np.int32))
        if am.uv is not None:
            layer = me.uv_layers.new(name="UVMap")
            layer.data.foreach_set("uv", np.ascontiguousarray(np.asarray(am.uv, np.float32)[f.ravel()]).ravel())
        me.update(calc_edges=True)
        me.polygons.foreach_set("use_smooth", np.ones(len(f), dtype=bool))
        normals = np.asarray(am.normals, np.float64)
        me.normals_split_custom_set_from_vertices([tuple(n) for n in normals])
        me.update()
        return me

    def image(self, key: str, pixels: np.ndarray) -> Any:
        """A Blender image (sRGB) of a uint8 ``(H, W, 3)`` picture, row 0 at the top (built once)."""
        if key not in self.images:
            img = np.asarray(pixels, np.uint8)[..., :3]
            h, w = img.shape[:2]
            rgba = np.ones((h, w, 4), np.float32)
            rgba[..., :3] = img[::-1].astype(np.float32) / 255.0  # Blender rows start at the bottom
            bimg = self.bpy.data.images.new(f"tex{len(self.images)}", w, h, alpha=False)
            bimg.colorspace_settings.name = "sRGB"
            bimg.pixels.foreach_set(rgba.ravel())
            bimg.pack()
            self.images[key] = bimg
        return self.images[key]

    def black_world(self) -> Any:
        """A world that emits nothing (index renders: background = 0)."""
        world = self.bpy.data.worlds.get("gsi_black")
        if world is None:
            world = self.bpy.data.worlds.new("gsi_black")
            with _no_deprecation_warnings():
                world.use_nodes = True
            world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.0
        return world

    def world(self, name: str, path: Path, rotation_deg: float, strength: float) -> Any:
        key = (name, round(rotation_deg, 6), round(strength, 6))
        if key not in self.worlds:
            bpy = self.bpy
            world = bpy.data.worlds.new(f"world_{name}_{len(self.worlds)}")
            with _no_deprecation_warnings():
                world.use_nodes = True
            nt = world.node_tree
            nt.nodes.clear()
            coord = nt.nodes.new("ShaderNodeTexCoord")
            mapping = nt.nodes.new("ShaderNodeMapping")
            mapping.inputs["Rotation"].default_value = (0.0, 0.0, float(np.radians(rotation_deg)))
            env = nt.nodes.new("ShaderNodeTexEnvironment")
            env.image = bpy.data.images.load(str(path), check_existing=True)
            bg = nt.nodes.new("ShaderNodeBackground")
            bg.inputs["Strength"].default_value = strength
            out = nt.nodes.new("ShaderNodeOutputWorld")
            nt.links.new(coord.outputs["Generated"], mapping.inputs["Vector"])
            nt.links.new(mapping.outputs["Vector"], env.inputs["Vector"])
            nt.links.new(env.outputs["Color"], bg.inputs["Color"])
            nt.links.new(bg.outputs["Background"], out.inputs["Surface"])
            self.worlds[key] = world
        return self.worlds[key]

    def material(self, obj: SceneObject, base_color: tuple, own_texture: Any | None,
                 material_texture: Any | None) -> Any:
        """A Principled BSDF material for one scene object."""
        bpy = self.bpy
        m = obj.material
        mat = bpy.data.materials.new(f"mat{obj.instance_id}")
        with _no_deprecation_warnings():
            mat.use_nodes = True
        nt = mat.node_tree
        nt.nodes.clear()
        bsdf = nt.nodes.new("ShaderNodeBsdfPrincipled")
        out = nt.nodes.new("ShaderNodeOutputMaterial")
        tint = _srgb_to_linear(np.asarray(m.color, np.float64) * np.asarray(base_color, np.float64))
        bsdf.inputs["Roughness"].default_value = roughness_from_specular(m.specular)
        bsdf.inputs["Metallic"].default_value = 0.0
        tex = None
        if own_texture is not None:
            tex = nt.nodes.new("ShaderNodeTexImage")
            tex.image = own_texture
            uv = nt.nodes.new("ShaderNodeUVMap")
            uv.uv_map = "UVMap"
            nt.links.new(uv.outputs["UV"], tex.inputs["Vector"])
        elif material_texture is not None:
            tex = nt.nodes.new("ShaderNodeTexImage")
            tex.image = material_texture
            tex.projection = "BOX"
            tex.projection_blend = 0.2
            coord = nt.nodes.new("ShaderNodeTexCoord")
            mapping = nt.nodes.new("ShaderNodeMapping")
            mapping.inputs["Scale"].default_value = (m.texture_scale,) * 3
            nt.links.new(coord.outputs["Object"], mapping.inputs["Vector"])
            nt.links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
        if tex is None:
            bsdf.inputs["Base Color"].default_value = (*tint, 1.0)
        else:
            mix = nt.nodes.new("ShaderNodeMix")
            mix.data_type = "RGBA"
            mix.blend_type = "MULTIPLY"
            mix.inputs["Factor"].default_value = 1.0
            mix.inputs[7].default_value = (*tint, 1.0)  # B (colour)
            nt.links.new(tex.outputs["Color"], mix.inputs[6])  # A (colour)
            nt.links.new(mix.outputs[2], bsdf.inputs["Base Color"])
        nt.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
        return mat

    # -- per render -----------------------------------------------------------------------------
    def clear_scene(self) -> None:
        bpy = self.bpy
        for ob in list(self.scene.objects):
            bpy.data.objects.remove(ob, do_unlink=True)
        for mat in list(bpy.data.materials):
            if mat is not self.id_material:
                bpy.data.materials.remove(mat)
        for cam in list(bpy.data.cameras):
            bpy.data.cameras.remove(cam)
        for light in list(bpy.data.lights):
            bpy.data.lights.remove(light)

    def set_camera(self, camera: Camera) -> None:
        bpy = self.bpy
        sc = self.scene
        cam = bpy.data.cameras.new("camera")
        cam.type = "PERSP"
        cam.sensor_fit = "AUTO"  # the sensor spans the larger image side
        p = blender_camera_params(camera)
        cam.sensor_width = p["sensor_width"]
        cam.sensor_height = p["sensor_width"]
        cam.lens = p["lens"]
        cam.shift_x, cam.shift_y = p["shift_x"], p["shift_y"]
        cam.clip_start, cam.clip_end = p["clip_start"], p["clip_end"]
        ob = bpy.data.objects.new("camera", cam)
        sc.collection.objects.link(ob)
        world_from_cam = np.linalg.inv(camera.cam_from_world_array) @ _OPENCV_TO_BLENDER_CAM
        ob.matrix_world = _matrix(world_from_cam)
        sc.camera = ob
        sc.render.resolution_x = int(camera.width)
        sc.render.resolution_y = int(camera.height)
        sc.render.resolution_percentage = 100
        sc.render.pixel_aspect_x = sc.render.pixel_aspect_y = 1.0

    def render_to(self, path: Path, *, float_exr: bool) -> None:
        settings = self.scene.render.image_settings
        if float_exr:
            settings.media_type = "IMAGE"
            settings.file_format = "OPEN_EXR"
            settings.color_depth = "32"
            settings.exr_codec = "ZIP"
            settings.color_mode = "RGB"
        else:
            settings.media_type = "IMAGE"
            settings.file_format = "PNG"
            settings.color_depth = "8"
            settings.color_mode = "RGB"
            settings.compression = 0
        self.scene.render.filepath = str(path)
        with _silenced():
            self.bpy.ops.render.render(write_still=True)


_SESSION: _BlenderSession | None = None


def _blender_version() -> str:
    import bpy

    return str(bpy.app.version_string)


def _matrix(m: np.ndarray) -> Any:
    """A 4×4 numpy matrix as a Blender ``mathutils.Matrix`` (rows are rows)."""
    import mathutils

    return mathutils.Matrix([[float(x) for x in row] for row in np.asarray(m, np.float64)])


def _session() -> _BlenderSession:
    global _SESSION
    if _SESSION is None or _SESSION.pid != os.getpid():
        ok, why = cycles_available()
        if not ok:
            raise RuntimeError(f"the cycles renderer needs Blender's bpy module: {why}")
        _SESSION = _BlenderSession()
    return _SESSION


# ---------------------------------------------------------------------------------------------
# The renderer
# ---------------------------------------------------------------------------------------------

class CyclesRenderer:
    """GL for instance maps / depth / proposals, Cycles for the published RGB (see module doc).

    Args:
        settings: :class:`CyclesSettings` (samples, denoising, view transform, device…).
        library: asset source (``mesh``, ``texture``); defaults to :func:`gsi_syn.assets.get_library`.
        gl: the GL renderer used for everything but photos (one is created if not given).
    """

    name = "cycles"

    def __init__(self, settings: CyclesSettings | None = None, library: Any = None, gl: Any = None):
        self.settings = settings or CyclesSettings()
        self._library = library
        if gl is None:
            from gsi_syn.render.gl import GLRenderer

            gl = GLRenderer(library)
        self.gl = gl

    @property
    def library(self) -> Any:
        if self._library is None:
            from gsi_syn.assets import get_library

            self._library = get_library()
        return self._library

    @property
    def device(self) -> str:
        """``"CPU"``, ``"OPTIX"`` or ``"CUDA"``: what Cycles renders on (starts Blender if needed)."""
        s = _session()
        s.configure(self.settings)
        return s.device

    def render(self, scene: Scene, *, only: Collection[int] | None = None) -> RenderOutput:
        """The GL render (instances, depth and a preview RGB) — see :class:`GLRenderer.render`."""
        return self.gl.render(scene, only=only)

    def describe(self, scene: Scene, settings: CyclesSettings | None = None) -> dict:
        """The settings, device and scene-dependent choices (HDRI, rotation) of :meth:`photo`."""
        hdri, rot = choose_hdri(scene)
        return {"renderer": "cycles", "settings": asdict(settings or self.settings), "hdri": hdri,
                "device": self.device, "blender": _blender_version(),
                "hdri_rotation_deg": rot, "hdri_source": "bpy datafiles/studiolights/world (Poly Haven, CC0)"}

    def _build(self, scene: Scene, settings: CyclesSettings, *, index_pass: bool) -> _BlenderSession:
        s = _session()
        s.configure(settings)
        s.clear_scene()
        bpy = s.bpy
        lib = self.library
        for obj in scene.objects:
            mesh, own_tex, base_color = s.mesh(lib, obj)
            ob = bpy.data.objects.new(f"obj{obj.instance_id}", mesh)
            ob.pass_index = int(obj.instance_id)
            s.scene.collection.objects.link(ob)
            ob.matrix_world = _matrix(obj.world_from_object())
            if index_pass:
                mat = s.id_material
            else:
                own = s.image(f"asset:{obj.asset_id}:{sorted(obj.params.items())}", own_tex) \
                    if own_tex is not None else None
                tex = s.image(f"texture:{obj.material.texture}", lib.texture(obj.material.texture)) \
                    if own is None and obj.material.texture else None
                mat = s.material(obj, base_color, own, tex)
            if len(ob.data.materials) == 0:  # one slot on the (shared) mesh, filled per object
                ob.data.materials.append(None)
            ob.material_slots[0].link = "OBJECT"
            ob.material_slots[0].material = mat
        s.set_camera(scene.camera)
        if index_pass:
            s.scene.world = s.black_world()
        else:
            hdri, rot = choose_hdri(scene)
            s.scene.world = s.world(hdri, hdri_paths()[hdri], rot, settings.hdri_strength)
            light = scene.light
            sun = bpy.data.lights.new("sun", type="SUN")
            sun.energy = float(light.intensity) * settings.sun_strength
            sun.angle = float(np.radians(settings.sun_angle_deg))
            sun.color = tuple(float(c) for c in _srgb_to_linear(light.color))
            ob = bpy.data.objects.new("sun", sun)
            s.scene.collection.objects.link(ob)
            d = np.asarray(light.direction, np.float64)
            d = d / np.linalg.norm(d)
            # a sun shines along its local -z: rotate -z onto the light's travel direction
            z = -d
            x = np.cross([0.0, 0.0, 1.0], z) if abs(z[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
            x /= np.linalg.norm(x)
            y = np.cross(z, x)
            m = np.eye(4)
            m[:3, 0], m[:3, 1], m[:3, 2] = x, y, z
            ob.matrix_world = _matrix(m)
        return s

    def photo(self, scene: Scene, settings: CyclesSettings | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` sRGB: the Cycles render of ``scene`` (pixel-aligned with GL's maps)
        with ``settings`` (default: the renderer's)."""
        s = self._build(scene, settings or self.settings, index_pass=False)
        s.scene.render.filter_size = 1.5
        path = s.tmp / "photo.png"
        s.render_to(path, float_exr=False)
        from PIL import Image

        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), np.uint8).copy()
        path.unlink()
        return rgb

    def object_index(self, scene: Scene) -> np.ndarray:
        """uint16 ``(H, W)``: Cycles' object index (``pass_index`` = instance id) of the surface
        seen through each pixel centre, 0 for none — one path per pixel through the pixel centre
        (box filter of 0.01 px), no denoising. Compare with the GL instance map to check alignment."""
        s = self._build(scene, self.settings, index_pass=True)
        cy = s.scene.cycles
        saved = (cy.samples, cy.use_denoising, s.scene.render.filter_size, s.scene.view_settings.view_transform)
        cy.samples, cy.use_denoising = 1, False
        s.scene.render.filter_size = 0.01
        s.scene.view_settings.view_transform = "Standard"
        path = s.tmp / "index.exr"
        try:
            s.render_to(path, float_exr=True)
        finally:
            cy.samples, cy.use_denoising, s.scene.render.filter_size, s.scene.view_settings.view_transform = saved
        img = s.bpy.data.images.load(str(path))
        try:
            w, h = img.size
            px = np.empty(w * h * 4, np.float32)
            img.pixels.foreach_get(px)
        finally:
            s.bpy.data.images.remove(img)
            path.unlink()
        ids = np.rint(px.reshape(h, w, 4)[::-1, :, 0])
        return np.clip(ids, 0, 65535).astype(np.uint16)
