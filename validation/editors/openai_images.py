"""An OpenAI-compatible image-edit endpoint as an editor: ``POST {base_url}/images/edits`` (multipart:
``model``, ``prompt``, ``image`` PNG, ``n=1``, ``response_format=b64_json``, optional ``size``), answer
``{"data": [{"b64_json": …}]}`` (or ``{"url": …}``, then fetched).

* ``base_url`` (e.g. ``https://api.openai.com/v1`` or a local server), ``model``; the key comes from
  the environment variable named by ``api_key_env`` (default ``OPENAI_API_KEY``) and is never logged;
* transient failures (connection errors, timeouts, HTTP 429 / 5xx) are retried with exponential
  backoff (``backoff × 2^k`` seconds, capped at ``max_backoff``); a 429's ``Retry-After`` header
  (seconds) is honoured when present;
* a sample that still fails (retries exhausted, 4xx, unreadable answer) returns ``None``: the API
  (:func:`gsi_bench.evaluate`) then scores it as **missing** and lists it as an ``editor_failed``
  issue — never dropped. :attr:`failures` keeps ``{"instruction", "error"}`` per failure.
"""

from __future__ import annotations

import base64
import io
import os
import time
from typing import Any

import numpy as np

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointError(RuntimeError):
    """A request that cannot succeed (bad status, bad answer); ``retry`` says whether to try again."""

    def __init__(self, message: str, retry: bool = False, wait: float | None = None):
        super().__init__(message)
        self.retry, self.wait = retry, wait


class OpenAIImageEditor:
    """``editor(image, instruction) -> PIL image | None`` over an OpenAI-compatible image-edit endpoint."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", size: str | None = None,
                 max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 60.0, timeout: float = 120.0,
                 extra_fields: dict | None = None, sleep=time.sleep):
        import requests

        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {base_url!r} must start with http:// or https://")
        self.url = base_url.rstrip("/") + "/images/edits"
        self.model, self.size = model, size
        self.max_retries, self.backoff, self.max_backoff, self.timeout = int(max_retries), float(backoff), float(max_backoff), float(timeout)
        self.extra_fields = dict(extra_fields or {})
        key = os.environ.get(api_key_env, "")
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.failures: list[dict] = []
        self.requests_sent = 0
        self._sleep = sleep
        self.__name__ = f"openai:{model}"

    def info(self) -> dict:
        return {"endpoint": self.url, "model": self.model, "size": self.size, "max_retries": self.max_retries}

    def _request(self, png: bytes, instruction: str) -> bytes:
        import requests

        fields = {"model": self.model, "prompt": instruction, "n": "1", "response_format": "b64_json",
                  **({"size": self.size} if self.size else {}), **{k: str(v) for k, v in self.extra_fields.items()}}
        self.requests_sent += 1
        try:
            r = self.session.post(self.url, data=fields, files={"image": ("image.png", png, "image/png")},
                                  timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise EndpointError(f"{type(err).__name__}: {err}", retry=True) from err
        if r.status_code != 200:
            wait = None
            if r.status_code == 429:
                try:
                    wait = float(r.headers.get("Retry-After", ""))
                except ValueError:
                    wait = None
            raise EndpointError(f"HTTP {r.status_code}: {r.text[:200]}", retry=r.status_code in RETRY_STATUS, wait=wait)
        try:
            item = r.json()["data"][0]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise EndpointError(f"unexpected answer (no data[0]): {r.text[:200]}") from err
        if item.get("b64_json"):
            return base64.b64decode(item["b64_json"])
        if item.get("url"):
            got = self.session.get(item["url"], timeout=self.timeout)
            if got.status_code != 200:
                raise EndpointError(f"image url answered HTTP {got.status_code}", retry=got.status_code in RETRY_STATUS)
            return got.content
        raise EndpointError("answer holds neither b64_json nor url")

    def __call__(self, image: Any, instruction: str):
        from PIL import Image

        src = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
        buf = io.BytesIO()
        src.convert("RGB").save(buf, format="PNG")
        png = buf.getvalue()
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                data = self._request(png, instruction)
                out = Image.open(io.BytesIO(data))
                out.load()
                out = out.convert("RGB")
                return out if out.size == src.size else out.resize(src.size, Image.Resampling.BICUBIC)
            except EndpointError as err:
                last = str(err)
                if not err.retry or attempt == self.max_retries:
                    break
                wait = err.wait if err.wait is not None else self.backoff * 2 ** attempt
                self._sleep(min(max(0.0, wait), self.max_backoff))
            except OSError as err:  # the answer is not an image
                last = f"unreadable image in the answer: {err}"
                break
        self.failures.append({"instruction": instruction, "error": last})
        return None
