"""One bench row in a fresh process: `python -m edgebert.bench.worker ROW_JSON < spec.json`.

The worker reads a RowSpec, imports the runtime, records its RSS (the baseline), loads the target, warms up, times
runs, and writes the finished Row (identity, machine and measurements) to ROW_JSON. A crash (even os.abort) leaves
no file; the parent records that.
"""
from __future__ import annotations

import gc
import importlib
import json
import resource
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from edgebert.bench.harness import measure
from edgebert.bench.rows import Row, start_row
from edgebert.bench.spec import RowSpec, Target
from edgebert.device_info import machine_fields
from edgebert.errors import BundleError, first_line

MB = 1e6
# Profiled runs, after the timed ones: about two seconds' worth, at least 3 (opprofile.typical_runs needs a median
# to tell a preempted run from the rest) and at most 20 (a fast model's profile then stays short, and ONNX
# Runtime's trace file small).
PROFILE_SECONDS = 2.0
PROFILE_MIN_RUNS, PROFILE_MAX_RUNS = 3, 20


def profile_runs(p50_ms: float) -> int:
    """How many runs to profile for a model whose timed p50 was `p50_ms`."""
    return max(PROFILE_MIN_RUNS, min(PROFILE_MAX_RUNS, int(PROFILE_SECONDS * 1e3 / max(p50_ms, 1.0))))


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


@dataclass
class Loaded:
    """A target ready to time, and what the row learns only by loading it."""

    runner: Any  # edgebert.runner.Runner
    vocab_size: int  # random ids are drawn below it
    input_names: list[str]
    fields: dict[str, Any]  # row fields: the runtime version as loaded, the golden check, size and parameters
    answerer: Callable[[str], Any] | None = None  # text to answer (bench --texts)
    shape: tuple[int, int, int] | None = None  # (layers, hidden, intermediate), for the GFLOP count
    attention: int | None = None  # Q/K/V width of a head-pruned model (kept heads x head size); None: the hidden size


class TargetLoader:
    """Loads what production rows measure: a bundle (files verified, golden set run) or a model in eager PyTorch."""

    def prepare(self, target: Target) -> None:
        """Before the RSS baseline: verify a bundle's files and import its runtime, so neither counts as the model's."""
        if target.kind == "bundle":
            from edgebert.bundle import Bundle
            from edgebert.formats import get_format

            modules = get_format(Bundle.open(target.ref, verify=True).format).runtime_modules
        else:
            modules = ("torch", "transformers")
        for name in modules:
            importlib.import_module(name)

    def load(self, target: Target, device: str, threads: int) -> Loaded:
        return (_load_bundle if target.kind == "bundle" else _load_model)(target, device, threads)


def _load_bundle(target: Target, device: str, threads: int) -> Loaded:
    from edgebert.bench.texts import BundleAnswerer
    from edgebert.golden import check
    from edgebert.runtime import load

    predictor = load(target.ref, device=device, threads=threads, verify=False)
    manifest = predictor.bundle.manifest
    if not manifest.get("vocab_size"):
        raise BundleError(f"Bundle '{target.ref}' records no vocab_size in its manifest. Fix: export it again")
    arch = manifest.get("architecture") or {}
    shape = (arch.get("layers"), arch.get("hidden"), arch.get("intermediate"))
    # Outputs first, then speed: a device whose outputs are wrong must not yield a plain latency.
    result = check(predictor.bundle, predictor.runner)
    fields = {"runtime_version": predictor.runner.runtime_version, "golden": result.status,
              "golden_max_abs": result.max_abs, "golden_mean_cosine": result.mean_cosine,
              "golden_agreement": result.agreement, "golden_reason": result.reason}
    return Loaded(predictor.runner, int(manifest["vocab_size"]), predictor.bundle.input_names, fields,
                  BundleAnswerer(predictor), shape if all(shape) else None, arch.get("attention"))


