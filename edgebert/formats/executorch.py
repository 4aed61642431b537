"""ExecuTorch: a .pte program with the XNNPACK delegate, PyTorch's own on-device runtime.

torch.export at batch 1 with a dynamic sequence axis (bounded by the model's max positions), lowered with
the XNNPACK partitioner; int8 = dynamic per-channel quantisation of the Linear layers by the XNNPACK quantizer (pt2e).
The manifest records which operators stayed outside XNNPACK (they run on ExecuTorch's portable kernels).
On Linux the Python runtime (executorch.runtime, which links libtorch) runs the .pte for the gate, verify and bench;
apps use org.pytorch:executorch-android or the ExecuTorch Swift package, with the XNNPACK backend linked in.
"""
from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import BundleError, ExportError, MissingRuntime, UsageError, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.models import LoadedModel
from edgebert.quiet import native_quiet
from edgebert.runner import Runner, cpu_only

MODEL_FILE = "model.pte"
TORCH_PAIR = {"1.4": "2.13"}  # executorch minor -> the torch minor its bindings are built against (torch_pin.py)
DELEGATE = "executorch_call_delegate"


def _check_versions() -> str:
    try:
        version = md.version("executorch")
    except md.PackageNotFoundError as err:
        raise MissingRuntime("executorch", "executorch") from err
    import torch

    want = TORCH_PAIR.get(".".join(version.split(".")[:2]))
    if want and not torch.__version__.startswith(want):
        raise ExportError(f"executorch {version} is built for torch {want}, this is torch {torch.__version__}. "
                          f"Fix: pip install 'edgebert[executorch]' (executorch 1.4.1 with torch 2.13.0)")
    return version


