"""Bundles that mobile SDKs consume as they are, checked with the SDKs' own code on real MiniLM weights:
MediaPipe Tasks (TextEmbedder / TextClassifier), ONNX Runtime's ORT format, and the text-in ONNX graph."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgebert.export import export
from edgebert import hostile
from tests.cli_helpers import run_cli
from tests.independent import cosines, plain_outputs, torch_outputs
from tests.conftest import read_manifest

ASCII = ["A cat is sleeping on the warm windowsill.", "How do I RESET my password?!",
         "The quarterly report shows revenue grew by 12 percent compared to last year.",
         "Terrible customer service; they hung up on me TWICE..."]
ACCENTED = ["Café Zürich's crème brûlée was naïve — but GREAT!", "Ünïcödé façade: résumé, coöperate, jalapeño."]
LONG = "The committee reviewed every proposal carefully before the final vote was taken. " * 60


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def minilm_model(minilm):
    from edgebert.models import load_model

    return load_model(str(minilm))


@pytest.fixture(scope="module")
def minilm_classifier(minilm, tmp_path_factory) -> Path:
    """Real MiniLM encoder + a seeded 3-label head with names: real features, non-degenerate scores."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    names = {0: "negative", 1: "neutral", 2: "positive"}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(minilm), num_labels=3, id2label=names, label2id={v: k for k, v in names.items()})
    with torch.no_grad():
        model.classifier.weight.normal_(0, 3.0)  # decisive scores: int8 noise must not decide ties
    out = tmp_path_factory.mktemp("models") / "minilm-3labels"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(minilm)).save_pretrained(out)
    return out


def _pytorch_pooled(model, text: str, max_len: int = 512) -> np.ndarray:
    import torch

    enc = model.tokenizer([text], return_tensors="pt", truncation=True, max_length=max_len)
    with torch.inference_mode():
        hidden = model.module(*[enc[n] for n in model.input_names]).numpy()
    mask = enc["attention_mask"].numpy()[..., None]
    return (hidden * mask).sum(1)[0] / mask.sum()


# --- MediaPipe Tasks -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mediapipe_embedder(minilm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mp") / "minilm-tflite-mediapipe"
    export(str(minilm), "tflite-mediapipe", out)
    return out


def test_mediapipe_text_embedder_loads_the_file_and_agrees_with_pytorch(mediapipe_embedder, minilm_model):
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    m = read_manifest(mediapipe_embedder)
    assert m["mediapipe"]["task"] == "TextEmbedder" and m["inputs"][0]["dtype"] == "int32"
    assert m["mediapipe"]["input_tensors"].keys() == {"ids", "mask", "segment_ids"}
    path = str(mediapipe_embedder / m["model_file"])
    embedder = text.TextEmbedder.create_from_options(
        text.TextEmbedderOptions(base_options=BaseOptions(model_asset_path=path)))
    try:
        def mp(t: str) -> np.ndarray:
            return np.asarray(embedder.embed(t).embeddings[0].embedding)

        for t in ASCII:  # capitals and punctuation: MediaPipe lowercases like the uncased HF tokenizer
            assert _cos(mp(t), _pytorch_pooled(minilm_model, t)) >= 0.999, t
        # MediaPipe's BertTokenizer lowercases ASCII only and strips nothing: accented text differs...
        for t in ACCENTED:
            assert _cos(mp(t), _pytorch_pooled(minilm_model, t)) < 0.9, t
        # ...and the documented app-side step (the model's own BertNormalizer, as the manifest says) makes every
        # text of the hostile corpus agree: zero-width and control characters, non-ASCII capitals, 128-token edges
        normalize = minilm_model.tokenizer.backend_tokenizer.normalizer.normalize_str
        assert m["mediapipe"]["app_normalization"].startswith("BertNormalizer")
        corpus = hostile.corpus(minilm_model.tokenizer.backend_tokenizer, (127, 128, 129))
        low = {name: round(c, 4) for name, _, t in corpus + [("long", "", LONG)]
               if (c := _cos(mp(normalize(t)), _pytorch_pooled(minilm_model, t, max_len=128))) < 0.999}
        assert low == {}
    finally:
        embedder.close()


