"""Latency statistics from raw per-run durations."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method); `sorted_values` ascending."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class Latency:
    """Summary of per-run latencies in milliseconds."""

    runs: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float  # population standard deviation
    min_ms: float
    max_ms: float
    total_s: float
    p95_ms: float = 0.0  # a budget's percentile (edgebert fit judges latency limits on it)

    @classmethod
    def from_ns(cls, durations_ns: list[int]) -> "Latency":
        ms = sorted(d / 1e6 for d in durations_ns)
        n = len(ms)
        mean = sum(ms) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in ms) / n)
        return cls(n, percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), mean, std, ms[0], ms[-1],
                   sum(ms) / 1e3, percentile(ms, 95))

    def to_fields(self, batch: int = 1) -> dict[str, Any]:
        """The row's latency fields (ms rounded to 0.1 us); throughput counts `batch` sequences a run."""
        ms = {k: round(getattr(self, k), 4) for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms",
                                                         "min_ms", "max_ms")}
        return {"runs": self.runs, **ms, "throughput_seq_s": round(batch * 1e3 / self.mean_ms, 3)}
