"""Cross-check edgebert's OpenVINO p50 against OpenVINO's own benchmark_app on the same IR, shape and threads.

Tiny model by default (a smoke test: at sub-millisecond latencies Python call overhead dominates, so the 15%
agreement is asserted only at full size). Full: EDGEBERT_BENCH_FULL=1 python -m pytest benchmarks -k benchmark_app
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.conftest import FULL, SEQ, THREADS, _model

pytest.importorskip("openvino")


def _benchmark_app() -> str | None:
    return shutil.which("benchmark_app") or shutil.which("benchmark_app", path=str(Path(sys.executable).parent))


def parse_median_ms(output: str) -> float:
    """The 'Median:' latency that benchmark_app prints in its Latency block (in ms, or us for fast models)."""
    match = re.search(r"Latency:\s*\n(?:.*\n)*?.*Median:\s*([0-9.]+)\s*(ms|us)", output)
    if not match:
        raise ValueError("no median latency in benchmark_app output")
    return float(match.group(1)) / (1000.0 if match.group(2) == "us" else 1.0)


def test_parse_median():
    text = "[ INFO ] Count: 100\n[ INFO ] Latency:\n[ INFO ]    Median:     12.34 ms\n[ INFO ]    Average: 12.5 ms\n"
    assert parse_median_ms(text) == 12.34
    assert parse_median_ms(text.replace("12.34 ms", "250.00 us")) == 0.25


@pytest.mark.skipif(_benchmark_app() is None, reason="benchmark_app not on PATH")
def test_p50_agrees_with_benchmark_app(benchmark, tmp_path):
    import edgebert
    from edgebert.export import export_model
    from edgebert.formats.base import ExportOptions
    from edgebert.inputs import bench_feed

    arch = "distilbert-base-uncased"
    export_model(_model(arch), "openvino", tmp_path / "ov", ExportOptions(static_shape=True, seq_lens=[SEQ]))
    xml = tmp_path / "ov" / f"model-s{SEQ}.xml"
    predictor = edgebert.load(tmp_path / "ov", threads=THREADS)
    feed = bench_feed(1, SEQ, 30522, predictor.bundle.input_names)
    benchmark.pedantic(predictor.runner.run, args=(feed,), rounds=50 if FULL else 200, warmup_rounds=10, iterations=1)
    ours = benchmark.stats.stats.median * 1e3
    shape = ",".join(f"{n}[1,{SEQ}]" for n in predictor.bundle.input_names)
    # -nthreads needs -hint none; one stream = one request at a time, like edgebert's latency runner
    cmd = [_benchmark_app(), "-m", str(xml), "-d", "CPU", "-hint", "none", "-nthreads", str(THREADS), "-nstreams", "1",
           "-nireq", "1", "-api", "sync", "-shape", shape, "-t", "10" if FULL else "3", "-infer_precision", "f32"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    theirs = parse_median_ms(out.stdout + out.stderr)
    benchmark.extra_info.update({"edgebert_p50_ms": ours, "benchmark_app_median_ms": theirs, "ratio": ours / theirs,
                                 "seq_len": SEQ, "threads": THREADS, "full_size": FULL})
    print(f"edgebert p50 {ours:.2f} ms vs benchmark_app median {theirs:.2f} ms (ratio {ours / theirs:.3f})")
    if FULL:
        assert abs(ours / theirs - 1) <= 0.15
