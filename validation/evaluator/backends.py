"""Optional model backends (real loading code; weights by Hub id or local path).

* ``features`` — a DINOv2-style ``transformers`` vision model: cosine similarity of the
  prediction's and the ground truth's pooled features on the target object's box (``ac_features``)
  and on the whole image (``global_features``), both 0–100;
* ``judge`` — an MLLM judge for AC: ``openai:<model>@<base_url>`` (an OpenAI-compatible endpoint,
  temperature 0, the instruction included, PNG images) — its raw answer and the parsed score are
  recorded; a parse failure is counted (``judge_parse_failed``), never silently 0.
"""

from __future__ import annotations

import re

import numpy as np


class FeatureBackend:
    def __init__(self, name_or_path: str, model=None, processor=None):
        import torch  # noqa: F401
        from transformers import AutoImageProcessor, AutoModel

        self.name = name_or_path
        self.model = (model or AutoModel.from_pretrained(name_or_path)).eval()
        self.processor = processor or AutoImageProcessor.from_pretrained(name_or_path)

    def embed(self, image: np.ndarray) -> np.ndarray:
        import torch

        inputs = self.processor(images=image, return_tensors="pt")
        with torch.no_grad():
            out = self.model(**inputs)
        feat = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state[:, 0]
        v = feat[0].double().numpy()
        return v / (np.linalg.norm(v) + 1e-12)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(100.0 * max(0.0, float(self.embed(a) @ self.embed(b))))


def _crop(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from validation.evaluator.imageops import bbox_of

    box = bbox_of(mask, pad=4)
    if box is None:
        return image
    y0, y1, x0, x1 = box
    return image[y0:y1, x0:x1]


SCORE_RE = re.compile(r'"score"\s*:\s*([0-9]+(?:\.[0-9]+)?)')
JUDGE_PROMPT = ("You compare an original image and an edited image produced for the instruction: \"{instruction}\". "
                "Rate from 0 to 10 how well the edited object keeps its appearance and identity "
                "(for a removal: how clean the revealed background is). "
                "Answer with JSON only: {{\"score\": <number>, \"reasoning\": \"<one sentence>\"}}")


def parse_judge_score(text: str) -> float | None:
    m = SCORE_RE.search(text or "")
    if not m:
        return None
    v = float(m.group(1))
    return v if 0 <= v <= 10 else None


class OpenAIJudge:
    """``openai:<model>@<base_url>`` (client: :class:`gsi_bench.mllm.OpenAIVisionChat`)."""

    def __init__(self, spec: str):
        from gsi_bench.mllm import OpenAIVisionChat

        self._chat = OpenAIVisionChat(spec)
        self.model, self.base_url, self.name = self._chat.model, self._chat.base_url, spec

    def __call__(self, instruction: str, source: np.ndarray, pred: np.ndarray) -> str:
        return self._chat([source, pred], JUDGE_PROMPT.format(instruction=instruction))


def extra_scores(record, pred: np.ndarray, cfg, state: dict) -> dict:
    out: dict = {}
    if cfg.features_backend:
        if "features" not in state:
            state["features"] = FeatureBackend(cfg.features_backend)
        fb = state["features"]
        mask = (record.target_mask > 0) if record.target_mask.any() else (record.source_mask > 0)
        out["global_features"] = fb.similarity(pred, record.target_image)
        out["ac_features"] = fb.similarity(_crop(pred, mask), _crop(record.target_image, mask)) if mask.any() else out["global_features"]
    if cfg.judge_backend:
        if "judge" not in state:
            if not cfg.judge_backend.startswith("openai:"):
                raise ValueError("judge backend must be openai:<model>@<base_url>")
            state["judge"] = OpenAIJudge(cfg.judge_backend)
        try:
            text = state["judge"](record.instruction, record.source_image, pred)
        except Exception as err:  # noqa: BLE001 - an unreachable judge is recorded per sample
            text = f"_ERROR_ {type(err).__name__}: {err}"
        score = parse_judge_score(text)
        out["judge"] = {"raw": text[:2000], "score": score, "parse_failed": score is None}
    return out
