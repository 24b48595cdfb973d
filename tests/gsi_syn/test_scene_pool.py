"""The scene pool: roles from catalogue metadata, support tops verified on the mesh, themed scenes
that use the Sweet Home 3D models with objects resting on real surfaces.

Tests on synthetic meshes run everywhere; those on the Debian models skip when
``sweethome3d-furniture`` is not installed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import trimesh

from gsi_syn.assets import roles
from gsi_syn.assets import sweethome3d as sh3d

needs_package = pytest.mark.skipif(not sh3d.package_present(),
                                   reason="Debian package sweethome3d-furniture not installed")


# -- roles from catalogue metadata -------------------------------------------------------------------
@pytest.mark.parametrize("noun, category, size, role, name, where", [
    ("coffee mug", "Kitchen", (0.09, 0.12, 0.11), "object", "mug", ""),
    ("toaster", "Kitchen", (0.27, 0.15, 0.17), "object", "toaster", ""),
    ("tray", "Kitchen", (0.39, 0.29, 0.06), "receptacle", "tray", ""),
    ("desk", "Office", (1.6, 0.8, 0.72), "support", "desk", "wall"),
    ("bedside table", "Bedroom", (0.49, 0.48, 0.45), "support", "bedside table", "wall"),
    ("coffee table", "Living room", (1.2, 0.7, 0.45), "support", "coffee table", "free"),
    ("corner sofa", "Living room", (2.34, 1.44, 0.8), "furniture", "sofa", "wall"),
    ("armchair", "Living room", (0.95, 0.83, 0.78), "furniture", "armchair", "free"),
])
def test_role_comes_from_noun_category_and_size(noun, category, size, role, name, where):
    r = roles.assign_role(noun, category, size)
    assert (r.role, r.noun, r.where) == (role, name, where)
    assert r.groups and set(r.groups) <= set(roles.GROUPS)


@pytest.mark.parametrize("noun, category, size", [
    ("table", "Living room", (0.3, 0.3, 0.2)),        # toy-sized: no support
    ("desk", "Office", (2.35, 0.84, 1.8)),            # top out of reach
    ("lamp", "Lights", (0.4, 0.58, 1.43)),            # a floor lamp is no tabletop object
    ("ring", "Bedroom", (0.02, 0.02, 0.004)),         # too small to see
    ("wall socket", "Miscellaneous", (0.08, 0.01, 0.08)),  # not in the vocabulary
    ("table", "Exterior", (1.6, 0.9, 0.75)),          # outdoor catalogue
])
def test_models_without_a_part_get_no_role(noun, category, size):
    assert roles.assign_role(noun, category, size) is None


def test_vocabulary_nouns_are_words_people_use():
    for key, r in roles.VOCABULARY.items():
        assert re.fullmatch(r"[a-z][a-z' ]*[a-z]", r.noun), (key, r.noun)
        assert r.role in ("object", "receptacle", "support", "furniture")
        assert (r.where in ("wall", "free")) == (r.role in ("support", "furniture"))


# -- verified tops ---------------------------------------------------------------------------------------
def _table(width=1.2, depth=0.8, height=0.75, top=0.04, extra=()):
    parts = [trimesh.creation.box((width, depth, top), trimesh.transformations.translation_matrix((0, 0, height - top / 2)))]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(trimesh.creation.box((0.05, 0.05, height - top), trimesh.transformations.translation_matrix(
                (sx * (width / 2 - 0.05), sy * (depth / 2 - 0.05), (height - top) / 2))))
    m = trimesh.util.concatenate([*parts, *extra])
    return m.vertices, m.faces


def test_flat_top_is_found_at_its_height_over_its_extent():
    v, f = _table()
    top = roles.top_surface(v, f)
    assert top is not None and abs(top.z - 0.75) < 1e-6
    assert -0.6 < top.x_min < -0.5 and 0.5 < top.x_max < 0.6 and -0.4 < top.y_min < -0.3 and 0.3 < top.y_max < 0.4


def test_clutter_on_the_top_is_left_out_of_the_surface():
    vase = trimesh.creation.cylinder(0.08, 0.3, transform=trimesh.transformations.translation_matrix((0.35, 0, 0.9)))
    top = roles.top_surface(*_table(extra=[vase]))
    assert top is not None and abs(top.z - 0.75) < 1e-6
    assert top.x_max < 0.35 - 0.08 or top.x_min > 0.35 + 0.08 or top.y_max < -0.08 or top.y_min > 0.08


def test_tilted_round_or_small_tops_are_rejected():
    v, f = _table()
    tilt = trimesh.transformations.rotation_matrix(np.radians(20), (1, 0, 0))
    tilted = trimesh.Trimesh(v, f).apply_transform(tilt)
    tilted.apply_translation((0, 0, -tilted.bounds[0, 2]))
    assert roles.top_surface(tilted.vertices, tilted.faces) is None
    ball = trimesh.creation.icosphere(3, 0.4)
    ball.apply_translation((0, 0, 0.4))
    assert roles.top_surface(ball.vertices, ball.faces) is None
    assert roles.top_surface(*_table(width=0.25, depth=0.2)) is None


def test_largest_rectangle_of_a_grid():
    grid = np.zeros((6, 8), bool)
    grid[1:5, 2:7] = True
    grid[0, 0] = True
    assert roles._largest_rectangle(grid) == (1, 5, 2, 7)
    assert roles._largest_rectangle(np.zeros((3, 3), bool)) == (0, 0, 0, 0)


# -- the pool and its scenes (Debian models) ---------------------------------------------------------------
@needs_package
def test_pool_has_300_models_and_100_categories():
    from gsi_syn.assets import pool

    items = pool.pool()
    cats = {i.entry.category for i in items}
    assert len(items) >= 300 and len(cats) >= 100
    assert sum(i.entry.source == "sweethome3d" for i in items) >= 250
    assert all(re.fullmatch(r"[a-z][a-z' ]*[a-z]", c) for c in cats), sorted(c for c in cats if not c.islower())


@needs_package
def test_committed_tops_are_real_surfaces_of_the_meshes():
    from gsi_syn.assets import get_library

    lib = get_library()
    table = sh3d.read_roles()["assets"]
    supports = [i for i, r in table.items() if r["role"] == "support"]
    assert len(supports) >= 30
    for asset_id in supports[::6]:
        (s,) = lib.support_surfaces(asset_id)
        mesh = lib.mesh(asset_id)
        tm = trimesh.Trimesh(mesh.vertices.astype(np.float64), mesh.faces, process=False)
        xs, ys = np.meshgrid(np.linspace(s.x_min, s.x_max, 5), np.linspace(s.y_min, s.y_max, 5))
        origins = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, mesh.bounds[1, 2] + 0.1)], axis=1)
        loc, ray, _ = tm.ray.intersects_location(origins, np.tile([0, 0, -1.0], (len(origins), 1)),
                                                 multiple_hits=False)
        assert len(ray) == len(origins), asset_id             # nothing missing below the surface
        np.testing.assert_allclose(loc[:, 2], s.z, atol=0.005, err_msg=asset_id)
    # and the committed table is what the current code computes
    manifest = {a["id"]: a for a in sh3d.read_manifest()["assets"]}
    sub = {"version": "x", "assets": [manifest[i] for i in supports[:3]]}
    rebuilt = sh3d.build_roles(sub)["assets"]
    assert {i: table[i] for i in supports[:3]} == rebuilt


def _scenes(fn, n, seed):
    rng = np.random.default_rng(seed)
    return [fn(rng, 96, 96, split="test") for _ in range(n)]


@needs_package
def test_scenes_use_sweethome3d_models_resting_on_the_support_mesh():
    from gsi_syn.assets import get_library
    from gsi_syn.placement import support_margin
    from gsi_syn.room import sample_room_scene
    from gsi_syn.tabletop import sample_tabletop_scene

    lib = get_library()
    scenes = _scenes(sample_tabletop_scene, 8, 11) + _scenes(sample_room_scene, 4, 12)
    ids = [o.asset_id for s in scenes for o in s.objects]
    assert sum(i.startswith("sh3d/") for i in ids) >= 0.3 * len(ids)
    checked = 0
    for s in scenes:
        for o in s.movable():
            assert support_margin(s, o.instance_id) >= 0
            support = s.get(o.support_id)
            if not support.asset_id.startswith("sh3d/"):
                continue
            mesh = lib.mesh(support.asset_id)
            world = support.world_from_object()
            v = mesh.vertices.astype(np.float64) @ world[:3, :3].T + world[:3, 3]
            tm = trimesh.Trimesh(v, mesh.faces, process=False)
            origin = np.array([[o.position[0], o.position[1], v[:, 2].max() + 0.1]])
            loc, _, _ = tm.ray.intersects_location(origin, np.array([[0, 0, -1.0]]), multiple_hits=False)
            assert len(loc) == 1 and abs(loc[0, 2] - o.position[2]) < 0.003, (support.asset_id, o.category)
            base = lib.mesh(o.asset_id, o.params).bounds[0, 2] * o.scale + o.position[2]
            assert abs(base - o.position[2]) < 1e-6
            checked += 1
    assert checked >= 5


@needs_package
def test_rooms_are_themed_and_furnished():
    from gsi_syn.assets import pool
    from gsi_syn.room import sample_room_scene
    from gsi_syn.tabletop import sample_tabletop_scene

    groups = {i.entry.id: set(i.groups) for i in pool.pool()}
    for s in _scenes(sample_tabletop_scene, 6, 21) + _scenes(sample_room_scene, 4, 22):
        movable = [o for o in s.objects if o.role in ("object", "receptacle", "support") and o.category != "floor"]
        common = set.intersection(*(groups[o.asset_id] for o in movable if o.asset_id != "proc/table"))
        assert common, [(o.category, groups[o.asset_id]) for o in movable]      # one "goes with" group
    rooms = _scenes(sample_room_scene, 6, 23)
    assert all(sum(o.role == "support" for o in s.objects) >= 2 for s in rooms)
    furnishing = [o for s in rooms for o in s.objects if o.role == "structure" and o.category not in ("floor", "wall")]
    assert len(furnishing) >= len(rooms)


@needs_package
def test_sampling_is_deterministic():
    from gsi_syn.room import sample_room_scene
    from gsi_syn.tabletop import sample_tabletop_scene

    for fn in (sample_tabletop_scene, sample_room_scene):
        a = [s.to_json() for s in _scenes(fn, 3, 5)]
        b = [s.to_json() for s in _scenes(fn, 3, 5)]
        assert a == b


# -- physics cost with furniture-sized meshes ---------------------------------------------------------
def test_crop_keeps_triangles_that_span_the_box_and_drops_far_ones():
    from gsi_syn.physics import crop_faces

    v = np.array([[-5, -5, 0], [5, -5, 0], [0, 5, 0], [9, 9, 0], [10, 9, 0], [9, 10, 0]], float)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    cv, cf = crop_faces(v, f, np.array([-0.1, -0.1, -0.1]), np.array([0.1, 0.1, 0.1]))
    assert len(cf) == 1 and np.array_equal(cv[cf[0]], v[:3])


@needs_package
def test_settling_is_unchanged_by_cropping_and_hulls():
    from gsi_syn import physics
    from gsi_syn.room import sample_room_scene

    scene = _scenes(sample_room_scene, 1, 9)[0]
    ids = [o.instance_id for o in scene.movable()[:3]]
    cropped = [physics.settle(scene, i) for i in ids]
    old = physics.CONTACT_MARGIN_M
    try:
        physics.CONTACT_MARGIN_M = 100.0       # every triangle of every neighbour
        full = [physics.settle(scene, i) for i in ids]
    finally:
        physics.CONTACT_MARGIN_M = old
    for a, b in zip(cropped, full):
        assert abs(a.drift_m - b.drift_m) < 1e-4 and abs(a.tilt_deg - b.tilt_deg) < 0.05


def test_no_category_clashes_with_the_viewpoint_words():
    from gsi_syn.assets.roles import CORE_GROUPS

    nouns = {r.noun for r in roles.VOCABULARY.values()} | set(CORE_GROUPS)
    assert not nouns & {"camera", "viewer", "image", "picture", "view"}


def test_no_object_noun_is_read_as_another_operation_by_the_official_scorer():
    """An object's name must not steer the official scorer's prompt routing (e.g. a "camera" object
    sends every prompt that names it to the view metric): a scale prompt naming any noun of the
    vocabulary is routed to scale."""
    from gsi_bench.official_format import route_prompt

    misrouted = sorted({r.noun for r in roles.VOCABULARY.values()
                        if route_prompt(f"Resize the {r.noun} to 200% of its current size.", strict=True) != "scale"})
    assert misrouted == []


def test_assets_command_lists_both_pools(capsys):
    """`gsi-bench assets --list` names every core asset and every Sweet Home 3D model with its
    licence, and its summary counts the models scenes draw from."""
    from gsi_bench.cli import main
    from gsi_syn.assets import get_library

    assert main(["assets", "--list"]) == 0
    out = capsys.readouterr().out
    lib = get_library()
    sh3d = lib.entries(source="sweethome3d")
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == {e.id for e in lib.entries()} | {e.id for e in sh3d}
    some = sh3d[len(sh3d) // 2]
    assert rows[some.id].rstrip().endswith(some.license)
    pool = [e for e in lib.entries() + sh3d if e.scenes]
    assert f"scene pool: {len(pool)} models" in out


def _shape(*parts, texture=None, uv=None):
    """An AssetMesh-like object (vertices, faces, texture, uv) of trimesh parts, footprint centred."""
    import types

    import trimesh

    mesh = trimesh.util.concatenate(list(parts))
    v = np.asarray(mesh.vertices, np.float64)
    v[:, :2] -= (v[:, :2].min(axis=0) + v[:, :2].max(axis=0)) / 2
    return types.SimpleNamespace(vertices=v, faces=np.asarray(mesh.faces), texture=texture, uv=uv)


def test_yaw_symmetry_of_known_shapes():
    import trimesh

    from gsi_syn.assets.roles import yaw_symmetry

    assert yaw_symmetry(_shape(trimesh.creation.box((0.30, 0.15, 0.03)))) == "2fold"   # a tray
    assert yaw_symmetry(_shape(trimesh.creation.box((0.10, 0.10, 0.10)))) == "4fold"   # a cube
    assert yaw_symmetry(_shape(trimesh.creation.cylinder(0.04, 0.1, sections=96))) == "rotational"
    mug = _shape(trimesh.creation.cylinder(0.04, 0.1, sections=96),
                 trimesh.creation.box((0.02, 0.012, 0.05)).apply_translation((0.05, 0, 0)))
    assert yaw_symmetry(mug) == "none"  # the handle breaks it, small as it is
    box = trimesh.creation.box((0.30, 0.15, 0.03))
    # a printed half: the texture's left half red, right half white, mapped by x
    uv = np.stack([(box.vertices[:, 0] > 0).astype(np.float64) * 0.5 + 0.25, np.full(len(box.vertices), 0.5)], 1)
    tex = np.zeros((4, 4, 3), np.uint8)
    tex[:, :2] = (200, 20, 20)
    tex[:, 2:] = (240, 240, 240)
    assert yaw_symmetry(_shape(box, texture=tex, uv=uv)) == "none"
    assert yaw_symmetry(_shape(box, texture=np.full((4, 4, 3), 128, np.uint8), uv=uv)) == "2fold"


@needs_package
def test_sweethome3d_symmetry_reaches_the_library():
    """The role table's symmetry is what the generator and the scorer read (a serving tray is
    2-fold: its 90° turns state no sense, its yaw is judged modulo 180°)."""
    from gsi_syn.assets import get_library
    from gsi_syn.assets import sweethome3d as sh3d
    from validation.evaluator.scoring import symmetry_period

    table = sh3d.read_roles()["assets"]
    trays = [i for i, r in table.items() if r.get("symmetry") == "2fold" and "tray" in r["noun"]]
    assert trays
    assert get_library().entry(trays[0]).symmetry == "2fold"
    assert symmetry_period(trays[0]) == 180.0
    assert all(("symmetry" in r) == (r["role"] in ("object", "receptacle")) for r in table.values())
