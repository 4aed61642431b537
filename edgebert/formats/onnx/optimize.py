"""ONNX Runtime's transformer optimizer (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm fusions) on the trace:
onnx-opt as it is, and the first step of the INT8 and fp16 variants."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.errors import ExportError, first_line
from edgebert.models import LoadedModel

# The fusions a BERT-family graph should get; a count of 0 means the fusion silently failed.
EXPECTED_FUSIONS = ("Attention", "SkipLayerNormalization", "BiasGelu", "EmbedLayerNormalization")


def heads_and_hidden(model: LoadedModel) -> tuple[int, int]:
    """num_heads and hidden_size for ORT's Attention fusion. A head-pruned model (`edgebert_pruning`) fuses with the
    kept heads and their width (heads x head size), not the config's: those would fuse a wrong Attention silently."""
    cfg = model.module.config
    record = getattr(cfg, "edgebert_pruning", None)
    if record:
        heads = set(record["heads_per_layer"])
        if len(heads) != 1:
            raise ExportError(f"ONNX Runtime's attention fusion takes one head count; this model keeps "
                              f"{sorted(heads)} heads in different layers")
        kept = heads.pop()
        # ORT warns once per layer that this width differs from the packed QKV weight's; the fused op takes it fine
        import logging

        logging.getLogger("fusion_attention").setLevel(logging.ERROR)
        return kept, kept * int(record["head_dim"])
    if cfg.model_type == "distilbert":
        return int(cfg.n_heads), int(cfg.dim)
    return int(cfg.num_attention_heads), int(cfg.hidden_size)


def optimize(src: Path, dst: Path, model: LoadedModel, *, embed_layer_norm: bool = True,
             skip_layer_norm: bool = True) -> dict[str, Any]:
    """Fuse `src` into `dst`; return fusion counts and which expected fusions are missing.

    EmbedLayerNormalization is left out before quantisation: the quantiser cannot handle it (optimum does the same).
    """
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    heads, hidden = heads_and_hidden(model)
    options = FusionOptions("bert")
    options.enable_embed_layer_norm = embed_layer_norm
    options.enable_skip_layer_norm = skip_layer_norm
    try:
        opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden,
                                       optimization_options=options, opt_level=0, use_gpu=False)
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"onnxruntime optimizer failed: {first_line(err)}") from err
    stats = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    left_out = {"EmbedLayerNormalization": not embed_layer_norm, "SkipLayerNormalization": not skip_layer_norm}
    expected = [f for f in EXPECTED_FUSIONS if not left_out.get(f)]
    gelu = stats.get("BiasGelu", 0) + stats.get("FastGelu", 0) + stats.get("Gelu", 0)
    missing = [f for f in expected if (gelu if f == "BiasGelu" else stats.get(f, 0)) == 0]
    opt.save_model_to_file(str(dst), use_external_data_format=False)
    return {"fusions": stats, "missing_fusions": missing, "fusion_ok": not missing}
