"""Two bundles of one model and format (an A/B, a four-bucket file beside a one-length one) stay two lines in every
report section and in the regression gate, instead of one median over both."""
from __future__ import annotations

import shutil

from edgebert.bench.rows import Row, read_rows
from edgebert.report.common import tell_bundles_apart
from edgebert.report.efficiency import build_table
from tests.cli_helpers import run_cli
from tests.row_helpers import bench_row
from tests.row_helpers import write_jsonl as _write

FAST = ["--min-seconds", "0", "--warmup", "2", "--threads", "1", "--runs", "3"]


def _ab(p50_a: float, p50_b: float, **kw) -> list[dict]:
    """BERT-base in PyTorch, and two onnx-int8 bundles of one DistilBERT (a: p50_a, b: p50_b), three repeats each."""
    rows = [bench_row("bert-base-uncased", "pytorch", 200.0, repeat=i) for i in range(3)]
    for name, p50 in (("a", p50_a), ("b", p50_b)):
        rows += [bench_row("distilbert", "onnx-int8", p50 + i, bundle=name, model_sha256=f"sha:{name}", repeat=i,
                           **kw) for i in range(3)]
    return rows


def test_efficiency_table_keeps_each_bundle_its_own_line():
    rows, _ = tell_bundles_apart([Row.from_dict(r) for r in _ab(10.0, 30.0)], [])
    p50 = {t.format: t.p50_ms for t in build_table(rows) if t.model == "distilbert"}
    assert p50 == {"onnx-int8 (a)": 11.0, "onnx-int8 (b)": 31.0}  # merged, they were one line at 20.5


def test_one_bundle_per_format_keeps_plain_formats_and_old_rows_never_split():
    rows = [Row.from_dict(bench_row("distilbert", f, 10.0, bundle=f"distilbert-{f}")) for f in ("onnx", "onnx-int8")]
    rows.append(Row.from_dict(bench_row("distilbert", "onnx", 12.0)))  # measured before rows named their bundle
    assert [r.format for r in tell_bundles_apart(rows, [])[0]] == ["onnx", "onnx-int8", "onnx"]


def test_report_sections_and_evals_follow_the_bundles(capsys, tmp_path):
    texts = [bench_row("distilbert", "onnx-int8", p50, bundle=name, model_sha256=f"sha:{name}", seq_len=0,
                       input="texts:sample", texts=120, model_p50_ms=p50 - 1, model_p90_ms=p50, tokens_p50=17,
                       tokens_p90=60, padded_tokens_p50=pad, padded_tokens_p90=pad, tokens=3000,
                       padding_tokens=pad_total) for name, p50, pad, pad_total in (("a", 4.0, 17, 0),
                                                                                   ("b", 9.0, 32, 1500))]
    evals = [{"kind": "eval", "model": "distilbert", "format": "onnx-int8", "bundle": name, "task": "sst2",
              "score": score, "metric": "accuracy"} for name, score in (("a", 0.90), ("b", 0.85))]
    res = run_cli(capsys, "report", _write(tmp_path / "r.jsonl", _ab(10.0, 30.0) + texts + evals),
                  "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    lines = {ln.split(" | ")[2]: ln for ln in md.splitlines() if ln.startswith("| ") and "texts:" not in ln
             and "sample (120)" in ln}
    assert set(lines) == {"onnx-int8 (a)", "onnx-int8 (b)"}
    assert "| 0% |" in lines["onnx-int8 (a)"] and "| 33% |" in lines["onnx-int8 (b)"]  # 1500 / 4500 run
    accuracy = {ln.split(" | ")[1]: ln for ln in md.splitlines()
                if ln.startswith("| distilbert | onnx-int8 (") and ln.split(" | ")[2] in ("90.0", "85.0")}
    assert accuracy["onnx-int8 (a)"].endswith("| 11.0 |")  # each eval beside its own bundle's p50
    assert accuracy["onnx-int8 (b)"].endswith("| 31.0 |") and "| 94.4 |" in accuracy["onnx-int8 (b)"]


def test_gate_compares_each_bundle_with_its_own_baseline(capsys, tmp_path):
    old = _write(tmp_path / "old.jsonl", _ab(10.0, 30.0))
    new = _write(tmp_path / "new.jsonl", _ab(10.0, 40.0))  # b a third slower; merged, the median moved 20.5 -> 25.5
    res = run_cli(capsys, "report", new, "--baseline", old, "--out", tmp_path / "rep")
    assert res.code == 1
    line = [ln for ln in res.err.splitlines() if ln.startswith("error:")][0]
    assert "1 regression(s)" in line and "distilbert onnx-int8 (b) b1 s128" in line and "(a)" not in line


def test_bench_names_two_bundles_of_one_folder_name_apart(capsys, tiny_onnx, tmp_path):
    for side in ("a", "b"):
        shutil.copytree(tiny_onnx, tmp_path / side / "tiny-onnx")
    out = tmp_path / "rows.jsonl"
    res = run_cli(capsys, "bench", tmp_path / "a" / "tiny-onnx", tmp_path / "b" / "tiny-onnx", "--seq", "16",
                  "--out", out, *FAST)
    assert res.code == 0, res.err
    assert sorted(r.bundle for r in read_rows(out)) == ["a/tiny-onnx", "b/tiny-onnx"]
    res = run_cli(capsys, "report", out, "--out", tmp_path / "rep", "--seq", "16")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| onnx (a/tiny-onnx) |" in md and "| onnx (b/tiny-onnx) |" in md
