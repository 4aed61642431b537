"""What the parent asks one worker to measure: a TARGET, its identity, and the row's shape and timing rules.

A `RowSpec` crosses the process boundary as JSON (`to_json` / `from_json`); everything in it is plain data, so the
worker runs only the code its own loader names (no module named in the input is ever imported).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A bundle folder, or a model (HF id, folder or architecture) measured in eager PyTorch."""

    kind: str  # "bundle" | "model"
    ref: str
    random_weights: bool = False
    task: str | None = None


@dataclass(frozen=True)
class Identity:
    """The row fields that name what is measured, known in the parent without loading anything (resume keys)."""

    model: str
    model_sha256: str
    weights: str  # "random" | "real"
    format: str  # "pytorch" or the bundle's format
    runtime: str
    runtime_version: str  # the installed version; the worker records the one it loaded
    file_mb: float | None = None
    parameters: int | None = None
    app_sdk: str = ""
    bundle: str = ""  # the bundle's folder name (unique within a sweep): tells two bundles of one format apart


@dataclass(frozen=True)
class RowSpec:
    """One row to measure: target, identity, shape, device, timing rules. `seq_len` 0 with texts (each at its own
    length, batch 1)."""

    target: Target
    identity: Identity
    device: str
    threads: int
    batch: int
    seq_len: int
    repeat: int
    warmup: int
    min_runs: int
    min_seconds: float
    device_label: str = ""
    profile: bool = False  # after timing, record the runtime's per-op profile and GFLOP/s
    texts: tuple[str, ...] = ()  # text to answer instead of random ids of (batch, seq_len)
    texts_name: str = ""

    @property
    def input(self) -> str:
        """The row's `input` field: 'tensor', or 'texts:NAME' for text to answer."""
        return f"texts:{self.texts_name}" if self.texts else "tensor"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "RowSpec":
        data: dict[str, Any] = json.loads(text)
        return cls(**{**data, "target": Target(**data["target"]), "identity": Identity(**data["identity"]),
                      "texts": tuple(data["texts"])})
