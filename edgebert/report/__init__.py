"""`edgebert report`: bench and eval rows (any number of files, any number of devices) -> report.md and charts.

The sections live beside this file: efficiency (the seed's table, measured), profile (where the time goes), answer
(text to answer), decide (cost, scenario picks, Pareto front), accuracy (eval rows) and gate (the regression gate
against a baseline); common holds what they share. Every relative figure is computed from rows; the only typed-in
numbers are the reference figures in edgebert/reference.json (the seed's and the paper's), shown beside measured ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebert.bench.rows import Row, read_evals, read_rows
from edgebert.errors import UsageError
from edgebert.report.common import tell_bundles_apart
from edgebert.report.efficiency import TableRow


def read_results(result_files: list[Path]) -> tuple[list[Row], list[dict[str, Any]]]:
    """(bench rows, eval rows) from one or more JSONL files."""
    rows: list[Row] = []
    evals: list[dict[str, Any]] = []
    for path in result_files:
        if not path.is_file():
            raise UsageError(f"Results file '{path}' does not exist")
        rows += read_rows(path)
        evals += read_evals(path)
    return rows, evals


@dataclass
class ReportOptions:
    batch: int = 1
    seq_len: int = 128
    price_per_core_hour: float = 0.05
    constraints: list[str] = field(default_factory=list)  # SCENARIO.FIELD=VALUE
    baseline: list[Path] = field(default_factory=list)
    limits: Any = None  # gate.Limits


@dataclass
class Report:
    table: list[TableRow]
    paths: list[Path]
    breaches: list[Any] = field(default_factory=list)  # gate.Comparison


def write_report(result_files: list[Path], out_dir: Path, options: ReportOptions | None = None) -> Report:
    """Bench rows make the efficiency table, cost and scenario picks; `edgebert eval` rows the accuracy table;
    a baseline adds the regression gate. Everything is checked before anything is written."""
    from edgebert.report import accuracy, answer, decide, efficiency, gate, profile, serve

    opts = options or ReportOptions()
    raw_rows, raw_evals = read_results(result_files)
    if not raw_rows and not raw_evals:
        raise UsageError("No rows in the results given. Fix: run edgebert bench or edgebert eval first")
    rows, evals = tell_bundles_apart(raw_rows, raw_evals)
    table = efficiency.build_table(rows, opts.batch, opts.seq_len)
    if rows and not table and not answer.text_rows(rows) and not serve.serve_rows(rows):
        shapes = sorted({(r.batch, r.seq_len) for r in rows if r.ok})
        have = ", ".join(f"--batch {b} --seq {s}" for b, s in shapes[:4]) or "none: every row failed"
        raise UsageError(f"No ok rows at batch {opts.batch}, sequence {opts.seq_len} in the results given. "
                         f"Fix: pass one of the shapes they have ({have})")
    scenarios = decide.override(decide.SCENARIOS, opts.constraints)
    cands = decide.candidates(table, evals, opts.price_per_core_hour)
    comparisons = []
    if opts.baseline:
        old_rows, old_evals = read_results(opts.baseline)
        comparisons = gate.compare(raw_rows, old_rows, raw_evals, old_evals, opts.limits or gate.Limits())
    out_dir.mkdir(parents=True, exist_ok=True)
    text = efficiency.markdown(rows, table, opts.batch, opts.seq_len) if table else "# edgebert report\n\n"
    paths = [out_dir / "report.md"] + (efficiency.plot(table, out_dir) if table else [])
    if profile.profiled(rows, opts.batch, opts.seq_len):
        text += "\n" + profile.markdown(rows, opts.batch, opts.seq_len)
        chart = profile.plot(rows, opts.batch, opts.seq_len, out_dir)
        paths += [chart] if chart else []
    if answer.text_rows(rows):
        text += "\n" + answer.markdown(rows, table, opts.seq_len)
    text, paths = serve.add_section(rows, out_dir, text, paths)
    if cands:
        text += "\n" + decide.markdown(cands, scenarios, opts.price_per_core_hour)
        paths += decide.plot(cands, out_dir)
    if evals:
        latency = accuracy.latency_of(table)
        text += "\n" + accuracy.eval_markdown(evals, latency)
        paths.append(accuracy.plot_accuracy_latency(evals, latency, out_dir))
    if comparisons:
        text += "\n" + gate.markdown(comparisons, opts.limits or gate.Limits())
    (out_dir / "report.md").write_text(text)
    return Report(table, paths, [c for c in comparisons if c.breach])
