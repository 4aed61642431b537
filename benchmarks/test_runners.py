"""pytest-benchmark suites for every runner. Default: tiny models (a smoke test that runs in CI).

Full size:  EDGEBERT_BENCH_FULL=1 python -m pytest benchmarks --benchmark-json=benchmarks/results/full.json
Ratios are computed from timings taken in the same run and stored in each benchmark's extra_info.
"""
from __future__ import annotations

import pytest

from benchmarks.conftest import ARCHS, FULL, SEQ, THREADS
from edgebert.formats import FORMATS
from edgebert.inputs import bench_call, bench_feed

ROUNDS = 30 if FULL else 20
_p50: dict[tuple[str, str], float] = {}


def _bench(benchmark, runner, names, key):
    benchmark.pedantic(bench_call(runner, 1, SEQ, 30522, names), rounds=ROUNDS, warmup_rounds=3, iterations=1)
    _p50[key] = benchmark.stats.stats.median
    benchmark.extra_info.update({"seq_len": SEQ, "batch": 1, "threads": THREADS, "full_size": FULL})


def test_pytorch_runner(benchmark, model):
    from edgebert.runtimes.torch_eager import TorchRunner

    runner = TorchRunner(model, "cpu", THREADS)
    _bench(benchmark, runner, model.input_names, (model.source.spec, "pytorch"))
    out = runner.run(bench_feed(1, SEQ, 30522, model.input_names))
    assert out.shape == (1, 2)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.endswith("-static")])
@pytest.mark.parametrize("arch", ARCHS)
def test_bundle_runner(benchmark, bundles, arch, fmt):
    import edgebert

    if (arch, fmt) not in bundles:
        pytest.skip(f"{fmt} exporter not installed")
    predictor = edgebert.load(bundles[(arch, fmt)], threads=THREADS)
    _bench(benchmark, predictor.runner, predictor.bundle.input_names, (arch, fmt))
    base = _p50.get(("bert-base-uncased", "pytorch"))
    if base:
        benchmark.extra_info["speedup_vs_bert_base_pytorch"] = base / _p50[(arch, fmt)]
    same = _p50.get(("bert-base-uncased", fmt))
    if arch != "bert-base-uncased" and same:
        benchmark.extra_info["latency_vs_bert_base_same_runtime"] = _p50[(arch, fmt)] / same
