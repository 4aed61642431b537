"""Text to answer: `bench --texts` rows at real lengths, static-shape bucket padding, and bad texts files."""
from __future__ import annotations

import pytest

from edgebert.bench.rows import read_rows
from edgebert.bench.texts import default_texts
from tests.cli_helpers import run_cli

FAST = ["--min-seconds", "0", "--warmup", "2", "--threads", "1"]


def test_default_sample_is_real_text_of_mixed_lengths():
    texts = default_texts()
    assert len(texts) == 120 and len(set(texts)) == 120
    words = sorted(len(t.split()) for t in texts)
    assert words[0] >= 6 and words[-1] >= 150  # short docstrings and long documentation paragraphs


def test_text_rows_dynamic_and_static_shapes(capsys, tiny_bert, tiny_onnx, tmp_path):
    res = run_cli(capsys, "export", tiny_bert, "--format", "tflite", "--seq-len", "32,64", "--out", tmp_path / "t")
    assert res.code == 0, res.err
    texts = tmp_path / "texts.txt"
    texts.write_text("short one\n" + " ".join(["word"] * 40) + "\nmedium length text with a few more words here\n")
    out = tmp_path / "rows.jsonl"
    res = run_cli(capsys, "bench", tiny_onnx, tmp_path / "t", "--texts", texts, "--out", out, *FAST)
    assert res.code == 0, res.err
    rows = {r.format: r for r in read_rows(out)}  # read back through the schema check
    assert sorted(rows) == ["onnx", "tflite"]
    for r in rows.values():
        assert r.ok and r.input == "texts:texts.txt" and r.texts == 3
        assert (r.batch, r.seq_len, r.runs) == (1, 0, 3)
        assert r.p50_ms >= r.model_p50_ms > 0  # the model runs inside each request
        assert r.throughput_seq_s == pytest.approx(1e3 / r.mean_ms, rel=1e-3)  # one text a request
        assert r.tokens_p50 == 11 and r.tokens_p90 == pytest.approx(11 + 0.8 * (42 - 11))
    assert rows["onnx"].padded_tokens_p50 == 11  # dynamic: each text at its length
    # buckets: 4 and 11 tokens run at 32, 42 at 64 -> p90 = 32 + 0.8 * (64 - 32), as numpy interpolates
    assert rows["tflite"].padded_tokens_p50 == 32 and rows["tflite"].padded_tokens_p90 == pytest.approx(57.6)


def test_report_shows_model_only_beside_text_to_answer(capsys, tiny_onnx, tmp_path):
    out = tmp_path / "rows.jsonl"
    assert run_cli(capsys, "bench", tiny_onnx, "--texts", "sample", "--out", out, *FAST).code == 0
    assert run_cli(capsys, "bench", tiny_onnx, "--seq", "128", "--runs", "3", "--out", out, *FAST).code == 0
    res = run_cli(capsys, "report", out, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    line = [ln for ln in md.splitlines() if ln.startswith("| ") and "sample (120)" in ln]
    assert len(line) == 1 and "| onnx |" in line[0]
    assert line[0].rstrip(" |").split("|")[-1].strip() != "–"  # the tensor p50 sits beside it


@pytest.mark.parametrize("content,message", [
    (b"\n\n", "has no non-empty lines"),
    (b"\x89PNG\r\n\x1a\n\0\0\0", "is binary, not one text a line"),
    (b"ok\n" + b"a" * 100_000 + b"\n", ":2: a line of 100000 characters is not one text"),
])
def test_bad_texts_files(capsys, tiny_onnx, tmp_path, content, message):
    texts = tmp_path / "t.txt"
    texts.write_bytes(content)
    res = run_cli(capsys, "bench", tiny_onnx, "--texts", texts, "--out", tmp_path / "rows.jsonl", *FAST)
    lines = [ln for ln in res.err.splitlines() if ln.startswith("error:")]
    assert res.code == 2 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "rows.jsonl").exists()
