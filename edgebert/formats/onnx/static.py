"""Static-shape ONNX (`--static-shape`): one file per sequence bucket, batch 1, every tensor shape concrete.

NPU compilers (QNN, Intel NPU, WebNN) take only fixed shapes, and some reject a graph whose intermediate shapes they
must infer themselves; so each bucket's file has its inputs fixed to (1, length) with ONNX Runtime's own tool
(make_dim_param_fixed), every intermediate shape written into value_info by ONNX Runtime's symbolic shape inference
(it knows the com.microsoft fused ops onnx-opt has), and is refused when any dimension is still symbolic.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

from edgebert.errors import ExportError, first_line


def bucket_file(length: int) -> str:
    return f"model-s{length}.onnx"


def write_buckets(src: Path, work: Path, lengths: list[int]) -> dict[str, str]:
    """One static file per length from the dynamic graph `src`; returns {"length": file name}."""
    import onnx

    files: dict[str, str] = {}
    for length in lengths:
        model = fix_shapes(onnx.load(str(src)), length)
        left = symbolic_dims(model)
        if left:
            more = f" and {len(left) - 5} more" if len(left) > 5 else ""
            raise ExportError(f"Static ONNX at length {length} still has symbolic dimensions: "
                              f"{', '.join(left[:5])}{more}")
        onnx.save(model, str(work / bucket_file(length)))
        files[str(length)] = bucket_file(length)
    return files


def fix_shapes(model: Any, length: int) -> Any:
    """Inputs fixed to (1, length); every intermediate, output and input shape inferred as concrete numbers."""
    from onnxruntime.tools.onnx_model_utils import make_dim_param_fixed
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    graph = model.graph
    params = {d.dim_param for value in graph.input for d in value.type.tensor_type.shape.dim if d.dim_param}
    if params - {"batch", "sequence"}:
        raise ExportError(f"Unexpected symbolic input dimensions {sorted(params)} (the trace names batch, sequence)")
    make_dim_param_fixed(graph, "batch", 1)  # inputs, outputs and any value_info naming them
    make_dim_param_fixed(graph, "sequence", length)
    del graph.value_info[:]  # the trace's own (symbolic) intermediate shapes: inferred again below, concrete
    try:
        # on failure it saves its partial graph as sym_shape_infer_temp.onnx (+ data) in the working directory:
        # run it in a throw-away one so a failed export leaves nothing behind
        with tempfile.TemporaryDirectory(prefix="edgebert-shapes-") as tmp, contextlib.chdir(tmp):
            inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=False, guess_output_rank=False)
    except Exception as err:  # noqa: BLE001 - the inference raises bare Exceptions on ops it cannot follow
        raise ExportError(f"Shape inference failed on the static graph (length {length}): {first_line(err)}") from err
    if inferred is None:
        raise ExportError(f"Shape inference could not make every shape concrete at length {length}")
    return inferred


def symbolic_dims(model: Any) -> list[str]:
    """Every tensor whose shape is not fully concrete: inputs, outputs, value_info, and node outputs with no shape
    recorded at all (a compiler would have to infer those itself)."""
    graph = model.graph
    left = []
    shaped = {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            left.append(f"{value.name} (no shape)")
            continue
        bad = [d.dim_param or "?" for d in tensor.shape.dim if not d.HasField("dim_value")]
        if bad:
            left.append(f"{value.name} ({', '.join(bad)})")
    constants = {i.name for i in graph.initializer}
    for node in graph.node:
        left += [f"{name} (no shape)" for name in node.output if name and name not in shaped | constants]
    return left