def test_mediapipe_metadata_min_parser_version_and_vocab(mediapipe_embedder):
    from mediapipe.tasks.python.metadata.metadata import MetadataDisplayer

    from edgebert._compat import mediapipe_metadata

    mediapipe_metadata.install()
    shown = MetadataDisplayer.with_model_file(str(mediapipe_embedder / "model.tflite"))
    meta = json.loads(shown.get_metadata_json())
    assert meta["min_parser_version"] == "1.1.0"  # BertTokenizer options + input process units (metadata_version.cc)
    assert shown.get_packed_associated_file_list() == ["vocab.txt"]
    vocab = (mediapipe_embedder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 30522 and vocab[:1] == ["[PAD]"] and vocab[101] == "[CLS]"


@pytest.mark.parametrize("fmt", ["tflite-mediapipe", pytest.param("tflite-mediapipe-int8", marks=pytest.mark.slow)])
def test_mediapipe_text_classifier_agrees_with_pytorch_and_names_labels(fmt, minilm_classifier, tmp_path):
    import torch
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from edgebert.models import load_model

    out = tmp_path / fmt
    manifest = export(str(minilm_classifier), fmt, out)
    assert manifest["mediapipe"]["labels"] == ["negative", "neutral", "positive"]
    model = load_model(str(minilm_classifier))
    clf = text.TextClassifier.create_from_options(
        text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(out / "model.tflite"))))
    checked, first_labels, cosines = 0, {}, []
    try:
        for t in ASCII:
            cats = clf.classify(t).classifications[0].categories
            scores = {c.category_name: c.score for c in cats}
            first_labels[t] = max(scores, key=scores.get)
            assert set(scores) == {"negative", "neutral", "positive"}  # label names from the metadata
            enc = model.tokenizer([t], return_tensors="pt")
            with torch.inference_mode():
                probs = torch.softmax(model.module(*[enc[n] for n in model.input_names]), -1)[0].numpy()
            mp = np.array([scores[n] for n in model.labels])
            assert abs(mp.sum() - 1) < 1e-3  # the softmax is inside the model
            if fmt == "tflite-mediapipe":  # fp32: PyTorch's answer and scores, within the fp32 gate
                assert mp.argmax() == probs.argmax() and np.abs(mp - probs).max() <= 1e-4, (t, mp, probs)
                checked += 1
            else:  # int8 on a random head (it amplifies int8 error): the lossy gate, argmax where decisive
                cosines.append(_cos(mp, probs))
                top2 = np.sort(probs)[-2:]
                if top2[1] - top2[0] > 0.2:
                    assert mp.argmax() == probs.argmax(), (t, mp, probs)
                    checked += 1
        assert checked >= 2
        assert not cosines or np.mean(cosines) >= 0.99  # the lossy gate is the mean cosine over samples
    finally:
        clf.close()
    # edgebert's own runner on the same file gives MediaPipe's answer
    import edgebert

    for t, label in first_labels.items():
        assert edgebert.load(out).predict([t])[0]["label"] == label


@pytest.mark.slow
def test_mediapipe_int8_embedder_real_weights(minilm, minilm_model, tmp_path):
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    out = tmp_path / "emb-int8"
    export(str(minilm), "tflite-mediapipe-int8", out)
    emb = text.TextEmbedder.create_from_options(
        text.TextEmbedderOptions(base_options=BaseOptions(model_asset_path=str(out / "model.tflite"))))
    try:
        for t in ASCII:
            assert _cos(np.asarray(emb.embed(t).embeddings[0].embedding), _pytorch_pooled(minilm_model, t)) >= 0.99
    finally:
        emb.close()


