"""GLSL sources of the moderngl backend (:mod:`gsi_syn.render.gl`).

Kept as Python strings so that they ship with the package without any package-data entry.

Main pass (:func:`main_fragment_shader` variants + ``MAIN_VS``), three render targets:

* location 0 — ``SRGB8_ALPHA8`` colour: the shader writes linear values and
  ``GL_FRAMEBUFFER_SRGB`` encodes them;
* location 1 — ``R16UI`` instance id (the ``u_id`` uniform of the draw call);
* location 2 — ``R32F`` camera-frame depth ``z`` (m, OpenCV, along the optical axis).

Shading (compile-time ``PBR``): ``PBR 0`` — the labels' and proposals' fast look: Lambert diffuse
from the directional light times a shadow-map visibility, flat ambient, a small Blinn-Phong
highlight ``(n·h)^64`` of strength ``u_specular``. ``PBR 1`` — the published images (metal/roughness): albedo = linearised base colour × texture (``SRGB8`` textures, so
samples come back linear); from the directional sun, times a shadow-map visibility, Lambert diffuse
plus a GGX / Smith / Schlick specular lobe of roughness ``u_roughness`` (F0 = 0.04, or the albedo
for metals, ``u_metallic``); image-based ambient light: the scene HDRI's diffuse irradiance as 9
spherical-harmonic coefficients (``u_sh``, looked up at ``u_env_rot · n``; see
:mod:`gsi_syn.render.environment`) scaled by ``u_ambient``, plus a split-sum-style environment
specular (Schlick-Fresnel-weighted irradiance in the reflected direction, fading with roughness).
Tone mapping: ``u_exposure`` then extended Reinhard on luminance (white point 4), before the
framebuffer's sRGB encoding.

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

Labels pass (``MAIN_VS`` + ``LABELS_FS``): the main pass without colour — two render targets,
location 0 ``R16UI`` instance id, location 1 ``R32F`` camera ``z``. The vertex shader (hence
rasterisation, depth test and the interpolated ``z``) is the main pass's, so its ids and depth are
the main pass's bit for bit; it costs no shading, texture fetch or shadow lookup.

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
// the fragment stage's constants, forwarded to it as flat varyings (see the module docstring)
uniform vec3 u_albedo;          // linear base colour (material x mesh)
uniform float u_specular;       // PBR 0: Blinn-Phong highlight strength
uniform float u_roughness;      // perceptual roughness in [0, 1]
uniform uint u_id;
uniform vec3 u_light_rgb;       // linear light colour x intensity
uniform float u_ambient;
uniform float u_exposure;       // linear multiplier before tone mapping
// normalised HDRI irradiance as a quadratic polynomial of the world direction (SH up to band 2,
// environment rotation folded in): the RGB weights of 1, x, y, z, xx, yy, zz, xy, xz, yz
uniform vec3 u_irr_1;
uniform vec3 u_irr_x;
uniform vec3 u_irr_y;
uniform vec3 u_irr_z;
uniform vec3 u_irr_xx;
uniform vec3 u_irr_yy;
uniform vec3 u_irr_zz;
uniform vec3 u_irr_xy;
uniform vec3 u_irr_xz;
uniform vec3 u_irr_yz;

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
// the fragment stage's constants (flat: the provoking vertex's value, copied)
flat out vec3 k_albedo;
flat out float k_specular;
flat out float k_roughness;
flat out uint k_id;
flat out vec3 k_to_light;
flat out vec3 k_light_rgb;
flat out float k_ambient;
flat out float k_exposure;
flat out vec3 k_irr_1;
flat out vec3 k_irr_x;
flat out vec3 k_irr_y;
flat out vec3 k_irr_z;
flat out vec3 k_irr_xx;
flat out vec3 k_irr_yy;
flat out vec3 k_irr_zz;
flat out vec3 k_irr_xy;
flat out vec3 k_irr_xz;
flat out vec3 k_irr_yz;
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
    k_albedo = u_albedo;
    k_specular = u_specular;
    k_roughness = u_roughness;
    k_id = u_id;
    k_to_light = u_to_light;
    k_light_rgb = u_light_rgb;
    k_ambient = u_ambient;
    k_exposure = u_exposure;
    k_irr_1 = u_irr_1;
    k_irr_x = u_irr_x;
    k_irr_y = u_irr_y;
    k_irr_z = u_irr_z;
    k_irr_xx = u_irr_xx;
    k_irr_yy = u_irr_yy;
    k_irr_zz = u_irr_zz;
    k_irr_xy = u_irr_xy;
    k_irr_xz = u_irr_xz;
    k_irr_yz = u_irr_yz;
}
"""

