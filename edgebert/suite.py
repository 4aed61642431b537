"""`edgebert bench --suite efficiency`: the DistilBERT efficiency table, measured.

BERT-base and DistilBERT (random weights unless real ones are given) are exported, all formats of a model in one
process (one build, one parity reference, one ONNX trace, one fp32 .tflite), then measured one fresh worker per
row: eager PyTorch fp32 and every bundle, repeated and interleaved; then text-to-answer rows on the shipped
real-text sample and a short s32 sweep. DistilBERT gets every installed format. BERT-base is the baseline: by
default ONNX Runtime fp32 and int8, LiteRT and OpenVINO, which gives each of those
runtime's DistilBERT/BERT-base ratio; --bert-format adds more (or 'all').
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgebert.bench.rows import Row, append_rows, start_row
from edgebert.bench.spec import RowSpec, Target
from edgebert.bench.sweep import SweepConfig, SweepResult, run_sweep
from edgebert.bench.targets import identity
from edgebert.bundle import MANIFEST
from edgebert.device_info import machine_fields
from edgebert.formats import FORMATS, get_format, installed

DEFAULT_MODELS = {"bert-base-uncased": None, "distilbert-base-uncased": None}
BASELINE = "bert-base-uncased"
# BERT-base is the baseline: ONNX Runtime fp32/int8, LiteRT and OpenVINO give each of those runtimes' DistilBERT /
# BERT-base ratio. ExecuTorch is left to --bert-format: its BERT-base export (~75 s) and program loads (5-8 s a row)
# cost ~2 minutes of a suite that must fit in 15.
BERT_FORMATS = ("onnx", "onnx-int8", "tflite", "openvino")
SWEEP_SEQ_LENS = [32]  # the short sweep beside the table's s128


@dataclass
class SuiteResult:
    results: Path
    sweep: SweepResult
    export_failures: dict[str, str]
    seconds: dict[str, Any] = field(default_factory=dict)


def suite_formats(requested: list[str] | None) -> list[str]:
    if requested:
        return [get_format(f).name for f in requested]
    return [name for name, spec in FORMATS.items() if installed(spec) and spec.in_suite]


def bert_formats(requested: list[str] | None, distil: list[str]) -> list[str]:
    """BERT-base's formats: the runtime-family set (among those DistilBERT gets), or what --bert-format names."""
    if requested == ["all"]:
        return list(distil)
    if requested:
        return [get_format(f).name for f in requested]
    return [f for f in BERT_FORMATS if f in distil]


def export_bundle(model: str, random_weights: bool, fmt: str, dest: Path, force: bool, timeout_s: float) -> str | None:
    """Export in a child process (reusing a finished bundle); returns an error line, or None on success."""
    if (dest / MANIFEST).is_file() and not force:
        return None
    cmd = [sys.executable, "-m", "edgebert.cli", "export", model, "--format", fmt, "--out", str(dest), "--force"]
    if random_weights:
        cmd.append("--random-weights")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"export timed out after {timeout_s:g} s"
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else f"export exited with code {proc.returncode}"
    return None


def export_model_formats(model: str, random_weights: bool, dests: dict[str, Path], force: bool,
                         timeout_s: float) -> tuple[dict[str, str | None], dict[str, float]]:
    """All formats of one model in one child process (shared build, reference, ONNX trace and .tflite); formats a
    crash left unfinished are retried one process each. Returns (errors, export seconds per format)."""
    todo = {f: d for f, d in dests.items() if force or not (d / MANIFEST).is_file()}
    results: dict[str, str | None] = {f: None for f in dests if f not in todo}
    if not todo:
        return results, {}
    with tempfile.TemporaryDirectory(prefix="edgebert-export-") as tmp:
        result_path = Path(tmp) / "result.json"
        spec = {"model": model, "random_weights": random_weights, "result_path": str(result_path),
                "outputs": {f: str(d) for f, d in todo.items()}}
        try:
            subprocess.run([sys.executable, "-m", "edgebert.bench.export_worker"], input=json.dumps(spec), text=True,
                           capture_output=True, timeout=timeout_s * len(todo))
        except subprocess.TimeoutExpired:
            pass
        done = json.loads(result_path.read_text()) if result_path.is_file() else {"errors": {}, "seconds": {}}
    results.update(done["errors"])
    seconds = dict(done["seconds"])
    for fmt in todo:
        if fmt not in done["errors"]:  # the shared process died before this one: isolate it
            start = time.perf_counter()
            results[fmt] = export_bundle(model, random_weights, fmt, todo[fmt], True, timeout_s)
            seconds[fmt] = round(time.perf_counter() - start, 1)
    return results, seconds


@dataclass
class SuiteDone:
    """What `bench --suite efficiency` produced: the report, the files written, timings and export failures."""

    report: Any
    paths: list[Path]
    seconds: dict[str, Any]
    export_failures: dict[str, str]


