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
