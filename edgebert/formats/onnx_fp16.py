"""FP16 ONNX for GPUs: fp16 weights and compute, fp32 inputs/outputs kept (no CPU speed-up; half the size)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgebert.bundle import Bundle
from edgebert.errors import ExportError, first_line
from edgebert.formats.base import ExportOptions
from edgebert.formats.onnx import MODEL_FILE, export_onnx, versions
from edgebert.formats.onnx_opt import heads_and_hidden
from edgebert.formats.ort import OrtRunner
from edgebert.models import LoadedModel


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    heads, hidden = heads_and_hidden(model)
    with tempfile.TemporaryDirectory(prefix="edgebert-onnx-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        export_onnx(model, raw, opts.opset)
        try:
            opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden,
                                           optimization_options=FusionOptions("bert"), opt_level=0, use_gpu=True)
            stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
            # onnxconverter-common's converter breaks dynamo graphs; ORT's own keeps the graph loadable.
            opt.convert_float_to_float16(keep_io_types=True)
            opt.save_model_to_file(str(work / MODEL_FILE), use_external_data_format=False)
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"fp16 conversion failed: {first_line(err)}") from err
    return {"model_file": MODEL_FILE, "opset": opts.opset, "exporter": "torch.onnx (TorchScript, eager attention)",
            "optimizer": {"fusions": stats}, "precision": "fp16 weights and compute, fp32 inputs/outputs",
            "versions": versions()}


def load(bundle: Bundle, device: str = "cpu", threads: int | None = None) -> OrtRunner:
    return OrtRunner(bundle.model_file, device, threads)
