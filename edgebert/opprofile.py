"""Where the time goes: per-operator time from each runtime's own profiler, grouped into categories, and this
machine's measured fp32 GEMM peak (what achieved GFLOP/s is judged against). Runtime-safe: numpy only; the
runners call it from their profile(), the bench worker and the report read its categories.

ONNX Runtime: SessionOptions.enable_profiling (node events); OpenVINO: PERF_COUNT per-layer counters; PyTorch:
torch.profiler (CPU ops). LiteRT's Python interpreter and ExecuTorch's Python runtime expose no op profiler, so
their rows say so. The profiled runs happen after the timed ones and never touch the latency figures.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

CATEGORIES = ("GEMM", "attention", "normalisation", "activation", "quantise", "other")
_RULES = (  # first match wins; matched case-insensitively against the op type
    ("quantise", ("quantizelinear", "dequantize", "fakequantize", "dynamicquantizelinear")),
    ("attention", ("attention", "softmax")),
    ("GEMM", ("matmul", "gemm", "fullyconnected", "linear", "addmm", "::mm", "bmm", "qgemm", "innerproduct")),
    ("normalisation", ("layernorm", "layer_norm", "mvn", "normalization")),
    ("activation", ("gelu", "erf", "tanh", "relu", "sigmoid")),
)


def category(op_type: str) -> str:
    name = op_type.lower()
    return next((cat for cat, keys in _RULES if any(k in name for k in keys)), "other")


def summarise(by_op: dict[str, float], runs: int, wall_ms: float, source: str, dropped: int = 0) -> dict[str, Any]:
    """ms per run by op type and by category; total (the ops' sum) beside the profiled runs' wall time.
    `dropped`: profiled runs left out as preempted (see `typical_runs`)."""
    per_run = {op: round(ms / runs, 4) for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1])}
    cats = {c: 0.0 for c in CATEGORIES}
    for op, ms in per_run.items():
        cats[category(op)] += ms
    return {"source": source, "runs": runs, "runs_dropped": dropped, "total_ms": round(sum(per_run.values()), 4),
            "wall_ms": round(wall_ms, 4), "by_category": {c: round(v, 4) for c, v in cats.items()}, "by_op": per_run}


def typical_runs(walls_ms: list[float], slack: float = 1.25) -> list[int]:
    """Indices of the profiled runs to keep: those within `slack` x the median wall time. A run the OS preempted
    (a shared 2-core VM does this) adds its stall to whichever op was running, and a mean over runs would then
    disagree with the row's p50; the row's own statistic is a median for the same reason."""
    if not walls_ms:
        return []
    typical = statistics.median(walls_ms)
    return [i for i, w in enumerate(walls_ms) if w <= slack * typical]


def summarise_runs(per_run: list[dict[str, float]], walls_ms: list[float], source: str) -> dict[str, Any]:
    """`summarise` over the typical runs of a profile recorded run by run (ms by op type per run, wall per run)."""
    keep = typical_runs(walls_ms)
    by_op: dict[str, float] = {}
    for i in keep:
        for op, ms in per_run[i].items():
            by_op[op] = by_op.get(op, 0.0) + ms
    wall = sum(walls_ms[i] for i in keep) / max(1, len(keep))
    return summarise(by_op, max(1, len(keep)), wall, source, dropped=len(walls_ms) - len(keep))


def fp32_peak_gflops(seconds: float = 1.0, n: int = 1024) -> float:
    """This machine's fp32 GEMM throughput with the worker's threads (numpy's BLAS), best of a second's runs."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: threads start, pages fault in
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9