def _int_safe_quantizer() -> Any:
    """XNNPACKQuantizer that leaves integer arithmetic alone.

    Its transform_for_annotation lifts every scalar operand of aten.add/mul into a *float* tensor constant; in
    transformers 5's attention-mask code that turns `arange(kv_len) + kv_offset` float and aten.index then fails
    ("tensors used as indices must be long, int, byte or bool"). Integer nodes are never quantised, so they are
    hidden from the lifting (as add/mul.Scalar) and restored after."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)

    scalar = {torch.ops.aten.add.Tensor: torch.ops.aten.add.Scalar, torch.ops.aten.mul.Tensor: torch.ops.aten.mul.Scalar}

    class IntSafeXNNPACKQuantizer(XNNPACKQuantizer):
        def transform_for_annotation(self, model: Any) -> Any:
            hidden = {}
            for node in model.graph.nodes:
                val = node.meta.get("val")
                if node.op == "call_function" and node.target in scalar and val is not None \
                        and not val.dtype.is_floating_point:
                    hidden[node], node.target = node.target, scalar[node.target]
            model = super().transform_for_annotation(model)
            for node, target in hidden.items():
                node.target = target
            return model

    return IntSafeXNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))


def _operators(edge: Any) -> tuple[int, dict[str, int]]:
    """(delegated XNNPACK subgraphs, {operator left outside XNNPACK: count}) of a lowered program."""
    outside: dict[str, int] = {}
    delegated = 0
    for node in edge.exported_program().graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if name == DELEGATE:
            delegated += 1
        elif not name.startswith(("getitem", "sym_size")):
            outside[name] = outside.get(name, 0) + 1
    return delegated, dict(sorted(outside.items()))


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           precision: str) -> dict[str, Any]:
    """torch.export at batch 1 with a dynamic sequence, lowered to XNNPACK; int8: dynamic per-channel Linears."""
    int8 = precision == "int8"
    version = _check_versions()
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from torch.export import Dim, export

    from edgebert.formats.onnx.trace import eager_attention
    from edgebert.inputs import random_ids

    # Batch 1, dynamic sequence: ExecuTorch plans activation memory for the largest allowed shape, and a dynamic
    # batch up to 64 x 512 tokens planned 3.3 GB for DistilBERT. An app runs one text at a time; the runner loops.
    sample = random_ids(1, 16, model.vocab_size, model.input_names, ragged=False)
    args = tuple(torch.from_numpy(sample[n]) for n in model.input_names)
    seq = Dim("seq", min=2, max=model.max_positions)
    dynamic = tuple({1: seq} for _ in model.input_names)
    try:
        with eager_attention(model), torch.no_grad():
            program = export(model.module, args, dynamic_shapes=dynamic)
            quant = None
            if int8:
                from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

                module = prepare_pt2e(program.module(), _int_safe_quantizer())
                module(*args)  # dynamic quantisation: no calibration statistics, one pass to set the graph up
                program = export(convert_pt2e(module), args, dynamic_shapes=dynamic)
                quant = {"method": "XNNPACKQuantizer (pt2e), dynamic activations, symmetric per-channel int8 "
                                   "weights", "quantized": "Linear layers (embeddings stay fp32)"}
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        delegated, outside = _operators(edge)
        (work / MODEL_FILE).write_bytes(edge.to_executorch().buffer)
    except Exception as err:  # noqa: BLE001 - export, quantisation and lowering raise many types
        raise ExportError(f"ExecuTorch export failed: {first_line(err)}. An operator XNNPACK and the portable "
                          "kernels lack cannot be lowered; try the onnx or tflite formats") from err
    info: dict[str, Any] = {
        "model_file": MODEL_FILE, "exporter": "torch.export + to_edge_transform_and_lower(XnnpackPartitioner)",
        "shapes": {"static": False, "batch": 1, "seq_bound": model.max_positions},
        "executorch": {"version": version, "xnnpack_subgraphs": delegated, "outside_xnnpack": outside,
                       "apps": "Android org.pytorch:executorch-android; iOS ExecuTorch Swift package "
                               "(executorch + backend_xnnpack)"},
        "versions": {"torch": torch.__version__, "executorch": version, "torchao": md.version("torchao"),
                     "transformers": md.version("transformers")},
    }
    if quant:
        info["quantization"] = quant
    return info


class ExecuTorchRunner(Runner):
    """The .pte loaded once by executorch.runtime; XNNPACK's threadpool sized to `threads`."""

    runtime = "executorch"

    def __init__(self, bundle: Any, device: str = "cpu", threads: int | None = None) -> None:
        cpu_only("ExecuTorch", device)
        try:
            with native_quiet():  # torch's pytree deprecation notes at import; cpuinfo probes when the runtime starts
                import torch
                from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
                from executorch.runtime import Runtime
        except ImportError as err:
            raise MissingRuntime("executorch", "executorch") from err
        self.runtime_version = md.version("executorch")
        made_with = (bundle.manifest.get("executorch") or {}).get("version", "")
        if made_with and made_with.split(".")[:2] != self.runtime_version.split(".")[:2]:
            raise BundleError(f"'{bundle.path}' was exported with executorch {made_with}; this runtime is "
                              f"{self.runtime_version}. Fix: pip install executorch=={made_with}")
        if threads:
            _unsafe_reset_threadpool(int(threads))
        self._torch, self.device = torch, device
        self.input_names = bundle.input_names
        self.seq_bound = int((bundle.manifest.get("shapes") or {}).get("seq_bound") or 512)
        try:
            with native_quiet():
                self._method = Runtime.get().load_program(str(bundle.model_file)).load_method("forward")
        except Exception as err:  # noqa: BLE001 - the runtime raises RuntimeError/ValueError with C++ text
            raise BundleError(f"executorch could not load '{bundle.model_file}': {first_line(err)}") from err

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        seq = next(iter(feed.values())).shape[1]
        if seq > self.seq_bound:
            raise UsageError(f"Input of {seq} tokens is longer than this program's bound {self.seq_bound}")
        rows = []
        for b in range(next(iter(feed.values())).shape[0]):  # batch-1 program: one row at a time
            inputs = [self._torch.from_numpy(np.ascontiguousarray(feed[n][b:b + 1], dtype=np.int64))
                      for n in self.input_names]
            rows.append(self._method.execute(inputs)[0].numpy())
        return np.concatenate(rows)


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> ExecuTorchRunner:
    return ExecuTorchRunner(bundle, device, threads)
