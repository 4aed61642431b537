"""`edgebert bench --suite efficiency`: the DistilBERT efficiency table, measured.

BERT-base and DistilBERT (random weights unless real ones are given) are exported to every installed format,
each export in its own process (quantisers peak at GBs; one process per model keeps memory low), then measured
in eager PyTorch fp32 and in each format, one fresh worker per row.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebert.bench.rows import Row, append_rows
from edgebert.bench.sweep import SweepConfig, SweepResult, run_sweep
from edgebert.bench.targets import Target, identity
from edgebert.bench.worker import machine_fields
from edgebert.bundle import MANIFEST
from edgebert.formats import FORMATS, get_format, installed

DEFAULT_MODELS = {"bert-base-uncased": None, "distilbert-base-uncased": None}


@dataclass
class SuiteResult:
    results: Path
    sweep: SweepResult
    export_failures: dict[str, str]


def suite_formats(requested: list[str] | None) -> list[str]:
    if requested:
        return [get_format(f).name for f in requested]
    return [name for name, spec in FORMATS.items() if installed(spec) and spec.in_suite]


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
                         timeout_s: float) -> dict[str, str | None]:
    """All formats of one model in one child process (shared build, reference and ONNX trace); formats a crash
    left unfinished are retried one process each."""
    import json
    import tempfile

    todo = {f: d for f, d in dests.items() if force or not (d / MANIFEST).is_file()}
    results: dict[str, str | None] = {f: None for f in dests if f not in todo}
    if not todo:
        return results
    with tempfile.TemporaryDirectory(prefix="edgebert-export-") as tmp:
        result_path = Path(tmp) / "result.json"
        spec = {"model": model, "random_weights": random_weights, "result_path": str(result_path),
                "outputs": {f: str(d) for f, d in todo.items()}}
        try:
            subprocess.run([sys.executable, "-m", "edgebert.bench.export_worker"], input=json.dumps(spec), text=True,
                           capture_output=True, timeout=timeout_s * len(todo))
        except subprocess.TimeoutExpired:
            pass
        done = json.loads(result_path.read_text()) if result_path.is_file() else {}
    results.update(done)
    for fmt in todo:
        if fmt not in done:  # the shared process died before this one: isolate it
            results[fmt] = export_bundle(model, random_weights, fmt, todo[fmt], True, timeout_s)
    return results


def run_efficiency(out_dir: Path, cfg: SweepConfig, *, models: dict[str, str | None] | None = None,
                   formats: list[str] | None = None, sweep_seq_lens: list[int] | None = None,
                   show_progress: bool = True, log: Any = print) -> SuiteResult:
    """Export, measure and append rows to out_dir/results.jsonl; the caller renders the report."""
    models = models or DEFAULT_MODELS
    fmts = suite_formats(formats)
    results = out_dir / "results.jsonl"
    bundles_dir = out_dir / "bundles"
    targets: list[Target] = []
    failures: dict[str, str] = {}
    for arch, real in models.items():
        spec, random_weights = (real, False) if real else (arch, True)
        targets.append(Target("model", spec, random_weights))
        dests = {fmt: bundles_dir / f"{arch}-{fmt}" for fmt in fmts}
        log(f"export {arch} -> {', '.join(fmts)}")
        errors = export_model_formats(spec, random_weights, dests, cfg.force, cfg.timeout_s)
        for fmt, dest in dests.items():
            error = errors.get(fmt)
            if error:
                failures[f"{arch}/{fmt}"] = error
                log(f"  failed: {error}")
                ident = {**identity(Target("model", spec, random_weights)), "format": fmt, "runtime": get_format(fmt).runtime}
                spec_row = {"device": cfg.device, "threads": cfg.threads, "batch": 1, "seq_len": 128, "repeat": 0}
                append_rows(results, [Row(**{**ident, **machine_fields(spec_row), "status": "failed",
                                             "reason": f"export failed: {error}"}).to_dict()])
            else:
                targets.append(Target("bundle", str(dest)))
    sweep = run_sweep(targets, cfg, results, show_progress=show_progress)
    sweep_seq_lens = [s for s in sweep_seq_lens or [] if s not in cfg.seq_lens]
    if sweep_seq_lens:  # the short sweep: other lengths, one repeat, shorter rows
        extra = SweepConfig(**{**cfg.__dict__, "seq_lens": sweep_seq_lens, "repeats": 1,
                               "min_seconds": min(cfg.min_seconds, 2.0)})
        more = run_sweep(targets, extra, results, show_progress=show_progress)
        sweep = SweepResult(sweep.written + more.written, sweep.skipped + more.skipped)
    return SuiteResult(results, sweep, failures)
