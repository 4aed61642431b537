"""The bench row: one measurement, appended to a JSONL file. Schema documented in benchmarks/ROW_SCHEMA.md."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

SCHEMA_VERSION = 2
# A row is "already measured" only on the same kind of machine: cpu/machine/label are part of the key.
KEY_FIELDS = ("model_sha256", "format", "runtime", "runtime_version", "device", "threads", "batch", "seq_len",
              "repeat", "machine", "cpu", "device_label", "input")


@dataclass
class Row:
    """One (model, format, runtime, device, threads, batch, seq) measurement from one fresh worker process."""

    model: str
    model_sha256: str
    weights: str  # "random" | "real"
    format: str  # "pytorch" for eager PyTorch, else the bundle's format
    runtime: str
    runtime_version: str
    device: str
    cpu: str
    cores: int
    machine: str
    host: str
    threads: int
    batch: int
    seq_len: int
    repeat: int
    status: str  # "ok" | "failed"
    reason: str = ""
    cpu_features: list[str] = field(default_factory=list)  # avx2, avx512_vnni, asimddp, i8mm, ...
    board: str = ""  # the firmware's board name (e.g. "Raspberry Pi 5 Model B Rev 1.0"), when it gives one
    device_label: str = ""  # --device-label
    emulated: str = ""  # "qemu-user" when measured under emulation: latency not comparable with hardware
    golden: str = "none"  # pass | fail | error (bundle's golden check in this worker) | reference | none
    golden_max_abs: float | None = None
    golden_mean_cosine: float | None = None
    golden_agreement: float | None = None
    golden_reason: str = ""
    app_sdk: str = ""  # what loads the bundle in an app (e.g. MediaPipe Tasks TextClassifier), from its manifest
    input: str = "tensor"  # "tensor": random ids of (batch, seq_len); "texts:NAME": text to answer, one at a time
    texts: int | None = None  # texts rows: how many distinct texts
    model_p50_ms: float | None = None  # texts rows: the model-only part of each request
    model_p90_ms: float | None = None
    tokens_p50: float | None = None  # texts rows: real tokens per text
    tokens_p90: float | None = None
    padded_tokens_p50: float | None = None  # texts rows: tokens the format ran (static shapes pad to a bucket)
    padded_tokens_p90: float | None = None
    profile: dict | None = None  # bench --profile: per-op and per-category ms per run, from the runtime's profiler
    gflop: float | None = None  # FLOPs of one run at (batch, seq_len), from the config (bench --profile)
    gflops_achieved: float | None = None  # gflop / p50
    fp32_peak_gflops: float | None = None  # this machine's fp32 GEMM throughput at the row's threads
    load_ms: float | None = None
    warmup: int | None = None
    runs: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    throughput_seq_s: float | None = None
    rss_before_mb: float | None = None  # worker RSS after importing the runtime, before loading the model
    peak_rss_mb: float | None = None  # worker's peak RSS over load + warm-up + timed runs
    model_rss_mb: float | None = None  # peak_rss_mb - rss_before_mb: what the model itself costs
    file_mb: float | None = None
    parameters: int | None = None
    edgebert_version: str = ""
    python: str = ""
    timestamp: str = ""
    schema_version: int = SCHEMA_VERSION

    def key(self) -> tuple:
        return row_key(asdict(self))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ROW_FIELDS = tuple(f.name for f in fields(Row))


def row_key(row: dict[str, Any]) -> tuple:
    return tuple(row.get(k) for k in KEY_FIELDS)


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows, one JSON object a line, flushed and fsynced so a killed sweep keeps what it measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def validate_row(row: dict[str, Any]) -> list[str]:
    """Problems with a row against the schema (empty list when valid)."""
    problems = [f"missing field '{k}'" for k in ROW_FIELDS if k not in row]
    problems += [f"unknown field '{k}'" for k in row if k not in ROW_FIELDS]
    if row.get("status") not in ("ok", "failed"):
        problems.append(f"status must be ok|failed, got {row.get('status')!r}")
    if row.get("status") == "ok":
        for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "runs", "peak_rss_mb", "throughput_seq_s"):
            if not isinstance(row.get(k), (int, float)):
                problems.append(f"ok row needs numeric '{k}'")
        if isinstance(row.get("p50_ms"), (int, float)) and isinstance(row.get("p99_ms"), (int, float)):
            if not row["min_ms"] <= row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]:
                problems.append("percentiles out of order")
    return problems
