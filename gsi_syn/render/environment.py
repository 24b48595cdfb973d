"""Image-based lighting shared by the GL and Cycles backends.

The environments are the CC0 Poly Haven HDRIs that ship inside Blender's ``bpy`` wheel
(``datafiles/studiolights/world/*.exr``). Cycles samples the HDRI itself; the GL backend uses its
diffuse irradiance as 9 spherical-harmonic coefficients per colour channel, precomputed from the
same files by :func:`compute_sh_table` and shipped in ``data/hdri_sh.json`` (a few kB), so GL needs
no bpy.

Direction convention: world ``z`` up; Blender's equirectangular lookup ``u = 0.5 − atan2(d.y,
d.x)/2π``, ``v = 0.5 + asin(d.z)/π``; a scene's environment rotation ``r`` (degrees about ``z``)
looks the HDRI up at ``Rz(r)·d`` (what Cycles' Mapping node does with the world's generated
coordinates).

Each scene gets one environment and rotation from :func:`choose_hdri`, a stable hash of its light,
which every edit keeps: the source and target images of a record are lit alike, in both backends.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from gsi_bench.scene import Scene

__all__ = ["HDRI_CHOICES", "IRRADIANCE_MONOMIALS", "choose_hdri", "compute_sh_table", "env_rotation",
           "irradiance", "irradiance_polynomial", "irradiance_sh", "load_sh_table"]

#: HDRIs (file stems in the bpy wheel) scenes are lit by: daylight and interior ones (not "night").
HDRI_CHOICES = ("city", "courtyard", "forest", "interior", "studio", "sunrise", "sunset")

SH_TABLE = Path(__file__).with_name("data") / "hdri_sh.json"

# real SH basis constants, order (1, y, z, x, xy, yz, 3z²−1, xz, x²−y²)
_Y = np.array([0.282095, 0.488603, 0.488603, 0.488603, 1.092548, 1.092548, 0.315392, 1.092548, 0.546274])
# cosine-lobe convolution per band (Ramamoorthi & Hanrahan 2001)
_A = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5)


def choose_hdri(scene: Scene) -> tuple[str, float]:
    """The HDRI (one of :data:`HDRI_CHOICES`) and its rotation about world ``z`` (degrees) for
    ``scene``: a stable hash of the scene's light, which every edit of a scene keeps.

    >>> from gsi_bench.scene import Camera, Light
    >>> s = Scene("tabletop", [], Light(), Camera.create(np.eye(3), np.eye(4), 4, 4))
    >>> name, rot = choose_hdri(s)
    >>> name in HDRI_CHOICES and 0 <= rot < 360 and choose_hdri(s) == (name, rot)
    True
    """
    light = scene.light
    key = repr((tuple(round(float(c), 6) for c in light.direction), round(float(light.intensity), 6),
                round(float(light.ambient), 6), tuple(round(float(c), 6) for c in light.color)))
    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return HDRI_CHOICES[h % len(HDRI_CHOICES)], float((h >> 16) % 360)


def env_rotation(rotation_deg: float) -> np.ndarray:
    """float64 (3, 3) ``Rz(rotation_deg)``: world direction → HDRI lookup direction."""
    a = np.radians(rotation_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _basis(d: np.ndarray) -> np.ndarray:
    """float64 (N, 9) SH basis values at unit directions ``d`` (N, 3)."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    return _Y * np.stack([np.ones_like(x), y, z, x, x * y, y * z, 3 * z * z - 1, x * z, x * x - y * y], axis=1)


@functools.lru_cache(maxsize=1)
def load_sh_table() -> dict[str, np.ndarray]:
    """HDRI name → float64 (9, 3) radiance SH projections (linear RGB), from ``data/hdri_sh.json``."""
    data = json.loads(SH_TABLE.read_text())
    return {k: np.asarray(v, np.float64) for k, v in data["coefficients"].items()}


