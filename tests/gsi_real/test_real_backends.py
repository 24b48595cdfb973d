"""GSI-Real model backends on tiny random models built from config (no downloads): metric depth
(Depth-Anything), open-vocabulary detection (OWL-ViT) → instance maps, diffusers inpainting
(Stable Diffusion inpainting, UNet with 9 input channels); loaded back with ``from_pretrained``
from folders written by ``save_pretrained``; then ``gsi-bench real run`` on demo captures that lack
depth / instances."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from gsi_real.backends import (
    BackendError,
    DepthEstimator,
    DiffusersInpainter,
    OpenVocabDetector,
    TransformersFill,
    box_to_mask,
)

MAX_DEPTH = 6


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # the environment variable is read once at import: also flip the flag the libraries consult
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _tiny_clip_tokenizer(folder: Path, max_len: int):
    """Character-level CLIP BPE tokenizer from a vocab.json + merges.txt written here. As in the
    real OWL-ViT tokenizer the pad token "!" is id 0 (OWL-ViT masks queries whose first id is 0,
    so the start token must not be 0)."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789.,'-":
        for tok in (c, c + "</w>"):
            vocab.setdefault(tok, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="!",
                         model_max_length=max_len)


_TEXT = {"vocab_size": 128, "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
         "num_hidden_layers": 2, "bos_token_id": 1, "pad_token_id": 0, "eos_token_id": 2}


def _depth_anything(folder: Path, kind: str) -> Path:
    import torch
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    torch.manual_seed(0)
    backbone = Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False, initializer_range=0.2)
    cfg = DepthAnythingConfig(backbone_config=backbone, neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8,
                              head_hidden_size=8, reassemble_hidden_size=16, patch_size=14,
                              depth_estimation_type=kind, max_depth=MAX_DEPTH, initializer_range=0.2)
    model = DepthAnythingForDepthEstimation(cfg)
    proc = DPTImageProcessor(do_resize=True, size={"height": 56, "width": 56}, keep_aspect_ratio=True,
                             ensure_multiple_of=14, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


def _owlvit(folder: Path) -> Path:
    import torch
    from transformers import (
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    torch.manual_seed(0)
    cfg = OwlViTConfig(text_config={**_TEXT, "max_position_embeddings": 16},
                       vision_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                                          "num_hidden_layers": 2, "image_size": 64, "patch_size": 16},
                       projection_dim=16)
    model = OwlViTForObjectDetection(cfg)
    proc = OwlViTProcessor(image_processor=OwlViTImageProcessor(size={"height": 64, "width": 64},
                                                                crop_size={"height": 64, "width": 64}),
                           tokenizer=_tiny_clip_tokenizer(folder / "_tok", 16))
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


def _sd_inpaint(folder: Path) -> Path:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionInpaintPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, sample_size=32)
    text = CLIPTextModel(CLIPTextConfig(**_TEXT, max_position_embeddings=16, projection_dim=16))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text, tokenizer=_tiny_clip_tokenizer(folder / "_tok", 16),
                                          unet=unet, scheduler=sched, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    out = {"depth": _depth_anything(root / "depth-metric", "metric"),
           "depth_rel": _depth_anything(root / "depth-relative", "relative"),
           "detector": _owlvit(root / "owlvit")}
    if _has("diffusers"):
        out["inpaint"] = _sd_inpaint(root / "sd-inpaint")
    return out


