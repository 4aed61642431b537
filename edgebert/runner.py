"""The device side of the format contract: the Runner every format's load() returns (load once, run many), and
the padding rules for static shapes. Runtime-safe: numpy only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda", "tensorrt")


class Runner:
    """A loaded artifact. `run` takes int64 arrays (B, T) by input name and returns the model's one output;
    text-in graphs take strings through `run_text` instead. `profile` is None where the runtime has no profiler."""

    runtime: str = ""
    runtime_version: str = ""
    device: str = "cpu"
    input_names: list[str]
    takes_text: bool = False

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def run_text(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        from edgebert.errors import UsageError

        raise UsageError("This bundle's graph takes token ids, not raw text")

    def profile(self, feed: dict[str, np.ndarray], runs: int) -> dict[str, Any] | None:
        """Per-operator time from the runtime's own profiler (edgebert.opprofile.summarise), or None."""
        return None

    def run_bucket(self, feed: dict[str, np.ndarray], length: int) -> np.ndarray:
        """Static shapes: run `feed` at the bucket `length` (>= its width), not the smallest that fits; the golden
        check and the export's pad-invariance check run each text at every bucket. Runners that pick their bucket
        by the feed's width get it by padding; token outputs come back at the feed's width."""
        width = next(iter(feed.values())).shape[1]
        out = self.run(pad_feed(feed, length))
        return out[:, :width] if out.ndim == 3 else out


def cpu_only(runtime: str, device: str) -> None:
    """Runners whose Python runtime here drives the CPU only (LiteRT, ExecuTorch, OpenVINO's CPU plugin)."""
    if device != "cpu":
        from edgebert.errors import UsageError

        raise UsageError(f"The {runtime} runner runs on cpu here, not '{device}'")


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
