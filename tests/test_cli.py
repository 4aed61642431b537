"""CLI contract: exit codes (0 ok, 1 failure, 2 usage, 3 parity), one-line messages, no tracebacks, no leftovers."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.cli_helpers import run_cli
from tests.independent import plain_outputs
from tests.conftest import read_manifest


def _one_line_error(res) -> str:
    lines = [ln for ln in res.err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_export_and_predict_classifier(capsys, tiny_bert, tmp_path):
    out = tmp_path / "b"
    res = run_cli(capsys, "export", tiny_bert, "--out", out, "--json")
    assert res.code == 0 and json.loads(res.out)["format"] == "onnx"
    res = run_cli(capsys, "predict", out, "great film", "awful film")
    assert res.code == 0
    data = json.loads(res.out)
    assert data["task"] == "classification" and [r["text"] for r in data["results"]] == ["great film", "awful film"]
    # the scores are the softmax of what plain onnxruntime computes from the bundle's own file and tokenizer
    for r, logits in zip(data["results"], plain_outputs(out, ["great film", "awful film"])):
        probs = np.exp(logits[0] - logits[0].max()) / np.exp(logits[0] - logits[0].max()).sum()
        assert list(r["scores"]) == ["LABEL_0", "LABEL_1"]
        np.testing.assert_allclose(list(r["scores"].values()), probs, atol=2e-6)
        assert r["label"] == f"LABEL_{int(probs.argmax())}" and r["score"] == max(r["scores"].values())


@pytest.mark.parametrize("args,code,message", [
    (["export", "/definitely/not/here"], 1, "Model path '/definitely/not/here' does not exist"),
    (["export", "bert-base-uncased", "--random-weights", "--format", "tflte"], 2,
     "Unknown format 'tflte'. Valid: onnx, onnx-opt, onnx-int8, "),
    (["export", "gpt9", "--random-weights"], 2, "Unknown architecture 'gpt9' for --random-weights. Valid: bert-base-uncased"),
    (["export", "bert-base-uncased", "--random-weights", "--seq-len", "abc"], 2, "--seq-len takes ascending whole numbers"),
    (["export", "bert-base-uncased", "--random-weights", "--task", "qa"], 2, "Unknown task 'qa'"),
    (["predict", "/no/bundle", "hi"], 1, "Bundle '/no/bundle' does not exist"),
    (["export"], 2, "Missing argument 'model'"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
])
def test_errors_exit_codes_and_messages(capsys, tmp_path, args, code, message):
    res = run_cli(capsys, *args, "--out", tmp_path / "out") if args[0] == "export" and len(args) > 1 else run_cli(capsys, *args)
    assert res.code == code
    assert message in _one_line_error(res)
    assert not (tmp_path / "out").exists()


def test_folder_that_is_not_a_model(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    res = run_cli(capsys, "export", tmp_path, "--out", tmp_path / "out")
    assert res.code == 1 and "is not a Hugging Face model directory (no config.json)" in _one_line_error(res)


def test_existing_dir_refused_without_force(capsys, tiny_bert, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = run_cli(capsys, "export", tiny_bert, "--out", out)
    assert res.code == 2 and "exists and is not empty. Fix: pass --force" in _one_line_error(res)
    assert (out / "keep.txt").read_text() == "mine"


def test_parity_failure_exit_3_no_dir(capsys, tiny_bert, tmp_path):
    res = run_cli(capsys, "export", tiny_bert, "--out", tmp_path / "b", "--atol", "1e-15")
    assert res.code == 3 and "Parity gate failed" in _one_line_error(res)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["export", "M", "--atol", "-1"], "--atol must be a positive tolerance (got -1)"),
    (["export", "M", "--atol", "0"], "--atol must be a positive tolerance (got 0)"),
    (["export", "M", "--min-cosine", "1.5"], "--min-cosine must be in (0, 1] (got 1.5)"),
    (["export", "M", "--min-agreement", "0"], "--min-agreement must be in (0, 1] (got 0)"),
    (["export", "M", "--seq-len", "0"], "--seq-len lengths must be positive (got 0)"),
    (["bench", "M", "--threads", "-1"], "--threads must be a positive whole number (got -1)"),
    (["bench", "M", "--threads", "0"], "--threads must be a positive whole number (got 0)"),
    (["bench", "M", "--runs", "0"], "--runs must be positive (got 0)"),
    (["bench", "M", "--repeat", "-2"], "--repeat must be positive (got -2)"),
    (["bench", "M", "--warmup", "-1"], "--warmup must not be negative (got -1)"),
    (["bench", "M", "--batch", "0"], "--batch takes positive whole numbers"),
    (["bench", "M", "--device-label", "Pi|5"], "--device-label 'Pi|5' must be at most 64 letters"),
    (["bench", "M", "--device-label", "x" * 65], "(got 65 characters)"),
    (["predict", "B", "hi", "--threads", "-3"], "--threads must be a positive whole number (got -3)"),
])
def test_negative_or_zero_counts_and_tolerances_are_usage_errors(capsys, tmp_path, args, message):
    res = run_cli(capsys, *args)
    assert res.code == 2 and message in _one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_verbose_shows_traceback(capsys, tmp_path):
    res = run_cli(capsys, "--verbose", "export", tmp_path / "missing")
    assert res.code == 1 and "Traceback" in res.err


@pytest.fixture()
def bundle_copy(tiny_onnx, tmp_path):
    dest = tmp_path / "bundle"
    shutil.copytree(tiny_onnx, dest)
    return dest


def test_predict_refuses_file_that_differs_from_manifest(capsys, bundle_copy):
    with open(bundle_copy / "model.onnx", "r+b") as fh:  # flip one byte, same size
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    res = run_cli(capsys, "predict", bundle_copy, "hi")
    assert res.code == 1 and "does not match the sha256 in manifest.json" in _one_line_error(res)


def test_predict_refuses_truncated_model(capsys, bundle_copy):
    data = (bundle_copy / "model.onnx").read_bytes()
    (bundle_copy / "model.onnx").write_bytes(data[: len(data) // 2])
    res = run_cli(capsys, "predict", bundle_copy, "hi")
    assert res.code == 1 and "model.onnx" in _one_line_error(res)


def test_predict_reports_corrupt_model_even_with_matching_manifest(capsys, bundle_copy):
    from edgebert.bundle import write_manifest

    (bundle_copy / "model.onnx").write_bytes(b"not an onnx model")
    m = read_manifest(bundle_copy)
    write_manifest(bundle_copy, {k: v for k, v in m.items() if k not in ("files", "manifest_version")})
    res = run_cli(capsys, "predict", bundle_copy, "hi")
    assert res.code == 1 and "onnxruntime could not load" in _one_line_error(res)


def test_predict_missing_manifest(capsys, bundle_copy):
    (bundle_copy / "manifest.json").unlink()
    res = run_cli(capsys, "predict", bundle_copy, "hi")
    assert res.code == 1 and "is not an edgebert bundle (no manifest.json)" in _one_line_error(res)


def test_long_text_is_truncated_with_warning(capsys, bundle_copy):
    res = run_cli(capsys, "predict", bundle_copy, "word " * 2000, "short")
    assert res.code == 0
    assert "warning: 1 text(s) longer than 512 tokens were truncated" in res.err
    assert len(json.loads(res.out)["results"]) == 2


def test_messages_keep_square_brackets(capsys, monkeypatch, tmp_path):
    """rich markup must not eat "edgebert[onnx]" out of a fix hint."""
    import edgebert.export as export_mod
    from edgebert.errors import MissingRuntime

    def missing(*a, **k):
        raise MissingRuntime("torch", "onnx")

    monkeypatch.setattr(export_mod, "export", missing)
    res = run_cli(capsys, "export", "x", "--out", tmp_path / "o")
    assert res.code == 1 and "Fix: pip install 'edgebert[onnx]'" in res.err
    res = run_cli(capsys, "formats")
    assert "(export: edgebert[onnx], run: edgebert[runtime])" in res.out


def test_export_summary_prints_the_gate_it_passed(capsys, tiny_bert, tmp_path):
    """The summary's "[gate: ...: passed]" was once read as a rich style tag and dropped from the table."""
    res = run_cli(capsys, "export", tiny_bert, "--out", tmp_path / "b")
    assert res.code == 0, res.err
    assert "[gate: max_abs <= " in res.out and ": passed]" in res.out


