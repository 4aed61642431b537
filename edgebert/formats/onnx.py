"""ONNX fp32: torch.onnx export with dynamic batch and sequence axes, run by ONNX Runtime."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Iterator

from edgebert.bundle import Bundle
from edgebert.errors import ExportError, first_line
from edgebert.formats.base import ExportOptions
from edgebert.formats.ort import OrtRunner
from edgebert.inputs import random_ids
from edgebert.models import LoadedModel

MODEL_FILE = "model.onnx"


@contextlib.contextmanager
def eager_attention(model: LoadedModel) -> Iterator[None]:
    """Trace the eager attention path: ORT's transformer optimizer only fuses Attention from that pattern.

    With transformers 5.x, SDPA-traced (and dynamo-exported) graphs get no Attention fusion at all.
    """
    hf = model.module.hf
    previous = hf.config._attn_implementation
    hf.set_attn_implementation("eager")
    try:
        yield
    finally:
        hf.set_attn_implementation(previous)


def export_onnx(model: LoadedModel, path: Path, opset: int) -> None:
    """Write `model` to `path` as one ONNX file with dynamic batch/sequence axes (traced once per model and
    opset in a process: the ONNX-derived formats all start from the same graph)."""
    model.reuse(("onnx", opset), path, lambda dest: _trace(model, dest, opset))


def _trace(model: LoadedModel, path: Path, opset: int) -> None:
    import torch

    sample = random_ids(2, 16, model.vocab_size, model.input_names, ragged=False)
    args = tuple(torch.from_numpy(sample[name]) for name in model.input_names)
    out_axes = {0: "batch"} if model.task == "classification" else {0: "batch", 1: "sequence"}
    axes = {name: {0: "batch", 1: "sequence"} for name in model.input_names} | {model.output_name: out_axes}
    try:
        with eager_attention(model), warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: its graphs are the ones ORT's optimizer fuses fully (see eager_attention).
            torch.onnx.export(model.module, args, str(path), input_names=model.input_names,
                              output_names=[model.output_name], dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
    except Exception as err:  # noqa: BLE001 - exporter failures come in many types
        raise ExportError(f"torch.onnx.export failed: {first_line(err)}") from err


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    export_onnx(model, work / MODEL_FILE, opts.opset)
    return {"model_file": MODEL_FILE, "opset": opts.opset, "exporter": "torch.onnx (TorchScript, eager attention)",
            "versions": versions()}


def load(bundle: Bundle, device: str = "cpu", threads: int | None = None) -> OrtRunner:
    return OrtRunner(bundle.model_file, device, threads)
