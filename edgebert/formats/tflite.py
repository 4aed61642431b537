"""TFLite (LiteRT): fp32, fp16 weights, dynamic-range int8. Converted with litert-torch (builtin ops, no
TensorFlow); quantised with ai-edge-quantizer; run with ai-edge-litert's interpreter (XNNPACK) alone.

TFLite wants static shapes: one file per `--seq-len`, batch 1; the runner picks the smallest length that fits,
pads, and runs a batch row by row. Inputs are int32 (LiteRT downcasts int64), named like the model's.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import BundleError, ExportError, MissingRuntime, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.models import LoadedModel
from edgebert.quiet import native_quiet
from edgebert.runner import Runner, cpu_only, pad_feed, pick_length

FLEX_PREFIXES = ("Flex", "DELEGATE")


def _interpreter_cls() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as err:
        raise MissingRuntime("ai-edge-litert", "runtime") from err
    return Interpreter


def convert(model: LoadedModel, path: Path, seq_len: int) -> None:
    """PyTorch -> .tflite at (1, seq_len) with litert-torch: builtin ops, inputs named like the model's."""
    import torch

    try:
        with native_quiet():  # importing it starts TensorFlow, whose absl/oneDNN start-up lines go to fd 2
            import litert_torch
    except ImportError as err:
        raise MissingRuntime("litert-torch", "tflite") from err
    sample = {n: torch.ones((1, seq_len), dtype=torch.long) for n in model.input_names}
    sample["token_type_ids"] = torch.zeros((1, seq_len), dtype=torch.long)
    sample = {n: sample[n] for n in model.input_names}
    from edgebert.quiet import verbose

    progress = getattr(getattr(litert_torch, "progress", None), "console", None)
    if progress is not None and not verbose():
        progress.quiet = True  # litert-torch prints every conversion stage to stdout through its rich console
    try:
        # kwargs, not args: the signature's inputs then carry the model's input names
        with native_quiet():  # TensorFlow's absl/oneDNN start-up lines
            litert_torch.convert(model.module.eval(), sample_kwargs=sample).export(str(path))
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"litert_torch.convert failed: {first_line(err)}") from err


def quantize(src: Path, dst: Path, precision: str) -> dict[str, Any]:
    """int8 (dynamic-range, per-channel weights) or fp16 weights, with ai-edge-quantizer."""
    from ai_edge_quantizer import quantizer, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    if precision == "int8":
        rcp, info = recipe.dynamic_wi8_afp32(), {"method": "ai-edge-quantizer dynamic_wi8_afp32",
                                                 "weights": "int8 per-channel", "activations": "fp32, int8 at run time"}
    else:
        manager = recipe_manager.RecipeManager()
        manager.add_weight_only_config(regex=".*", operation_name=TFLOperationName.ALL_SUPPORTED, num_bits=16,
                                       algorithm_key=AlgorithmName.FLOAT_CASTING)
        rcp, info = manager.get_quantization_recipe(), {"method": "ai-edge-quantizer float_casting",
                                                        "weights": "fp16", "activations": "fp32"}
    try:
        with native_quiet():
            qt = quantizer.Quantizer(str(src))
            qt.load_quantization_recipe(rcp)
            qt.quantize(enable_progress_report=False).export_model(str(dst), overwrite=True)
    except Exception as err:  # noqa: BLE001
        raise ExportError(f"ai-edge-quantizer failed: {first_line(err)}") from err
    return info


