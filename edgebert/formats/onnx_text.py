"""Text in, answer out: an ONNX graph whose first node is onnxruntime-extensions' BertTokenizer op.

An app passes the raw string (or a pair of strings) and gets logits, or a mean-pooled embedding, back: no
tokenizer to port to Kotlin/Swift. The tokenizer op's settings come from the model's own tokenizer.json
(WordPiece vocab, lowercasing, accent stripping, CJK splitting, special tokens) and it truncates at the model's
max positions, longest first, as Hugging Face does. The gate compares the graph on raw text, one text per run,
with PyTorch on the Python tokenizer's ids, accented and over-long text included.
Apps need the extensions library beside ONNX Runtime: onnxruntime-extensions-android (Maven) or the
onnxruntime-extensions-c pod, registered on the session options (see the manifest's "ort_extensions").
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import ExportError, MissingRuntime, UsageError, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.formats.onnx import MODEL_FILE, versions
from edgebert.formats.onnx.trace import export_onnx
from edgebert.formats.onnx_text_normalizer import prepend
from edgebert.models import LoadedModel
from edgebert.pooling import Head, head_module
from edgebert.runtimes.ort import OrtRunner

TEXT_INPUT = "text"
NORMALIZER_OPSET = 20  # StringSplit (ai.onnx 20) keeps NUL out of the extensions' C-string ops
TOKEN_OUTPUTS = ("input_ids", "token_type_ids", "attention_mask")  # the op's outputs, 1-D int64 each
APPS = {"android": "Maven com.microsoft.onnxruntime:onnxruntime-extensions-android",
        "ios": "CocoaPods onnxruntime-extensions-c",
        "register": "SessionOptions.registerCustomOpLibrary(OrtxPackage.getLibraryPath()) (Android); "
                    "ORTSessionOptions.registerCustomOps(functionPointer: OrtExtGetRegisterCustomOpsFunctionPtr()) "
                    "(iOS)"}


def _pooled(inner: Any, head: Head) -> Any:
    import torch

    class Pooled(torch.nn.Module):
        """Encoder -> the model's own sentence head (pooling, Dense, normalisation): one vector per text."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.head = head_module(head)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            args = (input_ids, attention_mask) + ((token_type_ids,) if token_type_ids is not None else ())
            return self.head(self.inner(*args), attention_mask)  # (B, T, H) -> (B, D)

    wrapped = Pooled().eval()
    wrapped.config = inner.config
    wrapped.hf = inner.hf  # eager_attention() switches the HF model's attention for tracing
    return wrapped


def reference_model(model: LoadedModel, opts: ExportOptions, session: ExportSession) -> LoadedModel:
    """Classifiers as they are; encoders with their sentence head inside the graph (one vector per text)."""
    if model.tokenizer is None:
        raise UsageError("onnx-text puts the model's tokenizer into the graph: this model has none")
    if model.task == "classification":
        return model
    return session.once((id(model.module), "onnx-text-reference"), lambda: dataclasses.replace(
        model, module=_pooled(model.module, model.head), output_name="embedding", output_kind="embedding"))