def run_suite(out_dir: Path, cfg: SweepConfig, *, models: dict[str, str | None] | None = None,
              formats: list[str] | None = None, baseline_formats: list[str] | None = None, log: Any = print
              ) -> SuiteDone:
    """The whole suite: exports, rows (plus text to answer on the shipped sample and an s32 sweep), report.md,
    charts and suite.json (timings and the configuration)."""
    from edgebert.bench.texts import default_texts
    from edgebert.report import ReportOptions, write_report

    start = time.time()
    res = run_efficiency(out_dir, cfg, models=models, formats=formats, baseline_formats=baseline_formats,
                         sweep_seq_lens=SWEEP_SEQ_LENS, texts=default_texts(), log=log)
    report = write_report([res.results], out_dir, ReportOptions(cfg.batches[0], cfg.seq_lens[0]))
    res.seconds["total_s"] = round(time.time() - start, 1)
    suite_json = out_dir / "suite.json"
    config = {k: v for k, v in cfg.__dict__.items() if k != "texts"}
    suite_json.write_text(json.dumps({"seconds": res.seconds, "formats": formats, "config": config}, indent=2) + "\n")
    return SuiteDone(report, [*report.paths, suite_json, res.results], res.seconds, res.export_failures)


def run_efficiency(out_dir: Path, cfg: SweepConfig, *, models: dict[str, str | None] | None = None,
                   formats: list[str] | None = None, baseline_formats: list[str] | None = None,
                   sweep_seq_lens: list[int] | None = None, texts: list[str] | None = None,
                   show_progress: bool = True, log: Any = print) -> SuiteResult:
    """Export, measure and append rows to out_dir/results.jsonl; the caller renders the report."""
    results = out_dir / "results.jsonl"
    seconds: dict[str, Any] = {}
    start = time.perf_counter()
    targets, baseline_bundles, failures, seconds["export"] = _export_all(
        out_dir, cfg, models or DEFAULT_MODELS, suite_formats(formats), baseline_formats, log)
    seconds["exports_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    sweep = run_sweep(targets, cfg, results, show_progress=show_progress)
    seconds["timed_rows_s"] = round(time.perf_counter() - start, 1)
    distil_targets = [t for t in targets if t.ref not in baseline_bundles]
    extra = []  # text to answer on the shipped real-text sample, then the short sweep: other lengths, shorter rows
    if texts:
        extra.append(("text_rows_s", replace(cfg, repeats=1, texts=texts, texts_name="sample", min_seconds=0.0)))
    lengths = [s for s in sweep_seq_lens or [] if s not in cfg.seq_lens]
    if lengths:
        extra.append(("sweep_rows_s", replace(cfg, seq_lens=lengths, repeats=1, min_seconds=min(cfg.min_seconds, 2.0))))
    for name, more_cfg in extra:
        start = time.perf_counter()
        more = run_sweep(distil_targets, more_cfg, results, show_progress=show_progress)
        sweep = SweepResult(sweep.written + more.written, sweep.skipped + more.skipped)
        seconds[name] = round(time.perf_counter() - start, 1)
    return SuiteResult(results, sweep, failures, seconds)


def _export_all(out_dir: Path, cfg: SweepConfig, models: dict[str, str | None], fmts: list[str],
                baseline_formats: list[str] | None, log: Any
                ) -> tuple[list[Target], set[str], dict[str, str], dict[str, dict[str, float]]]:
    """Every model's bundles (one export process a model): targets to measure (each model in PyTorch, then its
    bundles), the baseline's bundles, failures (each also a failed row) and export seconds per model and format."""
    targets: list[Target] = []
    baseline_bundles: set[str] = set()  # text rows and the s32 sweep measure DistilBERT's bundles (and both PyTorch)
    failures: dict[str, str] = {}
    seconds: dict[str, dict[str, float]] = {}
    for arch, real in models.items():
        model = Target("model", real, False) if real else Target("model", arch, True)
        targets.append(model)
        is_baseline = arch == BASELINE and len(models) > 1
        dests = {fmt: out_dir / "bundles" / f"{arch}-{fmt}" for fmt in (
            bert_formats(baseline_formats, fmts) if is_baseline else fmts)}
        log(f"export {arch} -> {', '.join(dests)}")
        errors, seconds[arch] = export_model_formats(model.ref, model.random_weights, dests, cfg.force, cfg.timeout_s)
        for fmt, dest in dests.items():
            if errors.get(fmt):
                failures[f"{arch}/{fmt}"] = errors[fmt]
                log(f"  failed: {errors[fmt]}")
                append_rows(out_dir / "results.jsonl", [_export_failed(model, dest, fmt, cfg, errors[fmt]).to_dict()])
            else:
                targets.append(Target("bundle", str(dest)))
                if is_baseline:
                    baseline_bundles.add(str(dest))
    return targets, baseline_bundles, failures, seconds


def _export_failed(model: Target, dest: Path, fmt: str, cfg: SweepConfig, error: str) -> Row:
    """The row of a bundle that was never made: at the table's shape, its runtime never loaded."""
    ident = replace(identity(model), format=fmt, runtime=get_format(fmt).runtime, runtime_version="", bundle=dest.name)
    spec = RowSpec(model, ident, cfg.device, cfg.threads, cfg.batches[0], cfg.seq_lens[0], 0, cfg.warmup,
                   cfg.min_runs, cfg.min_seconds, cfg.device_label)
    return replace(start_row(spec, machine_fields()), reason=f"export failed: {error}")