def _has(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


def _image(h=60, w=80, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([xx * 3 % 256, yy * 4 % 256, (xx + yy) * 2 % 256], -1).astype(np.int64)
    return np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
def test_depth_backend_metres_shape_determinism(ckpts):
    est = DepthEstimator(str(ckpts["depth"]), device="cpu")
    rgb = _image()
    d = est(rgb)
    assert d.shape == rgb.shape[:2] and d.dtype == np.float32
    # sigmoid head × max_depth metres (bicubic resampling back to the frame may overshoot a little)
    assert np.isfinite(d).all() and (d > 0).all() and d.max() <= 1.05 * MAX_DEPTH
    assert d.std() > 0  # a real per-pixel prediction, not a constant fallback
    assert np.array_equal(d, est(rgb))
    again = DepthEstimator(str(ckpts["depth"]), device="cpu")(rgb)  # fresh load: identical
    assert np.array_equal(d, again)
    info = est.info()
    assert info["kind"] == "metric" and len(info["weights_sha256"]) == 64

    # relative-depth checkpoints are refused unless the caller vouches for metres
    with pytest.raises(BackendError, match="relative depth"):
        DepthEstimator(str(ckpts["depth_rel"]), device="cpu")
    assert DepthEstimator(str(ckpts["depth_rel"]), device="cpu", metric=True)(rgb).shape == rgb.shape[:2]


def test_detector_and_instance_fill(ckpts):
    from gsi_real.captures import Label

    det = OpenVocabDetector(str(ckpts["detector"]), device="cpu", threshold=0.0)
    rgb = _image()
    dets = det(rgb, ["cup", "bowl", "book"])
    assert dets and all(d.category in {"cup", "bowl", "book"} for d in dets)
    assert all(0 <= d.box[0] < d.box[2] <= 80 and 0 <= d.box[1] < d.box[3] <= 60 for d in dets)
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    assert det(rgb, ["cup", "bowl", "book"]) == dets  # deterministic

    # a depth map with two "objects" nearer than the background: boxes become instance masks
    depth = np.full((60, 80), 2.0, np.float32)
    depth[10:30, 10:30] = 1.2
    depth[35:55, 45:75] = 1.5
    K = np.array([[80.0, 0, 40], [0, 80.0, 30], [0, 0, 1]])
    labels = {7: Label("cup", category_zh="杯子"), 9: Label("bowl"), 3: Label("table", movable=False)}
    fill = TransformersFill(detector=det, min_pixels=1)
    d2, inst, labs = fill(rgb, K, depth, None, labels)
    assert d2 is depth
    assert inst.dtype == np.uint16 and inst.shape == (60, 80)
    ids = sorted(set(np.unique(inst).tolist()) - {0})
    assert ids and ids == list(range(1, len(ids) + 1)) and sorted(labs) == ids
    assert {labs[i].category for i in ids} <= {"cup", "bowl"}  # the fixed "table" is never queried
    assert all(labs[i].category_zh == "杯子" for i in ids if labs[i].category == "cup")
    assert np.array_equal(inst, fill(rgb, K, depth, None, labels)[1])

    # box → mask picks the connected surface at the depth of the box centre
    m = box_to_mask(depth, K, (5.0, 5.0, 35.0, 35.0))
    assert m[10:30, 10:30].all() and m.sum() == 400

    # no vocabulary, no detector, no depth model: clear errors
    with pytest.raises(BackendError, match="vocabulary"):
        fill(rgb, K, depth, None, {3: Label("table", movable=False)})
    with pytest.raises(BackendError, match="--detector"):
        TransformersFill()(rgb, K, depth, None, labels)
    with pytest.raises(BackendError, match="--depth-model"):
        TransformersFill()(rgb, K, None, inst, labels)


def test_fill_depth_and_instances_together(ckpts):
    from gsi_real.captures import Label

    fill = TransformersFill(depth_model=str(ckpts["depth"]), detector_model=str(ckpts["detector"]),
                            box_threshold=0.0, vocabulary=("cup", "bowl"), device="cpu", min_pixels=1)
    rgb = _image()
    K = np.array([[80.0, 0, 40], [0, 80.0, 30], [0, 0, 1]])
    depth, inst, labs = fill(rgb, K, None, None, {1: Label("vase")})
    assert depth.dtype == np.float32 and depth.shape == (60, 80) and (depth > 0).all()
    assert inst.dtype == np.uint16 and inst.shape == (60, 80)
    assert {lab.category for lab in labs.values()} <= {"cup", "bowl"}  # the explicit vocabulary wins
    assert set(fill.info()) == {"depth", "instances"}


@pytest.mark.skipif(not _has("diffusers"), reason="needs diffusers")
def test_diffusers_inpainter_keeps_unmasked_pixels(ckpts):
    inp = DiffusersInpainter(str(ckpts["inpaint"]), steps=2, device="cpu", seed=0)
    assert inp.working_size(80, 60) == (32, 24)  # native 16 latents × VAE factor 2; multiples of 4
    rgb = _image()
    hole = np.zeros((60, 80), bool)
    hole[20:40, 25:55] = True
    out = inp(rgb, hole)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], rgb[~hole])  # outside the hole: byte for byte
    assert not np.array_equal(out[hole], rgb[hole])  # inside: generated
    assert np.array_equal(out, inp(rgb, hole))  # reseeded on every call
    other = DiffusersInpainter(str(ckpts["inpaint"]), steps=2, device="cpu", seed=1, pipeline=inp.pipe)
    assert not np.array_equal(other(rgb, hole), out)
    assert np.array_equal(inp(rgb, np.zeros_like(hole)), rgb)  # nothing to fill


def test_missing_or_wrong_checkpoints_are_clear_errors(ckpts, tmp_path):
    missing = tmp_path / "no-such-model"
    for cls in (DepthEstimator, OpenVocabDetector) + ((DiffusersInpainter,) if _has("diffusers") else ()):
        with pytest.raises(BackendError, match="no such folder") as err:
            cls(str(missing))
        assert str(missing) in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendError, match="config.json"):
        DepthEstimator(str(empty))
    if _has("diffusers"):
        with pytest.raises(BackendError, match="model_index.json"):
            DiffusersInpainter(str(ckpts["depth"]))  # a transformers folder is no diffusers pipeline
    # a Hub id that is not in the (empty, offline) cache
    with pytest.raises(BackendError, match="could not be loaded"):
        DepthEstimator("gsi-bench/no-such-depth-model")
    # a detector folder is not a depth model
    with pytest.raises(BackendError, match="not a usable depth model|could not be loaded"):
        DepthEstimator(str(ckpts["detector"]))


