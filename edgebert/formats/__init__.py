"""Every export format: one module each, listed in FORMATS. Adding a format = one module + one line here."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from edgebert.errors import UsageError


@dataclass(frozen=True)
class FormatSpec:
    """A format's name, the module implementing export()/load(), and what it needs installed."""

    name: str
    module: str
    export_extra: str  # pip extra needed to export
    runtime_extra: str  # pip extra needed to run the bundle on a device
    lossy: bool  # gated on agreement/cosine instead of max-abs
    description: str
    runtime: str = "onnxruntime"  # the runtime that runs the bundle (recorded in bench rows)
    runtime_modules: tuple[str, ...] = ("onnxruntime",)  # imported before a bench's RSS baseline
    export_modules: tuple[str, ...] = ("torch", "transformers", "onnx", "onnxruntime")

    def impl(self) -> ModuleType:
        return importlib.import_module(self.module)


_TFLITE_EXPORT = ("torch", "transformers", "litert_torch", "ai_edge_quantizer", "ai_edge_litert")

FORMATS: dict[str, FormatSpec] = {
    "onnx": FormatSpec("onnx", "edgebert.formats.onnx", "onnx", "runtime", False,
                       "ONNX fp32, dynamic batch/sequence"),
    "onnx-opt": FormatSpec("onnx-opt", "edgebert.formats.onnx_opt", "onnx", "runtime", False,
                           "ONNX fp32 + ONNX Runtime transformer fusions (counts in the manifest)"),
    "onnx-int8": FormatSpec("onnx-int8", "edgebert.formats.onnx_int8", "onnx", "runtime", True,
                            "dynamic INT8 (int8 weights, run-time activation quantisation), per-CPU preset"),
    "onnx-int8-static": FormatSpec("onnx-int8-static", "edgebert.formats.onnx_int8_static", "onnx", "runtime", True,
                                   "static QDQ INT8 calibrated on text (--calibration-text)"),
    "onnx-fp16": FormatSpec("onnx-fp16", "edgebert.formats.onnx_fp16", "onnx", "runtime", True,
                            "fp16 weights/compute, fp32 I/O, for GPUs"),
    "openvino": FormatSpec("openvino", "edgebert.formats.openvino", "openvino", "openvino", False,
                           "OpenVINO IR fp32 (dynamic, or --static-shape)", "openvino", ("openvino",),
                           ("torch", "transformers", "onnx", "openvino")),
    "openvino-fp16": FormatSpec("openvino-fp16", "edgebert.formats.openvino_fp16", "openvino", "openvino", True,
                                "OpenVINO IR, fp16-compressed weights", "openvino", ("openvino",),
                                ("torch", "transformers", "onnx", "openvino")),
    "openvino-int8": FormatSpec("openvino-int8", "edgebert.formats.openvino_int8", "openvino", "openvino", True,
                                "OpenVINO IR, NNCF post-training INT8 (weights + activations)", "openvino",
                                ("openvino",), ("torch", "transformers", "onnx", "openvino", "nncf")),
    "tflite": FormatSpec("tflite", "edgebert.formats.tflite", "tflite", "runtime", False,
                         "TFLite fp32, static --seq-len, batch 1 (ai-edge-litert)", "ai-edge-litert",
                         ("ai_edge_litert",), _TFLITE_EXPORT),
    "tflite-fp16": FormatSpec("tflite-fp16", "edgebert.formats.tflite_fp16", "tflite", "runtime", True,
                              "TFLite, fp16 weights", "ai-edge-litert", ("ai_edge_litert",), _TFLITE_EXPORT),
    "tflite-int8": FormatSpec("tflite-int8", "edgebert.formats.tflite_int8", "tflite", "runtime", True,
                              "TFLite, dynamic-range int8 weights", "ai-edge-litert", ("ai_edge_litert",),
                              _TFLITE_EXPORT),
}
# Formats the efficiency suite leaves out unless asked for: static INT8 needs the user's calibration text.
OPT_IN = ("onnx-int8-static",)


def installed(spec: FormatSpec) -> bool:
    """Whether this machine can export the format (its exporter packages import)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in spec.export_modules)


def get_format(name: str) -> FormatSpec:
    if name not in FORMATS:
        raise UsageError(f"Unknown format '{name}'. Valid: {', '.join(FORMATS)}")
    return FORMATS[name]
