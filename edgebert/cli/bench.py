"""`edgebert bench`: rows of latency, memory and size, one fresh process each; `--suite efficiency` end to end."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgebert.bench.sweep import SUITE_DEFAULTS, SweepConfig
from edgebert.cli.app import command
from edgebert.cli.common import Device, csv_ints, err, out, positive
from edgebert.cli.serve import Concurrency, ServeTarget, SloMs, bench_serve
from edgebert.errors import CheckFailed, EdgebertError, UsageError

D, S = SweepConfig(), SUITE_DEFAULTS


def _opt(help_text: str, plain: float, suite: float) -> typer.models.OptionInfo:
    return typer.Option(help=f"{help_text} [{plain:g}; suite {suite:g}].", show_default=False)


# suite-only options, declared here so bench() stays under the 60-line rule
SuiteFormats = Annotated[Optional[List[str]], typer.Option("--format", "-f", help="Suite: formats to include [all "
                                                           "installed].", show_default=False)]
SuiteBert = Annotated[Optional[str], typer.Option(help="Suite: real BERT-base weights (dir/id) instead of random.")]
SuiteBertFormats = Annotated[Optional[List[str]], typer.Option("--bert-format", help="Suite: BERT-base formats [onnx, "
                             "onnx-int8, tflite, openvino]; 'all' for every one DistilBERT gets.", show_default=False)]
SuiteDistilbert = Annotated[Optional[str], typer.Option(help="Suite: real DistilBERT weights (dir/id) instead of "
                                                             "random.")]
Browser = Annotated[bool, typer.Option("--browser", help="Measure TARGETs (web folders, or onnx / onnx-int8 bundles) "
                                      "with onnxruntime-web in headless chromium: a row per precision and backend.")]
DeviceLabel = Annotated[str, typer.Option("--device-label", help="Name this device in rows and reports, e.g. "
                                          "'Raspberry Pi 5'.")]


@command()
def bench(
    targets: Annotated[Optional[List[str]], typer.Argument(help="Bundle folders and/or models (measured in eager "
                                                                "PyTorch).", metavar="TARGETS...")] = None,
    suite: Annotated[Optional[str], typer.Option(help="'efficiency': the DistilBERT efficiency table, end to end.")
                     ] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", "-o", help="Results JSONL [results/results.jsonl]; "
                                                     "with --suite a folder [results/efficiency].", show_default=False)
                        ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = ",".join(map(str, D.batches)),
    seq: Annotated[str, typer.Option(help="Sequence lengths, comma-separated.")] = ",".join(map(str, D.seq_lens)),
    threads: Annotated[Optional[int], typer.Option(help="Intra-op threads [default: all cores].", show_default=False)
                       ] = None,
    runs: Annotated[Optional[int], _opt("Timed runs, at least", D.min_runs, S["min_runs"])] = None,
    min_seconds: Annotated[Optional[float], _opt("Timed seconds, at least", D.min_seconds, S["min_seconds"])] = None,
    warmup: Annotated[Optional[int], _opt("Untimed warm-up runs", D.warmup, S["warmup"])] = None,
    repeat: Annotated[Optional[int], _opt("Measure every row R times, interleaved", D.repeats, S["repeats"])] = None,
    device: Device = "cpu",
    random_weights: Annotated[bool, typer.Option("--random-weights", help="TARGETs are architectures with random "
                                                                         "weights.")] = False,
    task: Annotated[Optional[str], typer.Option(help="classification | encoder for model TARGETs.")] = None,
    fmt: SuiteFormats = None,
    bert: SuiteBert = None,
    bert_format: SuiteBertFormats = None,
    distilbert: SuiteDistilbert = None,
    timeout: Annotated[float, typer.Option(help="Seconds before a worker is killed and its row marked failed.")
                       ] = D.timeout_s,
    force: Annotated[bool, typer.Option("--force", help="Re-measure rows already in the results file.")] = False,
    device_label: DeviceLabel = "",
    texts: Annotated[Optional[str], typer.Option(help="Text to answer: a file with one text a line, or 'sample' for "
                     "the shipped real-text sample; one request at a time at the texts' own lengths.")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="After timing, record time by operator (the runtime's "
                       "profiler) and GFLOP/s vs this machine's fp32 peak (first repetition; the suite always does).")
                       ] = False,
    serve: ServeTarget = None,
    browser: Browser = False,
    concurrency: Concurrency = "1,4,16,64",
    slo_ms: SloMs = None,
) -> None:
    """Measure latency percentiles, throughput, peak memory and size, one fresh process per row.

    Each worker first runs the bundle's golden set: a row whose outputs are wrong is marked, and the command
    exits 3."""
    from edgebert.bench.texts import resolve_texts

    _check_modes(suite, serve, browser, targets)
    if serve:
        return bench_serve(serve, texts, concurrency, slo_ms, out_path, min_seconds, repeat, device_label, threads)
    positive(threads, "--threads")
    text_list, text_name = resolve_texts(texts)
    cfg = SweepConfig.build(suite=suite is not None, batches=csv_ints(batch, "--batch"),
                            seq_lens=csv_ints(seq, "--seq"), threads=threads or 0, device=device, warmup=warmup,
                            min_runs=runs, min_seconds=min_seconds, repeats=repeat, timeout_s=timeout, force=force,
                            device_label=device_label, texts=text_list, texts_name=text_name, profile=profile)
    if suite:
        _suite(cfg, out_path or Path("results/efficiency"), fmt, bert, distilbert, bert_format)
    else:
        _rows(cfg, targets or [], out_path or Path("results/results.jsonl"), random_weights, task, browser)


def _check_modes(suite: str | None, serve: str | None, browser: bool, targets: list[str] | None) -> None:
    if browser and (suite is not None or serve):
        raise UsageError("--browser measures TARGETs in a browser; it does not combine with --suite or --serve")
    if suite is not None and suite != "efficiency":
        raise UsageError(f"Unknown suite '{suite}'. Valid: efficiency")
    if suite is None and not targets and not serve:
        raise UsageError("Give one or more TARGETs (bundles or models), or --suite efficiency")


def _rows(cfg: SweepConfig, targets: list[str], dest: Path, random_weights: bool, task: str | None,
          browser: bool = False) -> None:
    if browser:
        return _browser(cfg, targets, dest)
    from edgebert.bench.sweep import run_sweep
    from edgebert.bench.targets import resolve
    from edgebert.render import rows_table

    result = run_sweep([resolve(t, random_weights, task) for t in targets], cfg, dest)
    out.print(rows_table(result.written, f"{len(result.written)} rows appended to {dest} "
                                         f"({result.skipped} already measured, skipped)"))
    if result.failed:
        raise EdgebertError(f"{len(result.failed)} of {len(result.written)} rows failed (see their 'reason' in {dest})")
    if result.wrong_outputs:
        raise CheckFailed(f"{len(result.wrong_outputs)} of {len(result.written)} rows failed their golden check: "
                          f"this device's outputs differ from PyTorch beyond the gate (golden_reason in {dest})", 3)


def _browser(cfg: SweepConfig, targets: list[str], dest: Path) -> None:
    from edgebert.bench.browser import browser_sweep
    from edgebert.render import rows_table

    written = browser_sweep(targets, cfg, dest, log=lambda m: err.print(m, soft_wrap=True))
    out.print(rows_table(written, f"{len(written)} browser rows appended to {dest}"))
    failed = [r for r in written if not r.ok]
    if any(r.golden == "fail" for r in failed):
        raise CheckFailed(f"{len(failed)} of {len(written)} rows failed; a backend failed its golden check "
                          f"(reason in {dest})", 3)
    if failed:
        raise EdgebertError(f"{len(failed)} of {len(written)} rows failed (see their 'reason' in {dest})")


def _suite(cfg: SweepConfig, out_dir: Path, fmts: list[str] | None, bert: str | None, distilbert: str | None,
           bert_formats: list[str] | None) -> None:
    from edgebert.suite import run_suite
    from edgebert.render import efficiency_table

    done = run_suite(out_dir, cfg, models={"bert-base-uncased": bert, "distilbert-base-uncased": distilbert},
                     formats=fmts, baseline_formats=bert_formats, log=lambda m: err.print(m, soft_wrap=True))
    out.print(efficiency_table(done.report.table, cfg.batches[0], cfg.seq_lens[0]))
    out.print(f"Suite took {done.seconds['total_s']:.0f} s. Wrote {', '.join(str(p) for p in done.paths)}")
    if done.export_failures:
        raise EdgebertError(f"{len(done.export_failures)} export(s) failed: "
                            + "; ".join(f"{k}: {v}" for k, v in done.export_failures.items()))
