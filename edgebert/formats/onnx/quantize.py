"""INT8 ONNX. Dynamic: int8 weights, activations quantised at run time, per-CPU presets after optimum's.
Static (QDQ): weights and activations, calibrated on text; the gate matters most there."""
from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgebert.device_info import detect_target
from edgebert.errors import ExportError, UsageError, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.formats.onnx.optimize import optimize
from edgebert.formats.onnx.trace import export_onnx
from edgebert.models import LoadedModel
from edgebert.quiet import quiet_root_logger

TARGETS = ("avx2", "avx512", "avx512-vnni", "arm64")
# weight type, reduce_range. Activations are uint8 (dynamic quantisation always is); weights symmetric,
# per-channel. avx2: optimum picks QUInt8 weights (U8U8 kernel) to dodge VPMADDUBSW's int16 saturation;
# here QInt8 (U8S8) ran 15-20% faster and, on real all-MiniLM-L6-v2, as accurately (mean cosine 0.992 vs
# 0.993) while 7-bit weights cost more (0.9916). The accuracy gate catches a model that saturation hurts.
# avx512 without VNNI: 7-bit weights, as ONNX Runtime and optimum advise for its saturation.
PRESETS: dict[str, tuple[str, bool]] = {
    "avx2": ("QInt8", False),
    "avx512": ("QInt8", True),
    "avx512-vnni": ("QInt8", False),  # VPDPBUSD accumulates in int32: no saturation
    # ONNX Runtime's arm64 MLAS (platform.cpp): activations are uint8 here too; with the dot-product extension
    # (asimddp: Cortex-A55/A76 as in a Pi 5, Neoverse-N1) U8S8 and U8U8 both run the UDOT kernel, with i8mm
    # (Neoverse-V1/N2, Graviton3) UMMLA, and plain NEON (Cortex-A72, Pi 4) widening multiply-adds. All accumulate
    # in int32, so no saturation to dodge: full-range signed per-channel weights, like VNNI.
    "arm64": ("QInt8", False),
}
OPERATORS = ["MatMul", "Attention", "Gather"]
# ONNX Runtime session config a preset's graph wants: written to the manifest (`session_config`), applied by
# edgebert.load, and passed by apps with AddSessionConfigEntry / addConfigEntry. On avx512-vnni, onnxruntime 1.32's
# fused SkipLayerNormalization kernel costs more than the Add + LayerNormalization it replaces (issue 23;
# benchmarks/results/ort-session-2026-12-07): the graph keeps them apart and the session is told not to fuse them
# again. Other presets were not measured, so they keep the fusion.
SESSION_CONFIG: dict[str, dict[str, str]] = {
    "avx512-vnni": {"optimization.disable_specified_optimizers": "SkipLayerNormFusion"},
}


def preset(target: str | None) -> tuple[str, str, bool]:
    target = target or detect_target()  # this machine
    if target not in PRESETS:
        raise UsageError(f"Unknown --target '{target}'. Valid: {', '.join(TARGETS)}")
    weight_type, reduce_range = PRESETS[target]
    return target, weight_type, reduce_range


@contextlib.contextmanager
def fused_graph(model: LoadedModel, opts: ExportOptions, session: ExportSession, skip_layer_norm: bool = True
                ) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Export + ORT fusions without EmbedLayerNorm (the quantisers cannot take it), in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="edgebert-onnx-") as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        export_onnx(model, raw, opts.opset, session)
        yield fused, optimize(raw, fused, model, embed_layer_norm=False, skip_layer_norm=skip_layer_norm)


def fp32_groups(model: LoadedModel) -> list[str]:
    """Groups `--fp32-layers auto` may keep in fp32 (export ranks them by measurement; this order breaks ties): each
    layer's FFN (its down-projection reads GELU outputs with outliers, the most INT8-sensitive part of a BERT), then
    the embedding table (the most bytes)."""
    from edgebert.arch import model_shape

    layers = (model_shape(model.module.config.to_dict()) or (0,))[0]
    return [f"ffn.{k}" for k in range(layers)] + ["emb"]


def _excluded(graph_path: Path, groups: list[str]) -> list[str]:
    """Node names of the fused graph that the fp32 groups name (BERT and DistilBERT FFN MatMuls)."""
    import onnx

    layers = {int(g.split(".")[1]) for g in groups if g.startswith("ffn.")}
    names = []
    for node in onnx.load(str(graph_path), load_external_data=False).graph.node:
        found = re.search(r"layer\.(\d+)/(intermediate/dense|output/dense|ffn/lin1|ffn/lin2)/MatMul", node.name)
        if node.op_type == "MatMul" and found and int(found.group(1)) in layers:
            names.append(node.name)
    return names


def dynamic(model: LoadedModel, dst: Path, opts: ExportOptions, session: ExportSession) -> dict[str, Any]:
    """Dynamic INT8 with the CPU's preset: int8 weights per channel, activations quantised at run time; the groups
    in opts.fp32_layers (a comma list; "auto" and "none" mean none here) stay fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target, weight_type, reduce_range = preset(opts.target)
    groups = [] if opts.fp32_layers in ("auto", "none") else [g.strip() for g in opts.fp32_layers.split(",")]
    operators = [op for op in OPERATORS if not (op == "Gather" and "emb" in groups)]
    config = SESSION_CONFIG.get(target, {})
    unfused = "SkipLayerNormFusion" in config.get("optimization.disable_specified_optimizers", "")
    with fused_graph(model, opts, session, skip_layer_norm=not unfused) as (fused, info):
        excluded = _excluded(fused, groups)
        try:
            with quiet_root_logger():
                quantize_dynamic(str(fused), str(dst), weight_type=getattr(QuantType, weight_type),
                                 per_channel=True, reduce_range=reduce_range, op_types_to_quantize=operators,
                                 nodes_to_exclude=excluded,
                                 # fused Attention weights lack type info without this (ORT quantizer issue)
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"quantize_dynamic failed: {first_line(err)}") from err
    return {"optimizer": info,
            "quantization": {"mode": "dynamic", "target": target, "weight_type": weight_type,
                             "activation_type": "QUInt8 (dynamic)", "per_channel": True, "reduce_range": reduce_range,
                             "operators": operators, "fp32_layers": groups, "fp32_nodes": len(excluded)},
            **({"session_config": config} if config else {})}


class TextReader:
    """Calibration batches for quantize_static: one tokenized sentence at a time."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def static(model: LoadedModel, dst: Path, opts: ExportOptions, session: ExportSession) -> dict[str, Any]:
    """QDQ static quantisation (int8 weights and activations) calibrated on the user's text."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from edgebert.inputs import calibration_feeds

    feeds = calibration_feeds(model.tokenizer, model.input_names, model.vocab_size, opts.calibration_texts)
    with fused_graph(model, opts, session) as (fused, info):
        try:
            with quiet_root_logger():
                quantize_static(str(fused), str(dst), TextReader(feeds), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                                op_types_to_quantize=["MatMul"], calibrate_method=CalibrationMethod.MinMax,
                                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"quantize_static failed: {first_line(err)}") from err
    return {"optimizer": info,
            "quantization": {"mode": "static QDQ", "calibration_samples": len(feeds), "weight_type": "QInt8",
                             "activation_type": "QUInt8", "per_channel": True, "calibration": "MinMax",
                             "operators": ["MatMul"]}}

