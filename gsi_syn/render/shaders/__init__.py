"""GLSL sources of the moderngl backend (:mod:`gsi_syn.render.gl`).

Kept as Python strings so that they ship with the package without any package-data entry.

Main pass (:func:`main_fragment_shader` variants + ``MAIN_VS``), three render targets:

* location 0 — ``SRGB8_ALPHA8`` colour: the shader writes linear values and
  ``GL_FRAMEBUFFER_SRGB`` encodes them;
* location 1 — ``R16UI`` instance id (the ``u_id`` uniform of the draw call);
* location 2 — ``R32F`` camera-frame depth ``z`` (m, OpenCV, along the optical axis).

Shading: albedo = linearised base colour × texture (``SRGB8`` textures, so samples come back
linear); Lambert diffuse from the directional light times a shadow-map visibility, ambient, a small
Blinn-Phong highlight ``(n·h)^64``.

Texture modes (compile-time ``TEX_MODE``, because llvmpipe runs both sides of a branch and a
texture fetch costs about a millisecond per 512² screen):

* ``TEX_NONE`` — plain colour;
* ``TEX_UV`` — the mesh's own texture at its UVs;
* ``TEX_TRIPLANAR`` — tri-planar in object space, ``u_tex_scale`` repeats per metre: three
  projections blended with weights ``|n|⁴`` (normalised, those under 5 % dropped);
* ``TEX_AXIS`` — the same mapping for faces whose normals all lie within 20° of one object axis,
  where the dropped weights leave a single projection: one fetch, identical result.

Shadows (compile-time ``SHADOWS``): percentage-closer filtering on a depth-compare texture with
linear filtering — ``SHADOWS_BILINEAR`` one tap (a bilinear 2×2-texel comparison; the default) or
``SHADOWS_TENT`` 2×2 such taps half a texel apart (a tent over 3×3 texels, ~2 ms more per 512²
frame on llvmpipe, hardly visible at millimetre texels). The receiver is pushed
``u_normal_offset`` metres along its normal before the lookup; outside the map's window (which
covers only the shadow casters' footprint) a point is lit.

Everything affine in the object position (shadow-map coordinates, tri-planar coordinates, camera
``z``; the small normal offset aside) is computed per vertex and interpolated — exact, and it spares
per-pixel work.

Shadow pass (``SHADOW_VS`` / ``SHADOW_FS``): depth only, orthographic light frustum.
"""

from __future__ import annotations

TEX_NONE, TEX_UV, TEX_TRIPLANAR, TEX_AXIS = 0, 1, 2, 3

MAIN_VS = """
#version 330
uniform mat4 u_clip_from_obj;   // projection * cam_from_world * world_from_object
uniform mat4 u_world_from_obj;
uniform mat3 u_normal_world;    // inverse-transpose of the 3x3 of u_world_from_obj
uniform vec4 u_cam_z_row;       // third row of cam_from_obj: camera z = dot(row.xyz, p) + row.w
uniform vec3 u_cam_pos;         // world camera centre
uniform vec3 u_to_light;        // world unit vector towards the light
uniform mat4 u_light_clip_from_world;
uniform float u_normal_offset;  // m, receiver offset along its normal before the shadow lookup
uniform float u_tex_scale;      // tri-planar: repeats per metre

in vec3 in_pos;
in vec3 in_normal;
in vec2 in_uv;

out vec3 v_normal;      // world
out vec3 v_view;        // world, surface → camera (unnormalised: affine, so exact)
out vec3 v_shadow;      // shadow-map coordinates in [0, 1]^3
out vec3 v_obj;         // object coordinates x texture repeats per metre
out vec3 v_obj_normal;  // object-space normal
out vec2 v_uv;
out float v_zcam;

void main() {
    gl_Position = u_clip_from_obj * vec4(in_pos, 1.0);
    vec3 world = (u_world_from_obj * vec4(in_pos, 1.0)).xyz;
    v_normal = u_normal_world * in_normal;
    v_view = u_cam_pos - world;
    // the maps below are affine in the position: interpolating them per pixel is exact
    vec3 offset = world + normalize(v_normal) * u_normal_offset;
    v_shadow = (u_light_clip_from_world * vec4(offset, 1.0)).xyz * 0.5 + 0.5;
    v_obj = in_pos * u_tex_scale;
    v_obj_normal = in_normal;
    v_uv = in_uv;
    v_zcam = dot(u_cam_z_row.xyz, in_pos) + u_cam_z_row.w;
}
"""