def irradiance_sh(name: str) -> np.ndarray:
    """float64 (9, 3): coefficients ``c`` such that the irradiance at unit normal ``n`` (HDRI
    frame), divided by the mean irradiance's luminance, is ``Σ_k c_k · b_k(n)`` with ``b`` the SH
    monomials ``(1, y, z, x, xy, yz, 3z²−1, xz, x²−y²)`` — basis constants and the cosine-lobe
    convolution folded in. Normalised so the average over all normals has luminance 1 (the scene's
    ``ambient`` then sets the level, the HDRI its colour and direction)."""
    L = load_sh_table()[name]
    c = (_A * _Y)[:, None] * L
    mean = c[0] * 1.0  # the average of every other band over the sphere is 0
    lum = float(mean @ [0.2126, 0.7152, 0.0722])
    return c / lum


def irradiance(name: str, rotation_deg: float, normals: np.ndarray) -> np.ndarray:
    """float64 (N, 3) normalised irradiance (see :func:`irradiance_sh`) at world unit ``normals``
    (N, 3) for an HDRI rotated by ``rotation_deg``."""
    d = np.asarray(normals, np.float64) @ env_rotation(rotation_deg).T
    return (_basis(d) / _Y) @ irradiance_sh(name)


#: the monomials of world normal ``(x, y, z)`` that :func:`irradiance_polynomial` weights
IRRADIANCE_MONOMIALS = ("1", "x", "y", "z", "xx", "yy", "zz", "xy", "xz", "yz")


def _monomials(n: np.ndarray) -> np.ndarray:
    """float64 (N, 10): :data:`IRRADIANCE_MONOMIALS` at world directions ``n`` (N, 3)."""
    x, y, z = n[:, 0], n[:, 1], n[:, 2]
    return np.stack([np.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, x * z, y * z], axis=1)


@functools.lru_cache(maxsize=64)
def irradiance_polynomial(name: str, rotation_deg: float) -> np.ndarray:
    """float64 (10, 3): :func:`irradiance` as a quadratic polynomial of the *world* normal — the
    RGB weights of :data:`IRRADIANCE_MONOMIALS` — with the environment rotation folded in (the SH
    basis up to band 2 is a quadratic polynomial of the direction, and a rotation keeps it one), so
    a shader evaluates it without rotating the normal. Read-only (cached)."""
    # ten directions in general position determine the ten weights exactly
    rng = np.random.default_rng(0)
    n = rng.normal(size=(10, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    coef = np.linalg.solve(_monomials(n), irradiance(name, rotation_deg, n))
    coef.setflags(write=False)
    return coef


def compute_sh_table(folder: Path | None = None) -> dict[str, list[list[float]]]:
    """Radiance SH projections (9 × RGB) of every ``*.exr`` in ``folder`` (default: the bpy
    wheel's ``studiolights/world``), read with bpy — how ``data/hdri_sh.json`` is made."""
    import bpy

    if folder is None:
        folder = Path(bpy.utils.system_resource("DATAFILES")) / "studiolights" / "world"
    out = {}
    for path in sorted(Path(folder).glob("*.exr")):
        img = bpy.data.images.load(str(path))
        try:
            w, h = img.size
            px = np.empty(w * h * 4, np.float32)
            img.pixels.foreach_get(px)
        finally:
            bpy.data.images.remove(img)
        rgb = px.reshape(h, w, 4)[::-1, :, :3].astype(np.float64)  # row 0 = zenith
        theta = (np.arange(h) + 0.5) / h * np.pi                    # polar angle from +z
        phi = (0.5 - (np.arange(w) + 0.5) / w) * 2 * np.pi           # atan2(d.y, d.x)
        T, P = np.meshgrid(theta, phi, indexing="ij")
        d = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], axis=-1).reshape(-1, 3)
        solid_angle = ((np.pi / h) * (2 * np.pi / w) * np.sin(T)).reshape(-1)
        L = _basis(d).T @ (rgb.reshape(-1, 3) * solid_angle[:, None])
        out[path.stem] = L.round(6).tolist()
    return out
