"""Every export format: one module each, listed in FORMATS. Adding a format = one module + one line here."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from edgebert.errors import UsageError

ORT_APPS = "ONNX Runtime Mobile (onnxruntime-android, onnxruntime-objc / onnxruntime-c pods)"


@dataclass(frozen=True)
class FormatSpec:
    """A format's name, the module implementing export()/load(), and what it needs installed."""

    name: str
    module: str
    description: str
    lossy: bool = False  # gated on agreement/cosine instead of max-abs
    export_extra: str = "onnx"  # pip extra needed to export
    runtime_extra: str = "runtime"  # pip extra needed to run the bundle on a device
    runtime: str = "onnxruntime"  # the runtime that runs the bundle (recorded in bench rows)
    runtime_modules: tuple[str, ...] = ("onnxruntime",)  # imported before a bench's RSS baseline
    export_modules: tuple[str, ...] = ("torch", "transformers", "onnx", "onnxruntime")
    app_sdk: str = ORT_APPS  # what consumes the bundle inside a mobile/edge app
    in_suite: bool = True  # the efficiency suite exports it unless formats are named

    def impl(self) -> ModuleType:
        return importlib.import_module(self.module)


_OPENVINO = dict(export_extra="openvino", runtime_extra="runtime-openvino", runtime="openvino",
                 runtime_modules=("openvino",), export_modules=("torch", "transformers", "onnx", "openvino"),
                 app_sdk="OpenVINO Runtime (C/C++, Python; Linux, Windows, macOS, ARM64)")
_TFLITE = dict(export_extra="tflite", runtime="ai-edge-litert", runtime_modules=("ai_edge_litert",),
               export_modules=("torch", "transformers", "litert_torch", "ai_edge_quantizer", "ai_edge_litert"),
               app_sdk="LiteRT / TensorFlow Lite Interpreter (Android, iOS, C++), tensors in and out")
_MEDIAPIPE = {**_TFLITE, "export_extra": "mediapipe",
              "export_modules": _TFLITE["export_modules"] + ("mediapipe",),
              "app_sdk": "MediaPipe Tasks Text: TextClassifier / TextEmbedder load the file by path (Android "
                         "com.google.mediapipe:tasks-text, iOS MediaPipeTasksText, Python mediapipe)"}

_EXECUTORCH = dict(export_extra="executorch", runtime_extra="executorch", runtime="executorch",
                   runtime_modules=("executorch.runtime",), export_modules=("torch", "transformers", "executorch"),
                   app_sdk="ExecuTorch with XNNPACK (Android org.pytorch:executorch-android, iOS ExecuTorch Swift "
                           "package)")

_SPECS = (
    FormatSpec("onnx", "edgebert.formats.onnx", "ONNX fp32, dynamic batch/sequence"),
    FormatSpec("onnx-opt", "edgebert.formats.onnx_opt",
               "ONNX fp32 + ONNX Runtime transformer fusions (counts in the manifest)"),
    FormatSpec("onnx-int8", "edgebert.formats.onnx_int8",
               "dynamic INT8 (int8 weights, run-time activation quantisation), per-CPU preset", lossy=True),
    FormatSpec("onnx-int8-static", "edgebert.formats.onnx_int8_static",
               "static QDQ INT8 calibrated on text (--calibration-text)", lossy=True, in_suite=False),
    FormatSpec("onnx-fp16", "edgebert.formats.onnx_fp16", "fp16 weights/compute, fp32 I/O, for GPUs", lossy=True),
    FormatSpec("onnx-text", "edgebert.formats.onnx_text",
               "text in, answer out: the tokenizer inside the graph (onnxruntime-extensions BertTokenizer op)",
               export_modules=("torch", "transformers", "onnx", "onnxruntime", "onnxruntime_extensions"),
               runtime_modules=("onnxruntime", "onnxruntime_extensions"),
               app_sdk=f"{ORT_APPS} + onnxruntime-extensions (Android/iOS packages): raw strings in"),
    FormatSpec("onnx-mobile", "edgebert.formats.ort_mobile",
               "ORT format (.ort, Fixed optimizations, ARM target) + required_operators.config for minimal builds"),
    FormatSpec("onnx-mobile-int8", "edgebert.formats.ort_mobile_int8",
               "onnx-mobile with dynamic INT8 (arm64 preset unless --target)", lossy=True),
    FormatSpec("openvino", "edgebert.formats.openvino", "OpenVINO IR fp32 (dynamic, or --static-shape)", **_OPENVINO),
    FormatSpec("openvino-fp16", "edgebert.formats.openvino_fp16", "OpenVINO IR, fp16-compressed weights",
               lossy=True, **_OPENVINO),
    FormatSpec("openvino-int8", "edgebert.formats.openvino_int8",
               "OpenVINO IR, NNCF post-training INT8 (weights + activations)", lossy=True,
               **{**_OPENVINO, "export_modules": ("torch", "transformers", "onnx", "openvino", "nncf")}),
    FormatSpec("tflite", "edgebert.formats.tflite", "TFLite fp32, static --seq-len, batch 1 (ai-edge-litert)",
               **_TFLITE),
    FormatSpec("tflite-fp16", "edgebert.formats.tflite_fp16", "TFLite, fp16 weights", lossy=True, **_TFLITE),
    FormatSpec("tflite-int8", "edgebert.formats.tflite_int8", "TFLite, dynamic-range int8 weights", lossy=True,
               **_TFLITE),
    FormatSpec("executorch", "edgebert.formats.executorch",
               "ExecuTorch .pte, XNNPACK delegate, batch 1, dynamic sequence (bounded by max positions)", **_EXECUTORCH),
    FormatSpec("executorch-int8", "edgebert.formats.executorch_int8",
               "ExecuTorch .pte, XNNPACK, dynamic per-channel int8 Linear layers (pt2e)", lossy=True, **_EXECUTORCH),
    FormatSpec("tflite-mediapipe", "edgebert.formats.mediapipe",
               "TFLite + MediaPipe metadata (tokenizer, labels; softmax/pooling inside), fixed --seq-len", **_MEDIAPIPE),
    FormatSpec("tflite-mediapipe-int8", "edgebert.formats.mediapipe_int8",
               "tflite-mediapipe with dynamic-range int8 weights", lossy=True, **_MEDIAPIPE),
)
FORMATS: dict[str, FormatSpec] = {spec.name: spec for spec in _SPECS}


def installed(spec: FormatSpec) -> bool:
    """Whether this machine can export the format (its exporter packages import)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in spec.export_modules)


def get_format(name: str) -> FormatSpec:
    if name not in FORMATS:
        raise UsageError(f"Unknown format '{name}'. Valid: {', '.join(FORMATS)}")
    return FORMATS[name]
