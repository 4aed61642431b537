"""`edgebert bench --suite efficiency` through the CLI on tiny models: exports, rows, report.md, suite.json, resume."""
from __future__ import annotations

import json
from pathlib import Path

from edgebert.bench.rows import read_rows
from edgebert.bench.spec import Target
from edgebert.bench.sweep import SweepConfig
from edgebert.suite import _export_failed
from tests.cli_helpers import run_cli

BERT, DISTIL = "tiny-bert-classification", "tiny-distilbert-classification"


def test_bench_suite_efficiency_through_the_cli(capsys, tiny_bert, tiny_distilbert, tmp_path):
    out = tmp_path / "suite"
    args = ["bench", "--suite", "efficiency", "--bert", tiny_bert, "--distilbert", tiny_distilbert, "--format", "onnx",
            "--format", "onnx-int8", "--bert-format", "onnx", "--runs", "3", "--min-seconds", "0", "--warmup", "1",
            "--repeat", "1", "--threads", "1", "--out", out]
    res = run_cli(capsys, *args)
    assert res.code == 0, res.err
    assert f"Wrote {out / 'report.md'}" in res.out and "Efficiency, batch 1, seq 128" in res.out
    rows = read_rows(out / "results.jsonl")
    assert all(r.ok and r.golden in ("pass", "reference") for r in rows), [r.reason for r in rows if not r.ok]
    # the table's rows: each model in PyTorch, DistilBERT in every format, BERT-base in its --bert-format
    table = sorted((r.model, r.format) for r in rows if r.input == "tensor" and r.seq_len == 128)
    assert table == sorted([(BERT, "pytorch"), (BERT, "onnx")] + [(DISTIL, f) for f in ("pytorch", "onnx", "onnx-int8")])
    # text to answer on the shipped sample and the s32 sweep: DistilBERT's bundles and both PyTorch models
    distil = sorted([(BERT, "pytorch")] + [(DISTIL, f) for f in ("pytorch", "onnx", "onnx-int8")])
    assert sorted((r.model, r.format) for r in rows if r.input == "texts:sample") == distil
    assert sorted((r.model, r.format) for r in rows if r.seq_len == 32) == distil
    assert all(r.profile for r in rows if r.seq_len == 128)  # the suite always profiles (first repetition)
    suite = json.loads((out / "suite.json").read_text())
    assert suite["formats"] == ["onnx", "onnx-int8"] and suite["config"]["min_runs"] == 3
    exported = {arch: sorted(took) for arch, took in suite["seconds"]["export"].items()}
    assert exported == {"bert-base-uncased": ["onnx"], "distilbert-base-uncased": ["onnx", "onnx-int8"]}
    md = (out / "report.md").read_text()
    for line in (f"| {DISTIL} | onnx-int8 | real |", f"| {BERT} | pytorch | real |", "## Where the time goes",
                 "## Text to answer", "## Measured cost"):
        assert line in md, line
    again = run_cli(capsys, *args)  # resumable: bundles reused, every row already measured
    assert again.code == 0, again.err
    assert len(read_rows(out / "results.jsonl")) == len(rows)
    assert json.loads((out / "suite.json").read_text())["seconds"]["export"] == {"bert-base-uncased": {},
                                                                                "distilbert-base-uncased": {}}


def test_a_failed_export_is_a_failed_row_at_the_tables_shape():
    cfg = SweepConfig(batches=[2], seq_lens=[64, 128], threads=1, device_label="lab")
    row = _export_failed(Target("model", "bert-base-uncased", True), Path("out/bundles/bert-base-uncased-onnx-int8"),
                         "onnx-int8", cfg, "boom")
    assert (row.status, row.reason, row.batch, row.seq_len) == ("failed", "export failed: boom", 2, 64)
    assert row.bundle == "bert-base-uncased-onnx-int8"  # the folder it would have had: reports name it so
    assert (row.format, row.runtime, row.runtime_version, row.device_label) == ("onnx-int8", "onnxruntime", "", "lab")
