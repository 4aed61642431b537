"""One bench row in a fresh process: `python -m edgebert.bench.worker < spec.json`.

The worker imports the runtime, records its RSS (the baseline), loads the model, warms up, times runs, and
writes one row to `spec["result_path"]`. A crash (even os.abort) leaves no file; the parent records that.
"""
from __future__ import annotations

import datetime as dt
import gc
import importlib
import json
import os
import platform
import resource
import socket
import sys
import time
from pathlib import Path
from typing import Any

from edgebert import __version__
from edgebert.bench.harness import measure
from edgebert.bench.targets import Target
from edgebert.errors import first_line

MB = 1e6


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def peak_rss_mb() -> float:
    """High-water RSS of this process.

    Linux: VmHWM from /proc/self/status. Not ru_maxrss: Linux carries the parent's high-water mark across
    fork+exec into it, so a worker spawned by a large parent would report the parent's peak as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / MB if sys.platform == "darwin" else peak * 1024 / MB


def machine_fields(spec: dict[str, Any]) -> dict[str, Any]:
    from edgebert.device_info import describe

    return {**describe(), "host": socket.gethostname(), "device": spec["device"],
            "device_label": spec.get("device_label") or "", "threads": spec["threads"],
            "batch": spec["batch"], "seq_len": spec["seq_len"], "repeat": spec.get("repeat", 0),
            "input": spec.get("input", "tensor"),
            "edgebert_version": __version__, "python": platform.python_version(),
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _load(target: Target, device: str, threads: int) -> tuple[Any, int, list[str], dict[str, Any], Any]:
    """Build the runner; return it with the vocab size, input names, identity fields known only after load, and
    a text-to-answer callable (None for Python runners)."""
    if target.kind == "python":
        module, func = target.ref.split(":")
        runner = getattr(importlib.import_module(module), func)()
        return runner, 30522, list(runner.input_names), {}, None
    if target.kind == "bundle":
        from edgebert.bench.texts import BundleAnswerer
        from edgebert.golden import check
        from edgebert.runtime import load

        predictor = load(target.ref, device=device, threads=threads, verify=False)
        vocab = _bundle_vocab(predictor.bundle.manifest)
        arch = predictor.bundle.manifest.get("architecture") or {}
        # Outputs first, then speed: a device whose outputs are wrong must not yield a plain latency.
        result = check(predictor.bundle, predictor.runner)
        return predictor.runner, vocab, predictor.bundle.input_names, {
            "runtime_version": predictor.runner.runtime_version, "golden": result.status,
            "golden_max_abs": result.max_abs, "golden_mean_cosine": result.mean_cosine,
            "golden_agreement": result.agreement, "golden_reason": result.reason,
            "_shape": (arch.get("layers"), arch.get("hidden"), arch.get("intermediate"))}, BundleAnswerer(predictor)
    from edgebert.arch import model_shape
    from edgebert.bench.texts import TorchAnswerer
    from edgebert.runtimes.torch_eager import TorchRunner, weights_mb
    from edgebert.models import load_model

    model = load_model(target.ref, random_weights=target.random_weights, task=target.task)
    runner = TorchRunner(model, device, threads)
    return runner, model.vocab_size, model.input_names, {
        "parameters": model.parameters, "file_mb": round(weights_mb(model.module), 3),
        "runtime_version": runner.runtime_version, "golden": "reference",
        "_shape": model_shape(model.module.config.to_dict())}, TorchAnswerer(model, runner)


def _profile(runner: Any, spec: dict[str, Any], vocab: int, names: list[str], shape: Any, p50_ms: float
             ) -> dict[str, Any]:
    """After timing: the runtime's per-op profile, the shape's GFLOP and achieved GFLOP/s vs the fp32 GEMM peak."""
    from edgebert.arch import gflop
    from edgebert.opprofile import fp32_peak_gflops
    from edgebert.inputs import bench_feed

    fields: dict[str, Any] = {"fp32_peak_gflops": round(fp32_peak_gflops(0.5), 1)}
    feed = bench_feed(spec["batch"], spec["seq_len"], vocab, names)
    prof = None if runner.takes_text else runner.profile(feed, runs=max(3, min(20, int(2000 / max(p50_ms, 1)))))
    if prof is not None:
        fields["profile"] = prof
        if prof.get("wall_ms"):  # what profiling itself costs: ONNX Runtime's profiler ~8 us a node (+13% on MiniLM)
            prof["overhead_pct"] = round(100 * (prof["wall_ms"] / p50_ms - 1), 1)
    else:
        fields["profile"] = {"source": f"unavailable: {getattr(runner, 'runtime', '?')}'s Python API exposes no "
                                       "op profiler"}
    if shape and all(shape):
        fields["gflop"] = round(gflop(*shape, spec["batch"], spec["seq_len"]), 4)
        fields["gflops_achieved"] = round(fields["gflop"] / (p50_ms / 1e3), 2)
    return fields


def _bundle_vocab(manifest: dict[str, Any]) -> int:
    return int(manifest.get("vocab_size") or 30522)


def _runtime_modules(target: Target) -> tuple[str, ...]:
    if target.kind == "bundle":
        from edgebert.bundle import Bundle
        from edgebert.formats import get_format

        return get_format(Bundle.open(target.ref, verify=False).format).runtime_modules
    return ("torch", "transformers") if target.kind == "model" else ()


def run_row(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one row; returns the row's measured fields (identity fields come from the parent)."""
    from edgebert.inputs import bench_call

    target = Target(**spec["target"])
    if target.kind == "bundle":
        from edgebert.bundle import Bundle

        Bundle.open(target.ref, verify=True)  # sha256 of every file, before the baseline is taken
    for name in _runtime_modules(target):
        importlib.import_module(name)
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    runner, vocab, names, extra, answerer = _load(target, spec["device"], spec["threads"])
    load_ms = (time.perf_counter() - start) * 1e3
    if spec.get("texts"):  # text to answer, one request at a time, at the texts' own lengths
        from edgebert.bench.texts import measure as measure_texts

        if answerer is None:
            raise ValueError("text-to-answer needs a bundle or a model with a tokenizer")
        timed = measure_texts(answerer, spec["texts"], spec["warmup"], spec["min_seconds"])
    else:
        fn = bench_call(runner, spec["batch"], spec["seq_len"], vocab, names)
        lat = measure(fn, warmup=spec["warmup"], min_runs=spec["min_runs"], min_seconds=spec["min_seconds"])
        timed = {"runs": lat.runs, **{k: round(getattr(lat, k), 4) for k in (
            "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms")},
                 "throughput_seq_s": round(spec["batch"] * 1e3 / lat.mean_ms, 3)}
    peak = peak_rss_mb()
    shape = extra.pop("_shape", None)
    if spec.get("profile") and not spec.get("texts"):
        timed.update(_profile(runner, spec, vocab, names, shape, timed["p50_ms"]))
    return {**machine_fields(spec), **extra, "status": "ok", "load_ms": round(load_ms, 2), "warmup": spec["warmup"],
            **timed, "rss_before_mb": round(before, 2), "peak_rss_mb": round(peak, 2),
            "model_rss_mb": round(peak - before, 2)}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    result_path = Path(spec["result_path"])
    try:
        row = run_row(spec)
    except Exception as exc:  # noqa: BLE001 - any failure becomes a failed row, the sweep goes on
        first = first_line(exc)
        row = {**machine_fields(spec), "status": "failed", "reason": f"{type(exc).__name__}: {first}"}
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    tmp.replace(result_path)


if __name__ == "__main__":
    main()
