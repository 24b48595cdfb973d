"""Multimodal LLM clients shared by the GSI-Real gate and the evaluator's judge.

* :class:`OpenAIVisionChat` — an OpenAI-compatible ``/chat/completions`` endpoint, spec
  ``openai:<model>@<base_url>`` (temperature 0, images sent as PNG data URLs, the API key — if any
  — from ``OPENAI_API_KEY``);
* :class:`TransformersVisionChat` — a local ``transformers`` image-text-to-text model
  (``AutoProcessor`` + ``AutoModelForImageTextToText``, greedy decoding), spec
  ``transformers:<hub id or folder>``.

Both are called as ``chat(images, text) -> str`` with uint8 ``(H, W, 3)`` RGB arrays.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Sequence

import numpy as np


def png_data_url(image: np.ndarray) -> str:
    """``data:image/png;base64,…`` of a uint8 RGB array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class OpenAIVisionChat:
    """``openai:<model>@<base_url>`` (see the module doc)."""

    def __init__(self, spec: str, timeout_s: float = 120.0):
        if not spec.startswith("openai:") or "@" not in spec:
            raise ValueError(f"{spec!r}: expected openai:<model>@<base_url>")
        self.model, _, self.base_url = spec.split(":", 1)[1].partition("@")
        self.name, self.timeout_s = spec, timeout_s

    def __call__(self, images: Sequence[np.ndarray], text: str) -> str:
        import urllib.request

        content = [{"type": "image_url", "image_url": {"url": png_data_url(a)}} for a in images]
        content.append({"type": "text", "text": text})
        payload = {"model": self.model, "temperature": 0, "messages": [{"role": "user", "content": content}]}
        req = urllib.request.Request(self.base_url.rstrip("/") + "/chat/completions", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'none')}"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
            return json.loads(r.read())["choices"][0]["message"]["content"]


class TransformersVisionChat:
    """``transformers:<hub id or folder>``: the processor's chat template with one image entry per
    image, greedy decoding of at most ``max_new_tokens`` tokens; ``model`` / ``processor`` may be
    passed ready (tests build tiny random ones)."""

    def __init__(self, spec: str, model=None, processor=None, max_new_tokens: int = 96, device: str | None = None):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.checkpoint = spec.split(":", 1)[1] if spec.startswith("transformers:") else spec
        self.name, self.max_new_tokens = f"transformers:{self.checkpoint}", max_new_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = processor or AutoProcessor.from_pretrained(self.checkpoint)
        self.model = (model or AutoModelForImageTextToText.from_pretrained(self.checkpoint)).to(self.device).eval()

    def __call__(self, images: Sequence[np.ndarray], text: str) -> str:
        import torch
        from PIL import Image

        messages = [{"role": "user", "content": [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(images=[Image.fromarray(np.asarray(a)) for a in images], text=prompt,
                                return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1]:]
        return self.processor.decode(new, skip_special_tokens=True)


def make_chat(spec: str, **kwargs):
    """The client for ``spec`` (``openai:<model>@<url>`` or ``transformers:<checkpoint>``)."""
    if spec.startswith("openai:"):
        return OpenAIVisionChat(spec)
    if spec.startswith("transformers:"):
        return TransformersVisionChat(spec, **kwargs)
    raise ValueError(f"{spec!r}: expected openai:<model>@<base_url> or transformers:<hub id or folder>")
