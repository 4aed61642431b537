"""What the harness itself costs per timed run (two clock reads and the loop), on an empty call: recorded in
extra_info as `overhead_us`, not asserted (a shared CPU makes any bound a guess). tests/test_bench.py checks,
with a fake clock, that nothing but the call falls inside a timed interval."""
from __future__ import annotations

from edgebert.bench.harness import measure


def test_harness_overhead_per_run(benchmark):
    lat = benchmark.pedantic(measure, args=(lambda: None,), kwargs={"warmup": 100, "min_runs": 20_000,
                                                                    "min_seconds": 0.0}, rounds=1, iterations=1)
    assert lat.runs == 20_000
    benchmark.extra_info.update({"overhead_us": lat.mean_ms * 1e3, "p50_us": lat.p50_ms * 1e3})
