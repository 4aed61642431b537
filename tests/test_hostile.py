"""Right on any text and any encoder: the in-graph tokenizer gives the model's own ids on the hostile corpus, a
CLS-pooled model ranks as its sentence-transformers config says, `edgebert diff` names the layer that broke, INT8
groups stay fp32 when asked, and bad pooling input is refused before anything is written."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from edgebert import hostile
from edgebert.errors import ParityError
from edgebert.export import export
from edgebert.formats.base import ExportOptions
from tests.cli_helpers import run_cli
from tests.st_folders import tiny_st_dir

pytest.importorskip("onnxruntime_extensions", reason="pip install 'edgebert[onnx]'")


def _hf_ids(tokenizer_json: str, text: str, max_length: int) -> list[int]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok.encode(text).ids


def test_in_graph_tokenizer_gives_the_models_own_ids_on_hostile_text(tiny_encoder):
    """Every corpus text and every minimal regression string: the graph's ids equal the Python tokenizer's."""
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    from edgebert.formats.onnx_text import tokenizer_graph
    from edgebert.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tiny_encoder))
    graph, info = tokenizer_graph(tok, 512)
    assert info["mapped_chars"] > 10_000  # lowercase, NFD-and-strip, punctuation: the normaliser's own table
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(get_library_path())
    sess = ort.InferenceSession(graph.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    texts = hostile.texts(tok.backend_tokenizer) + hostile.REGRESSIONS
    differ = [t[:30] for t in texts if sess.run(["input_ids"], {"text": np.array([t], dtype=object)})[0].tolist()
              != _hf_ids(tok.backend_tokenizer.to_str(), t, 512)]
    assert differ == []
    assert len(texts) >= 85  # 49 fixed + boundary texts + 22 regressions: the check covers what it says


@pytest.fixture(scope="module")
def cls_model(tmp_path_factory):
    """A tiny random model whose sentence-transformers config says CLS pooling, a Dense (Tanh) and Normalize."""
    return tiny_st_dir(tmp_path_factory.mktemp("st") / "cls", pooling="cls",
                       dense=(16, "torch.nn.modules.activation.Tanh"), normalize=True)


def _st_reference(folder, texts):
    """sentence-transformers' encode, written out: CLS token, Dense + Tanh, L2 normalisation."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    w = load_file(str(folder / "2_Dense" / "model.safetensors"))
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        cls = model(**enc).last_hidden_state[:, 0]
        return torch.nn.functional.normalize(torch.tanh(cls @ w["linear.weight"].T + w["linear.bias"]), dim=-1).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "onnx-text"])
def test_a_cls_pooled_model_ranks_as_its_config_says(cls_model, tmp_path, fmt):
    import edgebert

    out = tmp_path / fmt
    m = export(str(cls_model), fmt, out)
    assert m["pooling"]["modes"] == ["cls"] and m["pooling"]["source"] == "sentence-transformers"
    assert m["pooling"]["normalize"] is True and m["max_length"] == 64  # sentence_bert_config's max_seq_length
    queries = ["the cat sat on the mat", "a dog ran fast", "good good good"]
    docs = ["the cat is on the mat", "the dog ran", "bad", "zzz qqq", "the mat", "fast dog"]
    got = np.array([r["embedding"] for r in edgebert.load(out).predict(queries + docs)])
    ref = _st_reference(cls_model, queries + docs)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    ranks = lambda e: np.argsort(-(e[:3] @ e[3:].T), axis=1)  # noqa: E731
    np.testing.assert_array_equal(ranks(got), ranks(ref))
    mean_pooled = export(str(cls_model), fmt, tmp_path / "mean", pooling="mean")["pooling"]
    assert mean_pooled == {**mean_pooled, "modes": ["mean"], "source": "--pooling", "dense": []}


@pytest.mark.parametrize("edit,args,message", [
    (None, ["--pooling", "cls"], "--pooling applies to encoders"),
    (lambda d: (d / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "median"})), [],
     "Unknown pooling mode 'median'"),
    (lambda d: (d / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 48, "out_features": 16, "bias": True,
         "activation_function": "torch.nn.modules.activation.Tanh"})), [], "Dense 48->16 does not fit its input"),
    (None, ["--pooling", "sum"], "Unknown --pooling 'sum'. Valid: cls, mean, max"),
])
def test_bad_pooling_is_a_usage_error_and_writes_nothing(capsys, tmp_path, tiny_bert, edit, args, message):
    folder = tiny_st_dir(tmp_path / "st", pooling="cls", dense=(16, "torch.nn.modules.activation.Tanh"))
    if edit:
        edit(folder)
    model = tiny_bert if args[:2] == ["--pooling", "cls"] else folder
    res = run_cli(capsys, "export", model, "--out", tmp_path / "out", *args)
    assert res.code == 2 and message in res.err and res.err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_fp32_layers_listed_stay_fp32(tiny_bert, tmp_path):
    import onnx

    m = export(str(tiny_bert), "onnx-int8", tmp_path / "q", opts=ExportOptions(fp32_layers="ffn.1,emb"))
    assert m["fp32_layers"]["kept"] == ["ffn.1", "emb"] and m["quantization"]["fp32_nodes"] == 2
    graph = onnx.load(str(tmp_path / "q" / "model.onnx")).graph
    fp32_matmuls = [n.name.split("encoder/")[1] for n in graph.node if n.op_type == "MatMul" and "layer.1/" in n.name]
    assert sorted(fp32_matmuls) == ["layer.1/intermediate/dense/MatMul", "layer.1/output/dense/MatMul"]
    assert any(n.op_type == "Gather" and "word_embeddings" in n.name for n in graph.node)  # emb not quantised
    assert not any(n.op_type == "MatMulInteger" and "layer.1/output" in n.name for n in graph.node)


