"""The tflite-mediapipe family (MediaPipe Tasks text models): a .tflite that TextClassifier / TextEmbedder load from its path alone.

What MediaPipe's C++ task graph (the same on Android, iOS, Python and Web) requires of a BERT text model, and how
this export meets it (mediapipe/tasks/cc/text/utils/text_model_utils.cc, bert_preprocessor_calculator.cc):
- exactly three int32 inputs, 2-D, batch 1, one fixed length: ids, mask, segment ids. DistilBERT has no segment
  input, so the wrapper adds one and uses it in a way that changes nothing (the converter would drop an unused one);
- the tokenizer comes from the metadata: BertTokenizer options with vocab.txt packed into the file. MediaPipe
  lowercases, so only uncased vocabularies are accepted;
- a classifier's output is used as scores as-is: the softmax is inside the model, labels are in the metadata;
- an embedder flattens each output into one embedding: the model's own sentence head (pooling, Dense, normalisation;
  edgebert.pooling) is inside the model, [1, D] out.
Run on the desktop with ai-edge-litert like any TFLite bundle; `edgebert verify` checks it the same way.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from edgebert.errors import ExportError, MissingRuntime, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.formats.tflite import TFLiteRunner, convert, operators, quantize, versions
from edgebert.models import LoadedModel
from edgebert.pooling import Head, head_module
from edgebert.quiet import native_quiet

MODEL_FILE = "model.tflite"
# What an app applies to a text before embed()/classify() so MediaPipe's tokenizer sees what the model's own does
# (with it the hostile corpus agrees at cosine 1.0000; without, zero-width text fell to 0.19, Greek capitals 0.11)
APP_NORMALIZATION = ("BertNormalizer, in this order: delete U+0000, U+FFFD and every Cc/Cf/Co code point but "
                     "\\t \\n \\r; map those and every White_Space code point to a space; NFD, then delete every Mn; "
                     "lowercase each code point (not String.lowercase(): no final-sigma rule). Remaining difference: "
                     "a word of 51-100 characters but over 100 UTF-8 bytes is [UNK] here, split by the model's own")
VOCAB_FILE = "vocab.txt"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # -> MediaPipe's ids, mask, segment_ids
TASKS = {"classification": "TextClassifier", "encoder": "TextEmbedder"}
APP = "MediaPipe Tasks Text (Android com.google.mediapipe:tasks-text, iOS MediaPipeTasksText, Python mediapipe)"


def _wrapper(inner: Any, task: str, has_segments: bool, head: Head | None) -> Any:
    import torch

    class MediaPipeText(torch.nn.Module):
        """(ids, mask, segment ids), each (1, T) -> softmax scores (1, labels) or the sentence vector (1, D)."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.head = head_module(head) if head is not None else None

        def forward(self, input_ids, attention_mask, token_type_ids):
            if has_segments:
                out = self.inner(input_ids, attention_mask, token_type_ids)
            else:  # keep the segment input alive in the graph without changing the ids: segment ids are 0 or 1
                out = self.inner(input_ids + token_type_ids * (token_type_ids > 1).long(), attention_mask)
            if task == "classification":
                return torch.softmax(out, dim=-1)  # MediaPipe uses the output as scores as-is
            return self.head(out, attention_mask)  # (B, H): the model's own sentence head

    wrapped = MediaPipeText().eval()
    wrapped.config = inner.config
    return wrapped


def reference_model(model: LoadedModel, opts: ExportOptions, session: ExportSession) -> LoadedModel:
    """What the .tflite computes: the model with three inputs and its post-processing inside (one wrapped model per
    source model and session: fp32 and int8 share its conversion and its PyTorch reference)."""
    kind = "probabilities" if model.task == "classification" else "embedding"
    return session.once((id(model.module), "mediapipe-reference"), lambda: dataclasses.replace(
        model, module=_wrapper(model.module, model.task, "token_type_ids" in model.input_names, model.head),
        input_names=list(INPUTS), output_name=kind, output_kind=kind))


def write_vocab(tokenizer: Any, path: Path) -> None:
    """vocab.txt from the fast tokenizer's WordPiece vocabulary, one token per line in id order (transformers 5
    writes none); refuse what MediaPipe's BertTokenizer would tokenize differently."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state.get("model", {}).get("type") != "WordPiece":
        raise ExportError("MediaPipe's BertTokenizer needs a WordPiece (BERT) vocabulary; this model's tokenizer is "
                          f"{state.get('model', {}).get('type')}")
    normalizer = state.get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer" and not normalizer.get("lowercase", True):
        raise ExportError("MediaPipe's BertTokenizer lowercases all text, so a cased vocabulary would see "
                          "different tokens; export an uncased model for MediaPipe (other formats take cased ones)")
    vocab = state["model"]["vocab"]
    tokens = [tok for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ExportError("The WordPiece vocabulary's ids are not 0..N-1; cannot write vocab.txt for MediaPipe")
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")


def _tensor_names(path: Path) -> dict[str, str]:
    """The .tflite's real input tensor names for ids/mask/segments (the metadata writer matches on them)."""
    from ai_edge_litert.interpreter import Interpreter

    with native_quiet():
        names = [d["name"] for d in Interpreter(model_path=str(path)).get_input_details()]
    found = {}
    for key in INPUTS:
        match = [n for n in names if key in n]
        if len(match) != 1:
            raise ExportError(f"The converted model's inputs are {names}: expected one named like '{key}' "
                              "(MediaPipe needs exactly ids, mask and segment ids)")
        found[key] = match[0]
    return found