# ----------------------------------------------------------------------------------------------
# end to end through the CLI
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_caps(tmp_path_factory) -> Path:
    pytest.importorskip("moderngl")
    from gsi_bench.cli import main

    root = tmp_path_factory.mktemp("caps")
    assert main(["real", "demo-captures", "--out", str(root), "--num", "2", "--frames", "1",
                 "--width", "160", "--height", "120", "--seed", "3"]) == 0
    return root


def _without(src: Path, dst: Path, sub: str) -> Path:
    shutil.copytree(src, dst)
    removed = 0
    for cap in dst.iterdir():
        if (cap / sub).is_dir():
            shutil.rmtree(cap / sub)
            removed += 1
    assert removed
    return dst


def _records(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for p in sorted((out / "data" / "real").glob("*.parquet")):
        rows += pq.read_table(p, columns=["id", "scene", "provenance"]).to_pylist()
    return rows


def test_cli_run_fills_missing_depth(demo_caps, ckpts, tmp_path, capsys):
    from gsi_bench.cli import main

    caps = _without(demo_caps, tmp_path / "nodepth", "depth")
    out = tmp_path / "out"
    # without a depth model such frames are skipped: nothing to do is a clear error
    assert main(["real", "run", str(caps), "--out", str(tmp_path / "none")]) == 2
    assert "no edit passed the filters" in capsys.readouterr().err

    args = ["real", "run", str(caps), "--out", str(out), "--depth-model", str(ckpts["depth"]), "--device", "cpu"]
    rc = main(args)
    captured = capsys.readouterr()
    if rc == 0:
        rows = _records(out)
        assert rows and f"{len(rows)} candidate record(s)" in captured.out
        scene = json.loads(rows[0]["scene"])
        filled = scene["source"]["filled_by_models"]
        assert filled["depth"]["checkpoint"] == str(ckpts["depth"]) and "instances" not in filled
    else:  # random weights: flat depth may leave nothing that passes the 3D-consistency filters
        assert rc == 2 and "no edit passed the filters" in captured.err
        assert not (out / "data").exists()

    # a missing checkpoint is a clear error, exit 2, nothing written
    bad = tmp_path / "no-such-depth"
    assert main(["real", "run", str(caps), "--out", str(tmp_path / "bad"), "--depth-model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and str(bad) in err
    assert not (tmp_path / "bad").exists()


def test_cli_run_fills_missing_instances(demo_caps, ckpts, tmp_path, capsys):
    from gsi_bench.cli import main
    from gsi_real.captures import iter_frames

    caps = _without(demo_caps, tmp_path / "noinst", "instances")
    # the hook really fills every frame: boxes of the capture's movable categories → instance maps
    det = OpenVocabDetector(str(ckpts["detector"]), device="cpu", threshold=0.0)
    frames = list(iter_frames(caps, fill=TransformersFill(detector=det)))
    assert len(frames) == 2
    vocab = {lab["category"] for p in caps.glob("*/labels/*.json") for lab in json.loads(p.read_text()).values()}
    for f in frames:
        assert f.instances.dtype == np.uint16 and f.instances.shape == f.rgb.shape[:2] and f.instances.any()
        assert f.labels and {lab.category for lab in f.labels.values()} <= vocab
        assert set(f.meta["filled"]) == {"instances"}

    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        rc = main(["real", "run", str(caps), "--out", str(out), "--detector", str(ckpts["detector"]),
                   "--box-threshold", "0", "--device", "cpu"])
        captured = capsys.readouterr()
        assert rc in (0, 2), captured.err
        if rc == 2:
            assert "no edit passed the filters" in captured.err
        outs.append((rc, _records(out) if rc == 0 else []))
    assert outs[0] == outs[1]  # deterministic
    rc, rows = outs[0]
    if rc == 0:
        filled = json.loads(rows[0]["scene"])["source"]["filled_by_models"]
        assert set(filled) == {"instances"}


@pytest.mark.skipif(not _has("diffusers"), reason="needs diffusers")
def test_cli_run_with_diffusers_inpainter(demo_caps, ckpts, tmp_path, capsys):
    from gsi_bench.cli import main

    out = tmp_path / "out"
    rc = main(["real", "run", str(demo_caps), "--out", str(out), "--inpainter", f"diffusers:{ckpts['inpaint']}",
               "--inpaint-steps", "1", "--edits-per-frame", "1", "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = _records(out)
    assert rows and all(r["provenance"]["renderer"] == f"forward_warp+diffusers:{ckpts['inpaint']}" for r in rows)
    assert main(["real", "run", str(demo_caps), "--out", str(tmp_path / "bad"), "--inpainter",
                 f"diffusers:{tmp_path / 'nope'}"]) == 2
    assert "no such folder" in capsys.readouterr().err
