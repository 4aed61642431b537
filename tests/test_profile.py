"""bench --profile: the runtimes' per-op times add up to the row's latency; FLOP counts match the analytic value."""
from __future__ import annotations

import json

import pytest

from edgebert.arch import gflop, model_shape
from edgebert.opprofile import category, summarise_runs, typical_runs
from edgebert.bench.rows import read_rows
from tests.cli_helpers import run_cli


@pytest.mark.parametrize("arch,expected", [("bert-base-uncased", 22.35), ("distilbert-base-uncased", 11.17)])
def test_gflop_from_the_config_matches_the_analytic_count(arch, expected):
    from edgebert.arch import packaged_config

    layers, hidden, inter = model_shape(packaged_config(arch))
    # by hand, per layer at S=128, H=768, I=3072: QKV+output 4*2*S*H^2 = 603,979,776; scores+context
    # 2*2*S^2*H = 50,331,648; FFN 2*2*S*H*I = 1,207,959,552 -> 1.862 GFLOP a layer
    per_layer = 603_979_776 + 50_331_648 + 1_207_959_552
    assert gflop(layers, hidden, inter, 1, 128) == pytest.approx(layers * per_layer / 1e9)
    assert gflop(layers, hidden, inter, 1, 128) == pytest.approx(expected, abs=0.01)
    assert gflop(layers, hidden, inter, 8, 128) == pytest.approx(8 * expected, abs=0.1)  # linear in batch


def test_categories():
    assert [category(op) for op in ("MatMul", "DynamicQuantizeMatMul", "Attention", "SkipLayerNormalization",
                                    "BiasGelu", "DynamicQuantizeLinear", "Gather", "FullyConnected", "MVN",
                                    "aten::addmm", "aten::softmax")] == [
        "GEMM", "GEMM", "attention", "normalisation", "activation", "quantise", "other", "GEMM",
        "normalisation", "GEMM", "attention"]


def test_a_preempted_run_is_left_out_of_the_profile():
    assert typical_runs([10.0, 10.5, 9.8, 31.0, 10.1]) == [0, 1, 2, 4]
    per_run = [{"MatMul": 8.0, "Softmax": 2.0}] * 4 + [{"MatMul": 28.0, "Softmax": 2.0}]
    prof = summarise_runs(per_run, [10.2, 10.1, 10.3, 10.0, 30.5], "test")
    assert prof["runs"] == 4 and prof["runs_dropped"] == 1
    assert prof["total_ms"] == pytest.approx(10.0) and prof["by_op"] == {"MatMul": 8.0, "Softmax": 2.0}
    assert prof["wall_ms"] == pytest.approx(10.15)


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_profile_ops_sum_to_the_rows_latency(capsys, minilm, tmp_path, fmt):
    """Real MiniLM at s128 (~10-30 ms a run): the size the claim is about, where per-call overhead is small."""
    assert run_cli(capsys, "export", minilm, "--format", fmt, "--out", tmp_path / "b").code == 0
    # The row's p50 and the profile are measured one after the other, and this shared VM flips between speed states
    # minutes apart (the same onnx-int8 model at ~22 and ~29 ms today): a cross-phase comparison gets three tries,
    # each a fresh row. The checks inside one phase apply to every try.
    misses = []
    for attempt in range(3):
        out = tmp_path / f"rows{attempt}.jsonl"
        res = run_cli(capsys, "bench", tmp_path / "b", "--profile", "--seq", "128", "--threads", "2", "--runs", "30",
                      "--min-seconds", "1", "--out", out)
        assert res.code == 0, res.err
        (row,) = read_rows(out)
        prof = row["profile"]
        assert sum(prof["by_category"].values()) == pytest.approx(prof["total_ms"], abs=1e-3)
        # the ops account for the profiled runs' time ...
        assert abs(prof["total_ms"] - prof["wall_ms"]) / prof["wall_ms"] < 0.10, (prof["total_ms"], prof["wall_ms"])
        assert prof["overhead_pct"] == pytest.approx(100 * (prof["wall_ms"] / row["p50_ms"] - 1), abs=0.1)
        # ... and for the row's latency, within what profiling itself costs: ONNX Runtime's profiler adds 8-9 us a
        # kernel (MiniLM, 254 kernels: 16.3 -> 18.4 ms), its ops' sum measured 1.06-1.10x the unprofiled p50
        if abs(prof["total_ms"] - row["p50_ms"]) / row["p50_ms"] < 0.15:
            break
        misses.append((prof["total_ms"], row["p50_ms"]))
    else:
        pytest.fail(f"ops' sum vs the row's p50 (ms), three fresh rows: {misses}")
    assert prof["by_category"]["GEMM"] > 0.3 * prof["total_ms"]  # BERT's time is mostly in its GEMMs
    assert row["gflop"] == pytest.approx(gflop(6, 384, 1536, 1, 128), rel=1e-3)
    assert row["gflops_achieved"] == pytest.approx(row["gflop"] / (row["p50_ms"] / 1e3), rel=1e-2)
    assert row["fp32_peak_gflops"] > 1
    res = run_cli(capsys, "report", out, "--out", tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Where the time goes" in md and f"| {prof['wall_ms']:.1f} ({prof['overhead_pct']:+.0f}%) |" in md and (tmp_path / "rep" / "profile.png").is_file()


def test_runtimes_without_a_profiler_say_so(capsys, tiny_bert, tmp_path):
    assert run_cli(capsys, "export", tiny_bert, "--format", "tflite", "--out", tmp_path / "t").code == 0
    out = tmp_path / "rows.jsonl"
    res = run_cli(capsys, "bench", tmp_path / "t", "--profile", "--seq", "16", "--runs", "3", "--min-seconds", "0",
                  "--threads", "1", "--out", out)
    assert res.code == 0, res.err
    (row,) = read_rows(out)
    assert row["profile"]["source"].startswith("unavailable: ai-edge-litert's Python API exposes no op profiler")
    assert json.loads(json.dumps(row))["gflop"] > 0
