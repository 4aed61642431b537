"""The bench harness and sweep: statistics, overhead, memory, crash isolation, resume, schema, the table."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from edgebert.bench.harness import measure
from edgebert.bench.rows import ROW_FIELDS, read_rows, validate_row
from edgebert.bench.stats import Latency, percentile
from edgebert.bench.sweep import SweepConfig, run_sweep
from edgebert.bench.targets import Target
from tests.cli_helpers import run_cli

FAST = dict(warmup=2, min_runs=20, min_seconds=0.0, threads=1)


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
    assert lat.p99_ms == pytest.approx(np.percentile(ms, 99))


def test_harness_overhead_under_1_percent_of_1ms():
    lat = measure(lambda: None, warmup=100, min_runs=20_000, min_seconds=0.0)
    assert lat.mean_ms < 0.01, f"harness adds {lat.mean_ms * 1e3:.2f} us per run"


def test_harness_needs_both_run_count_and_duration():
    lat = measure(lambda: time.sleep(0.001), warmup=0, min_runs=5, min_seconds=0.1)
    assert lat.runs >= 5 and lat.total_s >= 0.09 and lat.runs > 20
    lat = measure(lambda: None, warmup=0, min_runs=300, min_seconds=0.0)
    assert lat.runs == 300


def _sweep(tmp_path: Path, *refs: str, **kw) -> tuple[list[dict], object]:
    cfg = SweepConfig(**{**FAST, **kw})
    out = tmp_path / "rows.jsonl"
    res = run_sweep([Target("python", f"tests.bench_runners:{r}") for r in refs], cfg, out, show_progress=False)
    return read_rows(out), res


def test_memory_sees_a_200mb_allocation(tmp_path):
    rows, _ = _sweep(tmp_path, "alloc_200mb")
    row = rows[0]
    assert row["status"] == "ok", row["reason"]
    assert row["model_rss_mb"] == pytest.approx(200, rel=0.10)
    assert row["peak_rss_mb"] >= row["rss_before_mb"] + 180


def test_abort_gives_failed_row_and_sweep_goes_on(tmp_path):
    rows, res = _sweep(tmp_path, "abort", "noop")
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert "SIGABRT" in rows[0]["reason"]
    assert len(res.failed) == 1


def test_resume_skips_finished_rows_and_force_does_not(tmp_path):
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8])
    assert len(rows) == 2 and res.skipped == 0
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8])
    assert len(rows) == 2 and res.skipped == 2 and res.written == []
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2, 4], seq_lens=[8])
    assert len(rows) == 3 and res.skipped == 2  # only the new batch size runs
    rows, res = _sweep(tmp_path, "noop", batches=[1, 2], seq_lens=[8], force=True)
    assert len(rows) == 5 and res.skipped == 0


def test_failed_rows_are_retried_on_resume(tmp_path):
    _sweep(tmp_path, "abort")
    rows, res = _sweep(tmp_path, "abort")
    assert len(rows) == 2 and res.skipped == 0


def test_rows_follow_documented_schema(tmp_path):
    rows, _ = _sweep(tmp_path, "noop", "abort")
    for row in rows:
        assert validate_row(row) == [], row
    doc = (Path(__file__).parents[1] / "benchmarks" / "ROW_SCHEMA.md").read_text()
    undocumented = [f for f in ROW_FIELDS if f"`{f}`" not in doc]
    assert undocumented == []
    assert validate_row({**rows[0], "p50_ms": None}) != []
    assert validate_row({**rows[0], "surprise": 1}) == ["unknown field 'surprise'"]


def test_bench_onnx_bundle_row(capsys, tiny_onnx, tmp_path):
    out = tmp_path / "r.jsonl"
    res = run_cli(capsys, "bench", tiny_onnx, "--runs", "5", "--min-seconds", "0", "--warmup", "1",
                  "--batch", "1,2", "--seq", "16", "--threads", "1", "--out", out)
    assert res.code == 0, res.err
    rows = read_rows(out)
    manifest = json.loads((tiny_onnx / "manifest.json").read_text())
    assert [(r["batch"], r["seq_len"], r["status"]) for r in rows] == [(1, 16, "ok"), (2, 16, "ok")]
    r = rows[0]
    assert (r["format"], r["runtime"], r["threads"], r["warmup"], r["runs"]) == ("onnx", "onnxruntime", 1, 1, 5)
    assert r["parameters"] == manifest["parameters"]
    assert r["file_mb"] == pytest.approx(manifest["files"]["model.onnx"]["bytes"] / 1e6, abs=1e-3)
    assert r["model_sha256"] == manifest["files"]["model.onnx"]["sha256"]
    assert r["throughput_seq_s"] == pytest.approx(1e3 / r["mean_ms"], rel=1e-3)


def test_bench_usage_errors(capsys, tmp_path):
    res = run_cli(capsys, "bench", "--suite", "speed")
    assert res.code == 2 and "Unknown suite 'speed'. Valid: efficiency" in res.err
    res = run_cli(capsys, "bench")
    assert res.code == 2 and "Give one or more TARGETs" in res.err
    res = run_cli(capsys, "bench", "bert-base-uncased", "--random-weights", "--device", "npu")
    assert res.code == 2 and "Unknown device 'npu'" in res.err


def test_peak_is_not_inherited_from_a_large_parent(tmp_path):
    """Linux keeps the parent's RSS high-water mark in a child's ru_maxrss across fork+exec; the worker's peak
    must be its own. The parent here holds 400 MB while the worker holds 200 MB."""
    ballast = np.ones(400_000_000, dtype=np.uint8)
    rows, _ = _sweep(tmp_path, "alloc_200mb")
    assert rows[0]["model_rss_mb"] == pytest.approx(200, rel=0.10)
    assert rows[0]["peak_rss_mb"] < 400
    del ballast


def test_efficiency_suite_end_to_end(tiny_bert, tmp_path):
    """Exports (all formats of a model in one process), PyTorch + bundle rows, and the report."""
    import json as _json

    from edgebert.suite import run_efficiency
    from edgebert.report import write_report

    cfg = SweepConfig(**FAST)
    res = run_efficiency(tmp_path, cfg, models={"tiny": str(tiny_bert)}, formats=["onnx", "onnx-int8"],
                         show_progress=False, log=lambda m: None)
    assert res.export_failures == {}
    rows = read_rows(res.results)
    assert sorted((r["format"], r["status"]) for r in rows) == [("onnx", "ok"), ("onnx-int8", "ok"), ("pytorch", "ok")]
    for fmt in ("onnx", "onnx-int8"):
        manifest = _json.loads((tmp_path / "bundles" / f"tiny-{fmt}" / "manifest.json").read_text())
        assert manifest["parity"]["passed"]
    table = write_report([res.results], tmp_path).table
    assert {t.format for t in table} == {"pytorch", "onnx", "onnx-int8"}
    again = run_efficiency(tmp_path, cfg, models={"tiny": str(tiny_bert)}, formats=["onnx", "onnx-int8"],
                           show_progress=False, log=lambda m: None)
    assert again.sweep.written == [] and again.sweep.skipped == 3  # resumable: bundles reused, rows skipped
