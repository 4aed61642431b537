"""The ONNX trace every ONNX-derived format starts from: torch.onnx (TorchScript) with dynamic batch and sequence."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Iterator

from edgebert.errors import ExportError, first_line
from edgebert.formats.base import ExportSession
from edgebert.inputs import random_ids
from edgebert.models import LoadedModel


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


def export_onnx(model: LoadedModel, path: Path, opset: int, session: ExportSession) -> None:
    """Write `model` to `path` as one ONNX file with dynamic batch/sequence axes (traced once per model and
    opset in a session: the ONNX-derived formats all start from the same graph)."""
    session.reuse((id(model.module), "onnx", opset), path, lambda dest: _trace(model, dest, opset))


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
