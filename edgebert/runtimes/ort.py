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


def session_options(threads: int | None, custom_ops_library: str | None, profile_prefix: str | None = None,
                    config: dict[str, str] | None = None) -> Any:
    """Full graph optimisation, errors-only logging, fixed threads, the extensions' ops when the graph uses them,
    and the session config entries the bundle's manifest carries (`session_config`, chosen by measurement)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: "removing unused initializer" notes are not for users
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if custom_ops_library:  # onnxruntime-extensions' ops (the text-in format's tokenizer)
        opts.register_custom_ops_library(custom_ops_library)
    for key, value in (config or {}).items():
        opts.add_session_config_entry(key, str(value))
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return opts


class OrtRunner(Runner):
    """One InferenceSession, built once; threads fixed so measurements are repeatable."""

    runtime = "onnxruntime"

    def __init__(self, model_path: Path, device: str = "cpu", threads: int | None = None,
                 custom_ops_library: str | None = None, config: dict[str, str] | None = None) -> None:
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
        opts = session_options(threads, custom_ops_library, config=config)
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
        self._config = config

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
            opts = session_options(self._threads, self._custom, str(Path(tmp) / "ort"), self._config)
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


class StaticOrtRunner(Runner):
    """Static-shape ONNX: one session per bucket, each fixed at batch 1. Every row of a batch runs alone at the
    smallest bucket its own tokens fit (its attention mask's length), so a short text never pays a long batchmate's
    bucket; outputs come back in the batch's shape."""

    runtime = "onnxruntime"

    def __init__(self, buckets: dict[int, OrtRunner]) -> None:
        self._buckets = dict(sorted(buckets.items()))
        first = next(iter(self._buckets.values()))
        self.runtime_version, self.device, self.input_names = first.runtime_version, first.device, first.input_names

    def _row(self, feed: dict[str, np.ndarray], i: int, at: int | None = None
             ) -> tuple[OrtRunner, dict[str, np.ndarray], int]:
        """Row i cut to its own length and padded to its bucket (or to `at`): (that bucket's session, the feed,
        its length)."""
        from edgebert.runner import pad_feed, pick_length

        mask = feed.get("attention_mask")
        n = int(mask[i].sum()) if mask is not None else next(iter(feed.values())).shape[1]
        length = pick_length(list(self._buckets), n) if at is None else at
        if length not in self._buckets or length < n:
            raise UsageError(f"No static bucket {length} for a text of {n} tokens (buckets: "
                             f"{', '.join(map(str, self._buckets))})")
        return self._buckets[length], pad_feed({k: feed[k][i:i + 1, :n] for k in self.input_names}, length), n

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.run_bucket(feed, None)

    def run_bucket(self, feed: dict[str, np.ndarray], length: int | None) -> np.ndarray:
        """Each row at bucket `length`, or (None) at the smallest its own tokens fit."""
        width = next(iter(feed.values())).shape[1]
        outs = []
        for i in range(next(iter(feed.values())).shape[0]):
            runner, row, n = self._row(feed, i, length)
            out = runner.run(row)
            if out.ndim == 3:  # encoders (1, bucket, H): the text's own tokens, zero-padded to the batch's width
                out = np.pad(out[:, :n], ((0, 0), (0, max(width - n, 0)), (0, 0)))[:, :width]
            outs.append(out)
        return np.concatenate(outs)

    def profile(self, feed: dict[str, np.ndarray], runs: int) -> dict[str, Any] | None:
        """The first row's bucket, profiled as the dynamic runner profiles its file."""
        runner, row, _ = self._row(feed, 0)
        return runner.profile(row, runs)
