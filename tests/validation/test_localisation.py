"""Decision rules of the object localiser: absent only with a margin, invisible poses are never
answers, explicit tie-breaking, indistinguishable poses reported as the instructed one."""

import numpy as np

from gsi_bench.scene import SceneObject
from validation.evaluator.synthesis import _blur, _key, _ObjectSearch


def _obj(x: float, yaw: float = 0.0) -> SceneObject:
    return SceneObject(instance_id=5, asset_id="a", category="mug", position=(x, 0.0, 0.0), yaw_deg=yaw)


def _search(images: dict) -> _ObjectSearch:
    """A search over an 8×8 scene whose hypothesis renders are given per x position
    (an all-background image = the object is not visible there)."""
    S = _ObjectSearch.__new__(_ObjectSearch)
    S.bg_rgb = np.zeros((8, 8, 3), np.float32)
    S.cache, S.count, S.tid = {}, 0, 5

    def render(obj):
        img = images[round(obj.position[0], 3)]
        return img, int((np.abs(img - S.bg_rgb).sum(2) > 0).sum())

    S.render = render
    S.exact = lambda obj: S.bg_rgb if obj is None else images[round(obj.position[0], 3)]
    return S


def _blob(x0: int, value: float = 1.0) -> np.ndarray:
    img = np.zeros((8, 8, 3), np.float32)
    img[3:5, x0:x0 + 2] = value
    return img


def test_invisible_pose_is_never_the_answer_and_absent_needs_a_margin():
    bg = np.zeros((8, 8, 3), np.float32)
    S = _search({0.0: _blob(0), 0.1: _blob(6), 0.2: bg})  # x = 0.2: out of view
    pred = _blur(_blob(6) * 0.0 + 0.001)                     # almost nothing: the object is gone (predictions are blurred)
    S.evaluate(pred, [_obj(0.0), _obj(0.1), _obj(0.2)])
    assert all(_key(o) != _key(_obj(0.2)) for o in S.top(5))  # invisible = absent, not a pose
    r = S.decide(pred, _obj(0.0), _obj(0.1))
    assert r.obj is None                                      # absent wins by a clear margin


def test_object_shown_is_found_not_absent():
    S = _search({0.0: _blob(0), 0.1: _blob(6), 0.2: np.zeros((8, 8, 3), np.float32)})
    pred = _blur(_blob(6))
    S.evaluate(pred, [_obj(0.0), _obj(0.1), _obj(0.2)])
    r = S.decide(pred, _obj(0.0), _obj(0.0))
    assert r.obj is not None and r.obj.position[0] == 0.1


def test_tie_between_absent_and_a_visible_pose_is_not_won_by_absent():
    faint = _blob(3, 0.02)
    S = _search({0.0: _blob(0), 0.3: faint})
    pred = _blur(_blob(3, 0.01))                              # equally far from "absent" and from the faint pose
    S.evaluate(pred, [_obj(0.0), _obj(0.3)])
    r = S.decide(pred, _obj(0.0), _obj(0.0))
    assert r.obj is not None and r.obj.position[0] == 0.3


def test_indistinguishable_poses_report_the_instructed_one():
    same = _blob(4)
    S = _search({0.0: _blob(0), 0.4: same, 0.5: same.copy()})  # e.g. yaws of a symmetric object
    pred = _blur(same)
    S.evaluate(pred, [_obj(0.0), _obj(0.4), _obj(0.5)])
    assert S.decide(pred, _obj(0.0), _obj(0.5)).obj.position[0] == 0.5
    assert S.decide(pred, _obj(0.0), _obj(0.4)).obj.position[0] == 0.4


def test_instruction_that_looks_unchanged_is_flagged_and_not_credited():
    same = _blob(4)
    S = _search({0.0: same, 0.5: same.copy()})  # the instructed result looks like the source
    pred = _blur(same)
    S.evaluate(pred, [_obj(0.0), _obj(0.5)])
    r = S.decide(pred, _obj(0.0), _obj(0.5))
    assert r.undecidable and r.confidence()["undecidable"]
    assert r.obj.position[0] == 0.0  # ties between equal distances: by pose key, never "instructed"


