"""FP16 ONNX for GPUs: fp16 weights and compute, fp32 inputs/outputs kept (no CPU speed-up; half the size)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.errors import ExportError, first_line
from edgebert.formats.onnx.optimize import heads_and_hidden
from edgebert.models import LoadedModel


def to_fp16(src: Path, dst: Path, model: LoadedModel) -> dict[str, Any]:
    """GPU-targeted fusions, then ORT's own fp16 conversion (onnxconverter-common's breaks dynamo graphs)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    heads, hidden = heads_and_hidden(model)
    try:
        opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden,
                                       optimization_options=FusionOptions("bert"), opt_level=0, use_gpu=True)
        stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
        opt.convert_float_to_float16(keep_io_types=True)
        opt.save_model_to_file(str(dst), use_external_data_format=False)
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"fp16 conversion failed: {first_line(err)}") from err
    return {"optimizer": {"fusions": stats}, "precision": "fp16 weights and compute, fp32 inputs/outputs"}
