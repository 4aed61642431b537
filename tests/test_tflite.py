"""TFLite: static lengths (one file each), padding, builtin ops only, int32 inputs, ai-edge-litert without torch/TF."""
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
    # two lengths for fp32 (the padding logic); one for the lossy variants (conversion is the slow part)
    lengths = {"tflite": [16, 64], "tflite-fp16": [64], "tflite-int8": [64]}
    return ({f: export(str(tiny_encoder), f, root / f, opts=ExportOptions(seq_lens=n)) for f, n in lengths.items()},
            root, tiny_encoder)


def test_manifest_lists_files_ops_and_int32_inputs(tfl):
    m = tfl[0]["tflite"]
    assert m["shapes"] == {"static": True, "seq_lens": [16, 64], "batch": 1,
                           "files": {"16": "model-s16.tflite", "64": "model-s64.tflite"},
                           "buckets": {"how": "given (--seq-len)"}}
    assert m["model_files"] == ["model-s16.tflite", "model-s64.tflite"]
    assert {i["dtype"] for i in m["inputs"]} == {"int32"}
    assert m["flex_ops"] == [] and {"FULLY_CONNECTED", "SOFTMAX", "EMBEDDING_LOOKUP"} <= set(m["operators"])
    assert m["parity"]["max_abs"] < 1e-4 and all(s[1] <= 64 for s in m["parity"]["shapes"])


def test_runner_pads_to_smallest_fitting_length(tfl, tiny_encoder):
    import torch

    import edgebert
    from edgebert.models import load_model

    pred = edgebert.load(tfl[1] / "tflite")
    model = load_model(str(tiny_encoder))
    for texts in (["short"], ["a longer sentence " * 5, "and a short one"]):
        feed = pred.encode(texts)
        out = pred(feed)
        assert out.shape[:2] == feed["input_ids"].shape  # padded positions dropped again
        with torch.inference_mode():
            ref = model.module(*[torch.from_numpy(feed[n]) for n in model.input_names]).numpy()
        mask = feed["attention_mask"].astype(bool)
        np.testing.assert_allclose(out[mask], ref[mask], atol=1e-4)
    assert pred.encode(["short"])["input_ids"].shape[1] <= 16  # so the 16-token file served it


def test_lossy_variants_smaller_and_gated(tfl):
    size = lambda f: tfl[0][f]["files"]["model-s64.tflite"]["bytes"]  # noqa: E731
    assert size("tflite-fp16") < 0.55 * size("tflite") and size("tflite-int8") < 0.40 * size("tflite")
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
