"""Static-shape ONNX (`--static-shape`): one batch-1 file per bucket with no symbolic dimension left, each text run at
its smallest bucket, every bucket in the golden check, pad invariance recorded, and bench rows that show the buckets
and the tokens wasted to padding."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edgebert.bundle import write_manifest
from edgebert.export import export
from edgebert.formats.base import ExportOptions
from edgebert.runtimes.ort import OrtRunner
from tests.cli_helpers import run_cli
from tests.conftest import read_manifest
from tests.independent import TEXTS, torch_outputs

FAST = ["--min-seconds", "0", "--warmup", "2", "--threads", "1"]
BUCKETS = [16, 32]


@pytest.fixture(scope="module")
def static_onnx(tiny_bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("static") / "onnx-s"
    return export(str(tiny_bert), "onnx", out, opts=ExportOptions(static_shape=True, seq_lens=BUCKETS)), out


def _token_counts(bundle, texts: list[str], limit: int) -> list[int]:
    """Real tokens per text from the bundle's tokenizer.json, read by `tokenizers` directly (not edgebert's path)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    tok.no_truncation()  # tokenizer.json may keep the truncation it was last used with
    return [min(len(tok.encode(t).ids), limit) for t in texts]


def _unshaped(path) -> list[str]:
    """Tensors of an .onnx file whose shape is not every dimension a number, or that have no shape recorded."""
    import onnx

    graph = onnx.load(str(path)).graph
    values = list(graph.input) + list(graph.output) + list(graph.value_info)
    bad = [v.name for v in values if not all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)]
    known = {v.name for v in values} | {i.name for i in graph.initializer}
    return bad + [o for node in graph.node for o in node.output if o and o not in known]


def test_one_static_file_per_bucket_with_every_shape_concrete(static_onnx):
    import onnx

    m, root = static_onnx
    assert m["shapes"] == {"static": True, "seq_lens": BUCKETS, "batch": 1,
                           "files": {"16": "model-s16.onnx", "32": "model-s32.onnx"},
                           "buckets": {"how": "given (--seq-len)"}}
    assert m["model_files"] == ["model-s16.onnx", "model-s32.onnx"] and not (root / "model.onnx").exists()
    for n in BUCKETS:
        graph = onnx.load(str(root / f"model-s{n}.onnx")).graph
        assert [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input] == [[1, n]] * 3
        assert [[d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output] == [[1, 2]]
        assert len(graph.value_info) > 50 and _unshaped(root / f"model-s{n}.onnx") == []


def test_every_bucket_checked_and_padding_changes_no_answer(static_onnx):
    m, root = static_onnx
    lengths = _token_counts(root, m["golden"]["texts"], 32)
    short = sum(1 for n in lengths if n <= 16)
    assert 0 < short < len(lengths)  # the golden set has texts for each bucket
    # every golden text at every bucket it fits: the short ones at 16 and 32, all of them at 32
    assert m["golden"]["at_export"]["buckets"] == {"16": short, "32": len(lengths)}
    assert m["golden"]["at_export"]["samples"] == short + len(lengths)
    pad = m["pad_invariance"]
    assert pad["min_required"] == 0.9999 and pad["pairs"] == short and pad["buckets_run"] == BUCKETS
    assert pad["min_cosine"] >= 0.9999


def test_each_text_runs_at_its_smallest_bucket_and_matches_dynamic(static_onnx, tiny_onnx, monkeypatch):
    import edgebert

    static, dynamic = edgebert.load(static_onnx[1]), edgebert.load(tiny_onnx)
    shapes = []
    run = OrtRunner.run
    monkeypatch.setattr(OrtRunner, "run", lambda self, feed: shapes.append(feed["input_ids"].shape) or run(self, feed))
    texts = ["a short text", "word " * 20]  # 4 and 22 tokens
    got = static(texts)
    assert shapes == [(1, 16), (1, 32)]  # one text per run, each at its own bucket (not the batch's width)
    want = dynamic(texts)
    assert got.shape == want.shape == (2, 2)
    np.testing.assert_allclose(got, want, atol=1e-5)
    cos = (got * want).sum(-1) / (np.linalg.norm(got, axis=-1) * np.linalg.norm(want, axis=-1))
    assert cos.min() >= 0.9999


def test_verify_passes_and_a_tampered_bucket_fails(capsys, static_onnx, tmp_path):
    import onnx
    from onnx import numpy_helper

    res = run_cli(capsys, "verify", static_onnx[1], "--json")
    assert res.code == 0, res.err
    (row,) = json.loads(res.out)
    assert row["status"] == "pass" and row["buckets"] == static_onnx[0]["golden"]["at_export"]["buckets"]
    copy = tmp_path / "tampered"
    shutil.copytree(static_onnx[1], copy)
    model = onnx.load(str(copy / "model-s32.onnx"))
    weight = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))  # the word embeddings
    noise = np.random.default_rng(0).normal(0, 0.5, tuple(weight.dims)).astype(np.float32)  # not a shift: LayerNorm
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) + noise, weight.name))  # would undo one
    onnx.save(model, str(copy / "model-s32.onnx"))
    m = {k: v for k, v in read_manifest(copy).items() if k not in ("files", "manifest_version")}
    write_manifest(copy, m)  # fresh checksums: only the golden check can catch it
    res = run_cli(capsys, "verify", copy, "--json")
    (row,) = json.loads(res.out)
    assert res.code == 3 and row["status"] == "fail" and "exceeds --atol" in row["reason"]


