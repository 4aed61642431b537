"""ONNX Runtime runner, shared by every ONNX format. Runtime-only: imports onnxruntime and numpy, never torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebert.errors import BundleError, MissingRuntime, UsageError, first_line

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class OrtRunner:
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
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: "removing unused initializer" notes are not for users
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if custom_ops_library:  # onnxruntime-extensions' ops (the text-in format's tokenizer)
            opts.register_custom_ops_library(custom_ops_library)
        try:
            self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=wanted)
        except Exception as err:  # noqa: BLE001 - ORT raises several untyped errors for bad files
            msg = first_line(err)
            raise BundleError(f"onnxruntime could not load '{model_path}': {msg[:300]}") from err
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([self.output_name], {k: feed[k] for k in self.input_names})[0]