_MAIN_FS_BODY = """
uniform sampler2D u_tex;       // sRGB texture: samples come back linear
uniform sampler2DShadow u_shadow;

// constants from the vertex stage (flat varyings; see MAIN_VS)
flat in vec3 k_albedo;
flat in float k_specular;
flat in float k_roughness;
flat in uint k_id;
flat in vec3 k_to_light;
flat in vec3 k_light_rgb;
flat in float k_ambient;
flat in float k_exposure;
flat in vec3 k_irr_1;
flat in vec3 k_irr_x;
flat in vec3 k_irr_y;
flat in vec3 k_irr_z;
flat in vec3 k_irr_xx;
flat in vec3 k_irr_yy;
flat in vec3 k_irr_zz;
flat in vec3 k_irr_xy;
flat in vec3 k_irr_xz;
flat in vec3 k_irr_yz;
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
    return k_albedo * texture(u_tex, v_uv).rgb;
#elif TEX_MODE == 2
    vec3 w = v_obj_normal * v_obj_normal;
    w = w * w;
    w = max(w / (w.x + w.y + w.z) - 0.05, 0.0);
    vec3 t = w.x * texture(u_tex, v_obj.yz).rgb + w.y * texture(u_tex, v_obj.xz).rgb
           + w.z * texture(u_tex, v_obj.xy).rgb;
    return k_albedo * t / (w.x + w.y + w.z);
#elif TEX_MODE == 3
    vec3 a = abs(v_obj_normal);
    vec2 q = a.x >= max(a.y, a.z) ? v_obj.yz : (a.y >= a.z ? v_obj.xz : v_obj.xy);
    return k_albedo * texture(u_tex, q).rgb;
#else
    return k_albedo;
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

// x^5 by multiplications (pow() is exp2(5 log2 x), dearer on llvmpipe)
float pow5(float x) {
    float x2 = x * x;
    return x2 * x2 * x;
}

vec3 sh_irradiance(vec3 d) {
    vec3 e = k_irr_1 + k_irr_x * d.x + k_irr_y * d.y + k_irr_z * d.z
           + k_irr_xx * (d.x * d.x) + k_irr_yy * (d.y * d.y) + k_irr_zz * (d.z * d.z)
           + k_irr_xy * (d.x * d.y) + k_irr_xz * (d.x * d.z) + k_irr_yz * (d.y * d.z);
    return max(e, vec3(0.0));
}

void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 a = albedo();
#if PBR == 0
    float ndl = max(dot(n, k_to_light), 0.0);
    float c = max(dot(n, normalize(normalize(v_view) + k_to_light)), 0.0);
    c *= c; c *= c; c *= c; c *= c; c *= c; c *= c;       // (n.h)^64
    float spec = ndl > 0.0 ? k_specular * c : 0.0;
    vec3 rgb = k_ambient * a + lit_fraction() * k_light_rgb * (ndl * a + spec);
#else
    const float PI = 3.14159265;
    vec3 v = normalize(v_view);
    vec3 l = k_to_light;
    vec3 h = normalize(v + l);
    float ndl = max(dot(n, l), 0.0);
    float ndv = max(dot(n, v), 1e-4);
    float ndh = max(dot(n, h), 0.0);
    float vdh = max(dot(v, h), 0.0);
    float alpha = max(k_roughness * k_roughness, 2e-3);
    float a2 = alpha * alpha;
    float q = ndh * ndh * (a2 - 1.0) + 1.0;
    float D = a2 / (PI * q * q);
    float vis = 0.5 / max(ndl * (ndv * (1.0 - alpha) + alpha) + ndv * (ndl * (1.0 - alpha) + alpha), 1e-5);
    float f0 = 0.04;  // dielectric
    float F = f0 + (1.0 - f0) * pow5(1.0 - vdh);
    vec3 diffuse = a;
    // sun: irradiance ndl x light; Lambert (diffuse / pi) and GGX, both scaled by pi so that a
    // white Lambert surface facing the sun reflects the light's colour x intensity
    vec3 direct = ndl * (diffuse * (1.0 - F) + PI * D * vis * F);
    // environment: diffuse irradiance, and the irradiance around the mirror direction for the
    // specular part (Schlick with roughness; fades for rough surfaces)
    float fr = f0 + (max(1.0 - k_roughness, f0) - f0) * pow5(1.0 - ndv);
    vec3 env = diffuse * (1.0 - fr) * sh_irradiance(n)
             + fr * sh_irradiance(reflect(-v, n)) * (1.0 - k_roughness);
    vec3 rgb = k_ambient * env + lit_fraction() * k_light_rgb * direct;
    rgb *= k_exposure;
    float lum = dot(rgb, vec3(0.2126, 0.7152, 0.0722));
    rgb *= (1.0 + lum / 16.0) / (1.0 + lum);   // extended Reinhard, white point 4
#endif
    f_color = vec4(rgb, 1.0);
    f_id = k_id;
    f_depth = v_zcam;
}
"""


SHADOWS_OFF, SHADOWS_BILINEAR, SHADOWS_TENT = 0, 1, 2


def main_fragment_shader(tex_mode: int, shadows: int, pbr: bool = False) -> str:
    """The main-pass fragment shader for one texture mode (``TEX_*``), shadow filter
    (``SHADOWS_*``) and shading (``pbr``: metal/roughness + image-based light + tone mapping)."""
    if tex_mode not in (TEX_NONE, TEX_UV, TEX_TRIPLANAR, TEX_AXIS):
        raise ValueError(f"unknown texture mode {tex_mode!r}")
    if shadows not in (SHADOWS_OFF, SHADOWS_BILINEAR, SHADOWS_TENT):
        raise ValueError(f"unknown shadow filter {shadows!r}")
    return (f"#version 330\n#define TEX_MODE {tex_mode}\n#define SHADOWS {shadows}\n#define PBR {int(pbr)}\n"
            + _MAIN_FS_BODY)


LABELS_FS = """
#version 330
flat in uint k_id;
in float v_zcam;
layout(location = 0) out uint f_id;
layout(location = 1) out float f_depth;
void main() {
    f_id = k_id;
    f_depth = v_zcam;
}
"""


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
