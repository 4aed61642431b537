"""pytest-benchmark suites for every runner. Default: tiny models (a smoke test that runs in CI).

Full size:  EDGEBERT_BENCH_FULL=1 python -m pytest benchmarks --benchmark-json=benchmarks/results/full.json
Ratios are computed from timings taken in the same run and stored in each benchmark's extra_info; the asserts are on
what was run (rounds, output shape), never on a time.
"""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import ARCHS, FULL, SEQ, THREADS
from edgebert.formats import FORMATS
from edgebert.inputs import bench_call

ROUNDS = 30 if FULL else 20
_p50: dict[tuple[str, str], float] = {}


def _bench(benchmark, runner, vocab_size: int, names: list[str], key: tuple[str, str]) -> np.ndarray:
    """Time the runner on one (1, SEQ) input; returns its output for the caller's checks."""
    call = bench_call(runner, 1, SEQ, vocab_size, names)
    benchmark.pedantic(call, rounds=ROUNDS, warmup_rounds=3, iterations=1)
    _p50[key] = benchmark.stats.stats.median
    benchmark.extra_info.update({"seq_len": SEQ, "batch": 1, "threads": THREADS, "full_size": FULL})
    assert benchmark.stats.stats.rounds == ROUNDS
    return np.asarray(call())


def test_pytorch_runner(benchmark, model):
    from edgebert.runtimes.torch_eager import TorchRunner

    runner = TorchRunner(model, "cpu", THREADS)
    out = _bench(benchmark, runner, model.vocab_size, model.input_names, (model.source.spec, "pytorch"))
    assert out.shape == (1, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.endswith("-static")])
@pytest.mark.parametrize("arch", ARCHS)
def test_bundle_runner(benchmark, bundles, arch, fmt):
    import edgebert

    if (arch, fmt) not in bundles:
        pytest.skip(f"{fmt} exporter not installed")
    predictor = edgebert.load(bundles[(arch, fmt)], threads=THREADS)
    out = _bench(benchmark, predictor.runner, predictor.bundle.manifest["vocab_size"], predictor.bundle.input_names,
                 (arch, fmt))
    assert out.shape == (1, 2) and np.isfinite(out).all()  # the classifier's two logits for the one sequence
    base = _p50.get(("bert-base-uncased", "pytorch"))
    if base:
        benchmark.extra_info["speedup_vs_bert_base_pytorch"] = base / _p50[(arch, fmt)]
    same = _p50.get(("bert-base-uncased", fmt))
    if arch != "bert-base-uncased" and same:
        benchmark.extra_info["latency_vs_bert_base_same_runtime"] = _p50[(arch, fmt)] / same