def _table(seed: int = 0) -> np.ndarray:
    """A 48×48 mid-grey 'table' with a faint texture, float32 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    return (0.5 + 0.02 * rng.standard_normal((48, 48, 1)) * np.ones(3)).astype(np.float32)


def _with_box(img: np.ndarray, y: int, x: int, colour) -> np.ndarray:
    out = img.copy()
    out[y:y + 10, x:x + 10] = colour
    return out


def test_structure_term_ignores_edge_polarity_but_not_orientation():
    from validation.evaluator.synthesis import _structure

    img = _with_box(_table(), 19, 19, 0.2)
    inverted = _with_box(_table(), 19, 19, 0.8)  # the same edges, contrast reversed
    s, si = _structure(_blur(img)), _structure(_blur(inverted))
    border = np.abs(s).sum(2) > 0.05
    # (signed gradients would differ by twice their size; what is left is the texture at the corners)
    assert np.abs(s - si).sum(2)[border].mean() < 0.25 * np.abs(s).sum(2)[border].mean()
    bar = _table()
    bar[14:34, 21:27] = 0.2  # a vertical bar; turned a quarter about its centre, its edges cross
    turned = np.rot90(bar).copy()
    sb = _structure(_blur(bar))
    edges = np.abs(sb).sum(2) > 0.05
    assert np.abs(sb - _structure(_blur(turned))).sum(2)[edges].mean() > 0.5 * np.abs(sb).sum(2)[edges].mean()


def test_recoloured_object_is_found_where_it_is_not_hidden():
    """A prediction whose object came out in another colour (pale instead of dark): the pose that
    puts the object where the prediction shows it beats the poses that hide it or put it
    elsewhere (the silhouette and polarity-free structure terms; colour alone ties them)."""
    bg = _table()
    S = _ObjectSearch.__new__(_ObjectSearch)
    S.bg_rgb, S.bg_blur = bg, _blur(bg)
    S.cache, S.count, S.tid = {}, 0, 5
    S._radius = 12  # the windows of the background explanation: 1.5 × the 10-px box (no renderer here)
    at_truth, elsewhere = _with_box(bg, 19, 19, 0.2), _with_box(bg, 2, 30, 0.2)
    hidden = _with_box(bg, 44, 2, 0.2)[:, :]  # a sliver at the image border
    hidden[44:, :] = bg[44:, :]
    hidden[44:46, 2:12] = 0.2
    pred = _blur(_with_box(bg, 19, 19, 0.85))
    d = {name: S.distance(pred, img) for name, img in
         (("truth", at_truth), ("elsewhere", elsewhere), ("hidden", hidden), ("absent", bg))}
    assert d["truth"] < min(d["elsewhere"], d["hidden"], d["absent"])


def test_background_explanation_keeps_the_object_and_drops_what_the_background_explains():
    """:func:`explain`: a prediction equal to the background is returned as it is; another
    renderer's look of the background (re-toned, its texture gone, a panel darkened) is replaced by
    our background, while an object the background lacks stays where it is."""
    from validation.evaluator.synthesis import explain

    table = _table()
    table[:, 36:] += 0.15  # a paler panel
    bg = _blur(table)
    assert np.allclose(explain(bg, bg, 12), bg, atol=1e-5)
    other = np.full_like(bg, 0.3)  # untextured and darker
    other[:, 36:] = 0.1  # the panel, which the other renderer made darker than the rest
    other = _blur(_with_box(other, 19, 10, 0.8))  # the object, pale
    seen = explain(other, bg, 12)
    change = np.abs(seen - bg).mean(2)
    inside = np.zeros(change.shape, bool)
    inside[21:27, 12:18] = True
    assert change[inside].mean() > 0.2  # the object stands out …
    raw = np.abs(other - bg).mean(2)  # 0.2 on the table, 0.55 on the panel
    for cols in (slice(0, 8), slice(38, 48)):  # … the background does not
        assert np.median(change[:, cols]) < 0.15 * np.median(raw[:, cols])


def test_only_a_prediction_in_another_look_is_explained():
    """:func:`foreign_look`: our own render after tone normalisation, with a little residual tone
    error and compression noise, keeps its look (0: the prediction is compared as it is); a
    re-render without the texture, in other colours, is another look (1)."""
    from validation.evaluator.synthesis import foreign_look

    bg = _blur(_table())
    noise = 0.003 * np.random.default_rng(1).standard_normal(bg.shape).astype(np.float32)
    ours = _with_box(bg * 1.005 + noise, 19, 10, 0.8)
    assert foreign_look(ours, bg) == 0.0
    other = _blur(_with_box(np.full_like(bg, 0.45), 19, 10, 0.8))
    other[..., 0] += 0.04
    assert foreign_look(other, bg) == 1.0


def test_a_tone_nuisance_is_not_another_look_for_camera_edits():
    """:func:`foreign_look_global`: camera edits are not tone-normalised, so a prediction that is
    our render up to brightness, contrast and a colour cast is still our look (0); a re-render in
    other materials, which no global gain/offset maps onto ours, is another look (1)."""
    from validation.evaluator.synthesis import foreign_look, foreign_look_global

    ref = _with_box(_blur(_table()), 19, 10, 0.8)
    toned = np.clip((ref - 0.5) * 1.1 + 0.5, 0, 1) * np.array([0.9, 0.92, 0.95], np.float32) + 0.02
    assert foreign_look(toned, ref) > 0.0  # compared as it is, the tone alone would count
    assert foreign_look_global(toned, ref) == 0.0
    table = _table()
    table[:, 36:] += 0.15  # a paler panel …
    ref = _with_box(_blur(table), 19, 10, 0.8)
    other = np.full_like(ref, 0.45)  # … that another renderer made darker (untextured), the object as pale
    other[:, 36:] = 0.15
    other = _blur(_with_box(other, 19, 10, 0.8))
    assert foreign_look_global(other, ref) == 1.0


def test_the_local_fit_residual_prefers_the_view_whose_structure_matches_whatever_the_colours():
    """:func:`fit_residual`: a prediction in other colours (the object dark instead of pale, the
    table darker, untextured) is better accounted for by the hypothesis with the object where the
    prediction shows it than by one with the object elsewhere or absent; the clipped colour
    residual of a hypothesis that leaves the object out is several times larger."""
    from validation.evaluator.synthesis import fit_residual

    table = _blur(_table())
    at = _blur(_with_box(_table(), 19, 10, 0.8))
    elsewhere = _blur(_with_box(_table(), 30, 30, 0.8))
    pred = _blur(_with_box(np.full_like(table, 0.35), 19, 10, 0.05))
    r = {name: fit_residual(pred, h, 6) for name, h in (("at", at), ("elsewhere", elsewhere), ("absent", table))}
    assert r["at"] < 0.5 * min(r["elsewhere"], r["absent"])
    # our own image is better accounted for by itself than by the scene without its object (not
    # exactly: the regulariser leaves the faint texture unfitted)
    assert fit_residual(at, at, 6) < 0.5 * fit_residual(at, table, 6)


def test_fast_distance_equals_distance_bit_for_bit():
    """:meth:`_ObjectSearch.fast_distance` (filters only around the changed pixels) gives exactly
    :meth:`_ObjectSearch.distance`, for blobs inside the image and against its borders, for a
    prediction in our look (compared as it is) and one in another look (explained first), whatever
    the order the two are asked in."""
    from validation.evaluator.synthesis import foreign_look

    rng = np.random.default_rng(3)
    bg = rng.random((48, 64, 3), dtype=np.float32)
    S = _ObjectSearch.__new__(_ObjectSearch)
    S.bg_rgb, S.bg_blur, S._radius = bg, _blur(bg), 6  # the explanation window, set (no renderer here)
    ours = _blur(bg + 0.002 * rng.standard_normal(bg.shape).astype(np.float32))
    other = _blur(rng.random((48, 64, 3), dtype=np.float32))
    assert foreign_look(ours, S.bg_blur) == 0.0 and foreign_look(other, S.bg_blur) == 1.0
    for y0, y1, x0, x1 in [(20, 26, 30, 37), (0, 5, 0, 9), (40, 48, 55, 64), (3, 45, 1, 63), (24, 25, 12, 13)]:
        hyp = bg.copy()
        hyp[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0, 3), dtype=np.float32)
        for pred in (ours, other):
            assert S.fast_distance(pred, hyp) == S.distance(pred, hyp)
        for pred in (other, ours):
            assert S.distance(pred, hyp) == S.fast_distance(pred, hyp)
    for pred in (ours, other):
        assert S.fast_distance(pred, bg) == S.distance(pred, bg)


def test_camera_coarse_grid_finds_the_full_grids_best_for_unimodal_distances():
    """The coarse camera grid plus the amounts next to the best coarse ones of the two best
    directions reach the full grid's best motion whenever the distance is unimodal along each
    direction (here: |amount − truth| plus a per-direction offset, for every grid motion as truth)."""
    from validation.evaluator.synthesis import (CAMERA_EXPANDED, _camera_directions, _camera_grid_neighbours,
                                                _coarse_camera_motions)

    full = [(k, s, a) for k, s, amounts in _camera_directions() for a in amounts]
    for truth in full:
        def dist(m, truth=truth):
            if m[0] == "none":
                return 10.0
            scale = 1.0 if m[0] == "move" else 0.01
            return abs(m[2] - truth[2]) * scale + (0.0 if m[:2] == truth[:2] else 0.3)

        cands = [("none", "", 0.0)] + _coarse_camera_motions()
        d = [dist(c) for c in cands]
        extra = _camera_grid_neighbours(cands, d, CAMERA_EXPANDED)
        cands += extra
        d += [dist(c) for c in extra]
        assert cands[min(range(len(cands)), key=lambda i: (d[i], i))] == truth
        assert len(cands) <= 1 + 32 + 2 * CAMERA_EXPANDED


def test_camera_search_refines_the_runner_up_direction_too():
    """A turn between two grid amounts (13°: 3° from the 10° grid point) sits farther than a move
    at a grid amount until its amount is refined; refining only the grid's winner returned the move."""
    from validation.evaluator.synthesis import Synthesizer

    def dist(m):
        if m[0] == "none":
            return 1.0
        if m[:2] == ("yaw", "left"):
            return 0.005 * abs(m[2] - 13.0)  # 0.015 at the grid's 10°, 0 at the truth
        if m[:2] == ("move", "left"):
            return 0.012 + abs(m[2] - 0.3)  # a near miss: 0.012 at the grid's 0.3 m
        return 0.5

    _, cur, best_d, unchanged = Synthesizer._camera_search(dist, ("yaw", "left", 20.0), levels=3)
    assert cur[:2] == ("yaw", "left") and abs(cur[2] - 13.0) <= 1.25
    assert best_d < 0.012 and unchanged == 1.0