def _load_model(target: Target, device: str, threads: int) -> Loaded:
    from edgebert.arch import attention_width, model_shape
    from edgebert.bench.texts import TorchAnswerer
    from edgebert.models import load_model
    from edgebert.runtimes.torch_eager import TorchRunner, weights_mb

    model = load_model(target.ref, random_weights=target.random_weights, task=target.task)
    runner = TorchRunner(model, device, threads)
    fields = {"parameters": model.parameters, "file_mb": round(weights_mb(model.module), 3),
              "runtime_version": runner.runtime_version, "golden": "reference"}
    config = model.module.config.to_dict()
    return Loaded(runner, model.vocab_size, model.input_names, fields, TorchAnswerer(model, runner),
                  model_shape(config), attention_width(config))


def _profile(spec: RowSpec, loaded: Loaded, p50_ms: float) -> dict[str, Any]:
    """After timing: the runtime's per-op profile, the shape's GFLOP and achieved GFLOP/s vs the fp32 GEMM peak."""
    from edgebert.arch import gflop
    from edgebert.inputs import bench_feed
    from edgebert.opprofile import fp32_peak_gflops

    fields: dict[str, Any] = {"fp32_peak_gflops": round(fp32_peak_gflops(0.5), 1)}
    runner = loaded.runner
    feed = bench_feed(spec.batch, spec.seq_len, loaded.vocab_size, loaded.input_names)
    prof = None if runner.takes_text else runner.profile(feed, runs=profile_runs(p50_ms))
    if prof is not None:
        fields["profile"] = prof
        if prof.get("wall_ms"):  # what profiling itself costs: ONNX Runtime's profiler ~8 us a node (+13% on MiniLM)
            prof["overhead_pct"] = round(100 * (prof["wall_ms"] / p50_ms - 1), 1)
    else:
        fields["profile"] = {"source": f"unavailable: {getattr(runner, 'runtime', '?')}'s Python API exposes no "
                                       "op profiler"}
    if loaded.shape:
        fields["gflop"] = round(gflop(*loaded.shape, spec.batch, spec.seq_len, attention=loaded.attention), 4)
        fields["gflops_achieved"] = round(fields["gflop"] / (p50_ms / 1e3), 2)
    return fields


def _time(spec: RowSpec, loaded: Loaded) -> dict[str, Any]:
    """The timed fields: random ids of the row's shape, or each text answered one request at a time."""
    if spec.texts:
        from edgebert.bench.texts import measure as measure_texts

        if loaded.answerer is None:
            raise ValueError("text-to-answer needs a bundle or a model with a tokenizer")
        return measure_texts(loaded.answerer, list(spec.texts), spec.warmup, spec.min_seconds)
    from edgebert.inputs import bench_call

    fn = bench_call(loaded.runner, spec.batch, spec.seq_len, loaded.vocab_size, loaded.input_names)
    return measure(fn, warmup=spec.warmup, min_runs=spec.min_runs, min_seconds=spec.min_seconds).to_fields(spec.batch)


def run_row(spec: RowSpec, loader: Any) -> Row:
    """Measure one row: the runtime's baseline RSS, load, warm-up and timed runs, peak RSS, the optional profile."""
    row = start_row(spec, machine_fields())
    loader.prepare(spec.target)
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    loaded = loader.load(spec.target, spec.device, spec.threads)
    load_ms = (time.perf_counter() - start) * 1e3
    timed = _time(spec, loaded)
    peak = peak_rss_mb()
    if spec.profile and not spec.texts:
        timed.update(_profile(spec, loaded, timed["p50_ms"]))
    return replace(row, **{**loaded.fields, **timed, "status": "ok", "reason": "", "load_ms": round(load_ms, 2),
                           "warmup": spec.warmup, "rss_before_mb": round(before, 2), "peak_rss_mb": round(peak, 2),
                           "model_rss_mb": round(peak - before, 2)})


def main(loader: Any = None) -> None:
    """Read a RowSpec on stdin and write its Row to the file named by the one argument. `loader`: TargetLoader
    (the tests run this with a loader of their own, from their own entry point)."""
    spec = RowSpec.from_json(sys.stdin.read())
    result_path = Path(sys.argv[1])
    try:
        row = run_row(spec, loader or TargetLoader())
    except Exception as exc:  # noqa: BLE001 - any failure becomes a failed row, the sweep goes on
        row = replace(start_row(spec, machine_fields()), reason=f"{type(exc).__name__}: {first_line(exc)}")
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row.to_dict()))
    tmp.replace(result_path)


if __name__ == "__main__":
    main()
