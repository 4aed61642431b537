"""The bench row: one measurement, appended to a JSONL file and read back typed. Schema: benchmarks/ROW_SCHEMA.md.

The worker builds the row (`start_row`, then the measured fields); the sweep appends it; the report, the regression
gate and a resumed sweep read it back through `read_rows`, which refuses a line that is not a row of this schema.
"""
from __future__ import annotations

import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from edgebert import __version__
from edgebert.bench.spec import RowSpec
from edgebert.device_info import DeviceKey
from edgebert.errors import UsageError

SCHEMA_VERSION = 2


@dataclass(frozen=True)
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
    bundle: str = ""  # the bundle's folder name ("" for eager PyTorch): reports tell two bundles of one format apart
    input: str = "tensor"  # "tensor": random ids of (batch, seq_len); "texts:NAME": text to answer, one at a time
    texts: int | None = None  # texts rows: how many distinct texts
    model_p50_ms: float | None = None  # texts rows: the model-only part of each request
    model_p90_ms: float | None = None
    tokens_p50: float | None = None  # texts rows: real tokens per text
    tokens_p90: float | None = None
    padded_tokens_p50: float | None = None  # texts rows: tokens the format ran (static shapes pad to a bucket)
    padded_tokens_p90: float | None = None
    tokens: int | None = None  # texts rows: real tokens over the texts, each text once
    padding_tokens: int | None = None  # texts rows: tokens run as padding to a bucket over the same texts (dynamic: 0)
    buckets: dict | None = None  # texts rows, static shapes: how many texts ran at each bucket ({"16": 210, ...})
    profile: dict | None = None  # bench --profile: per-op and per-category ms per run, from the runtime's profiler
    gflop: float | None = None  # FLOPs of one run at (batch, seq_len), from the config (bench --profile)
    gflops_achieved: float | None = None  # gflop / p50
    fp32_peak_gflops: float | None = None  # this machine's fp32 GEMM throughput at the row's threads
    load_ms: float | None = None
    warmup: int | None = None
    runs: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None  # rows before it was recorded lack it
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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def wrong_outputs(self) -> bool:
        """Measured, but the bundle failed (or could not run) its golden check in the worker."""
        return self.ok and self.golden in ("fail", "error")

    @property
    def device_key(self) -> DeviceKey:
        return DeviceKey(self.device_label or self.board, self.cpu, self.machine, tuple(self.cpu_features),
                         self.device, self.threads, self.emulated)

    def key(self) -> tuple:
        """What makes two rows the same measurement: a resumed sweep skips a planned row an ok row has the key of."""
        return (self.model_sha256, self.format, self.runtime, self.runtime_version, self.batch, self.seq_len,
                self.repeat, self.input, self.device_key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Row":
        """A row read back; ValueError naming what is wrong when `data` is not a row of this schema."""
        problems = row_problems(data)
        if problems:
            more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise ValueError("; ".join(problems[:3]) + more)
        return cls(**{"schema_version": 1, **data})  # rows before schema versions were recorded are version 1


ROW_FIELDS = tuple(f.name for f in fields(Row))
# Fields every row has; the rest have defaults, so rows of older schemas (no device or golden fields) still read.
REQUIRED = tuple(f.name for f in fields(Row) if f.default is MISSING and f.default_factory is MISSING)
OK_NUMBERS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "runs", "peak_rss_mb", "throughput_seq_s")


def row_problems(data: dict[str, Any]) -> list[str]:
    """What keeps `data` from being a row of this schema (empty when it is one)."""
    problems = [f"missing field '{k}'" for k in REQUIRED if k not in data]
    problems += [f"unknown field '{k}'" for k in data if k not in ROW_FIELDS]
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        problems.append(f"schema version {version!r} is not one this edgebert reads (1 to {SCHEMA_VERSION})")
    if data.get("status") not in ("ok", "failed"):
        problems.append(f"status must be ok|failed, got {data.get('status')!r}")
    if data.get("status") == "ok":
        numbers = {k: data.get(k) for k in OK_NUMBERS}
        problems += [f"ok row needs numeric '{k}'" for k, v in numbers.items() if not isinstance(v, (int, float))]
        if all(isinstance(v, (int, float)) for v in numbers.values()) and \
                not numbers["min_ms"] <= numbers["p50_ms"] <= numbers["p90_ms"] <= numbers["p99_ms"]:
            problems.append("percentiles out of order")
    return problems


def start_row(spec: RowSpec, machine: dict[str, Any]) -> Row:
    """The row `spec` asks for on the machine `machine` describes (device_info.machine_fields), before anything is
    measured: the worker fills it in; the parent keys resumed sweeps and records crashed workers with it."""
    return Row(**asdict(spec.identity), **machine, device=spec.device, device_label=spec.device_label,
               threads=spec.threads, batch=spec.batch, seq_len=spec.seq_len, repeat=spec.repeat, input=spec.input,
               status="failed", reason="not measured", edgebert_version=__version__)


def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows (bench rows as `Row.to_dict()`, eval rows as they are), one JSON object a line, flushed and
    fsynced so a killed sweep keeps what it measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _records(path: Path) -> list[tuple[int, Any]]:
    """(line number, JSON value) of each line; a torn line (a writer killed mid-line) is passed over."""
    if not path.is_file():
        return []
    found = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            found.append((lineno, json.loads(line)))
        except json.JSONDecodeError:
            continue
    return found


def read_rows(path: Path) -> list[Row]:
    """The bench rows of a JSONL file (eval rows, kind == "eval", are `read_evals`'); a line that is neither is a
    usage error naming it."""
    rows = []
    for lineno, record in _records(path):
        if isinstance(record, dict) and record.get("kind") == "eval":
            continue
        try:
            rows.append(Row.from_dict(record if isinstance(record, dict) else {}))
        except ValueError as err:
            raise UsageError(f"{path}:{lineno} is not a bench row ({err}). Fix: pass results written by edgebert "
                             "bench or edgebert eval") from None
    return rows


def read_evals(path: Path) -> list[dict[str, Any]]:
    """The `edgebert eval` rows of a JSONL file, as written."""
    return [r for _, r in _records(path) if isinstance(r, dict) and r.get("kind") == "eval"]