def test_opt_encoder_static_matches_transformers(tiny_encoder, tmp_path):
    import edgebert

    m = export(str(tiny_encoder), "onnx-opt", tmp_path / "opt", opts=ExportOptions(static_shape=True,
                                                                                   seq_lens=BUCKETS))
    assert m["optimizer"]["fusion_ok"] and m["shapes"]["batch"] == 1
    assert _unshaped(tmp_path / "opt" / "model-s16.onnx") == [] == _unshaped(tmp_path / "opt" / "model-s32.onnx")
    assert m["pad_invariance"]["min_cosine"] >= 0.9999
    static = edgebert.load(tmp_path / "opt")
    for text, ref in zip(TEXTS, torch_outputs(tiny_encoder)):
        out = static([text])  # token states: the text's own positions, the bucket's padding cut off
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_static_shape_refused_where_the_format_has_none(capsys, tiny_bert, tmp_path):
    res = run_cli(capsys, "export", tiny_bert, "--format", "onnx-int8", "--static-shape", "--out", tmp_path / "x")
    assert res.code == 2 and "--static-shape does not apply to onnx-int8. Formats that take it: onnx, onnx-opt" \
        in res.err
    assert not (tmp_path / "x").exists()


def test_text_rows_record_buckets_and_padding(capsys, static_onnx, tiny_onnx, tmp_path):
    texts = ["short one", " ".join(["word"] * 40), "medium length text with a few more words here",
             "a b c d e f g h i j k l m n o p q r"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n")
    out = tmp_path / "rows.jsonl"
    res = run_cli(capsys, "bench", tiny_onnx, static_onnx[1], "--texts", path, "--out", out, *FAST)
    assert res.code == 0, res.err
    from edgebert.bench.rows import read_rows

    rows = read_rows(out)  # read back through the schema check
    (static,), (dynamic,) = [r for r in rows if r.buckets], [r for r in rows if not r.buckets]
    real = _token_counts(static_onnx[1], texts, 32)  # the 40-word text is cut to the largest bucket
    runs_at = [16 if n <= 16 else 32 for n in real]
    assert static.tokens == sum(real) and static.padding_tokens == sum(b - n for b, n in zip(runs_at, real))
    assert static.buckets == {"16": runs_at.count(16), "32": runs_at.count(32)}
    full = _token_counts(static_onnx[1], texts, 512)
    assert (dynamic.tokens, dynamic.padding_tokens) == (sum(full), 0)
    res = run_cli(capsys, "report", out, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    share = round(100 * static.padding_tokens / (static.tokens + static.padding_tokens))
    cells = {ln.split("|")[3].strip(): ln.split("|")[7].strip() for ln in md.splitlines()
             if ln.startswith("| ") and "texts.txt" in ln}
    # two onnx bundles: each its own line, named by its folder (report.common.tell_bundles_apart)
    assert cells == {f"onnx ({tiny_onnx.name})": "0%", f"onnx ({static_onnx[1].name}) (static)":
                     f"{share}% (16: {runs_at.count(16)}, 32: {runs_at.count(32)})"}


def test_a_symbolic_dimension_left_fails_the_export(tiny_onnx, tmp_path, monkeypatch):
    import onnx

    from edgebert.errors import ExportError
    from edgebert.formats.onnx import static

    found = static.symbolic_dims(onnx.load(str(tiny_onnx / "model.onnx")))  # the dynamic trace: batch, sequence
    assert "input_ids (batch, sequence)" in found and "logits (batch)" in found
    monkeypatch.setattr(static, "fix_shapes", lambda model, length: model)  # as if fixing had left them
    with pytest.raises(ExportError, match="length 16 still has symbolic dimensions: input_ids \\(batch, sequence\\)"):
        static.write_buckets(tiny_onnx / "model.onnx", tmp_path, [16])
    assert list(tmp_path.iterdir()) == []


def test_failed_shape_inference_leaves_no_file_behind(tmp_path, monkeypatch):
    """ORT's shape inference saves its partial graph into the working directory when it gives up (seen on the INT8
    graph's QAttention): the export runs it elsewhere."""
    import onnx
    from onnx import TensorProto, helper

    from edgebert.errors import ExportError
    from edgebert.formats.onnx import static

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, None)
    node = helper.make_node("Unknown", ["input_ids"], ["out"], domain="example")  # an op it cannot follow
    model = helper.make_model(helper.make_graph([node], "g", [ids], [out]),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example", 1)])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match="length 16"):
        static.fix_shapes(model, 16)
    assert list(tmp_path.iterdir()) == []
