"""The bench harness and sweep: statistics, what is timed, memory, crash isolation, resume, the typed row and its
schema, and `bench` / `bench --suite efficiency` through the CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgebert.bench import harness, sweep
from edgebert.bench.harness import measure
from edgebert.bench.rows import ROW_FIELDS, Row, read_evals, read_rows, row_problems
from edgebert.bench.spec import Identity, RowSpec, Target
from edgebert.bench.stats import Latency, percentile
from edgebert.bench.sweep import SweepConfig, run_sweep
from edgebert.errors import UsageError
from tests.cli_helpers import run_cli
from tests.row_helpers import bench_row, write_jsonl

FAST = dict(warmup=2, min_runs=20, min_seconds=0.0, threads=1)
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n", [1, 2, 7, 50, 1001])
def test_percentiles_match_numpy(n):
    values = sorted(np.random.default_rng(n).exponential(5.0, n).tolist())
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12, abs=1e-12)


def test_latency_summary_matches_numpy():
    ns = np.random.default_rng(0).integers(1_000_000, 9_000_000, 501)
    lat = Latency.from_ns(ns.tolist())
    ms = ns / 1e6
    assert lat.runs == 501
    assert lat.mean_ms == pytest.approx(ms.mean()) and lat.std_ms == pytest.approx(ms.std())
    assert (lat.min_ms, lat.max_ms) == (pytest.approx(ms.min()), pytest.approx(ms.max()))
    assert lat.p99_ms == pytest.approx(np.percentile(ms, 99)) and lat.p95_ms == pytest.approx(np.percentile(ms, 95))


def test_latency_row_fields():
    fields = Latency.from_ns([2_000_000, 4_000_000, 6_000_000, 8_000_000]).to_fields(batch=4)
    assert fields == {"runs": 4, "p50_ms": 5.0, "p90_ms": 7.4, "p95_ms": 7.7, "p99_ms": 7.94, "mean_ms": 5.0,
                      "std_ms": 2.2361, "min_ms": 2.0, "max_ms": 8.0, "throughput_seq_s": 800.0}


@pytest.fixture()
def fake_clock(monkeypatch):
    """perf_counter_ns that only the timed function moves on: durations then show exactly what is inside them."""
    now = [0]
    monkeypatch.setattr(harness.time, "perf_counter_ns", lambda: now[0])
    return now


def test_a_duration_spans_the_call_and_nothing_else(fake_clock):
    calls = []

    def call():
        calls.append(1)
        fake_clock[0] += 1_000_000  # 1 ms

    lat = measure(call, warmup=3, min_runs=7, min_seconds=0.0)
    assert len(calls) == 10 and lat.runs == 7  # warm-up calls are untimed
    assert lat.min_ms == lat.max_ms == 1.0 and lat.total_s == pytest.approx(0.007)


def test_harness_needs_both_run_count_and_duration(fake_clock):
    def call():
        fake_clock[0] += 10_000_000  # 10 ms

    assert measure(call, warmup=0, min_runs=5, min_seconds=0.1).runs == 10  # 0.1 s needs 10 runs of 10 ms
    assert measure(call, warmup=0, min_runs=30, min_seconds=0.1).runs == 30  # 30 runs need 0.3 s
    assert measure(call, warmup=0, min_runs=5, min_seconds=10.0, max_runs=12).runs == 12


@pytest.fixture()
def test_worker(monkeypatch):
    """Sweeps run tests/bench_runners.py: edgebert's worker with runners that no-op, allocate or abort."""
    monkeypatch.setattr(sweep, "WORKER_MODULE", "tests.bench_runners")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def _sweep(tmp_path: Path, *refs: str, **kw) -> tuple[list[Row], sweep.SweepResult]:
    out = tmp_path / "rows.jsonl"
    res = run_sweep([Target("model", r) for r in refs], SweepConfig(**{**FAST, **kw}), out, show_progress=False)
    return read_rows(out), res


def test_memory_sees_a_200mb_allocation(test_worker, tmp_path):
    (row,), _ = _sweep(tmp_path, "alloc_200mb")
    assert row.status == "ok", row.reason
    assert row.model_rss_mb == pytest.approx(200, rel=0.10)
    assert row.peak_rss_mb >= row.rss_before_mb + 180


def test_abort_gives_failed_row_and_sweep_goes_on(test_worker, tmp_path):
    rows, res = _sweep(tmp_path, "abort", "noop")
    assert [(r.model, r.status) for r in rows] == [("abort", "failed"), ("noop", "ok")]
    assert rows[0].reason.startswith("worker killed by SIGABRT")
    assert res.failed == rows[:1]


def test_resume_skips_finished_rows_and_force_does_not(test_worker, tmp_path):
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8])
    assert len(rows) == 2 and res.skipped == 0
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8])
    assert len(rows) == 2 and res.skipped == 2 and res.written == []
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2, 4], seq_lens=[8])
    assert len(rows) == 3 and res.skipped == 2 and [r.batch for r in res.written] == [4]  # only the new batch runs
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8], force=True)
    assert len(rows) == 5 and res.skipped == 0


