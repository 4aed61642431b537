"""Every export format, declared once: a family module (how to export and load), the variant it exports (precision
or graph form), and what the format can do (Capabilities). Adding a format = one line here (plus a family module
when the runtime is new); callers ask `spec.caps`, never the runner.

Family modules import only numpy and edgebert at the top; torch, exporters and runtimes load inside functions,
so listing formats (or loading one on a device) never pulls in torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from edgebert.errors import UsageError
from edgebert.formats import executorch, onnx, onnx_mobile, onnx_text, openvino, tflite, tflite_mediapipe
from edgebert.formats.base import Capabilities, ExportOptions, ExportSession
from edgebert.runner import Runner

ORT_APPS = "ONNX Runtime Mobile (onnxruntime-android, onnxruntime-objc / onnxruntime-c pods)"


@dataclass(frozen=True)
class FormatSpec:
    """A format's name, its family and variant, what it can do, and what it needs installed."""

    name: str
    family: ModuleType
    variant: str  # fp32 | fp16 | int8 | opt | int8-static: passed to the family's export()
    description: str
    lossy: bool = False  # gated on agreement/cosine instead of max-abs
    caps: Capabilities = field(default_factory=Capabilities)
    export_extra: str = "onnx"  # pip extra needed to export
    runtime_extra: str = "runtime"  # pip extra needed to run the bundle on a device
    runtime: str = "onnxruntime"  # the runtime that runs the bundle (recorded in bench rows)
    runtime_modules: tuple[str, ...] = ("onnxruntime",)  # imported before a bench's RSS baseline
    export_modules: tuple[str, ...] = ("torch", "transformers", "onnx", "onnxruntime")
    app_sdk: str = ORT_APPS  # what consumes the bundle inside a mobile/edge app
    in_suite: bool = True  # the efficiency suite exports it unless formats are named

    def export(self, model: Any, work: Path, opts: ExportOptions, session: ExportSession) -> dict[str, Any]:
        """Write the artifact into `work`; returns the manifest fields the format adds."""
        return self.family.export(model, work, opts, session, self.variant)

    def load(self, bundle: Any, device: str = "cpu", threads: int | None = None) -> Runner:
        return self.family.load(bundle, device, threads)

    def fp32_groups(self, model: Any) -> list[str]:
        """Layer groups that may stay fp32 when the INT8 gate fails, in the order --fp32-layers auto tries them."""
        return self.family.fp32_groups(model, self.variant) if self.caps.fp32_fallback else []

    def layer_taps(self, bundle: Any, feed: dict[str, Any], text: str) -> list[tuple[str, Any]] | None:
        """Every LayerNorm output of the bundle's file for one text (`edgebert diff`), or None where the runtime
        keeps none readable."""
        return self.family.layer_taps(bundle, feed, text) if self.caps.layer_taps else None

    def reference_model(self, model: Any, opts: ExportOptions, session: ExportSession) -> Any:
        """What the artifact computes, in PyTorch: the model itself, or the model wrapped as the graph wraps it."""
        return self.family.reference_model(model, opts, session) if self.caps.wraps_outputs else model


_INT8 = Capabilities(batch_invariant=False, op_profiler=True,  # dynamic INT8: activation scales span the batch
                     fp32_fallback=True)
_ORT = Capabilities(op_profiler=True)
_ORT_TAPS = replace(_ORT, layer_taps=True)  # an .onnx file (not .ort): its LayerNorm outputs can be made graph outputs
# --static-shape: one batch-1 file per bucket (onnx/static.py). Not the INT8 variants: ORT's shape inference cannot
# follow QAttention, so their intermediate shapes would stay unknown
_ORT_STATIC = replace(_ORT_TAPS, static_shapes="optional")
_OPENVINO = dict(caps=Capabilities(static_shapes="optional", op_profiler=True, layer_taps=True),
                 export_extra="openvino",
                 runtime_extra="runtime-openvino", runtime="openvino", runtime_modules=("openvino",),
                 export_modules=("torch", "transformers", "onnx", "openvino"),
                 app_sdk="OpenVINO Runtime (C/C++, Python; Linux, Windows, macOS, ARM64)")
_TFLITE = dict(caps=Capabilities(static_shapes="always", batch_one=True, layer_taps=True), export_extra="tflite",
               runtime="ai-edge-litert", runtime_modules=("ai_edge_litert",),
               export_modules=("torch", "transformers", "litert_torch", "ai_edge_quantizer", "ai_edge_litert"),
               app_sdk="LiteRT / TensorFlow Lite Interpreter (Android, iOS, C++), tensors in and out")
