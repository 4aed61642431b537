"""Latency statistics from raw per-run durations."""
from __future__ import annotations

import math
from dataclasses import dataclass


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

    @classmethod
    def from_ns(cls, durations_ns: list[int]) -> "Latency":
        ms = sorted(d / 1e6 for d in durations_ns)
        n = len(ms)
        mean = sum(ms) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in ms) / n)
        return cls(n, percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), mean, std, ms[0], ms[-1],
                   sum(ms) / 1e3)