def test_a_prediction_in_another_look_is_ranked_by_where_its_structure_is():
    """:meth:`_ObjectSearch.decision_distance`: a prediction by another renderer (an untextured,
    darker table; the object dark where ours is pale) is closest to the render with the object
    where the prediction shows it — not to one that leaves the object out or puts it elsewhere;
    a prediction in our look is ranked by :meth:`_ObjectSearch.distance` alone."""
    table = _table()
    S = _ObjectSearch.__new__(_ObjectSearch)
    S.bg_rgb, S.bg_blur, S._radius = table, _blur(table), 6
    at, elsewhere = _with_box(table, 19, 10, 0.8), _with_box(table, 30, 30, 0.8)
    pred = _blur(_with_box(np.full_like(table, 0.3), 19, 10, 0.05))
    d = {name: S.decision_distance(pred, img) for name, img in (("at", at), ("elsewhere", elsewhere), ("absent", table))}
    assert S._look(pred) == 1.0 and d["at"] < min(d["elsewhere"], d["absent"])
    ours = _blur(at)
    assert S._look(ours) == 0.0 and S.decision_distance(ours, elsewhere) == S.distance(ours, elsewhere)


def test_translation_search_always_tries_the_opposite_displacement():
    """:meth:`Synthesizer.localise_translation`: the instructed displacement in the opposite sense
    (a left/right confusion) is a candidate even when the coarse grid's step misses it."""
    from types import SimpleNamespace

    from gsi_bench.geometry import look_at
    from validation.evaluator.synthesis import Realised, Synthesizer

    seen: list = []

    class Search:
        def image_candidates(self, pred, z):
            return []

        def evaluate(self, pred, cands):
            seen.extend(cands)

        def top(self, n):
            return []

        def _look(self, pred):
            return 0.0

        def decide(self, *args, **kwargs):
            return Realised("object")

    class Synth(Synthesizer):
        def _object_renderer(self, scene, tid):
            return Search()

    src = SceneObject(instance_id=5, asset_id="a", category="mug", position=(0.0, 0.0, 0.75))
    gt = SceneObject(instance_id=5, asset_id="a", category="mug", position=(0.17, 0.0, 0.75))
    scene = SimpleNamespace(camera=SimpleNamespace(cam_from_world_array=look_at([0, -2, 1.5], [0, 0, 0.75])),
                            get=lambda tid: src)
    Synth(None, None).localise_translation(np.zeros((8, 8, 3), np.float32), scene, 5, gt)
    assert any(np.allclose(o.position, (-0.17, 0.0, 0.75)) for o in seen)
