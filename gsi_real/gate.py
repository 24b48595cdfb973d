"""The MLLM gate of the GSI-Real pipeline: a vision-language model sees the source, the synthesised
target and the instruction, and answers whether the pair is a faithful, artefact-free example of
the edit. Its verdict and rationale are stored in each record (``scene.mllm_gate``); a candidate
it fails is rejected (logged with the reason ``mllm_gate``); an answer that does not parse is
counted (``parse_failed``) and the candidate kept for the human review, never silently passed or
failed.

Backends (:mod:`gsi_bench.mllm`): ``openai:<model>@<base_url>`` (OpenAI-compatible endpoint) or
``transformers:<hub id or folder>`` (local image-text-to-text model).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

import numpy as np

GATE_PROMPT = ("The first image is a photo; the second was made from it for the instruction: \"{instruction}\". "
               "Does the second image show exactly that edit, with the object intact and no visible artefacts, "
               "everything else unchanged? Answer with JSON only: "
               "{{\"verdict\": \"pass\" or \"fail\", \"rationale\": \"<one sentence>\"}}")
_JSON_RE = re.compile(r"\{.*?\}", re.DOTALL)


@dataclass
class GateVerdict:
    """One gate answer: ``verdict`` ``"pass"`` / ``"fail"``, or ``None`` when the answer did not parse."""

    model: str
    verdict: str | None
    rationale: str
    raw: str

    @property
    def parse_failed(self) -> bool:
        return self.verdict is None

    def to_dict(self) -> dict:
        return {**asdict(self), "raw": self.raw[:2000], "parse_failed": self.parse_failed}


def parse_gate_answer(text: str) -> tuple[str | None, str]:
    """``(verdict, rationale)`` from the first JSON object of ``text`` holding a ``verdict`` of
    ``pass`` / ``fail`` (any case); ``(None, "")`` otherwise.

    >>> parse_gate_answer('Sure: {"verdict": "PASS", "rationale": "moved left"}')
    ('pass', 'moved left')
    >>> parse_gate_answer("I think it is fine.")
    (None, '')
    """
    for m in _JSON_RE.finditer(text or ""):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        verdict = str(obj.get("verdict", "")).strip().lower() if isinstance(obj, dict) else ""
        if verdict in ("pass", "fail"):
            return verdict, str(obj.get("rationale", ""))
    return None, ""


class MLLMGate:
    """``gate(instruction, source, target) -> GateVerdict`` over a chat client (``images, text -> str``)."""

    def __init__(self, chat, name: str | None = None):
        self.chat = chat
        self.name = name or getattr(chat, "name", type(chat).__name__)

    def __call__(self, instruction: str, source: np.ndarray, target: np.ndarray) -> GateVerdict:
        try:
            text = self.chat([source, target], GATE_PROMPT.format(instruction=instruction))
        except Exception as err:  # noqa: BLE001 - an unreachable model is recorded, not fatal
            text = f"_ERROR_ {type(err).__name__}: {err}"
        verdict, rationale = parse_gate_answer(text)
        return GateVerdict(self.name, verdict, rationale, text)


def make_gate(spec: str, **kwargs) -> MLLMGate:
    """The gate for ``spec`` (``openai:<model>@<base_url>`` or ``transformers:<checkpoint>``)."""
    from gsi_bench.mllm import make_chat

    return MLLMGate(make_chat(spec, **kwargs))
