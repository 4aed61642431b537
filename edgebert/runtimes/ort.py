"""ONNX Runtime runner, shared by every ONNX format. Runtime-only: imports onnxruntime and numpy, never torch."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import BundleError, MissingRuntime, UsageError, first_line
from edgebert.runner import Runner

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def session_options(threads: int | None, custom_ops_library: str | None, profile_prefix: str | None = None) -> Any:
    """Full graph optimisation, errors-only logging, fixed threads, the extensions' ops when the graph uses them."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: "removing unused initializer" notes are not for users
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if custom_ops_library:  # onnxruntime-extensions' ops (the text-in format's tokenizer)
        opts.register_custom_ops_library(custom_ops_library)
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return opts


class OrtRunner(Runner):
    """One InferenceSession, built once; threads fixed so measurements are repeatable."""

    runtime = "onnxruntime"

    def __init__(self, model_path: Path, device: str = "cpu", threads: int | None = None,
                 custom_ops_library: str | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise MissingRuntime("onnxruntime", "runtime") from err
        self.runtime_version = ort.__version__
        self.device = device
        wanted = PROVIDERS.get(device)
        if wanted is None:
            raise UsageError(f"Unknown device '{device}' for onnxruntime. Valid: {', '.join(PROVIDERS)}")
        available = ort.get_available_providers()
        if wanted[0] not in available:
            raise UsageError(f"{wanted[0]} is not available in this onnxruntime (available: {', '.join(available)}). "
                             "Fix: pip install onnxruntime-gpu on a CUDA machine, or use --device cpu")
        opts = session_options(threads, custom_ops_library)
        providers: list = list(wanted)
        if device == "tensorrt" and os.environ.get("EDGEBERT_TRT_CACHE"):
            # engines are built per input shape (tens of seconds for BERT-base): cache them across processes
            providers[0] = ("TensorrtExecutionProvider", {"trt_engine_cache_enable": "True",
                                                          "trt_engine_cache_path": os.environ["EDGEBERT_TRT_CACHE"]})
        try:
            self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=providers)
        except Exception as err:  # noqa: BLE001 - ORT raises several untyped errors for bad files
            msg = first_line(err)
            raise BundleError(f"onnxruntime could not load '{model_path}': {msg[:300]}") from err
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        self._model_path, self._threads, self._custom, self._providers = model_path, threads, custom_ops_library, providers

    def profile(self, feed: dict[str, np.ndarray], runs: int) -> dict[str, Any] | None:
        """Per-op time from ONNX Runtime's own profiler: a profiling session, one warm-up run, then `runs` runs
        whose node events are kept (those inside the timed model_run windows), run by run; preempted runs are left
        out (`typical_runs`)."""
        import bisect
        import json
        import tempfile

        import onnxruntime as ort

        from edgebert.opprofile import summarise_runs

        with tempfile.TemporaryDirectory(prefix="edgebert-prof-") as tmp:
            opts = session_options(self._threads, self._custom, str(Path(tmp) / "ort"))
            sess = ort.InferenceSession(str(self._model_path), sess_options=opts, providers=self._providers)
            inputs = {k: feed[k] for k in self.input_names}
            for _ in range(runs + 1):
                sess.run([self.output_name], inputs)
            events = json.loads(Path(sess.end_profiling()).read_text())
        windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[-runs:]
        per_window: list[dict[str, float]] = [{} for _ in windows]
        starts = [a for a, _ in windows]
        for e in events:
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
                i = bisect.bisect_right(starts, e["ts"]) - 1
                if i >= 0 and e["ts"] <= windows[i][1]:
                    op = e.get("args", {}).get("op_name", "?")
                    per_window[i][op] = per_window[i].get(op, 0.0) + e["dur"] / 1e3
        walls = [(b - a) / 1e3 for a, b in windows]
        return summarise_runs(per_window, walls, f"onnxruntime {ort.__version__} profiler")

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([self.output_name], {k: feed[k] for k in self.input_names})[0]
