"""The efficiency table: relative columns come from rows; several machines give several column groups."""
from __future__ import annotations

import json

import pytest

from edgebert.bench.rows import Row
from edgebert.report.efficiency import build_table
from tests.cli_helpers import run_cli
from tests.row_helpers import bench_row


def _row(model, fmt, p50, rss, cpu="CPU-A", params=None, **kw):
    return bench_row(model, fmt, p50, model_rss_mb=rss, peak_rss_mb=rss + 300, cpu=cpu, parameters=params, **kw)


def _table(rows):
    return build_table([Row.from_dict(r) for r in rows])


def test_relative_columns_are_computed_from_rows():
    rows = [_row("bert-base-uncased", "pytorch", 200.0, 400.0, params=110e6),
            _row("distilbert-base-uncased", "pytorch", 110.0, 250.0, params=66e6),
            _row("distilbert-base-uncased", "onnx", 50.0, 100.0, params=66e6)]
    t = {(x.model, x.format): x for x in _table(rows)}
    assert t[("bert-base-uncased", "pytorch")].time_rel == pytest.approx(100)
    assert t[("distilbert-base-uncased", "pytorch")].time_rel == pytest.approx(55)
    assert t[("distilbert-base-uncased", "pytorch")].memory_rel == pytest.approx(62.5)
    assert t[("distilbert-base-uncased", "onnx")].time_rel == pytest.approx(25)
    assert t[("distilbert-base-uncased", "onnx")].seed["inference_time"] == 60
    rows[0] = _row("bert-base-uncased", "pytorch", 400.0, 400.0, params=110e6)  # another baseline, other figures
    assert {(x.model, x.format): x for x in _table(rows)}[("distilbert-base-uncased", "onnx")].time_rel == \
        pytest.approx(12.5)


def test_repeats_are_summarised_by_median_and_spread():
    rows = [_row("bert-base-uncased", "pytorch", p, 400.0, repeat=i) for i, p in enumerate((190.0, 200.0, 260.0))]
    (t,) = _table(rows)
    assert t.p50_ms == 200.0 and t.p50_spread_ms == 70.0 and t.repeats == 3


def test_machines_merge_as_column_groups_each_with_own_baseline():
    rows = [_row("bert-base-uncased", "pytorch", 200.0, 400.0), _row("distilbert-base-uncased", "pytorch", 100.0, 240.0),
            _row("bert-base-uncased", "pytorch", 1000.0, 400.0, cpu="ARM-B"),
            _row("distilbert-base-uncased", "pytorch", 700.0, 240.0, cpu="ARM-B")]
    table = _table(rows)
    assert len({t.group for t in table}) == 2
    rel = {(t.group.cpu, t.model): t.time_rel for t in table}
    assert rel[("CPU-A", "distilbert-base-uncased")] == pytest.approx(50)
    assert rel[("ARM-B", "distilbert-base-uncased")] == pytest.approx(70)


def test_failed_and_other_shapes_are_left_out_of_the_table():
    rows = [_row("bert-base-uncased", "pytorch", 200.0, 400.0),
            _row("bert-base-uncased", "onnx", 1.0, 1.0, status="failed"),
            _row("bert-base-uncased", "onnx", 1.0, 1.0, seq_len=32)]
    assert [(t.model, t.format) for t in _table(rows)] == [("bert-base-uncased", "pytorch")]


def test_a_report_at_a_shape_no_row_has_names_the_shapes_there_are(capsys, tmp_path):
    f = tmp_path / "s16.jsonl"
    f.write_text(json.dumps(_row("bert-base-uncased", "onnx", 5.0, 50.0, seq_len=16)) + "\n")
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep")
    assert res.code == 2 and not (tmp_path / "rep").exists()
    assert res.err.strip() == ("error: No ok rows at batch 1, sequence 128 in the results given. "
                               "Fix: pass one of the shapes they have (--batch 1 --seq 16)")
    assert run_cli(capsys, "report", f, "--seq", "16", "--out", tmp_path / "rep").code == 0


def test_report_command_writes_markdown_and_charts(capsys, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(json.dumps(r) for r in [_row("bert-base-uncased", "pytorch", 200.0, 400.0),
                                                   _row("distilbert-base-uncased", "onnx", 60.0, 120.0)]) + "\n")
    b.write_text(json.dumps(_row("bert-base-uncased", "pytorch", 900.0, 400.0, cpu="ARM-B")) + "\n{torn")
    res = run_cli(capsys, "report", a, b, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## CPU-A · x86_64 [avx2] · cpu · 2 threads" in md and "## ARM-B · x86_64 [avx2] · cpu · 2 threads" in md
    assert "| distilbert-base-uncased | onnx | random | – | 66 | 30 | 60 | 30 | 60 |" in md
    for name in ("latency", "memory", "size"):
        assert (tmp_path / "rep" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = run_cli(capsys, "report", tmp_path / "missing.jsonl", "--out", tmp_path / "rep2")
    assert res.code == 2 and "does not exist" in res.err


def test_eval_rows_get_an_accuracy_section(capsys, tmp_path):
    rows = [{"kind": "eval", "model": "teacher", "format": "pytorch", "task": "sst2", "metric": "accuracy",
             "score": 0.9, "retention_pct": 100.0, "reference": "/m/teacher", "metrics": {"accuracy": 0.9}},
            {"kind": "eval", "model": "student", "format": "onnx-int8", "task": "sst2", "metric": "accuracy",
             "score": 0.87, "retention_pct": 96.7, "reference": "/m/teacher", "metrics": {"accuracy": 0.87}}]
    f = tmp_path / "eval.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| model | format | SST-2 | average | retention % | max tokens | truncated rows | p50 ms |" in md
    assert "| teacher | pytorch | 90.0 | 90.0 | 100.0 | – | 0 | – |" in md
    assert "| student | onnx-int8 | 87.0 | 87.0 | 96.7 | – | 0 | – |" in md
    assert "| seed DistilBERT | 91.3 | 91.3 | 97.6 |" in md  # the seed's figures for the same task
    assert (tmp_path / "rep" / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_glue_shape_with_several_tasks_average_and_latency(capsys, tmp_path):
    def ev(model, fmt, task, score, **kw):
        return {"kind": "eval", "model": model, "format": fmt, "task": task, "metric": "accuracy", "score": score,
                "metrics": {}, **kw}

    rows = [ev("bert", "pytorch", "sst2", 0.92), ev("bert", "pytorch", "mrpc", 0.88),
            ev("student", "onnx-int8", "sst2", 0.90, max_tokens=128, truncated_rows=3),
            ev("student", "onnx-int8", "mrpc", 0.84, max_tokens=128, truncated_rows=3),
            _row("student", "onnx-int8", 12.5, 50.0), _row("bert", "pytorch", 100.0, 400.0)]
    f = tmp_path / "all.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| model | format | SST-2 | MRPC | average | retention % |" in md
    # average (90 + 84) / 2 = 87.0; retention 87 / 90 = 96.7; latency from the bench row of the same artifact
    assert "| student | onnx-int8 | 90.0 | 84.0 | 87.0 | 96.7 | 128 | 3 | 12.5 |" in md
    assert "| seed DistilBERT | 91.3 | 87.5 | 89.4 | 98.0 |" in md  # (91.3+87.5)/2 over (93.5+88.9)/2
