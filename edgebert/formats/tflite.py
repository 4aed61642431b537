"""TFLite (LiteRT): fp32, fp16 weights, dynamic-range int8. Converted with litert-torch (builtin ops, no
TensorFlow); quantised with ai-edge-quantizer; run with ai-edge-litert's interpreter (XNNPACK) alone.

TFLite wants static shapes: every `--seq-len` bucket is one signature (`s16`, `s32`, ...) of ONE file, batch 1, the
weights stored once (litert-torch deduplicates parameters across signatures; each signature keeps only its own slice
of the position embeddings, and after int8 its own copy of the per-channel scales). The runner picks the smallest
bucket that fits, pads, and runs a batch row by row. A dynamic-length graph does not convert with litert-torch 0.10
(benchmarks/results/litert-buckets-2026-12-01). Inputs are int32 (LiteRT downcasts int64), named like the model's.
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


MODEL_FILE = "model.tflite"


def signature_key(length: int) -> str:
    return f"s{length}"


def convert(model: LoadedModel, path: Path, seq_len: int) -> None:
    """PyTorch -> .tflite at (1, seq_len), one default signature (tflite-mediapipe: one length per file)."""
    _convert(model, path, {None: seq_len})


def convert_buckets(model: LoadedModel, path: Path, seq_lens: list[int]) -> None:
    """PyTorch -> one .tflite with a signature per length. The largest goes first: it becomes the primary subgraph,
    which single-graph readers (layer taps, plain `interpreter.invoke()`) use, so they cut no text short."""
    _convert(model, path, {signature_key(n): n for n in sorted(set(seq_lens), reverse=True)})


def _convert(model: LoadedModel, path: Path, lengths: dict[str | None, int]) -> None:
    """litert-torch: builtin ops, inputs named like the model's (kwargs, not args)."""
    import torch

    try:
        with native_quiet():  # importing it starts TensorFlow, whose absl/oneDNN start-up lines go to fd 2
            import litert_torch
    except ImportError as err:
        raise MissingRuntime("litert-torch", "tflite") from err
    from edgebert.quiet import verbose

    def sample(seq_len: int) -> dict[str, Any]:
        feed = {n: torch.ones((1, seq_len), dtype=torch.long) for n in model.input_names}
        if "token_type_ids" in feed:
            feed["token_type_ids"] = torch.zeros((1, seq_len), dtype=torch.long)
        return feed

    progress = getattr(getattr(litert_torch, "progress", None), "console", None)
    if progress is not None and not verbose():
        progress.quiet = True  # litert-torch prints every conversion stage to stdout through its rich console
    module = model.module.eval()
    try:
        with native_quiet():  # TensorFlow's absl/oneDNN start-up lines
            if list(lengths) == [None]:
                converted = litert_torch.convert(module, sample_kwargs=sample(lengths[None]))
            else:
                converter = litert_torch.Converter()
                for key, n in lengths.items():
                    converter = converter.signature(key, module, sample_kwargs=sample(n))
                converted = converter.convert()
            converted.export(str(path))
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
    """One .tflite with a signature per static length, in fp32, fp16 or int8; Flex ops refused unless
    --allow-flex. (The export checks each bucket: golden texts in every bucket, padding must not move an answer.)"""
    lengths = sorted(set(opts.seq_lens))
    quant = None
    with tempfile.TemporaryDirectory(prefix="edgebert-tflite-") as tmp:
        fp32 = Path(tmp) / "fp32.tflite"
        session.reuse((id(model.module), "tflite-fp32", tuple(lengths)), fp32,
                      lambda dest: convert_buckets(model, dest, lengths))
        if precision == "fp32":
            fp32.replace(work / MODEL_FILE)
        else:
            quant = quantize(fp32, work / MODEL_FILE, precision)
            if len(lengths) > 1:  # per-channel scales were written once per signature: keep one copy
                from edgebert.formats.tflite_share import share_vectors

                sizes = share_vectors(work / MODEL_FILE)
                quant["shared_vectors_saved_bytes"] = sizes["bytes_before"] - sizes["bytes_after"]
    ops = operators(work / MODEL_FILE)
    flex = sorted(op for op in ops if op.startswith(FLEX_PREFIXES))
    if flex and not opts.allow_flex:
        raise ExportError(f"The TFLite model needs Flex/Select-TF ops ({', '.join(flex)}), which add ~100 MB to an "
                          "app. Fix: pass --allow-flex to accept them")
    shapes = {"static": True, "seq_lens": lengths, "batch": 1, "files": {str(n): MODEL_FILE for n in lengths},
              "signatures": {str(n): signature_key(n) for n in lengths}}
    info: dict[str, Any] = {
        "model_file": MODEL_FILE, "model_files": [MODEL_FILE], "shapes": shapes,
        "inputs": [{"name": n, "dtype": "int32", "axes": [1, "sequence (static, one signature per seq_lens entry)"]}
                   for n in model.input_names],
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
    """One signature runner per static length (bundles before the buckets: one file each), built once with XNNPACK
    and `num_threads`; batch rows run in turn. `last_length` is the bucket the latest run used."""

    runtime = "ai-edge-litert"

    def __init__(self, bundle: Any, device: str = "cpu", threads: int | None = None) -> None:
        cpu_only("TFLite", device)
        import importlib.metadata as md

        self.device = device
        self.runtime_version = md.version("ai-edge-litert")
        self.input_names = bundle.input_names
        self.last_length: int | None = None
        shapes = bundle.manifest["shapes"]
        keys = shapes.get("signatures") or {}
        interpreters: dict[str, Any] = {}  # one per file, kept alive: signature runners borrow from them
        self._runners: dict[int, Any] = {}
        for length, name in shapes["files"].items():
            if name not in interpreters:
                interpreters[name] = _open(bundle.path / name, threads)
            with native_quiet():  # the XNNPACK delegate is applied (and announced) when tensors are allocated
                self._runners[int(length)] = interpreters[name].get_signature_runner(keys.get(length))
        self._interpreters = list(interpreters.values())
        self.buckets = sorted(self._runners)

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.run_bucket(feed, pick_length(self.buckets, next(iter(feed.values())).shape[1]))

    def run_bucket(self, feed: dict[str, np.ndarray], length: int) -> np.ndarray:
        """Run in the bucket of `length` tokens (at least the feed's own length), padding each row to it."""
        seq = next(iter(feed.values())).shape[1]
        if length not in self._runners or length < seq:
            raise ValueError(f"No bucket of {length} tokens for a {seq}-token input (buckets: {self.buckets})")
        padded = pad_feed(feed, length)
        runner = self._runners[length]
        rows = []
        for b in range(next(iter(feed.values())).shape[0]):
            out = runner(**{n: padded[n][b:b + 1].astype(np.int32) for n in self.input_names})
            rows.append(next(iter(out.values())))
        self.last_length = length
        out = np.concatenate(rows, axis=0)
        return out[:, :seq] if out.ndim == 3 else out  # encoders: drop the padded positions


def _open(path: Path, threads: int | None) -> Any:
    try:
        with native_quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interp = _interpreter_cls()(model_path=str(path), num_threads=threads or None)
            interp.allocate_tensors()
    except Exception as err:  # noqa: BLE001
        raise BundleError(f"ai-edge-litert could not load '{path}': {first_line(err)}") from err
    return interp


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> TFLiteRunner:
    return TFLiteRunner(bundle, device, threads)


def layer_taps(bundle: Any, feed: dict[str, np.ndarray], text: str) -> list[tuple[str, np.ndarray]]:
    """Every LayerNorm output of the file whose static length holds the text, cut back to the text's tokens
    (a bucketed file: its primary subgraph, the largest bucket)."""
    from edgebert.layers import tflite_layernorms

    files = (bundle.manifest.get("shapes") or {}).get("files") or {}
    length = min((int(n) for n in files if int(n) >= feed["input_ids"].shape[1]), default=None)
    target = bundle.path / files[str(length)] if length else bundle.model_file
    return [(name, out[:, : feed["input_ids"].shape[1]]) for name, out in tflite_layernorms(str(target), feed)]
