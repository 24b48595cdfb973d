"""A mixin for generation configs whose canonical JSON and hash name their output."""

from __future__ import annotations

from dataclasses import asdict

from gsi_bench.hashing import bytes_sha256, canonical_json


class HashedConfig:
    """For dataclass configs: :meth:`to_json` (canonical: sorted keys, no whitespace, with the
    gsi-bench version) and :attr:`sha256` of it — (version, config) names one exact output."""

    def to_json(self) -> str:
        import gsi_bench

        d = asdict(self)  # type: ignore[call-overload]
        d["generator_version"] = gsi_bench.__version__
        return canonical_json(d)

    @property
    def sha256(self) -> str:
        return bytes_sha256(self.to_json().encode())
