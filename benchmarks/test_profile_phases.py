"""Where the profiled runs stand against the timed ones: the ops' sum and the profiled runs' wall time over the row's
p50, per runtime with a profiler. The two phases run one after the other, and a shared VM changes speed between
them (the same onnx-int8 model measured ~22 and ~29 ms minutes apart), so the ratios are recorded, not asserted;
tests/test_profile.py asserts what holds inside one phase.

Full size: EDGEBERT_BENCH_FULL=1 python -m pytest benchmarks -k profile_phases --benchmark-json=phases.json
"""
from __future__ import annotations

import pytest

from benchmarks.conftest import ARCHS, SEQ, THREADS


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
@pytest.mark.parametrize("arch", ARCHS)
def test_profiled_runs_against_the_timed_p50(benchmark, bundles, tmp_path, arch, fmt):
    from edgebert.bench.rows import read_rows
    from edgebert.bench.spec import Target
    from edgebert.bench.sweep import SweepConfig, run_sweep

    if (arch, fmt) not in bundles:
        pytest.skip(f"{fmt} exporter not installed")
    cfg = SweepConfig(seq_lens=[SEQ], threads=THREADS, warmup=3, min_runs=30, min_seconds=1.0, profile=True)
    out = tmp_path / "rows.jsonl"
    benchmark.pedantic(run_sweep, args=([Target("bundle", str(bundles[(arch, fmt)]))], cfg, out),
                       kwargs={"show_progress": False}, rounds=1, iterations=1)
    (row,) = read_rows(out)
    assert row.ok and row.profile["by_category"], row.reason
    prof = row.profile
    benchmark.extra_info.update({"p50_ms": row.p50_ms, "ops_sum_ms": prof["total_ms"], "wall_ms": prof["wall_ms"],
                                 "ops_sum_over_p50": prof["total_ms"] / row.p50_ms, "overhead_pct": prof["overhead_pct"],
                                 "seq_len": SEQ, "threads": THREADS})
