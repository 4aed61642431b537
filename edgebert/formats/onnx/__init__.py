"""The ONNX family, run by ONNX Runtime: fp32 (the trace as it is), opt (ORT's transformer fusions baked in), fp16
(for GPUs), int8 (dynamic, per-CPU preset) and int8-static (QDQ, calibrated on text). Every variant starts from one
trace (trace.py); the variants differ in the graph written, never in how it is loaded.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.models import LoadedModel
from edgebert.runner import Runner
from edgebert.runtimes.ort import OrtRunner, StaticOrtRunner

MODEL_FILE = "model.onnx"
EXPORTER = "torch.onnx (TorchScript, eager attention)"


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def write_variant(model: LoadedModel, dst: Path, opts: ExportOptions, session: ExportSession,
                  variant: str) -> dict[str, Any]:
    """Write one variant's graph to `dst`; returns what the variant adds to the manifest."""
    from edgebert.formats.onnx import quantize
    from edgebert.formats.onnx.trace import export_onnx

    if variant == "fp32":
        export_onnx(model, dst, opts.opset, session)
        return {}
    if variant == "int8":
        return quantize.dynamic(model, dst, opts, session)
    if variant == "int8-static":
        return quantize.static(model, dst, opts, session)
    with tempfile.TemporaryDirectory(prefix="edgebert-onnx-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        export_onnx(model, raw, opts.opset, session)
        if variant == "fp16":
            from edgebert.formats.onnx.fp16 import to_fp16

            return to_fp16(raw, dst, model)
        from edgebert.formats.onnx.optimize import optimize

        info = optimize(raw, dst, model)
    if not info["fusion_ok"]:
        warnings.warn(f"ONNX Runtime fusions missing: {', '.join(info['missing_fusions'])} (recorded in the "
                      "manifest)", stacklevel=2)
    return {"optimizer": info}


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           variant: str) -> dict[str, Any]:
    """model.onnx (dynamic batch and sequence), or with --static-shape one model-s{n}.onnx per --seq-len at batch 1
    (static.py): the variant is written once, dynamic, then fixed per length."""
    if not opts.static_shape:
        info = write_variant(model, work / MODEL_FILE, opts, session, variant)
        return {"model_file": MODEL_FILE, "opset": opts.opset, "exporter": EXPORTER, **info, "versions": versions()}
    from edgebert.formats.onnx.static import write_buckets

    lengths = sorted(set(opts.seq_lens))
    with tempfile.TemporaryDirectory(prefix="edgebert-onnx-") as tmp:
        info = write_variant(model, Path(tmp) / MODEL_FILE, opts, session, variant)
        files = write_buckets(Path(tmp) / MODEL_FILE, work, lengths)
    return {"model_file": files[str(lengths[0])], "model_files": list(files.values()), "opset": opts.opset,
            "exporter": f"{EXPORTER}; shapes fixed by onnxruntime.tools (make_dim_param_fixed, symbolic shape "
                        "inference)",
            "shapes": {"static": True, "seq_lens": lengths, "batch": 1, "files": files}, **info,
            "versions": versions()}


def fp32_groups(model: LoadedModel, variant: str) -> list[str]:
    from edgebert.formats.onnx import quantize

    return quantize.fp32_groups(model) if variant == "int8" else []


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> Runner:
    shapes = bundle.manifest.get("shapes") or {}
    config = bundle.manifest.get("session_config")  # measured session settings travel with the bundle
    if shapes.get("static"):
        return StaticOrtRunner({int(n): OrtRunner(bundle.path / name, device, threads, config=config)
                                for n, name in shapes["files"].items()})
    return OrtRunner(bundle.model_file, device, threads, config=config)


def layer_taps(bundle: Any, feed: dict[str, Any], text: str) -> list[tuple[str, Any]] | None:
    """Every LayerNorm output of the .onnx file for one tokenized text (`edgebert diff`); None for static-shape
    files (they run at their bucket's length, not the text's)."""
    from edgebert.layers import onnx_layernorms

    if (bundle.manifest.get("shapes") or {}).get("static"):
        return None
    return onnx_layernorms(str(bundle.model_file), feed)
