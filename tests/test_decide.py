"""What a user decides with: the regression gate, measured cost, scenario picks and the Pareto front."""
from __future__ import annotations

import pytest

from edgebert.bench.rows import Row
from edgebert.errors import UsageError
from edgebert.report.decide import SCENARIOS, Candidate, candidates, override, pareto, pick
from edgebert.report.efficiency import build_table
from tests.cli_helpers import run_cli
from tests.row_helpers import bench_row
from tests.row_helpers import write_jsonl as _write


def _row(model, fmt, p50, size=100.0, rss=300.0, golden="pass", threads=2, **kw):
    return bench_row(model, fmt, p50, file_mb=size, peak_rss_mb=rss, model_rss_mb=rss - 100, threads=threads,
                     golden="reference" if fmt == "pytorch" else golden, **kw)


RUN = [_row("bert-base-uncased", "pytorch", 200.0, 438.0, 900.0), _row("distilbert", "onnx", 80.0, 268.0),
       _row("distilbert", "onnx-int8", 40.0, 67.0)]


def _scaled(row, factor, **kw):
    """The same row with every latency figure `factor` times the original."""
    return {**row, **{k: row[k] * factor for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms")}, **kw}


def test_gate_passes_when_a_whole_machine_is_slower(capsys, tmp_path):
    old = _write(tmp_path / "old.jsonl", RUN)
    slower = [_scaled(r, 1.3) for r in RUN]  # a noisier, slower VM: every row 30% slower
    new = _write(tmp_path / "new.jsonl", slower)
    res = run_cli(capsys, "report", new, "--baseline", old, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "p50 / BERT-base PyTorch p50 of the same run <= baseline x 1.1" in md and "BREACH" not in md


def test_gate_fails_naming_each_breach(capsys, tmp_path):
    old = _write(tmp_path / "old.jsonl", RUN + [{"kind": "eval", "model": "distilbert", "format": "onnx-int8",
                                                 "task": "sst2", "score": 0.91, "metric": "accuracy"}])
    new_rows = [RUN[0], RUN[1], _scaled(RUN[2], 1.2, file_mb=75.0),  # +20% vs BERT-base, +12% size
                {"kind": "eval", "model": "distilbert", "format": "onnx-int8", "task": "sst2", "score": 0.895,
                 "metric": "accuracy"}]
    new = _write(tmp_path / "new.jsonl", new_rows)
    res = run_cli(capsys, "report", new, "--baseline", old, "--out", tmp_path / "rep")
    assert res.code == 1
    line = [ln for ln in res.err.splitlines() if ln.startswith("error:")][0]
    assert "3 regression(s) vs the baseline" in line
    assert "latency distilbert onnx-int8 b1 s128" in line and "0.2 -> 0.24" in line
    assert "size distilbert onnx-int8: 67 -> 75" in line and "accuracy distilbert onnx-int8 sst2: 91 -> 89.5" in line
    # a looser gate lets the same change through
    res = run_cli(capsys, "report", new, "--baseline", old, "--out", tmp_path / "rep2", "--max-slowdown", "25%",
                  "--max-size-growth", "15%", "--max-accuracy-drop", "2")
    assert res.code == 0, res.err


def test_gate_raw_rule_without_bert_base_and_outputs_breach(capsys, tmp_path):
    old = _write(tmp_path / "old.jsonl", RUN[1:])
    new = _write(tmp_path / "new.jsonl", [RUN[1], {**RUN[2], "golden": "fail"}])
    res = run_cli(capsys, "report", new, "--baseline", old, "--out", tmp_path / "rep")
    assert res.code == 1 and "outputs distilbert onnx-int8" in res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "raw p50 ms <= baseline x 1.1 (no BERT-base row in both runs)" in md


@pytest.mark.parametrize("args,message", [
    (["--baseline", "OTHER"], "No rows of the new results match the baseline"),
    (["--baseline", "V1"], "The baseline rows have schema version [1]; this edgebert writes 2"),
    (["--price-per-hour", "-1"], "--price-per-hour must be positive (got -1)"),
    (["--max-slowdown", "-5%"], "--max-slowdown must not be negative"),
    (["--max-slowdown", "fast"], "--max-slowdown takes a percentage such as 10% (got 'fast')"),
    (["--constraint", "phone.max_file_mb=3"], "Unknown scenario 'phone' in --constraint"),
])
def test_report_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, args, message):
    new = _write(tmp_path / "new.jsonl", RUN)
    _write(tmp_path / "other.jsonl", [_row("roberta", "onnx", 10.0)])
    _write(tmp_path / "v1.jsonl", [{**r, "schema_version": 1} for r in RUN])
    args = [{"OTHER": tmp_path / "other.jsonl", "V1": tmp_path / "v1.jsonl"}.get(a, a) for a in args]
    res = run_cli(capsys, "report", new, "--out", tmp_path / "rep", *args)
    lines = [ln for ln in res.err.splitlines() if ln.startswith("error:")]
    assert res.code == 2 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "rep").exists()


def test_cost_is_measured_and_scenarios_pick_from_rows(capsys, tmp_path):
    rows = RUN + [_row("distilbert", "tflite-int8", 30.0, 68.0, golden="fail"),  # fastest, but wrong outputs
                  _row("student", "onnx-int8", 20.0, 17.0, 150.0)]
    evals = [{"kind": "eval", "model": "student", "format": "onnx-int8", "task": "t", "score": 0.80,
              "retention_pct": 92.0, "metric": "accuracy"}]
    f = _write(tmp_path / "r.jsonl", rows + evals)
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep", "--price-per-hour", "0.1")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    # 40 ms at 2 threads: 1000/40/2 = 12.5 requests/s per core; 1e6 / (12.5 * 3600) core-hours x $0.1 = $2.222
    assert "| distilbert | onnx-int8 | 40.0 | 12.50 | 2.222 | 300 | 67.0 | pass |" in md
    # mobile app: smallest file within the limits; the student (17 MB) misses retention 97 (92%), so onnx-int8
    assert "| mobile app (移动端部署 (mobile deployment)) |" in md
    mobile = [ln for ln in md.splitlines() if ln.startswith("| mobile app")][0]
    assert "| distilbert onnx-int8 |" in mobile and "tflite-int8" not in mobile
    assert "The seed's cost chart is assumed, not measured (BERT-base = 100): training_cost 120, inference_cost 40" in md
    assert ("The seed's scenario chart is assumed, not measured (suitability 1-10, DistilBERT vs BERT): "
            "mobile_deployment 9 vs 5, real_time_systems 8 vs 4, edge_computing 9 vs 3, production_services 8 vs 6.") in md
    for name in ("cost.png", "pareto.png"):
        assert (tmp_path / "rep" / name).read_bytes()[:4] == b"\x89PNG"
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep2", "--constraint", "mobile-app.min_retention_pct=90")
    mobile = [ln for ln in (tmp_path / "rep2" / "report.md").read_text().splitlines() if ln.startswith("| mobile app")]
    assert "| student onnx-int8 |" in mobile[0]


def _cand(fmt, p50, size, golden="pass", rss=300.0):
    return Candidate("g", "m", fmt, p50, p50 * 1.2, rss, size, 2, golden)


def test_pick_pareto_and_override():
    cands = [_cand("a", 10, 100), _cand("b", 20, 50), _cand("c", 30, 60), _cand("d", 5, 10, golden="FAIL")]
    assert [c.format for c in pareto(cands)] == ["a", "b"]  # c is beaten by b; d's outputs are wrong
    best, n = pick(cands, SCENARIOS["mobile-app"])
    assert best.format == "b" and n == 3
    strict = override(SCENARIOS, ["mobile-app.max_file_mb=40"])
    assert pick(cands, strict["mobile-app"]) == (None, 0)
    assert override(SCENARIOS, ["edge-box.max_memory_mb=none"])["edge-box"].max_memory_mb is None
    with pytest.raises(UsageError) as err:
        override(SCENARIOS, ["edge-box.max_speed=1"])
    assert str(err.value) == ("Unknown constraint 'max_speed'. Valid: max_p50_ms, max_p99_ms, max_memory_mb, "
                              "max_file_mb, min_retention_pct, objective")


def test_candidates_take_p99_and_threads_from_their_own_device_and_shape():
    rows = RUN + [_row("distilbert", "onnx-int8", 400.0, seq_len=512),  # another shape: not the table's p99
                  _row("distilbert", "onnx-int8", 10.0, threads=8, cpu="CPU-B")]  # another device: its own candidate
    cands = {(c.group.cpu, c.format): c for c in candidates(build_table([Row.from_dict(r) for r in rows]), [], 0.05)}
    assert (cands[("CPU-A", "onnx-int8")].p99_ms, cands[("CPU-A", "onnx-int8")].threads) == (pytest.approx(48.0), 2)
    assert (cands[("CPU-B", "onnx-int8")].p99_ms, cands[("CPU-B", "onnx-int8")].threads) == (pytest.approx(12.0), 8)


def test_gate_matches_rows_on_the_same_device_only(capsys, tmp_path):
    old = _write(tmp_path / "old.jsonl", RUN)
    vnni = _write(tmp_path / "new.jsonl", [{**r, "cpu_features": ["avx2", "avx512_vnni"]} for r in RUN])
    res = run_cli(capsys, "report", vnni, "--baseline", old, "--out", tmp_path / "rep")
    assert res.code == 2 and "No rows of the new results match the baseline" in res.err
    labelled = _write(tmp_path / "labelled.jsonl", [{**r, "device_label": "box"} for r in RUN])
    board = _write(tmp_path / "board.jsonl", [{**r, "board": "box"} for r in RUN])  # the board names it: same
    assert run_cli(capsys, "report", board, "--baseline", labelled, "--out", tmp_path / "rep").code == 0