def test_failed_rows_are_retried_on_resume(test_worker, tmp_path):
    _sweep(tmp_path, "abort")
    rows, res = _sweep(tmp_path, "abort")
    assert len(rows) == 2 and res.skipped == 0


def test_rows_follow_documented_schema(test_worker, tmp_path):
    _sweep(tmp_path, "noop", "abort")
    written = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [list(r) for r in written] == [list(ROW_FIELDS)] * 2 and [row_problems(r) for r in written] == [[], []]
    assert (written[0]["model"], written[0]["model_sha256"], written[0]["runs"]) == ("noop", "hub:noop", 20)
    doc = (REPO / "benchmarks" / "ROW_SCHEMA.md").read_text()
    assert [f for f in ROW_FIELDS if f"`{f}`" not in doc] == []
    assert row_problems({**written[0], "p50_ms": None}) == ["ok row needs numeric 'p50_ms'"]
    assert row_problems({**written[0], "surprise": 1}) == ["unknown field 'surprise'"]
    assert row_problems({**written[0], "p90_ms": 1e9}) == ["percentiles out of order"]


def test_reading_rows_back(tmp_path):
    """Eval rows and torn lines are passed over; an old row reads as version 1; a line that is no row is refused."""
    v1 = {k: v for k, v in bench_row("m", "onnx", 5.0).items() if k not in ("schema_version", "golden", "emulated")}
    path = write_jsonl(tmp_path / "r.jsonl", [bench_row("m", "pytorch", 9.0), {"kind": "eval", "score": 0.9}, v1])
    with open(path, "a") as fh:
        fh.write('{"model": "torn')
    rows = read_rows(path)
    assert [(r.format, r.schema_version, r.golden) for r in rows] == [("pytorch", 2, "reference"), ("onnx", 1, "none")]
    assert read_evals(path) == [{"kind": "eval", "score": 0.9}]
    bad = write_jsonl(tmp_path / "bad.jsonl", [bench_row("m", "onnx", 5.0), {"variant": "fp32", "p50_ms": 3.0}])
    with pytest.raises(UsageError, match=r"bad.jsonl:2 is not a bench row \(missing field 'model'; missing field "
                                         r"'model_sha256'; missing field 'weights' and 15 more\)"):
        read_rows(bad)


def test_a_row_spec_crosses_the_process_boundary_unchanged():
    spec = RowSpec(Target("bundle", "/b"), Identity("m", "sha", "real", "onnx", "onnxruntime", "1.0", 1.5, 10),
                   "cpu", 2, 1, 0, 1, 5, 30, 4.0, "Pi 5", profile=True, texts=("one", "two"), texts_name="t.txt")
    assert RowSpec.from_json(spec.to_json()) == spec and spec.input == "texts:t.txt"


def test_peak_is_not_inherited_from_a_large_parent(test_worker, tmp_path):
    """Linux keeps the parent's RSS high-water mark in a child's ru_maxrss across fork+exec; the worker's peak
    must be its own. The parent here holds 400 MB while the worker holds 200 MB."""
    ballast = np.ones(400_000_000, dtype=np.uint8)
    (row,), _ = _sweep(tmp_path, "alloc_200mb")
    assert row.model_rss_mb == pytest.approx(200, rel=0.10)
    assert row.peak_rss_mb < 400
    del ballast


def test_bench_onnx_bundle_row(capsys, tiny_onnx, tmp_path):
    out = tmp_path / "r.jsonl"
    res = run_cli(capsys, "bench", tiny_onnx, "--runs", "5", "--min-seconds", "0", "--warmup", "1",
                  "--batch", "1,2", "--seq", "16", "--threads", "1", "--out", out)
    assert res.code == 0, res.err
    rows = read_rows(out)
    manifest = json.loads((tiny_onnx / "manifest.json").read_text())
    assert [(r.batch, r.seq_len, r.status) for r in rows] == [(1, 16, "ok"), (2, 16, "ok")]
    r = rows[1]
    assert (r.format, r.runtime, r.threads, r.warmup, r.runs) == ("onnx", "onnxruntime", 1, 1, 5)
    assert r.parameters == manifest["parameters"]
    assert r.file_mb == pytest.approx(manifest["files"]["model.onnx"]["bytes"] / 1e6, abs=1e-3)
    assert r.model_sha256 == manifest["files"]["model.onnx"]["sha256"]
    assert r.throughput_seq_s == pytest.approx(2 * 1e3 / r.mean_ms, rel=1e-3)  # batch 2: two sequences a run


def test_bench_usage_errors(capsys, tmp_path):
    res = run_cli(capsys, "bench", "--suite", "speed")
    assert res.code == 2 and "Unknown suite 'speed'. Valid: efficiency" in res.err
    res = run_cli(capsys, "bench")
    assert res.code == 2 and "Give one or more TARGETs" in res.err
    res = run_cli(capsys, "bench", "bert-base-uncased", "--random-weights", "--device", "npu")
    assert res.code == 2 and "Unknown device 'npu'" in res.err