_MAIN_FS_BODY = """
uniform vec3 u_albedo;         // linear base colour (material x mesh)
uniform sampler2D u_tex;       // sRGB texture: samples come back linear
uniform float u_specular;
uniform uint u_id;
uniform vec3 u_to_light;       // world unit vector towards the light
uniform vec3 u_light_rgb;      // linear light colour x intensity
uniform float u_ambient;
uniform sampler2DShadow u_shadow;

in vec3 v_normal;
in vec3 v_view;
in vec3 v_shadow;
in vec3 v_obj;
in vec3 v_obj_normal;
in vec2 v_uv;
in float v_zcam;

layout(location = 0) out vec4 f_color;
layout(location = 1) out uint f_id;
layout(location = 2) out float f_depth;

vec3 albedo() {
#if TEX_MODE == 1
    return u_albedo * texture(u_tex, v_uv).rgb;
#elif TEX_MODE == 2
    vec3 w = v_obj_normal * v_obj_normal;
    w = w * w;
    w = max(w / (w.x + w.y + w.z) - 0.05, 0.0);
    vec3 t = w.x * texture(u_tex, v_obj.yz).rgb + w.y * texture(u_tex, v_obj.xz).rgb
           + w.z * texture(u_tex, v_obj.xy).rgb;
    return u_albedo * t / (w.x + w.y + w.z);
#elif TEX_MODE == 3
    vec3 a = abs(v_obj_normal);
    vec2 q = a.x >= max(a.y, a.z) ? v_obj.yz : (a.y >= a.z ? v_obj.xz : v_obj.xy);
    return u_albedo * texture(u_tex, q).rgb;
#else
    return u_albedo;
#endif
}

float lit_fraction() {
#if SHADOWS == 0
    return 1.0;
#else
    vec3 s = v_shadow;
#if SHADOWS == 1
    float pcf = texture(u_shadow, s);  // one bilinear 2x2 depth comparison
#else
    // 2x2 taps half a texel apart, each a bilinear 2x2 comparison: a tent over 3x3 texels
    vec2 h = 0.5 / vec2(textureSize(u_shadow, 0));
    float pcf = 0.25 * (texture(u_shadow, vec3(s.x - h.x, s.y - h.y, s.z))
                      + texture(u_shadow, vec3(s.x + h.x, s.y - h.y, s.z))
                      + texture(u_shadow, vec3(s.x - h.x, s.y + h.y, s.z))
                      + texture(u_shadow, vec3(s.x + h.x, s.y + h.y, s.z)));
#endif
    // outside the map's window (the casters' footprint) nothing is between us and the light
    float inside = step(0.0, s.x) * step(s.x, 1.0) * step(0.0, s.y) * step(s.y, 1.0);
    return mix(1.0, pcf, inside);
#endif
}

void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 a = albedo();
    float ndl = max(dot(n, u_to_light), 0.0);
    float c = max(dot(n, normalize(normalize(v_view) + u_to_light)), 0.0);
    c *= c; c *= c; c *= c; c *= c; c *= c; c *= c;       // (n.h)^64
    float spec = ndl > 0.0 ? u_specular * c : 0.0;
    vec3 rgb = u_ambient * a + lit_fraction() * u_light_rgb * (ndl * a + spec);
    f_color = vec4(rgb, 1.0);
    f_id = u_id;
    f_depth = v_zcam;
}
"""


SHADOWS_OFF, SHADOWS_BILINEAR, SHADOWS_TENT = 0, 1, 2


def main_fragment_shader(tex_mode: int, shadows: int) -> str:
    """The main-pass fragment shader for one texture mode (``TEX_*``) and shadow filter
    (``SHADOWS_*``)."""
    if tex_mode not in (TEX_NONE, TEX_UV, TEX_TRIPLANAR, TEX_AXIS):
        raise ValueError(f"unknown texture mode {tex_mode!r}")
    if shadows not in (SHADOWS_OFF, SHADOWS_BILINEAR, SHADOWS_TENT):
        raise ValueError(f"unknown shadow filter {shadows!r}")
    return f"#version 330\n#define TEX_MODE {tex_mode}\n#define SHADOWS {shadows}\n" + _MAIN_FS_BODY


SHADOW_VS = """
#version 330
uniform mat4 u_light_clip_from_obj;
in vec3 in_pos;
void main() {
    gl_Position = u_light_clip_from_obj * vec4(in_pos, 1.0);
}
"""

SHADOW_FS = """
#version 330
void main() {
}
"""
