"""Per-frame cost and peak memory of the renderer backends.

Renders a tabletop-like scene (textured floor and table, ``--objects`` objects of a few thousand
triangles each, half of them textured) with every backend at every resolution and prints the
median and best milliseconds per frame (colour + instance ids + depth, readback included, after
warm-up) and the process's peak RSS.

By default the scene is built from trimesh primitives through a small in-file asset library, so
the numbers do not depend on the asset library's contents; ``--tabletop`` renders scenes sampled
by :mod:`gsi_syn.tabletop` from the real asset library instead.

Wall-clock times on a shared machine wander with the load; the CPU column (all threads of the
process) is steadier, and with ``LP_NUM_THREADS=0`` (llvmpipe rasterising on the calling thread)
it equals the single-core wall-clock time.

``--parallel N`` also runs N processes rendering at the same time (as ``gsi-bench generate
--workers N`` does), once per llvmpipe thread setting in ``--lp-threads`` (``LP_NUM_THREADS``:
unset = one rasteriser thread per CPU; ``0`` = rasterise on the calling thread), and prints each
process's per-frame time and the aggregate frame rate:

    python bench/render.py --backends gl --parallel 2

``--record`` / ``--replay`` isolate the renderer's cost in the real workloads: ``--record
WORKLOAD --out calls.pkl`` runs GSI-Syn generation (``gen-tabletop``, ``gen-room``: ``--num``
edit pairs at 512², one process) or the default-protocol evaluation of oracle predictions
(``eval``: ``--num`` tabletop samples) and saves every GL render call (method, renderer settings,
scene, ``only``); ``--replay calls.pkl`` makes them again in this process and prints the CPU
seconds (all threads) per kind of call and a digest of every output — equal digests mean
byte-identical renders (versions, ``LP_NUM_THREADS`` settings, ``--no-reuse``):

    python bench/render.py --record eval --num 14 --out /tmp/eval_calls.pkl
    LP_NUM_THREADS=1 python bench/render.py --replay /tmp/eval_calls.pkl
    LP_NUM_THREADS=1 python bench/render.py --replay /tmp/eval_calls.pkl --no-reuse

``--cycles`` times the Cycles photo backend on the same scene specs as GL (sampled tabletop and
room scenes, ``--cycles-scenes`` of each): seconds per photo (CPU process seconds and wall-clock;
on the GPU when Blender finds one) at each resolution with ``--cycles-samples`` paths per pixel,
next to GL milliseconds per frame, and the agreement of Cycles' object index with the GL instance
map (fraction of pixels):

    python bench/render.py --cycles --resolutions 512 --cycles-samples 16
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from gsi_bench.geometry import intrinsics_from_fov, look_at
from gsi_bench.scene import Camera, Light, Material, Scene, SceneObject
from gsi_syn.assets.mesh import AssetMesh


class PrimitiveLibrary:
    """A stand-in asset library: trimesh primitives in the asset canonical frame (base centre at
    the origin, ``+z`` up) and procedural checker / stripe textures."""

    def __init__(self) -> None:
        self._cache: dict[tuple, AssetMesh] = {}

    def mesh(self, asset_id: str, params: dict | None = None) -> AssetMesh:
        key = (asset_id, tuple(sorted((params or {}).items())))
        if key not in self._cache:
            self._cache[key] = self._build(asset_id, dict(params or {}))
        return self._cache[key]

    @staticmethod
    def _build(asset_id: str, p: dict) -> AssetMesh:
        import trimesh

        if asset_id == "box":
            m = trimesh.creation.box((p.get("x", 1.0), p.get("y", 1.0), p.get("z", 1.0)))
            m.unmerge_vertices()  # flat shading: one normal per face
        elif asset_id == "sphere":
            m = trimesh.creation.icosphere(subdivisions=int(p.get("sub", 4)), radius=p.get("r", 0.05))
        elif asset_id == "cylinder":
            m = trimesh.creation.cylinder(radius=p.get("r", 0.04), height=p.get("h", 0.12),
                                          sections=int(p.get("sections", 256)))
            m.unmerge_vertices()
        elif asset_id == "capsule":
            m = trimesh.creation.capsule(height=p.get("h", 0.1), radius=p.get("r", 0.03),
                                         count=[int(p.get("n", 48)), int(p.get("n", 48))])
        elif asset_id == "torus":
            m = trimesh.creation.torus(major_radius=p.get("R", 0.06), minor_radius=p.get("r", 0.02),
                                       major_sections=64, minor_sections=24)
        else:
            raise KeyError(asset_id)
        v = np.asarray(m.vertices, np.float64)
        lo, hi = v.min(axis=0), v.max(axis=0)
        v = v - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]
        return AssetMesh(v.astype(np.float32), np.asarray(m.faces, np.int32),
                         np.asarray(m.vertex_normals, np.float32))

    def texture(self, texture_id: str) -> np.ndarray:
        n = 256
        i, j = np.meshgrid(np.arange(n), np.arange(n))
        if texture_id == "checker":
            pattern = ((i // 32 + j // 32) % 2)[..., None]
            return (pattern * [210, 190, 150] + (1 - pattern) * [90, 60, 40]).astype(np.uint8)
        stripes = ((i // 16) % 2)[..., None]
        return (stripes * [230, 230, 230] + (1 - stripes) * [120, 120, 140]).astype(np.uint8)


def primitive_scene(width: int, height: int, num_objects: int = 10, seed: int = 0) -> Scene:
    """Floor + table + ``num_objects`` objects (≈2–5 k triangles each) on a grid on the table."""
    rng = np.random.default_rng(seed)
    objs = [SceneObject(2, "box", "floor", (0.0, 0.0, -0.02), params={"x": 8.0, "y": 8.0, "z": 0.02},
                        material=Material((0.9, 0.9, 0.9), texture="checker", texture_scale=1.5),
                        role="structure"),
            SceneObject(1, "box", "table", (0.0, 0.0, 0.0), params={"x": 1.4, "y": 0.9, "z": 0.75},
                        material=Material((0.8, 0.7, 0.6), texture="stripes", texture_scale=2.0),
                        role="support")]
    kinds = [("sphere", {"sub": 4}), ("cylinder", {}), ("capsule", {}), ("torus", {}),
             ("box", {"x": 0.1, "y": 0.08, "z": 0.15})]
    cols = int(np.ceil(np.sqrt(num_objects)))
    for k in range(num_objects):
        asset, params = kinds[k % len(kinds)]
        x = -0.45 + 0.9 * (k % cols) / max(cols - 1, 1)
        y = -0.25 + 0.5 * (k // cols) / max(cols - 1, 1)
        texture = "stripes" if k % 2 else None
        material = Material(tuple(rng.uniform(0.2, 0.9, 3)), texture=texture, texture_scale=8.0, specular=0.3)
        objs.append(SceneObject(10 + k, asset, asset, (x, y, 0.75), yaw_deg=float(rng.uniform(0, 360)),
                                params=params, material=material))
    K = intrinsics_from_fov(width, height, 50.0)
    T = look_at([0.25, -1.5, 1.7], [0.0, 0.0, 0.75])
    return Scene("tabletop", objs, Light(direction=(0.35, 0.45, -0.82)), Camera.create(K, T, width, height))


def _scenes(args: argparse.Namespace, resolution: int) -> tuple[list[Scene], object | None]:
    if args.tabletop:
        from gsi_syn.tabletop import sample_tabletop_scene

        rng = np.random.default_rng(0)
        return [sample_tabletop_scene(rng, resolution, resolution) for _ in range(4)], None
    return [primitive_scene(resolution, resolution, args.objects)], PrimitiveLibrary()


def _make(backend: str, library: object | None):
    if backend == "gl":
        from gsi_syn.render.gl import GLRenderer

        return GLRenderer(library)
    from gsi_syn.render.raycast import RaycastRenderer

    return RaycastRenderer(library)


def time_backend(backend: str, resolution: int, args: argparse.Namespace) -> dict[str, float]:
    """Per-frame wall-clock and CPU (all threads of this process) milliseconds over
    ``args.frames`` renders after warm-up: ``median``, ``best``, ``cpu`` (median), plus the
    scene's ``triangles``."""
    scenes, library = _scenes(args, resolution)
    renderer = _make(backend, library)
    for s in scenes:
        renderer.render(s)
    wall, cpu = [], []
    frames = args.frames if backend == "gl" else max(3, args.frames // 10)
    for k in range(frames):
        c0, t0 = time.process_time(), time.perf_counter()
        renderer.render(scenes[k % len(scenes)])
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    lib = renderer.library
    tris = sum(len(lib.mesh(o.asset_id, dict(o.params)).faces) for o in scenes[0].objects)
    return {"median": float(np.median(wall) * 1e3), "best": float(np.min(wall) * 1e3),
            "cpu": float(np.median(cpu) * 1e3), "triangles": tris}


def _worker(args: tuple[str, int, argparse.Namespace]) -> dict[str, float]:
    backend, resolution, ns = args
    out = time_backend(backend, resolution, ns)
    out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_parallel(args: argparse.Namespace) -> None:
    """N processes rendering at once, for each llvmpipe thread setting in ``args.lp_threads``."""
    ctx = mp.get_context("spawn")
    for setting in args.lp_threads:
        saved = os.environ.get("LP_NUM_THREADS")
        if setting == "default":
            os.environ.pop("LP_NUM_THREADS", None)
        else:
            os.environ["LP_NUM_THREADS"] = setting  # read by Mesa when each worker makes its context
        try:
            for res in args.resolutions:
                with ctx.Pool(args.parallel) as pool:
                    out = pool.map(_worker, [("gl", res, args)] * args.parallel)
                per = ", ".join(f"{o['median']:.1f}/{o['best']:.1f}" for o in out)
                rate = sum(1e3 / o["median"] for o in out)
                print(f"gl x{args.parallel} processes LP_NUM_THREADS={setting:7s} {res:4d}²: "
                      f"ms/frame median/best [{per}]  aggregate {rate:5.0f} frames/s  "
                      f"worker peak RSS {max(o['rss'] for o in out):.0f} MiB")
        finally:
            if saved is None:
                os.environ.pop("LP_NUM_THREADS", None)
            else:
                os.environ["LP_NUM_THREADS"] = saved


def run_cycles(args: argparse.Namespace) -> None:
    """GL frame time vs Cycles photo time on the same sampled scene specs, plus the object-index
    agreement of Cycles with the GL instance map."""
    from gsi_syn.render.cycles import CyclesRenderer, CyclesSettings
    from gsi_syn.sampler import GenerationConfig, _sample_scene, unit_rng

    renderer = CyclesRenderer(CyclesSettings(samples=args.cycles_samples))
    print(f"cycles device: {renderer.device}, {args.cycles_samples} samples, OpenImageDenoise")
    for res in args.resolutions:
        for subset in ("tabletop", "room"):
            cfg = GenerationConfig(subset=subset, resolution=res)
            scenes = [_sample_scene(cfg, unit_rng(cfg, u)) for u in range(args.cycles_scenes)]
            renderer.photo(scenes[0])  # warm-up: Blender start, meshes and textures
            gl_ms, wall, cpu, agree = [], [], [], []
            for scene in scenes:
                t0 = time.perf_counter()
                ids = renderer.render(scene).instances
                gl_ms.append((time.perf_counter() - t0) * 1e3)
                c0, t0 = time.process_time(), time.perf_counter()
                renderer.photo(scene)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                agree.append(float(np.mean(renderer.object_index(scene) == ids)))
            print(f"{subset:8s} {res:4d}²  GL {np.median(gl_ms):6.1f} ms/frame   Cycles {np.median(wall):6.2f} s/photo "
                  f"wall, {np.median(cpu):6.2f} s CPU   object-index agreement min {min(agree):.5f} "
                  f"mean {np.mean(agree):.5f} ({len(scenes)} scenes)")


_GL_CALLS = ("render", "labels", "photo", "photo_with_labels")


def record(workload: str, num: int, out: str) -> None:
    """Run ``workload`` in this process and pickle every GL render call it makes."""
    import pickle
    import tempfile

    from gsi_syn.render import gl

    calls: list = []
    renderers: dict[int, int] = {}

    def wrap(name: str):
        inner = getattr(gl.GLRenderer, name)

        def call(self, scene, *args, **kw):
            settings = {"shadow_map_size": self.shadow_map_size, "shadow_filter": self.shadow_filter,
                        "supersampling": self.supersampling, "exposure": self.exposure}
            calls.append((name, settings, renderers.setdefault(id(self), len(renderers)), scene, kw.get("only")))
            return inner(self, scene, *args, **kw)
        return call

    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    work = Path(tempfile.mkdtemp(prefix="gsi-bench-render-"))
    if workload == "eval":
        from validation.baselines import run_baseline
        from validation.evaluator import EvalConfig, evaluate

        generate(GenerationConfig(subset="tabletop", split="test", num=num, seed=0, resolution=512), work / "data",
                 workers=1, progress=False)
        run_baseline("oracle", str(work / "data"), str(work / "pred"))
    for name in _GL_CALLS:
        setattr(gl.GLRenderer, name, wrap(name))
    if workload == "eval":
        evaluate(EvalConfig(data=str(work / "data"), predictions=str(work / "pred"), out=str(work / "report"), workers=1))
    else:
        subset = workload.split("-", 1)[1]
        generate(GenerationConfig(subset=subset, split="test", num=num, seed=123, resolution=512, shard_size=100),
                 work / "data", workers=1, progress=False)
    with open(out, "wb") as f:
        pickle.dump(calls, f)
    print(f"{workload}: {len(calls)} render calls by {len(renderers)} renderers -> {out}")


def replay(path: str, reuse: bool, repeat: int) -> None:
    """Make the recorded calls again; CPU seconds per kind of call and a digest of the outputs."""
    import hashlib
    import pickle
    from collections import Counter, defaultdict

    from gsi_syn.render.gl import GLRenderer

    with open(path, "rb") as f:
        calls = pickle.load(f)
    for rep in range(repeat):
        renderers: dict[int, GLRenderer] = {}
        cpu: dict[tuple, float] = defaultdict(float)
        count: Counter = Counter()
        digest = hashlib.sha256()
        t0, c0 = time.perf_counter(), time.process_time()
        for name, settings, rid, scene, only in calls:
            if rid not in renderers:
                renderers[rid] = GLRenderer(**settings, reuse=reuse)
            c = time.process_time()
            out = getattr(renderers[rid], name)(scene, only=only)
            kind = (name, f"{scene.camera.width}x{scene.camera.height}", "only" if only is not None else "whole")
            cpu[kind] += time.process_time() - c
            count[kind] += 1
            for a in ((out,) if isinstance(out, np.ndarray) else (out.rgb, out.instances, out.depth)):
                digest.update(np.ascontiguousarray(a).tobytes())
        total = time.process_time() - c0
        print(f"replay {rep}: {len(calls)} calls  {total:.2f} CPU s  {time.perf_counter() - t0:.2f} s wall  "
              f"reuse={reuse}  LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', '(unset)')}  "
              f"outputs sha256 {digest.hexdigest()[:16]}")
        for kind in sorted(cpu, key=lambda k: -cpu[k]):
            print(f"    {' '.join(kind):42s} {count[kind]:5d} calls {cpu[kind]:7.2f} CPU s "
                  f"{1e3 * cpu[kind] / count[kind]:7.2f} ms/call")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["gl", "raycast"])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--tabletop", action="store_true", help="real tabletop scenes from the asset library")
    ap.add_argument("--parallel", type=int, default=0, help="also time N GL processes rendering at once")
    ap.add_argument("--lp-threads", nargs="+", default=["default", "0", "1", "2"],
                    help="LP_NUM_THREADS settings to try with --parallel ('default' = unset)")
    ap.add_argument("--cycles", action="store_true", help="also time the Cycles photo backend (needs bpy)")
    ap.add_argument("--cycles-samples", type=int, default=16)
    ap.add_argument("--cycles-scenes", type=int, default=3, help="sampled scenes per subset for --cycles")
    ap.add_argument("--record", choices=["gen-tabletop", "gen-room", "eval"],
                    help="run this workload and save its GL render calls to --out")
    ap.add_argument("--num", type=int, default=14, help="--record: edit pairs / evaluation samples")
    ap.add_argument("--out", default="render_calls.pkl", help="--record: where to save the calls")
    ap.add_argument("--replay", help="make the render calls saved by --record again, timed")
    ap.add_argument("--no-reuse", action="store_true", help="--replay with GLRenderer(reuse=False)")
    ap.add_argument("--repeat", type=int, default=1, help="--replay this many times (fresh renderers)")
    args = ap.parse_args()
    if args.record:
        record(args.record, args.num, args.out)
        return
    if args.replay:
        replay(args.replay, not args.no_reuse, args.repeat)
        return
    print(f"cpus={os.cpu_count()} LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', '(unset)')} "
          f"scene={'tabletop' if args.tabletop else f'primitives, {args.objects} objects'}")
    for backend in args.backends:
        for res in args.resolutions:
            t = time_backend(backend, res, args)
            print(f"{backend:8s} {res:4d}²  {t['median']:7.1f} ms/frame (median)  {t['best']:7.1f} (best)  "
                  f"{t['cpu']:7.1f} ms CPU  {t['triangles']} triangles")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.parallel > 1:
        run_parallel(args)
    if args.cycles:
        run_cycles(args)


if __name__ == "__main__":
    main()