_MEDIAPIPE = {**_TFLITE, "export_extra": "mediapipe", "export_modules": _TFLITE["export_modules"] + ("mediapipe",),
              "caps": Capabilities(wraps_outputs=True, static_shapes="always", batch_one=True, layer_taps=True,
                                   one_length=True),
              "app_sdk": "MediaPipe Tasks Text: TextClassifier / TextEmbedder load the file by path (Android "
                         "com.google.mediapipe:tasks-text, iOS MediaPipeTasksText, Python mediapipe)"}
_EXECUTORCH = dict(caps=Capabilities(batch_one=True), export_extra="executorch", runtime_extra="executorch",
                   runtime="executorch", runtime_modules=("executorch.runtime",),
                   export_modules=("torch", "transformers", "executorch"),
                   app_sdk="ExecuTorch with XNNPACK (Android org.pytorch:executorch-android, iOS ExecuTorch Swift "
                           "package)")

_SPECS = (
    FormatSpec("onnx", onnx, "fp32", "ONNX fp32, dynamic batch/sequence (or --static-shape)", caps=_ORT_STATIC),
    FormatSpec("onnx-opt", onnx, "opt", "ONNX fp32 + ONNX Runtime transformer fusions (counts in the manifest)",
               caps=_ORT_STATIC),
    FormatSpec("onnx-int8", onnx, "int8", "dynamic INT8 (int8 weights, run-time activation quantisation), per-CPU "
               "preset", lossy=True, caps=replace(_INT8, layer_taps=True)),
    FormatSpec("onnx-int8-static", onnx, "int8-static", "static QDQ INT8 calibrated on text (--calibration-text)",
               lossy=True, caps=_ORT_TAPS, in_suite=False),
    FormatSpec("onnx-fp16", onnx, "fp16", "fp16 weights/compute, fp32 I/O, for GPUs", lossy=True, caps=_ORT_STATIC),
    FormatSpec("onnx-text", onnx_text, "fp32",
               "text in, answer out: the tokenizer inside the graph (onnxruntime-extensions BertTokenizer op)",
               caps=Capabilities(takes_text=True, wraps_outputs=True, batch_one=True, layer_taps=True),
               export_modules=("torch", "transformers", "onnx", "onnxruntime", "onnxruntime_extensions"),
               runtime_modules=("onnxruntime", "onnxruntime_extensions"),
               app_sdk=f"{ORT_APPS} + onnxruntime-extensions (Android/iOS packages): raw strings in"),
    FormatSpec("onnx-mobile", onnx_mobile, "fp32", "ORT format (.ort, Fixed optimizations, ARM target) + "
               "required_operators.config for minimal builds", caps=_ORT),
    FormatSpec("onnx-mobile-int8", onnx_mobile, "int8", "onnx-mobile with dynamic INT8 (arm64 preset unless "
               "--target)", lossy=True, caps=_INT8),
    FormatSpec("openvino", openvino, "fp32", "OpenVINO IR fp32 (dynamic, or --static-shape)", **_OPENVINO),
    FormatSpec("openvino-fp16", openvino, "fp16", "OpenVINO IR, fp16-compressed weights", lossy=True, **_OPENVINO),
    FormatSpec("openvino-int8", openvino, "int8", "OpenVINO IR, NNCF post-training INT8 (weights + activations)",
               lossy=True, **{**_OPENVINO, "export_modules": ("torch", "transformers", "onnx", "openvino", "nncf")}),
    FormatSpec("tflite", tflite, "fp32", "TFLite fp32, static --seq-len, batch 1 (ai-edge-litert)", **_TFLITE),
    FormatSpec("tflite-fp16", tflite, "fp16", "TFLite, fp16 weights", lossy=True, **_TFLITE),
    FormatSpec("tflite-int8", tflite, "int8", "TFLite, dynamic-range int8 weights", lossy=True, **_TFLITE),
    FormatSpec("executorch", executorch, "fp32", "ExecuTorch .pte, XNNPACK delegate, batch 1, dynamic sequence "
               "(bounded by max positions)", **_EXECUTORCH),
    FormatSpec("executorch-int8", executorch, "int8", "ExecuTorch .pte, XNNPACK, dynamic per-channel int8 Linear "
               "layers (pt2e)", lossy=True, **_EXECUTORCH),
    FormatSpec("tflite-mediapipe", tflite_mediapipe, "fp32", "TFLite + MediaPipe metadata (tokenizer, labels; "
               "softmax/pooling inside), fixed --seq-len", **_MEDIAPIPE),
    FormatSpec("tflite-mediapipe-int8", tflite_mediapipe, "int8", "tflite-mediapipe with dynamic-range int8 weights",
               lossy=True, **_MEDIAPIPE),
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