def test_fp32_layers_auto_tries_each_group_then_fails_naming_them(tiny_bert, tmp_path):
    """A gate no INT8 file can meet: auto tries each group alone, then the ranked groups together, then fails naming
    them, leaving nothing."""
    with pytest.raises(ParityError, match=r"with (ffn\.0|ffn\.1|emb), (ffn\.0|ffn\.1|emb), (ffn\.0|ffn\.1|emb) kept "
                                          r"fp32 too") as miss:
        export(str(tiny_bert), "onnx-int8", tmp_path / "q", opts=ExportOptions(min_sample_cosine=1.0, min_cosine=1.0,
                                                                              max_fp32_growth=10))
    assert miss.value.exit_code == 3 and list(tmp_path.iterdir()) == []
    assert sorted(re.search(r"with (.*) kept fp32 too", str(miss.value)).group(1).split(", ")) == ["emb", "ffn.0",
                                                                                                  "ffn.1"]


def test_fp32_layers_auto_keeps_the_group_that_gives_back_most(tiny_encoder, tmp_path, monkeypatch):
    """The ranking is measured: make one group the only one whose fp32 copy lifts the worst sample over the gate."""
    from edgebert.formats.onnx import quantize

    real = quantize.dynamic

    def broken(model, dst, opts, session):  # layer 1's INT8 weights ruin the output unless its FFN stays fp32
        info = real(model, dst, opts, session)
        if "ffn.1" not in opts.fp32_layers:
            import onnx
            from onnx import numpy_helper

            graph = onnx.load(str(dst))
            layer1 = {i for n in graph.graph.node if "layer.1/" in n.name for i in n.input}
            for init in graph.graph.initializer:  # layer 1's weight scales x50: its FFN output swamps the residual
                if init.name in layer1 and init.name.endswith("_scale"):
                    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 50, init.name))
            onnx.save(graph, str(dst))
        return info

    monkeypatch.setattr(quantize, "dynamic", broken)
    m = export(str(tiny_encoder), "onnx-int8", tmp_path / "q")
    assert m["fp32_layers"]["kept"] == ["ffn.1"]
    tried = {tuple(t["fp32"]): t["min_cosine"] for t in m["fp32_layers"]["tried"]}
    assert () in tried and ("ffn.0",) in tried and tried[()] < 0.98 and tried[("ffn.0",)] < 0.98


def test_diff_names_the_layer_a_broken_weight_is_in(tiny_bert, tmp_path, capsys):
    import onnx
    from onnx import numpy_helper

    out = tmp_path / "b"
    export(str(tiny_bert), "onnx", out)
    res = run_cli(capsys, "diff", out, "--json")
    clean = json.loads(res.out)
    assert res.code == 0 and len(clean) == 6 and all(len(d["rows"]) == 5 for d in clean)  # 1 + 2 x 2 LayerNorms
    assert min(r["min_token_cos"] for d in clean for r in d["rows"]) > 0.99999
    # break layer 1's FFN output weights (x300: random-init FFNs barely move the residual): its LayerNorm, index 4
    # (embeddings 0, then attention and FFN of each layer), is the first to drift
    model = onnx.load(str(out / "model.onnx"))
    matmul = next(n for n in model.graph.node if n.name.endswith("/encoder/layer.1/output/dense/MatMul"))
    init = next(i for i in model.graph.initializer if i.name == matmul.input[1])
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 300, init.name))
    onnx.save(model, str(out / "model.onnx"))
    from edgebert.bundle import write_manifest

    manifest = json.loads((out / "manifest.json").read_text())
    write_manifest(out, {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")})
    res = run_cli(capsys, "diff", out, "--json", "--text", "the cat sat on the mat")
    (broken,) = json.loads(res.out)
    assert res.code == 3 and broken["first_below"] == 4 == broken["largest_drop"]
    assert [r["min_token_cos"] > 0.99999 for r in broken["rows"]] == [True, True, True, True, False]


# LiteRT decomposes LayerNorm; the tap is the end of that chain, which the converter may reorder around gamma/beta:
# on tiny-bert the earlier taps read 0.99985-0.99995 while the last one and the answer are 1.0 (a tap, not a drift)
TAP_FLOOR = {"onnx-text": 0.9999, "openvino": 0.9999, "tflite": 0.999}


@pytest.mark.parametrize("fmt, taps", [("onnx-text", True), ("openvino", True), ("tflite", True),
                                       ("onnx-mobile", False)])
def test_diff_reads_layers_where_the_format_declares_them(tiny_bert, tmp_path, capsys, fmt, taps):
    """Each family that declares `layer_taps` gives every LayerNorm (fp32: ~equal to PyTorch's); an .ort file keeps
    none readable, so diff compares the answer only."""
    from edgebert.formats import get_format

    assert get_format(fmt).caps.layer_taps is taps
    out = tmp_path / fmt
    export(str(tiny_bert), fmt, out)
    res = run_cli(capsys, "diff", out, "--json", "--text", "the cat sat on the mat")
    (found,) = json.loads(res.out)
    assert res.code == 0 and found["output_cosine"] > 0.9999
    if taps:
        assert len(found["rows"]) == 5 and min(r["min_token_cos"] for r in found["rows"]) > TAP_FLOOR[fmt]
        assert found["rows"][-1]["min_token_cos"] > 0.9999
    else:
        assert not found.get("rows")
