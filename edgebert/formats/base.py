"""The runner interface every format implements: load once, run many."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edgebert.parity import Gate

DEVICES = ("cpu", "cuda", "tensorrt")


@dataclass
class ExportOptions:
    """Options shared by every exporter; a format reads the ones it understands."""

    opset: int = 17
    atol: float = 1e-4
    min_agreement: float = 0.99
    min_cosine: float = 0.99
    seq_lens: list[int] = field(default_factory=lambda: [128])
    calibration_texts: list[str] | None = None
    target: str | None = None  # CPU ISA for quantisation presets (avx2, avx512, avx512-vnni, arm64)
    allow_flex: bool = False
    static_shape: bool = False  # OpenVINO: fix the sequence length(s) to seq_lens (static shapes run faster)
    min_margin: float = 0.1  # lossy gate: argmax agreement counts samples whose top-1 leads by this probability

    def __post_init__(self) -> None:
        from edgebert.errors import UsageError

        if not self.atol > 0:
            raise UsageError(f"--atol must be a positive tolerance (got {self.atol:g})")
        for name in ("min_cosine", "min_agreement"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1] (got {getattr(self, name):g})")
        if not 0 <= self.min_margin < 1:
            raise UsageError(f"--min-margin must be in [0, 1) (got {self.min_margin:g})")
        if not self.seq_lens or any(n <= 0 for n in self.seq_lens):
            raise UsageError("--seq-len takes positive whole numbers")
        if self.opset < 7:
            raise UsageError(f"--opset {self.opset} is too old for these models (use 14 or newer)")

    def gate(self, lossy: bool, random_weights: bool) -> Gate:
        return Gate(lossy=lossy, atol=self.atol, min_cosine=self.min_cosine, min_agreement=self.min_agreement,
                    use_agreement=not random_weights, min_margin=self.min_margin)


class Runner(Protocol):
    """A loaded artifact. `run` takes int64 arrays (B, T) by input name and returns the model's one output."""

    runtime: str
    runtime_version: str
    device: str
    input_names: list[str]

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray: ...


def check_device(device: str) -> None:
    from edgebert.errors import UsageError

    if device not in DEVICES:
        raise UsageError(f"Unknown device '{device}'. Valid: {', '.join(DEVICES)}")


def pick_length(lengths: list[int], needed: int) -> int:
    """The smallest static length that fits `needed` tokens (inputs longer than the largest are refused)."""
    fitting = [n for n in sorted(lengths) if n >= needed]
    if not fitting:
        from edgebert.errors import UsageError

        raise UsageError(f"Input of {needed} tokens is longer than this bundle's largest static length "
                         f"{max(lengths)}. Fix: re-export with --seq-len {needed} (or more)")
    return fitting[0]


def pad_feed(feed: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """Right-pad every (B, T) input to (B, length) with 0 (pad id, masked out by attention_mask = 0)."""
    out = {}
    for name, arr in feed.items():
        pad = length - arr.shape[1]
        out[name] = np.pad(arr, ((0, 0), (0, pad))) if pad > 0 else arr
    return out