def operators(path: Path) -> list[str]:
    """The operator set of a .tflite file (builtin names; Flex/custom ops by their names)."""
    try:
        with native_quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interp = _interpreter_cls()(model_path=str(path))
    except Exception as err:  # noqa: BLE001 - a model needing Flex ops fails to build without the delegate
        text = str(err)
        if "Flex" in text or "Select TensorFlow" in text:
            return ["Flex (Select TF ops)"]
        raise ExportError(f"ai-edge-litert could not load the converted model: {first_line(err)}") from err
    return sorted({op["op_name"] for op in interp._get_ops_details()})


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           precision: str) -> dict[str, Any]:
    """One .tflite per static length, in fp32, fp16 or int8; Flex ops refused unless --allow-flex."""

    files, ops, quant = {}, set(), None
    for length in sorted(set(opts.seq_lens)):
        name = f"model-s{length}.tflite"
        with tempfile.TemporaryDirectory(prefix="edgebert-tflite-") as tmp:
            fp32 = Path(tmp) / "fp32.tflite"
            session.reuse((id(model.module), "tflite-fp32", length), fp32, lambda dest: convert(model, dest, length))
            if precision == "fp32":
                fp32.replace(work / name)
            else:
                quant = quantize(fp32, work / name, precision)
        ops.update(operators(work / name))
        files[str(length)] = name
    flex = sorted(op for op in ops if op.startswith(FLEX_PREFIXES))
    if flex and not opts.allow_flex:
        raise ExportError(f"The TFLite model needs Flex/Select-TF ops ({', '.join(flex)}), which add ~100 MB to an "
                          "app. Fix: pass --allow-flex to accept them")
    lengths = sorted(set(opts.seq_lens))
    info: dict[str, Any] = {
        "model_file": files[str(lengths[0])], "model_files": list(files.values()),
        "shapes": {"static": True, "seq_lens": lengths, "batch": 1, "files": files},
        "inputs": [{"name": n, "dtype": "int32", "axes": [1, "sequence (static, per file)"]} for n in model.input_names],
        "operators": sorted(ops), "flex_ops": flex, "precision": precision,
        "exporter": "litert-torch", "versions": versions(),
    }
    if quant:
        info["quantization"] = quant
    return info


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("torch", "transformers", "litert-torch", "ai-edge-litert", "ai-edge-quantizer"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class TFLiteRunner(Runner):
    """One interpreter per static length, built once with XNNPACK and `num_threads`; batch rows run in turn."""

    runtime = "ai-edge-litert"

    def __init__(self, bundle: Any, device: str = "cpu", threads: int | None = None) -> None:
        cpu_only("TFLite", device)
        import importlib.metadata as md

        interpreter = _interpreter_cls()
        self.device = device
        self.runtime_version = md.version("ai-edge-litert")
        self.input_names = bundle.input_names
        self._runners: dict[int, Any] = {}
        self._interpreters = []  # keep them alive: signature runners borrow from them
        for length, name in bundle.manifest["shapes"]["files"].items():
            try:
                with native_quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                    interp = interpreter(model_path=str(bundle.path / name), num_threads=threads or None)
            except Exception as err:  # noqa: BLE001
                msg = first_line(err)
                raise BundleError(f"ai-edge-litert could not load '{bundle.path / name}': {msg}") from err
            self._interpreters.append(interp)
            with native_quiet():  # the XNNPACK delegate is applied (and announced) when tensors are allocated
                interp.allocate_tensors()
                self._runners[int(length)] = interp.get_signature_runner()

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        seq = next(iter(feed.values())).shape[1]
        length = pick_length(list(self._runners), seq)
        padded = pad_feed(feed, length)
        runner = self._runners[length]
        rows = []
        for b in range(next(iter(feed.values())).shape[0]):
            out = runner(**{n: padded[n][b:b + 1].astype(np.int32) for n in self.input_names})
            rows.append(next(iter(out.values())))
        out = np.concatenate(rows, axis=0)
        return out[:, :seq] if out.ndim == 3 else out  # encoders: drop the padded positions


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> TFLiteRunner:
    return TFLiteRunner(bundle, device, threads)


def layer_taps(bundle: Any, feed: dict[str, np.ndarray], text: str) -> list[tuple[str, np.ndarray]]:
    """Every LayerNorm output of the file whose static length holds the text, cut back to the text's tokens."""
    from edgebert.layers import tflite_layernorms

    files = (bundle.manifest.get("shapes") or {}).get("files") or {}
    length = min((int(n) for n in files if int(n) >= feed["input_ids"].shape[1]), default=None)
    target = bundle.path / files[str(length)] if length else bundle.model_file
    return [(name, out[:, : feed["input_ids"].shape[1]]) for name, out in tflite_layernorms(str(target), feed)]
