"""The onnx-mobile family (ONNX Runtime Mobile): the ORT format (.ort) plus the operator list a custom minimal ONNX Runtime build needs.

Converted by onnxruntime's own tool (onnxruntime.tools.convert_onnx_models_to_ort) with the Fixed optimization
style: graph optimizations are applied once here and saved, so a minimal build (which cannot optimize) runs the
same fused graph. --target_platform arm leaves out x86-only layout transforms (NCHWc). The full onnxruntime
loads .ort files, so the parity gate, verify, predict and bench run it on the desktop unchanged.
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


def convert(onnx_path: Path, work: Path, platform: str) -> dict[str, Any]:
    """ONNX -> work/model.ort + work/required_operators.config with onnxruntime's converter (Fixed style)."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    from edgebert.quiet import quiet_after_import

    quiet_after_import("ort_format_model.utils")  # onnxruntime's tools set their loggers to DEBUG on import

    with tempfile.TemporaryDirectory(prefix="edgebert-ort-") as tmp:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the tool prints a line per step
                convert_onnx_models_to_ort(onnx_path, output_dir=Path(tmp),
                                           optimization_styles=[OptimizationStyle.Fixed], target_platform=platform)
        except Exception as err:  # noqa: BLE001 - the converter raises whatever the session raised
            raise ExportError(f"convert_onnx_models_to_ort failed: {first_line(err)}") from err
        ort_files = sorted(Path(tmp).glob("*.ort"))
        configs = sorted(Path(tmp).glob("*.config"))
        if len(ort_files) != 1 or len(configs) != 1:
            raise ExportError(f"convert_onnx_models_to_ort wrote {[p.name for p in Path(tmp).iterdir()]}, "
                              "expected one .ort and one .config")
        ort_files[0].replace(work / MODEL_FILE)
        configs[0].replace(work / CONFIG_FILE)
    ops = [ln.strip() for ln in (work / CONFIG_FILE).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    import onnxruntime

    # the tool's header names the temporary path it read; name the bundle's file instead
    (work / CONFIG_FILE).write_text(f"# Generated from {MODEL_FILE} by onnxruntime {onnxruntime.__version__} "
                                    "convert_onnx_models_to_ort (Fixed)\n" + "\n".join(ops) + "\n")
    return {"optimization_style": "Fixed", "target_platform": platform, "required_operators": ops}


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           variant: str) -> dict[str, Any]:
    """The ONNX variant (fp32, or int8 with the arm64 preset unless --target: phones are ARM), converted to .ort."""
    with tempfile.TemporaryDirectory(prefix="edgebert-mobile-") as tmp:
        src = Path(tmp) / ONNX_FILE
        if variant == "int8":
            opts = dataclasses.replace(opts, target=opts.target or "arm64")
        info = write_variant(model, src, opts, session, variant)
        # The .ort is optimised here, once (Fixed style): a session config for the runtime's own fusions would need
        # the converter's private entry point; the file keeps ORT's default fusions, so its manifest carries none.
        info.pop("session_config", None)
        target = info.get("quantization", {}).get("target") or opts.target or "arm64"
        mobile = convert(src, work, "amd64" if target in ("avx2", "avx512", "avx512-vnni") else "arm")
    return {**info, "model_file": MODEL_FILE, "opset": opts.opset, "exporter": "torch.onnx -> onnxruntime ORT format",
            "extra_files": {"required_operators": CONFIG_FILE},
            "ort_mobile": {**mobile, "packages": PACKAGES}, "versions": versions()}


def fp32_groups(model: LoadedModel, variant: str) -> list[str]:
    from edgebert.formats import onnx

    return onnx.fp32_groups(model, variant)


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> OrtRunner:
    return OrtRunner(bundle.model_file, device, threads)
