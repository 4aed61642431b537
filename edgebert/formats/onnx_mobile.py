"""The onnx-mobile family (ONNX Runtime Mobile): the ORT format (.ort) plus the operator list a custom minimal ONNX Runtime build needs.

Converted as onnxruntime's own tool (onnxruntime.tools.convert_onnx_models_to_ort) converts, Fixed optimization
style, with the bundle's session config: graph optimizations are applied once here and saved, so a minimal build
(which cannot optimize) runs the same fused graph. The arm platform leaves out x86-only layout transforms (NCHWc).
The full onnxruntime loads .ort files, so the parity gate, verify, predict and bench run it on the desktop unchanged.
Apps: onnxruntime-android (Maven com.microsoft.onnxruntime:onnxruntime-android) and onnxruntime-objc /
onnxruntime-c (CocoaPods) load model.ort; a minimal build uses required_operators.config to keep only these ops.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import tempfile
from pathlib import Path
from typing import Any

from edgebert.errors import ExportError, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.formats.onnx import MODEL_FILE as ONNX_FILE
from edgebert.formats.onnx import versions, write_variant
from edgebert.models import LoadedModel
from edgebert.runtimes.ort import OrtRunner

MODEL_FILE = "model.ort"
CONFIG_FILE = "required_operators.config"
PACKAGES = ["onnxruntime-android (Maven com.microsoft.onnxruntime:onnxruntime-android)",
            "onnxruntime-objc / onnxruntime-c (CocoaPods)",
            "a custom minimal build: ./build.sh --minimal_build --include_ops_by_config required_operators.config"]


def convert(onnx_path: Path, work: Path, platform: str, config: dict[str, str] | None = None) -> dict[str, Any]:
    """ONNX -> work/model.ort + work/required_operators.config, as onnxruntime's convert_onnx_models_to_ort does it
    (Fixed style): a session at ORT_ENABLE_ALL saves its optimised graph in ORT format, and the tool's
    create_config_from_models lists its operators. The tool's public entry point takes no session config entries, so
    the session is built here: `config` (the bundle's measured session_config, e.g. SkipLayerNormFusion disabled)
    shapes what is baked into the file, and a minimal build, which cannot optimise, runs exactly that graph."""
    import onnxruntime as ort
    from onnxruntime.tools.ort_format_model import create_config_from_models

    from edgebert.quiet import quiet_after_import

    quiet_after_import("ort_format_model.utils")  # onnxruntime's tools set their loggers to DEBUG on import

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(work / MODEL_FILE)
    so.log_severity_level = 3  # its amd64 warning (NCHWc makes the file x86-only) is the manifest's target_platform
    # as the tool sets them: QDQ int8 kernels are allowed on ARM only; the .ort is saved as-is, not as ONNX
    entries = {"session.qdqisint8allowed": "1" if platform == "arm" else "0", "session.save_model_format": "ORT",
               **(config or {})}
    for key, value in entries.items():
        so.add_session_config_entry(key, str(value))
    try:  # NCHWc layouts are x86-only: the tool leaves them out for every other platform
        ort.InferenceSession(str(onnx_path), sess_options=so, providers=["CPUExecutionProvider"],
                             disabled_optimizers=None if platform == "amd64" else ["NchwcTransformer"])
        with contextlib.redirect_stdout(io.StringIO()):
            create_config_from_models([work / MODEL_FILE], work / CONFIG_FILE, enable_type_reduction=False)
    except Exception as err:  # noqa: BLE001 - the session raises whatever the graph makes it raise
        raise ExportError(f"ORT format conversion failed: {first_line(err)}") from err
    ops = [ln.strip() for ln in (work / CONFIG_FILE).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    # the tool's header names the temporary path it read; name the bundle's file instead
    (work / CONFIG_FILE).write_text(f"# Generated from {MODEL_FILE} by onnxruntime {ort.__version__} "
                                    "(ORT format, Fixed optimizations)\n" + "\n".join(ops) + "\n")
    return {"optimization_style": "Fixed", "target_platform": platform, "required_operators": ops,
            "baked_session_config": dict(config or {})}


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           variant: str) -> dict[str, Any]:
    """The ONNX variant (fp32, or int8 with the arm64 preset unless --target: phones are ARM), converted to .ort."""
    with tempfile.TemporaryDirectory(prefix="edgebert-mobile-") as tmp:
        src = Path(tmp) / ONNX_FILE
        if variant == "int8":
            opts = dataclasses.replace(opts, target=opts.target or "arm64")
        info = write_variant(model, src, opts, session, variant)
        target = info.get("quantization", {}).get("target") or opts.target or "arm64"
        # the measured session config shapes the graph baked into the .ort; an app has nothing to pass (onnxruntime
        # runs a loaded .ort as saved, full builds too: checked on 1.32), so the manifest records it as baked only
        mobile = convert(src, work, "amd64" if target in ("avx2", "avx512", "avx512-vnni") else "arm",
                         info.pop("session_config", None))
    return {**info, "model_file": MODEL_FILE, "opset": opts.opset, "exporter": "torch.onnx -> onnxruntime ORT format",
            "extra_files": {"required_operators": CONFIG_FILE},
            "ort_mobile": {**mobile, "packages": PACKAGES}, "versions": versions()}


def fp32_groups(model: LoadedModel, variant: str) -> list[str]:
    from edgebert.formats import onnx

    return onnx.fp32_groups(model, variant)


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> OrtRunner:
    return OrtRunner(bundle.model_file, device, threads)