def test_first_line_of_any_exception():
    from edgebert.errors import first_line

    assert first_line(RuntimeError("")) == "RuntimeError"  # an empty message must not raise IndexError
    assert first_line(ValueError("\n  bad input\nmore detail")) == "bad input"
    assert first_line(OSError("x" * 500)) == "x" * 300


def test_every_option_help_text_survives_rendering(capsys):
    """Bracketed text ('[default: all cores]', 'edgebert[onnx]') must reach the screen: rich markup once ate it."""
    import re

    import typer

    from edgebert.cli import app

    group = typer.main.get_command(app)
    checked = 0
    for name, command in group.commands.items():
        res = run_cli(capsys, name, "--help")
        assert res.code == 0, res.err
        flat = lambda text: re.sub(r"-\s+", "-", re.sub(r"\s+", " ", text))  # noqa: E731 - wraps at hyphens too
        shown = flat(res.out)
        for param in command.params:
            help_text = getattr(param, "help", None)
            if help_text:
                assert flat(help_text) in shown, (name, help_text)
                checked += 1
    assert checked > 80
    bench = re.sub(r"\s+", " ", run_cli(capsys, "bench", "--help").out)
    assert "Results JSONL [results/results.jsonl]; with --suite a folder [results/efficiency]." in bench
    assert "Intra-op threads [default: all cores]." in bench