def inline_buffers(data: bytes) -> bytes:
    """ai-edge-quantizer stores weights after the flatbuffer, addressed by offset; MediaPipe's metadata populator
    re-packs the flatbuffer and loses them ("Constant buffer specified an out of range offset"). Move them back
    inline, the layout the converter itself writes."""
    import flatbuffers
    import numpy as np
    from mediapipe.tasks.metadata import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    moved = 0
    raw = np.frombuffer(data, dtype=np.uint8)
    for buf in model.buffers or []:
        if buf.offset and buf.offset > 1:  # offset 1 marks an empty buffer
            buf.data = raw[buf.offset:buf.offset + buf.size]  # numpy: flatbuffers packs it as one vector, fast
            buf.offset, buf.size = 0, 0
            moved += 1
    if not moved:
        return data
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _populate(path: Path, model: LoadedModel, vocab: Path) -> dict[str, Any]:
    """Pack tokenizer, vocab and labels into the .tflite's metadata with MediaPipe's own writers."""
    from edgebert._compat import mediapipe_metadata

    mediapipe_metadata.install()
    try:
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier
    except ImportError as err:
        raise MissingRuntime("mediapipe", "mediapipe") from err
    names = _tensor_names(path)
    ids, mask, segments = names["input_ids"], names["attention_mask"], names["token_type_ids"]
    buf = bytearray(inline_buffers(path.read_bytes()))
    tokenizer = metadata_writer.BertTokenizer(str(vocab))
    try:
        if model.task == "classification":
            labels = metadata_writer.Labels().add(model.labels)
            writer = text_classifier.MetadataWriter.create_for_bert_model(
                buf, tokenizer=tokenizer, labels=labels, ids_name=ids, mask_name=mask, segment_name=segments)
        else:
            writer = (metadata_writer.MetadataWriter.create(buf)
                      .add_general_info("edgebert text embedder", "Sentence embedding (BERT, the model's own head)")
                      .add_bert_text_input(tokenizer, ids, mask, segments)
                      .add_feature_output(name="embedding", description="sentence embedding"))
        content, _ = writer.populate()
    except Exception as err:  # noqa: BLE001 - the writers raise ValueError, KeyError, RuntimeError...
        raise ExportError(f"MediaPipe metadata writer failed: {first_line(err)}") from err
    finally:
        writer = None  # its __del__ removes a temp folder; at interpreter exit `os` is gone and it raises
        import gc

        gc.collect()
    path.write_bytes(bytes(content))
    return {"ids": ids, "mask": mask, "segment_ids": segments}


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           precision: str) -> dict[str, Any]:
    """model.tflite with the MediaPipe metadata (tokenizer, vocab, labels) populated, in fp32 or int8."""
    if model.tokenizer is None:
        raise ExportError("MediaPipe text models carry their tokenizer: this model has none")
    import importlib.metadata as md

    (length,) = set(opts.seq_lens)
    write_vocab(model.tokenizer, work / VOCAB_FILE)
    with tempfile.TemporaryDirectory(prefix="edgebert-mediapipe-") as tmp:
        fp32 = Path(tmp) / "fp32.tflite"
        session.reuse((id(model.module), "mediapipe-fp32", length), fp32, lambda dest: convert(model, dest, length))
        quant = quantize(fp32, work / MODEL_FILE, precision) if precision != "fp32" else None
        if precision == "fp32":
            fp32.replace(work / MODEL_FILE)
    tensors = _populate(work / MODEL_FILE, model, work / VOCAB_FILE)
    ops = operators(work / MODEL_FILE)
    info: dict[str, Any] = {
        "model_file": MODEL_FILE, "model_files": [MODEL_FILE],
        "shapes": {"static": True, "seq_lens": [length], "batch": 1, "files": {str(length): MODEL_FILE}},
        "inputs": [{"name": n, "dtype": "int32", "axes": [1, length]} for n in INPUTS],
        "operators": ops, "flex_ops": [], "precision": precision, "exporter": "litert-torch + MediaPipe metadata",
        "extra_files": {"vocab": VOCAB_FILE},
        "mediapipe": {"task": TASKS[model.task], "input_tensors": tensors, "max_seq_len": length,
                      "tokenizer": "BertTokenizer from the metadata (vocab.txt packed in the file): lowercases ASCII "
                                   "only, strips no accents, removes no control or zero-width characters, splits on "
                                   "ASCII whitespace, a word over 100 bytes is [UNK]",
                      "app_normalization": APP_NORMALIZATION,
                      "labels": model.labels, "output": model.output_kind,
                      "mediapipe_version": md.version("mediapipe")},
        "versions": {**versions(), "mediapipe": md.version("mediapipe")},
    }
    if quant:
        info["quantization"] = quant
    return info


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> TFLiteRunner:
    return TFLiteRunner(bundle, device, threads)


def layer_taps(bundle: Any, feed: dict[str, Any], text: str) -> list[tuple[str, Any]]:
    """As a plain TFLite file: the metadata and the softmax/pooling after the encoder change no LayerNorm."""
    from edgebert.formats.tflite import layer_taps as tflite_taps

    return tflite_taps(bundle, feed, text)