def tokenizer_attributes(tokenizer: Any, max_length: int) -> dict[str, Any]:
    """The BertTokenizer op's attributes, read from the fast tokenizer's own tokenizer.json."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    wordpiece = state.get("model") or {}
    if wordpiece.get("type") != "WordPiece":
        raise ExportError(f"onnx-text supports WordPiece (BERT) tokenizers; this one is {wordpiece.get('type')}")
    norm = state.get("normalizer") or {}
    if norm.get("type") not in (None, "BertNormalizer"):
        raise ExportError(f"onnx-text needs a BertNormalizer; this tokenizer normalizes with {norm.get('type')}")
    lowercase = bool(norm.get("lowercase", True))
    strip = norm.get("strip_accents")
    vocab = wordpiece["vocab"]
    return {"vocab": "\n".join(tok for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1])),
            "do_lower_case": int(lowercase), "strip_accents": int(lowercase if strip is None else strip),
            "tokenize_chinese_chars": int(norm.get("handle_chinese_chars", True)),
            "unk_token": wordpiece.get("unk_token", "[UNK]"), "suffix_indicator": wordpiece.get(
                "continuing_subword_prefix", "##"), "max_length": int(max_length),
            "truncation_strategy_name": "longest_first"}


def tokenizer_graph(tokenizer: Any, max_length: int) -> tuple[Any, dict[str, Any]]:
    """The text -> ids graph: the model's own normaliser (tables, see onnx_text_normalizer) in front of the
    extensions' BertTokenizer op, which then lowercases and strips nothing itself. Outputs 1-D input_ids,
    token_type_ids, attention_mask for one text (or a pair)."""
    try:
        from onnxruntime_extensions import gen_processing_models
    except ImportError as err:
        raise MissingRuntime("onnxruntime-extensions", "onnx") from err
    attrs = tokenizer_attributes(tokenizer, max_length) | {"do_lower_case": 0, "strip_accents": 0}
    pre, _ = gen_processing_models("BertTokenizer", pre_kwargs=attrs)
    return pre, prepend(pre, tokenizer.backend_tokenizer.to_str())


def _merge(pre: Any, main: Any, names: list[str], output: str) -> Any:
    """Tokenizer graph (1-D outputs) -> Unsqueeze to (1, T) -> the model graph, as one ONNX model."""
    import onnx
    from onnx import compose, helper

    opset = next(o.version for o in main.opset_import if o.domain in ("", "ai.onnx"))
    graph = pre.graph
    axes = helper.make_tensor("edgebert_axes0", onnx.TensorProto.INT64, [1], [0])
    graph.initializer.append(axes)
    for name in TOKEN_OUTPUTS:
        graph.node.append(helper.make_node("Unsqueeze", [name, "edgebert_axes0"], [f"{name}_2d"]))
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(f"{n}_2d", onnx.TensorProto.INT64, [1, None]) for n in names)
    # one opset for the merged graph: the normaliser's StringSplit needs ai.onnx 20, the trace is converted up to it
    main = onnx.version_converter.convert_version(main, NORMALIZER_OPSET) if opset < NORMALIZER_OPSET else main
    ml = [o for o in pre.opset_import if o.domain == "ai.onnx.ml"]
    del pre.opset_import[:]
    pre.opset_import.extend([helper.make_opsetid("", max(opset, NORMALIZER_OPSET)),
                             helper.make_opsetid("ai.onnx.contrib", 1), *ml])
    if ml:
        main.opset_import.extend(ml)
    pre.ir_version = main.ir_version
    return compose.merge_models(pre, main, io_map=[(f"{n}_2d", n) for n in names], outputs=[output])


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           variant: str = "fp32") -> dict[str, Any]:
    import importlib.metadata as md

    import onnx

    attrs = tokenizer_attributes(model.tokenizer, model.max_length)
    with tempfile.TemporaryDirectory(prefix="edgebert-text-") as tmp:
        main_path = Path(tmp) / "model.onnx"
        export_onnx(model, main_path, opts.opset, session)
        try:
            pre, normalizer = tokenizer_graph(model.tokenizer, model.max_length)
            merged = _merge(pre, onnx.load(str(main_path)), model.input_names, model.output_name)
            onnx.checker.check_model(merged)
        except Exception as err:  # noqa: BLE001 - onnx/compose raise several types
            raise ExportError(f"Building the text-in graph failed: {first_line(err)}") from err
        onnx.save(merged, str(work / MODEL_FILE))
    version = md.version("onnxruntime-extensions")
    return {"model_file": MODEL_FILE, "opset": opts.opset,
            "exporter": "torch.onnx + onnxruntime-extensions BertTokenizer (text in)",
            "inputs": [{"name": TEXT_INPUT, "dtype": "string", "axes": ["1 text, or 2 for a pair"]}],
            "tokenizer_in_graph": {k: v for k, v in attrs.items() if k != "vocab"} | {
                "do_lower_case": 0, "strip_accents": 0, "vocab_size": len(
                attrs["vocab"].splitlines()), **normalizer,
                "pairs": "not truncated by the op: a pair longer than max_length is refused (one-line error)"},
            "ort_extensions": {"version": version, **APPS},
            "versions": {**versions(), "onnxruntime-extensions": version}}


class TextRunner(OrtRunner):
    """An ORT session with the extensions' custom ops; one text (or pair) per run, as the op takes."""

    takes_text = True

    def __init__(self, model_path: Path, device: str = "cpu", threads: int | None = None) -> None:
        try:
            from onnxruntime_extensions import get_library_path
        except ImportError as err:
            raise MissingRuntime("onnxruntime-extensions", "runtime") from err
        super().__init__(model_path, device, threads, custom_ops_library=get_library_path())

    def run_text(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        outs = []
        for i, text in enumerate(texts):
            strings = [text] if pairs is None else [text, pairs[i]]
            outs.append(self.session.run([self.output_name], {TEXT_INPUT: np.array(strings, dtype=object)})[0])
        return np.concatenate(outs)

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise UsageError("This bundle's graph takes raw text (input 'text'), not token ids")


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> TextRunner:
    return TextRunner(bundle.model_file, device, threads)


def layer_taps(bundle: Any, feed: dict[str, np.ndarray], text: str) -> list[tuple[str, np.ndarray]]:
    """Every LayerNorm output of the text-in graph, fed the raw string (its own tokenizer runs first)."""
    from onnxruntime_extensions import get_library_path

    from edgebert.layers import onnx_layernorms

    return onnx_layernorms(str(bundle.model_file), {"text": np.array([text], dtype=object)}, get_library_path())
