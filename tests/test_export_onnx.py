"""ONNX bundles: manifest, dynamic axes, parity figures, the gate, atomic writes, real MiniLM weights."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

import edgebert
from edgebert.errors import ParityError
from edgebert.export import export
from edgebert.formats.base import ExportOptions
from tests.conftest import read_manifest


def test_manifest_describes_bundle(tiny_onnx, tiny_bert):
    m = read_manifest(tiny_onnx)
    assert m["format"] == "onnx" and m["model_file"] == "model.onnx" and m["opset"] == 17
    assert m["edgebert_version"] == edgebert.__version__ and m["manifest_version"] == 2
    assert m["source"]["kind"] == "dir" and m["source"]["spec"] == str(tiny_bert)
    assert m["source"]["weights_sha256"] == hashlib.sha256((tiny_bert / "model.safetensors").read_bytes()).hexdigest()
    assert [i["name"] for i in m["inputs"]] == ["input_ids", "attention_mask", "token_type_ids"]
    assert all(i["dtype"] == "int64" and i["axes"] == ["batch", "sequence"] for i in m["inputs"])
    assert m["outputs"] == [{"name": "logits", "dtype": "float32", "axes": ["batch", "labels"], "kind": "logits"}]
    assert {"torch", "transformers", "onnx", "onnxruntime"} <= set(m["versions"])
    assert m["tokenizer_file"] == "tokenizer.json"
    for name, meta in m["files"].items():
        data = (tiny_onnx / name).read_bytes()
        assert meta == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert "model.onnx" in m["files"] and "tokenizer.json" in m["files"]


def test_parity_figures_recorded(tiny_onnx):
    p = read_manifest(tiny_onnx)["parity"]
    assert p["gate"] == "max_abs <= 0.0001"
    assert p["max_abs"] < 1e-5  # ten times inside the gate
    assert p["min_cosine"] > 0.99999 and p["raw_agreement"] == 1.0
    assert p["agreement"] is None and p["decisive"] == 0  # random logits: no sample has a decisive top-1
    batch_sizes = {s[0] for s in p["shapes"]}
    seq_lens = {s[1] for s in p["shapes"]}
    assert len(batch_sizes) >= 2 and len(seq_lens) >= 2
    assert p["inputs"] == "tokenized sentences and the hostile corpus"
    from edgebert import hostile

    assert p["samples"] >= 20 + len(hostile.BASE) + len(hostile.REGRESSIONS)  # each hostile text one sample


def test_dynamic_batch_and_sequence(tiny_onnx):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tiny_onnx / "model.onnx"))
    for batch, seq in ((1, 7), (5, 93)):
        feed = {i.name: np.ones((batch, seq), dtype=np.int64) for i in sess.get_inputs()}
        assert sess.run(None, feed)[0].shape == (batch, 2)


def test_gate_fails_with_exit_code_3_and_leaves_nothing(tiny_bert, tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(ParityError, match="exceeds --atol 1e-15") as exc:
        export(str(tiny_bert), "onnx", out, opts=ExportOptions(atol=1e-15))
    assert exc.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []  # no bundle, no temporary folder


def test_force_replaces_existing_bundle(tiny_bert, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    export(str(tiny_bert), "onnx", out, force=True)
    assert not (out / "stale.txt").exists() and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_random_ids_when_no_tokenizer(tiny_bert, tmp_path):
    import shutil

    model_dir = tmp_path / "no-tok"
    model_dir.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert / name, model_dir / name)
    m = export(str(model_dir), "onnx", tmp_path / "out")
    assert m["tokenizer_file"] is None and m["parity"]["inputs"] == "random ids, mixed lengths"
    assert m["parity"]["max_abs"] < 1e-5


def test_minilm_real_weights_cosine_and_semantics(minilm, tmp_path):
    import edgebert

    m = export(str(minilm), "onnx", tmp_path / "minilm")
    assert m["task"] == "encoder" and m["parity"]["min_cosine"] >= 0.9999
    assert m["parity"]["max_abs"] < 1e-4
    emb = np.array([r["embedding"] for r in edgebert.load(tmp_path / "minilm").predict([
        "A man is playing a guitar.", "Someone is strumming a guitar.", "The stock market fell today."])])
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # paraphrase far above the unrelated sentence


@pytest.mark.parametrize("max_seq_length", [48, 100])
def test_shipped_tokenizer_files_cut_where_the_bundle_cuts(max_seq_length, tmp_path):
    """An app that loads the bundle's tokenizer.json with `tokenizers` (or its folder with AutoTokenizer /
    transformers.js) gets the ids edgebert's runtime feeds: cut at the manifest's max_length, not padded. Saved as
    transformers leaves it, tokenizer.json cut at 64 (the export's last call) and padded every batch."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    from tests.st_folders import tiny_st_dir

    m = export(str(tiny_st_dir(tmp_path / "st", max_seq_length=max_seq_length)), "onnx", tmp_path / "b")
    assert m["max_length"] == max_seq_length
    long_text, short_text = " ".join(["documentation"] * 300), "a short text"
    plain = Tokenizer.from_file(str(tmp_path / "b" / "tokenizer.json"))
    ids = [e.ids for e in plain.encode_batch([long_text, short_text])]
    assert [len(i) for i in ids] == [max_seq_length, len(plain.encode(short_text).ids)] and len(ids[1]) < 10
    runtime = edgebert.load(tmp_path / "b").encode([long_text])["input_ids"][0].tolist()
    assert ids[0] == runtime
    auto = AutoTokenizer.from_pretrained(str(tmp_path / "b"))
    assert auto(long_text, truncation=True)["input_ids"] == runtime


def test_bundle_folder_is_readable_by_other_users(tiny_onnx):
    """Export stages in a mkdtemp folder (0700) and renames it into place: left so, a container's unprivileged user
    or nginx serving a web bundle could not read it (found running docker/Dockerfile.serve's recipe)."""
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(tiny_onnx.stat().st_mode) == 0o777 & ~mask
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o044 == 0o044 & ~mask for p in tiny_onnx.iterdir())
