"""Run a sweep of rows, one fresh worker process each, appending to JSONL; resumable and crash-proof.

The parent plans RowSpecs, hands each to `python -m edgebert.bench.worker` as JSON and reads the Row it writes;
it never imports the worker: what it knows of the machine comes from device_info, like the worker's.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from edgebert.bench.rows import Row, append_rows, read_rows, start_row
from edgebert.bench.spec import RowSpec, Target
from edgebert.bench.targets import identity
from edgebert.bundle import bundle_names
from edgebert.device_info import machine_fields
from edgebert.errors import UsageError
from edgebert.runner import check_device

WORKER_MODULE = "edgebert.bench.worker"  # run as `python -m WORKER_MODULE ROW_JSON < spec.json`


@dataclass
class SweepConfig:
    batches: list[int] = field(default_factory=lambda: [1])
    seq_lens: list[int] = field(default_factory=lambda: [128])
    threads: int = 0  # 0: all cores
    device: str = "cpu"
    warmup: int = 10
    min_runs: int = 50
    min_seconds: float = 10.0
    repeats: int = 1
    timeout_s: float = 1800.0
    force: bool = False
    device_label: str = ""
    texts: list[str] | None = None  # text-to-answer rows (batch 1, the texts' own lengths) instead of the grid
    texts_name: str = ""
    profile: bool = False  # after timing, each row records the runtime's per-op profile and GFLOP/s

    def __post_init__(self) -> None:
        check_device(self.device)
        check_label(self.device_label)
        for name in ("threads", "warmup", "min_seconds"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must not be negative (got {getattr(self, name)})")
        for name, flag in (("min_runs", "--runs"), ("repeats", "--repeat"), ("timeout_s", "--timeout")):
            if getattr(self, name) <= 0:
                raise UsageError(f"{flag} must be positive (got {getattr(self, name)})")
        if any(n <= 0 for n in self.batches + self.seq_lens):
            raise UsageError("--batch and --seq take positive whole numbers")
        self.threads = self.threads or os.cpu_count() or 1

    @classmethod
    def build(cls, suite: bool = False, **given: Any) -> "SweepConfig":
        """A config from CLI values: options left as None take the plain defaults, or the suite's with `suite`."""
        defaults = SUITE_DEFAULTS if suite else {}
        values = {k: defaults.get(k) if v is None else v for k, v in given.items()}
        values = {k: v for k, v in values.items() if v is not None}  # the rest: the dataclass's own defaults
        if suite:
            values["profile"] = True  # the suite always records where the time goes
        return cls(**values)


# The suite measures ~45 rows: shorter rows (>= 30 runs and >= 4 s, 5 warm-ups), repeated twice and interleaved.
SUITE_DEFAULTS: dict[str, Any] = {"warmup": 5, "min_runs": 30, "min_seconds": 4.0, "repeats": 2}


LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-+()/,#@")


def check_label(label: str) -> None:
    """A device label goes into rows, report headings and file names: printable, short, no table syntax."""
    odd = sorted({c for c in label if c not in LABEL_CHARS})
    if odd or len(label) > 64:
        raise UsageError(f"--device-label {label!r} must be at most 64 letters, digits, spaces and ._-+()/,#@ "
                         + (f"(found {', '.join(repr(c) for c in odd)})" if odd else f"(got {len(label)} characters)"))


@dataclass
class SweepResult:
    written: list[Row]
    skipped: int

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.written if r.status == "failed"]

    @property
    def wrong_outputs(self) -> list[Row]:
        """Measured rows whose bundle failed (or could not run) its golden check in the worker."""
        return [r for r in self.written if r.wrong_outputs]


def plan(targets: list[Target], cfg: SweepConfig) -> list[RowSpec]:
    """Every row to measure; targets interleaved innermost so drift hits all alike."""
    names = bundle_names([t.ref for t in targets if t.kind == "bundle"])
    ids = [(t, replace(identity(t), bundle=names[t.ref]) if t.kind == "bundle" else identity(t)) for t in targets]
    grid = [(1, 0)] if cfg.texts else [(b, s) for b in cfg.batches for s in cfg.seq_lens]  # seq 0: texts' own
    return [RowSpec(target, ident, cfg.device, cfg.threads, batch, seq, repeat, cfg.warmup, cfg.min_runs,
                    cfg.min_seconds, cfg.device_label,
                    profile=cfg.profile and repeat == 0,  # one profile per target: on its first repetition
                    texts=tuple(cfg.texts or ()), texts_name=cfg.texts_name if cfg.texts else "")
            for repeat in range(cfg.repeats) for batch, seq in grid for target, ident in ids]


def run_worker(spec: RowSpec, timeout_s: float) -> Row:
    """Spawn one worker and block until it exits (no polling); a crash or timeout becomes a failed row."""
    with tempfile.TemporaryDirectory(prefix="edgebert-row-") as tmp:
        result_path = Path(tmp) / "row.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(spec.threads), "TF_CPP_MIN_LOG_LEVEL": "3",
               "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
        try:
            proc = subprocess.run([sys.executable, "-m", WORKER_MODULE, str(result_path)], input=spec.to_json(),
                                  text=True, capture_output=True, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            return _failed(spec, f"worker timed out after {timeout_s:g} s")
        if result_path.is_file():
            try:
                return Row.from_dict(json.loads(result_path.read_text()))
            except ValueError as err:  # JSONDecodeError too
                return _failed(spec, f"the worker wrote no valid row: {err}")
        if proc.returncode < 0:
            reason = f"worker killed by {signal.Signals(-proc.returncode).name}"
        else:
            reason = f"worker exited with code {proc.returncode}"
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:]
        return _failed(spec, reason + (f": {tail[0][:300]}" if tail else ""))


def _failed(spec: RowSpec, reason: str) -> Row:
    return replace(start_row(spec, machine_fields()), reason=reason)


def run_sweep(targets: list[Target], cfg: SweepConfig, out: Path,
              on_row: Callable[[Row], None] | None = None, show_progress: bool = True) -> SweepResult:
    """Measure every planned row not already in `out` (as ok) unless cfg.force; append each as it finishes."""
    done = {r.key() for r in read_rows(out) if r.ok}
    here = machine_fields()
    planned = plan(targets, cfg)
    todo = [s for s in planned if cfg.force or start_row(s, here).key() not in done]
    written: list[Row] = []
    progress = _progress(show_progress)
    with progress:
        task = progress.add_task("bench", total=len(todo))
        for spec in todo:
            progress.update(task, description=f"{spec.identity.model} {spec.identity.format} b{spec.batch} "
                                              f"s{spec.seq_len}")
            row = run_worker(spec, cfg.timeout_s)
            append_rows(out, [row.to_dict()])
            written.append(row)
            if on_row:
                on_row(row)
            progress.advance(task)
    return SweepResult(written, len(planned) - len(todo))


def _progress(show: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<48}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), disable=not show, transient=False)
