"""Bench rows for the report tests: complete rows of the documented schema, with what a test varies."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgebert.bench.rows import SCHEMA_VERSION


def bench_row(model: str, fmt: str, p50: float, **changes: Any) -> dict[str, Any]:
    """An ok row of `model` in `fmt` at b1 s128 on a 2-thread AVX2 'CPU-A' with p50 `p50` ms; `changes` override."""
    row = {"model": model, "model_sha256": f"sha:{model}:{fmt}", "weights": "random", "format": fmt,
           "runtime": "torch" if fmt == "pytorch" else "onnxruntime", "runtime_version": "1", "device": "cpu",
           "cpu": "CPU-A", "cores": 2, "machine": "x86_64", "host": "test", "threads": 2, "batch": 1, "seq_len": 128,
           "repeat": 0, "status": "ok", "cpu_features": ["avx2"], "golden": "reference" if fmt == "pytorch" else "pass",
           "runs": 50, "p50_ms": p50, "p90_ms": p50 * 1.1, "p99_ms": p50 * 1.2, "mean_ms": p50, "std_ms": 0.0,
           "min_ms": p50 * 0.9, "max_ms": p50 * 1.3, "throughput_seq_s": 1e3 / p50, "model_rss_mb": 100.0,
           "peak_rss_mb": 400.0, "rss_before_mb": 300.0, "file_mb": 100.0, "parameters": None,
           "schema_version": SCHEMA_VERSION}
    return {**row, **changes}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
