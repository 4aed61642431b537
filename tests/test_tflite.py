"""TFLite: static lengths (one signature each, one file), padding, builtin ops only, int32 inputs, ai-edge-litert
without torch/TF."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("litert_torch", reason="pip install 'edgebert[tflite]'")

from edgebert.errors import ExportError  # noqa: E402
from edgebert.export import export  # noqa: E402
from edgebert.formats.base import ExportOptions  # noqa: E402
from tests.independent import cosines, plain_outputs, torch_outputs  # noqa: E402


@pytest.fixture(scope="module")
def tfl(tiny_encoder, tmp_path_factory):
    root = tmp_path_factory.mktemp("tfl")
    # two buckets everywhere (every signature quantised and gated); one bucket as the size baselines
    lengths = {"tflite": [16, 64], "tflite-fp16": [16, 64], "tflite-int8": [16, 64], "one-bucket": [64],
               "one-bucket-int8": [64]}
    return ({f: export(str(tiny_encoder), f.replace("one-bucket", "tflite"), root / f,
                       opts=ExportOptions(seq_lens=n)) for f, n in lengths.items()}, root, tiny_encoder)


def test_manifest_lists_buckets_signatures_ops_and_int32_inputs(tfl):
    from ai_edge_litert.interpreter import Interpreter

    m = tfl[0]["tflite"]
    assert m["shapes"] == {"static": True, "seq_lens": [16, 64], "batch": 1,
                           "files": {"16": "model.tflite", "64": "model.tflite"},
                           "signatures": {"16": "s16", "64": "s64"}, "buckets": {"how": "given (--seq-len)"}}
    assert m["model_file"] == "model.tflite" and m["model_files"] == ["model.tflite"]
    assert [p.name for p in (tfl[1] / "tflite").glob("*.tflite")] == ["model.tflite"]
    for f in ("tflite", "tflite-fp16", "tflite-int8"):  # ai-edge-quantizer keeps (and quantises) every signature
        assert sorted(Interpreter(model_path=str(tfl[1] / f / "model.tflite")).get_signature_list()) == ["s16", "s64"]
    assert {i["dtype"] for i in m["inputs"]} == {"int32"}
    assert m["flex_ops"] == [] and {"FULLY_CONNECTED", "SOFTMAX", "EMBEDDING_LOOKUP"} <= set(m["operators"])
    assert m["parity"]["max_abs"] < 1e-4 and all(s[1] <= 64 for s in m["parity"]["shapes"])


def test_weights_stored_once(tfl):
    """Each bucket is a signature over the same weight buffers: the two-bucket file is about the one-bucket one."""
    size = lambda f: tfl[0][f]["files"]["model.tflite"]["bytes"]  # noqa: E731
    assert size("tflite") <= 1.05 * size("one-bucket")


def test_every_bucket_gated_and_padding_changes_nothing(tfl):
    for f in ("tflite", "tflite-fp16", "tflite-int8"):
        m = tfl[0][f]
        runs = m["golden"]["at_export"]["buckets"]
        # every golden text (13, 11, 18, 16, 41, 17 tokens) ran in each bucket that holds it
        assert runs == {"16": 3, "64": 6}, f
        assert m["golden"]["at_export"]["samples"] == 9 and m["golden"]["at_export"]["min_cosine"] >= 0.99, f
        pad = m["pad_invariance"]
        assert pad["pairs"] == 3 and pad["buckets_run"] == [16, 64] and pad["min_cosine"] >= pad["min_required"], f
    assert tfl[0]["tflite"]["pad_invariance"]["min_required"] == 0.9999
    assert tfl[0]["tflite"]["pad_invariance"]["min_cosine"] > 0.999999


def test_golden_covers_a_bucket_shorter_than_every_text(tiny_encoder, tmp_path):
    m = export(str(tiny_encoder), "tflite", tmp_path / "t", opts=ExportOptions(seq_lens=[8, 16]))
    assert m["golden"]["lengths"][-1] == 8  # the first golden text cut at the 8-token bucket
    assert m["golden"]["at_export"]["buckets"]["8"] == 1


def test_runner_uses_smallest_fitting_bucket(tfl, tiny_encoder):
    import torch

    import edgebert
    from edgebert.models import load_model

    pred = edgebert.load(tfl[1] / "tflite")
    model = load_model(str(tiny_encoder))
    for texts, bucket in ((["short"], 16), (["a longer sentence " * 5, "and a short one"], 64)):
        feed = pred.encode(texts)
        out = pred(feed)
        assert pred.runner.last_length == bucket
        assert out.shape[:2] == feed["input_ids"].shape  # padded positions dropped again
        with torch.inference_mode():
            ref = model.module(*[torch.from_numpy(feed[n]) for n in model.input_names]).numpy()
        mask = feed["attention_mask"].astype(bool)
        np.testing.assert_allclose(out[mask], ref[mask], atol=1e-4)
    feed = pred.encode(["short"])
    np.testing.assert_allclose(pred.runner.run_bucket(feed, 64), pred.runner.run_bucket(feed, 16), atol=1e-5)


def test_verify_fails_when_one_bucket_is_broken(tfl, tmp_path):
    """Break only the s64 signature (its own slice of the position embeddings; the weights are shared): texts
    that fit s16 still pass there, but verify runs every golden text in every bucket and exits 3."""
    import json
    import shutil

    from ai_edge_litert.tools import flatbuffer_utils as fb

    from edgebert.bundle import write_manifest
    from tests.conftest import read_manifest

    bundle = tmp_path / "b"
    shutil.copytree(tfl[1] / "tflite", bundle)
    model = fb.read_model(bundle / "model.tflite")
    sig = next(s for s in model.signatureDefs if s.signatureKey == b"s64")
    tensors = model.subgraphs[sig.subgraphIndex].tensors
    pos = next(t for t in tensors if b"position_embeddings" in t.name and model.buffers[t.buffer].data is not None)
    model.buffers[pos.buffer].data = model.buffers[pos.buffer].data[::-1].copy()  # reversed rows: wrong positions
    fb.write_model(model, bundle / "model.tflite")
    m = read_manifest(bundle)
    write_manifest(bundle, {k: v for k, v in m.items() if k not in ("files", "manifest_version")})
    proc = subprocess.run([sys.executable, "-m", "edgebert.cli", "verify", "--json", str(bundle)],
                          capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)[0]["buckets"] == {"16": 3, "64": 6}


def test_lossy_variants_smaller_and_gated(tfl):
    from ai_edge_litert.tools import flatbuffer_utils as fb

    size = lambda f: tfl[0][f]["files"]["model.tflite"]["bytes"]  # noqa: E731
    # TFLite keeps quantisation parameters on each subgraph's tensors, not in shared buffers: as ai-edge-quantizer
    # writes it, every extra signature carries its own copy of the per-channel int8 scales (here 366 KB: one per row
    # of the 30522-token embedding). Export re-packs the file with each distinct vector once.
    model = fb.read_model(tfl[1] / "tflite-int8" / "model.tflite")
    scales = sum(4 * len(t.quantization.scale) + 8 * len(t.quantization.zeroPoint)
                 for t in model.subgraphs[1].tensors if t.quantization is not None and t.quantization.scale is not None)
    assert scales > 0.15 * size("tflite-int8")
    assert tfl[0]["tflite-int8"]["quantization"]["shared_vectors_saved_bytes"] >= scales
    assert size("tflite-int8") <= 1.05 * size("one-bucket-int8")  # it was 1.15x with the second copy
    assert size("tflite-fp16") < 0.55 * size("tflite") and size("tflite-int8") - scales < 0.40 * size("tflite")
    for f in ("tflite-fp16", "tflite-int8"):
        # the file run by plain LiteRT against transformers, every text (the gate judges the mean)
        assert min(cosines(plain_outputs(tfl[1] / f), torch_outputs(tfl[2]))) >= 0.99, f


def test_runtime_path_imports_neither_torch_nor_tensorflow(tfl):
    code = ("import sys, edgebert; p = edgebert.load(sys.argv[1], threads=2); p(['hello']); "
            "print([m for m in ('torch', 'tensorflow', 'transformers', 'jax') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code, str(tfl[1] / "tflite-int8")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_flex_ops_refused_without_allow_flex(tiny_encoder, tmp_path, monkeypatch):
    import edgebert.formats.tflite as tflite

    monkeypatch.setattr(tflite, "operators", lambda path: ["FULLY_CONNECTED", "FlexErf"])
    with pytest.raises(ExportError, match=r"needs Flex/Select-TF ops \(FlexErf\).*--allow-flex"):
        export(str(tiny_encoder), "tflite", tmp_path / "f", opts=ExportOptions(seq_lens=[16]))
    assert not (tmp_path / "f").exists()
    m = export(str(tiny_encoder), "tflite", tmp_path / "g", opts=ExportOptions(seq_lens=[16], allow_flex=True))
    assert m["flex_ops"] == ["FlexErf"]


def test_minilm_fp32_cosine(minilm, tmp_path):
    m = export(str(minilm), "tflite", tmp_path / "t")
    assert m["parity"]["min_cosine"] >= 0.9999


@pytest.mark.slow
def test_minilm_int8_real_weights(minilm, tmp_path):
    export(str(minilm), "tflite-int8", tmp_path / "t8")
    # plain LiteRT vs transformers, per text: int8 weights, fp32 activations; 0.9971 worst here
    assert min(cosines(plain_outputs(tmp_path / "t8"), torch_outputs(minilm))) >= 0.99


def test_predict_and_verify_print_nothing_but_their_answer(tfl):
    """LiteRT announces its XNNPACK delegate on fd 2 ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU."):
    a device's `predict` (JSON on stdout) and `verify` keep stderr for edgebert's own messages."""
    bundle = tfl[1] / "tflite-int8"
    for args in (["predict", str(bundle), "a short text"], ["verify", str(bundle)]):
        proc = subprocess.run([sys.executable, "-m", "edgebert.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run([sys.executable, "-m", "edgebert.cli", "--verbose", "predict", str(bundle), "a text"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "XNNPACK delegate" in proc.stderr  # --verbose leaves the libraries as they are
