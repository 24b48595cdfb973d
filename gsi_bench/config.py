"""A mixin for generation configs whose canonical JSON and hash name their output."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict


class HashedConfig:
    """For dataclass configs: :meth:`to_json` (canonical: sorted keys, no whitespace, with the
    gsi-bench version) and :attr:`sha256` of it — (version, config) names one exact output."""

    def to_json(self) -> str:
        import gsi_bench

        d = asdict(self)  # type: ignore[call-overload]
        d["generator_version"] = gsi_bench.__version__
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()
