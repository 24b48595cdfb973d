"""MLLM gate of the GSI-Real pipeline: an OpenAI-compatible loopback server and a tiny random
transformers VLM (saved and loaded with from_pretrained); verdict + rationale per record, failed
candidates rejected, unparseable answers counted and kept."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("moderngl")

from gsi_bench.hub_io import iter_records  # noqa: E402
from gsi_real.demo import make_demo_captures  # noqa: E402
from gsi_real.gate import MLLMGate, parse_gate_answer  # noqa: E402
from gsi_real.pipeline import run  # noqa: E402

ANSWERS = ['{"verdict": "pass", "rationale": "the object moved as asked"}',
           'Looks wrong. {"verdict": "fail", "rationale": "the object is smeared"}',
           "I am not sure."]


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    root = tmp_path_factory.mktemp("caps")
    make_demo_captures(root, num_captures=1, frames_per_capture=1, width=160, height=120, seed=5)
    return root


def test_parse():
    assert parse_gate_answer(ANSWERS[1]) == ("fail", "the object is smeared")
    assert parse_gate_answer('{"verdict": "maybe"}') == (None, "")


def test_openai_gate_through_the_cli(captures, tmp_path, chat_server):
    vlm = chat_server(lambda n: ANSWERS[(n - 1) % len(ANSWERS)])
    ungated = run(captures, tmp_path / "plain", seed=5)
    done = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "real", "run", str(captures), "--out",
                           str(tmp_path / "gated"), "--seed", "5", "--mllm-gate", f"openai:tiny-vlm@{vlm.url}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    asked = ungated["records"]
    assert len(vlm.calls) == asked and asked >= 2
    first = vlm.calls[0]["messages"][0]["content"]
    assert [c["type"] for c in first] == ["image_url", "image_url", "text"] and "instruction" in first[2]["text"]
    n_fail = sum(1 for i in range(asked) if i % 3 == 1)
    n_parse = sum(1 for i in range(asked) if i % 3 == 2)
    assert f"MLLM gate: {asked} asked, {asked - n_fail - n_parse} passed, {n_fail} failed, {n_parse} unparseable" in done.stdout
    recs = list(iter_records(tmp_path / "gated", "real", "test"))
    assert len(recs) == asked - n_fail
    gates = [json.loads(r.scene)["mllm_gate"] for r in recs]
    assert all(g["model"] == f"openai:tiny-vlm@{vlm.url}" for g in gates)
    assert sum(g["parse_failed"] for g in gates) == n_parse
    assert all(g["rationale"] == "the object moved as asked" for g in gates if g["verdict"] == "pass")
    log = [json.loads(x) for x in (tmp_path / "gated" / "rejections.jsonl").read_text().splitlines()]
    assert sum(x["failed"] == ["mllm_gate"] for x in log) == n_fail


def _tiny_vlm(folder):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<image>": 3}
    for w in 'USER ASSISTANT : { } " verdict pass fail rationale the a image photo , .'.split():
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    t = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<unk>")
    t.add_special_tokens({"additional_special_tokens": ["<image>"]})
    template = ("{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image> "
                "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}")
    proc = LlavaProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}),
                          tokenizer=t, patch_size=14, vision_feature_select_strategy="default", chat_template=template,
                          num_additional_image_tokens=1)
    cfg = LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, image_size=28, patch_size=14, projection_dim=16),
                      text_config=LlamaConfig(vocab_size=len(t), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                              num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256),
                      image_token_index=3, vision_feature_layer=-1)
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(folder)
    proc.save_pretrained(folder)


def test_transformers_gate_loads_from_pretrained(tmp_path):
    pytest.importorskip("torch")
    from gsi_real.gate import make_gate

    _tiny_vlm(tmp_path / "vlm")
    gate = make_gate(f"transformers:{tmp_path / 'vlm'}", max_new_tokens=6, device="cpu")
    img = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    a, b = gate("Move the mug left.", img, img), gate("Move the mug left.", img, img)
    assert a.model == f"transformers:{tmp_path / 'vlm'}" and a.raw == b.raw          # greedy: deterministic
    assert a.raw and a.parse_failed and a.verdict is None                            # random weights: no JSON
    assert MLLMGate(lambda images, text: ANSWERS[0])("x", img, img).verdict == "pass"
