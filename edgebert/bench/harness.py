"""Warm up, then time runs with perf_counter_ns until both a run count and a duration are reached."""
from __future__ import annotations

import time
from typing import Callable

from edgebert.bench.stats import Latency


def measure(fn: Callable[[], object], *, warmup: int = 10, min_runs: int = 50, min_seconds: float = 10.0,
            max_runs: int = 100_000) -> Latency:
    """Time `fn()` after `warmup` untimed calls; stop after >= min_runs AND >= min_seconds (or max_runs)."""
    for _ in range(warmup):
        fn()
    durations: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(min_seconds * 1e9)
    while len(durations) < max_runs:
        start = clock()
        fn()
        end = clock()
        durations.append(end - start)
        if len(durations) >= min_runs and end >= deadline:
            break
    return Latency.from_ns(durations)
