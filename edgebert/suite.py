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

from edgebert.bench.rows import Row, append_rows
from edgebert.bench.sweep import SweepConfig, SweepResult, run_sweep
from edgebert.bench.targets import Target, identity
from edgebert.bench.worker import machine_fields
from edgebert.bundle import MANIFEST
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
    models = models or DEFAULT_MODELS
    fmts = suite_formats(formats)
    results = out_dir / "results.jsonl"
    bundles_dir = out_dir / "bundles"
    targets: list[Target] = []
    failures: dict[str, str] = {}
    baseline_bundles: set[str] = set()  # text rows and the s32 sweep measure DistilBERT's bundles (and both PyTorch)
    seconds: dict[str, Any] = {"export": {}}
    start = time.perf_counter()
    for arch, real in models.items():
        spec, random_weights = (real, False) if real else (arch, True)
        targets.append(Target("model", spec, random_weights))
        mine = bert_formats(baseline_formats, fmts) if arch == BASELINE and len(models) > 1 else fmts
        dests = {fmt: bundles_dir / f"{arch}-{fmt}" for fmt in mine}
        log(f"export {arch} -> {', '.join(mine)}")
        errors, took = export_model_formats(spec, random_weights, dests, cfg.force, cfg.timeout_s)
        seconds["export"][arch] = took
        for fmt, dest in dests.items():
            error = errors.get(fmt)
            if error:
                failures[f"{arch}/{fmt}"] = error
                log(f"  failed: {error}")
                ident = {**identity(Target("model", spec, random_weights)), "format": fmt,
                         "runtime": get_format(fmt).runtime}
                spec_row = {"device": cfg.device, "threads": cfg.threads, "batch": 1, "seq_len": 128, "repeat": 0,
                            "device_label": cfg.device_label}
                append_rows(results, [Row(**{**ident, **machine_fields(spec_row), "status": "failed",
                                             "reason": f"export failed: {error}"}).to_dict()])
            else:
                targets.append(Target("bundle", str(dest)))
                if arch == BASELINE and len(models) > 1:
                    baseline_bundles.add(str(dest))
    seconds["exports_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    sweep = run_sweep(targets, cfg, results, show_progress=show_progress)
    seconds["timed_rows_s"] = round(time.perf_counter() - start, 1)
    distil_targets = [t for t in targets if t.ref not in baseline_bundles]
    if texts:  # text to answer: the shipped real-text sample, one repetition
        start = time.perf_counter()
        more = run_sweep(distil_targets, replace(cfg, repeats=1, texts=texts, texts_name="sample", min_seconds=0.0),
                         results, show_progress=show_progress)
        sweep = SweepResult(sweep.written + more.written, sweep.skipped + more.skipped)
        seconds["text_rows_s"] = round(time.perf_counter() - start, 1)
    sweep_seq_lens = [s for s in sweep_seq_lens or [] if s not in cfg.seq_lens]
    if sweep_seq_lens:  # the short sweep: other lengths, one repeat, shorter rows
        start = time.perf_counter()
        extra = replace(cfg, seq_lens=sweep_seq_lens, repeats=1, min_seconds=min(cfg.min_seconds, 2.0))
        more = run_sweep(distil_targets, extra, results, show_progress=show_progress)
        sweep = SweepResult(sweep.written + more.written, sweep.skipped + more.skipped)
        seconds["sweep_rows_s"] = round(time.perf_counter() - start, 1)
    return SuiteResult(results, sweep, failures, seconds)