def test_mediapipe_refuses_a_cased_vocabulary(tmp_path):
    from edgebert.errors import ExportError
    from edgebert.formats.tflite_mediapipe import write_vocab

    class Cased:
        class backend_tokenizer:  # noqa: N801 - mimics the HF attribute
            @staticmethod
            def to_str() -> str:
                return json.dumps({"normalizer": {"type": "BertNormalizer", "lowercase": False},
                                   "model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "A": 1}}})

    with pytest.raises(ExportError, match="lowercases all text, so a cased vocabulary"):
        write_vocab(Cased(), tmp_path / "vocab.txt")
    assert not (tmp_path / "vocab.txt").exists()


def test_mediapipe_needs_one_fixed_length(capsys, tiny_distilbert, tmp_path):
    res = run_cli(capsys, "export", tiny_distilbert, "--format", "tflite-mediapipe", "--seq-len", "64,128",
                  "--out", tmp_path / "o")
    assert res.code == 2 and "MediaPipe text models have one fixed length" in res.err
    assert not (tmp_path / "o").exists()


def test_distilbert_gets_a_segment_input_the_converter_keeps(tiny_distilbert, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    out = tmp_path / "d"
    export(str(tiny_distilbert), "tflite-mediapipe", out)
    details = Interpreter(model_path=str(out / "model.tflite")).get_input_details()
    assert len(details) == 3 and all(d["dtype"] == np.int32 and list(d["shape"]) == [1, 128] for d in details)


# --- ONNX Runtime Mobile ---------------------------------------------------------------------------------------

def test_ort_format_and_required_operators(minilm, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "mobile-int8"
    m = export(str(minilm), "onnx-mobile-int8", out)
    assert m["model_file"] == "model.ort" and m["quantization"]["target"] == "arm64"
    assert m["ort_mobile"]["optimization_style"] == "Fixed" and m["ort_mobile"]["target_platform"] == "arm"
    assert any("onnxruntime-android" in p for p in m["ort_mobile"]["packages"])
    assert (out / "model.ort").read_bytes()[4:8] == b"ORTM"  # the ORT flatbuffer identifier
    config = (out / "required_operators.config").read_text().splitlines()
    assert config[0].startswith("# Generated from model.ort by onnxruntime")
    ops = {op for line in config[1:] for op in line.split(";")[2].split(",")}
    assert {"DynamicQuantizeLinear", "Gather", "Add"} <= ops
    assert m["ort_mobile"]["required_operators"] == config[1:]
    sess = ort.InferenceSession(str(out / "model.ort"))  # the full ORT loads the ORT format
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    # model.ort run by plain onnxruntime against transformers, per text: 0.9906 worst here (VNNI)
    assert min(cosines(plain_outputs(out), torch_outputs(minilm))) >= 0.98


# --- text in, answer out -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def text_bundle(minilm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text") / "minilm-onnx-text"
    export(str(minilm), "onnx-text", out)
    return out


def test_text_in_graph_matches_the_python_tokenizer_path(text_bundle, minilm_model):
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    m = read_manifest(text_bundle)
    assert m["inputs"] == [{"name": "text", "dtype": "string", "axes": ["1 text, or 2 for a pair"]}]
    assert m["ort_extensions"]["version"] == "0.15.2" and "onnxruntime-extensions-android" in m["ort_extensions"]["android"]
    # the op lowercases and strips nothing itself: the model's own normaliser runs before it, in the graph
    assert m["tokenizer_in_graph"]["strip_accents"] == 0 and m["tokenizer_in_graph"]["do_lower_case"] == 0
    assert m["tokenizer_in_graph"]["normalizer"].startswith("Hugging Face BertNormalizer as tables in the graph")
    # MiniLM's sentence_bert_config.json says max_seq_length 256: its users' texts are cut there, not at 512
    assert m["tokenizer_in_graph"]["max_length"] == 256 == m["max_length"]
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(get_library_path())
    sess = ort.InferenceSession(str(text_bundle / "model.onnx"), opts)
    for t in ASCII + ACCENTED + [LONG]:  # an app's view: a string in, the embedding out
        (emb,) = sess.run(None, {"text": np.array([t], dtype=object)})
        assert emb.shape == (1, 384)
        assert _cos(emb[0], _pytorch_pooled(minilm_model, t, max_len=256)) >= 0.9999, t[:40]
    assert m["parity"]["inputs"].startswith("raw text, one per run")


def test_text_in_classifier_with_pairs_and_predict(capsys, minilm_classifier, tmp_path):
    import torch

    from edgebert.models import load_model

    out = tmp_path / "cls-text"
    export(str(minilm_classifier), "onnx-text", out)
    import edgebert

    pred = edgebert.load(out)
    model = load_model(str(minilm_classifier))
    a, b = "A man is playing a guitar.", "Someone plays music."
    got = pred([a], [b])
    enc = model.tokenizer([a], [b], return_tensors="pt")
    assert enc["token_type_ids"].sum() > 0  # the pair's second segment is real input here
    with torch.inference_mode():
        ref = model.module(*[enc[n] for n in model.input_names]).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)
    res = run_cli(capsys, "predict", out, "Terrible customer service.")
    assert res.code == 0 and json.loads(res.out)["results"][0]["label"] in ("negative", "neutral", "positive")


def test_formats_name_the_app_sdk(capsys):
    res = run_cli(capsys, "formats")
    assert res.code == 0
    for fmt, sdk in (("tflite-mediapipe", "MediaPipe Tasks Text: TextClassifier / TextEmbedder load the file by path"),
                     ("onnx-mobile", "ONNX Runtime Mobile"), ("onnx-text", "onnxruntime-extensions")):
        assert any(line.startswith(fmt + " ") for line in res.out.splitlines()) and sdk in res.out
