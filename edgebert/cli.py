"""The `edgebert` command: parse -> call the core -> render. main() is the one error boundary."""
from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console

from edgebert.errors import CheckFailed, EdgebertError, UsageError, first_line

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Take a distilled BERT student to edge targets and prove what it gains over BERT-base.")
# markup off for messages: "pip install 'edgebert[onnx]'" must not be eaten as a rich tag
err = Console(stderr=True, highlight=False, markup=False)
out = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 220)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and library logs.")) -> None:
    if verbose:
        logging.getLogger("edgebert").setLevel(logging.DEBUG)
    else:
        from edgebert.quiet import quiet_libraries

        quiet_libraries()


def _positive(value: int | None, what: str) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{what} must be a positive whole number (got {value})")


def _csv_ints(text: str, what: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what} takes comma-separated whole numbers, e.g. 1,8 (got '{text}')") from None
    if not values or any(v < 1 for v in values):
        raise UsageError(f"{what} takes positive whole numbers, e.g. 1,8 (got '{text}')")
    return values


# Training options that distill and finetune share, declared once.
GradAccum = Annotated[int, typer.Option(help="Micro-batches per optimizer step.")]
LearningRate = Annotated[float, typer.Option(help="Peak learning rate (AdamW, linear warm-up then decay).")]
WarmupRatio = Annotated[float, typer.Option(help="Fraction of steps warming up.")]
MaxLen = Annotated[int, typer.Option(help="Truncate inputs to this many tokens.")]
EvalEvery = Annotated[int, typer.Option(help="Evaluate every K steps (0: at the end only, with --eval-data).")]
CheckpointEvery = Annotated[int, typer.Option(help="Checkpoint every N steps (0: none).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint of an interrupted run.")]
SkipBadRows = Annotated[bool, typer.Option(help="Skip (and count) malformed data rows instead of failing.")]


@app.command()
def export(
    model: str = typer.Argument(..., help="HF model id, local HF model folder, or an architecture with --random-weights."),
    fmt: str = typer.Option("onnx", "--format", "-f", help="Output format (see `edgebert formats`)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Bundle folder [default: exported/NAME-FORMAT]."),
    random_weights: bool = typer.Option(False, "--random-weights", help="Build MODEL's architecture with random weights."),
    task: Optional[str] = typer.Option(None, help="classification | encoder [default: from the model's config]."),
    opset: int = typer.Option(17, help="ONNX opset."),
    atol: float = typer.Option(1e-4, help="fp32 parity gate: max-abs difference allowed vs PyTorch."),
    min_agreement: float = typer.Option(0.99, help="Lossy gate: argmax agreement (classifiers, real weights, decisive samples)."),
    min_cosine: float = typer.Option(0.99, help="Lossy gate: mean per-sample output cosine vs PyTorch."),
    min_margin: float = typer.Option(0.1, help="Lossy gate: agreement counts samples whose PyTorch top-1 leads top-2 by this probability (near-ties are left to the cosine)."),
    seq_len: str = typer.Option("128", "--seq-len", help="Static sequence length(s) for static-shape formats."),
    target: Optional[str] = typer.Option(None, help="CPU for quantisation presets: avx2|avx512|avx512-vnni|arm64."),
    calibration_text: Optional[Path] = typer.Option(None, help="Text file (one sentence a line) for gates/calibration."),
    allow_flex: bool = typer.Option(False, help="TFLite: allow Flex/Select-TF ops (+100 MB in apps)."),
    static_shape: bool = typer.Option(False, help="OpenVINO: fix the sequence length to --seq-len (one IR each)."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Export MODEL to a parity-gated bundle: model file, tokenizer, manifest.json."""
    from edgebert.export import export as do_export
    from edgebert.formats.base import ExportOptions
    from edgebert.inputs import read_text_file

    texts = read_text_file(calibration_text) if calibration_text else None
    opts = ExportOptions(opset=opset, atol=atol, min_agreement=min_agreement, min_cosine=min_cosine, min_margin=min_margin,
                         seq_lens=_csv_ints(seq_len, "--seq-len"), calibration_texts=texts, target=target,
                         allow_flex=allow_flex, static_shape=static_shape)
    name = Path(model.rstrip("/")).name
    dest = out_dir or Path("exported") / f"{name}-{fmt}"
    with err.status(f"Exporting {model} to {fmt}..."):
        manifest = do_export(model, fmt, dest, random_weights=random_weights, task=task, opts=opts, force=force,
                             texts=texts)
    if as_json:
        out.print_json(json.dumps(manifest))
        return
    from edgebert.render import export_summary

    out.print(export_summary(dest, manifest))


@app.command()
def predict(
    bundle: Path = typer.Argument(..., help="An exported bundle folder."),
    texts: List[str] = typer.Argument(..., help="One or more texts."),
    device: str = typer.Option("cpu", help="cpu | cuda | tensorrt"),
    threads: Optional[int] = typer.Option(None, help="Intra-op threads [default: the runtime's]."),
) -> None:
    """Run a bundle on TEXTs and print JSON (labels + scores, or pooled embeddings). Needs only the runtime extra."""
    from edgebert.runtime import TruncationWarning, load

    _positive(threads, "--threads")
    predictor = load(bundle, device=device, threads=threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        results = predictor.predict(list(texts))
    for w in caught:
        if issubclass(w.category, TruncationWarning):
            err.print(f"warning: {w.message}")
    out.print_json(json.dumps({"bundle": str(bundle), "format": predictor.bundle.format, "task": predictor.task,
                               "results": results}))


@app.command()
def bench(
    targets: Optional[List[str]] = typer.Argument(None, help="Bundle folders and/or models (measured in eager PyTorch)."),
    suite: Optional[str] = typer.Option(None, help="'efficiency': the DistilBERT efficiency table, end to end."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o",
                                            help="Results JSONL [results/results.jsonl]; with --suite a folder [results/efficiency]."),
    batch: str = typer.Option("1", help="Batch sizes, comma-separated."),
    seq: str = typer.Option("128", help="Sequence lengths, comma-separated."),
    threads: Optional[int] = typer.Option(None, help="Intra-op threads [default: all cores].", show_default=False),
    runs: Optional[int] = typer.Option(None, help="Timed runs, at least [50; suite 30]."),
    min_seconds: Optional[float] = typer.Option(None, help="Timed seconds, at least [10; suite 4]."),
    warmup: Optional[int] = typer.Option(None, help="Untimed warm-up runs [10; suite 5].", show_default=False),
    repeat: Optional[int] = typer.Option(None, help="Measure every row R times, interleaved [1; suite 2]."),
    device: str = typer.Option("cpu", help="cpu | cuda | tensorrt"),
    random_weights: bool = typer.Option(False, "--random-weights", help="TARGETs are architectures with random weights."),
    task: Optional[str] = typer.Option(None, help="classification | encoder for model TARGETs."),
    fmt: Optional[List[str]] = typer.Option(None, "--format", "-f", help="Suite: formats to include [all installed]."),
    bert: Optional[str] = typer.Option(None, help="Suite: real BERT-base weights (dir/id) instead of random."),
    bert_format: Optional[List[str]] = typer.Option(None, "--bert-format", help="Suite: BERT-base formats [onnx, onnx-int8, tflite, openvino]; 'all' for every one DistilBERT gets."),
    distilbert: Optional[str] = typer.Option(None, help="Suite: real DistilBERT weights (dir/id) instead of random."),
    timeout: float = typer.Option(1800.0, help="Seconds before a worker is killed and its row marked failed."),
    force: bool = typer.Option(False, "--force", help="Re-measure rows already in the results file."),
    device_label: str = typer.Option("", "--device-label",
                                     help="Name this device in rows and reports, e.g. 'Raspberry Pi 5'."),
    texts: Optional[str] = typer.Option(None, help="Text to answer: a file with one text a line, or 'sample' for the shipped real-text sample; one request at a time at the texts' own lengths."),
    profile: bool = typer.Option(False, "--profile", help="After timing, record time by operator (the runtime's profiler) and GFLOP/s vs this machine's fp32 peak (first repetition; the suite always does)."),
) -> None:
    """Measure latency percentiles, throughput, peak memory and size, one fresh process per row.

    Each worker first runs the bundle's golden set: a row whose outputs are wrong is marked, and the command
    exits 3."""
    from edgebert.bench.sweep import SweepConfig, run_sweep
    from edgebert.bench.targets import resolve

    if suite is not None and suite != "efficiency":
        raise UsageError(f"Unknown suite '{suite}'. Valid: efficiency")
    if suite is None and not targets:
        raise UsageError("Give one or more TARGETs (bundles or models), or --suite efficiency")
    batches, seqs = _csv_ints(batch, "--batch"), _csv_ints(seq, "--seq")
    # The suite measures ~45 rows: shorter rows (>= 30 runs and >= 4 s, 5 warm-ups), repeated and interleaved.
    runs = (30 if suite else 50) if runs is None else runs
    min_seconds = (4.0 if suite else 10.0) if min_seconds is None else min_seconds
    warmup = (5 if suite else 10) if warmup is None else warmup
    repeat = (2 if suite else 1) if repeat is None else repeat
    _positive(threads, "--threads")
    text_list, text_name = _texts(texts)
    cfg = SweepConfig(batches=batches, seq_lens=seqs, threads=threads or 0, device=device, warmup=warmup,
                      min_runs=runs, min_seconds=min_seconds, repeats=repeat, timeout_s=timeout, force=force,
                      device_label=device_label, texts=text_list, texts_name=text_name, profile=profile or bool(suite))
    if suite:
        _run_suite(cfg, out_path or Path("results/efficiency"), fmt, bert, distilbert, bert_format)
        return
    resolved = [resolve(t, random_weights, task) for t in targets or []]
    dest = out_path or Path("results/results.jsonl")
    result = run_sweep(resolved, cfg, dest)
    from edgebert.render import rows_table

    out.print(rows_table(result.written, f"{len(result.written)} rows appended to {dest} "
                                         f"({result.skipped} already measured, skipped)"))
    if result.failed:
        raise EdgebertError(f"{len(result.failed)} of {len(result.written)} rows failed (see their 'reason' in {dest})")
    if result.wrong_outputs:
        raise CheckFailed(f"{len(result.wrong_outputs)} of {len(result.written)} rows failed their golden check: "
                          f"this device's outputs differ from PyTorch beyond the gate (golden_reason in {dest})", 3)


def _texts(option: str | None) -> tuple[list[str] | None, str]:
    if option is None:
        return None, ""
    from edgebert.bench.texts import default_texts, read_texts

    if option == "sample":
        return default_texts(), "sample"
    return read_texts(Path(option)), Path(option).name


def _run_suite(cfg, out_dir: Path, fmts, bert, distilbert, bert_formats) -> None:
    import time

    from edgebert.bench.suite import run_efficiency
    from edgebert.bench.texts import default_texts
    from edgebert.render import efficiency_table
    from edgebert.report import write_report

    start = time.time()
    models = {"bert-base-uncased": bert, "distilbert-base-uncased": distilbert}
    res = run_efficiency(out_dir, cfg, models=models, formats=fmts, baseline_formats=bert_formats,
                         sweep_seq_lens=[32], texts=default_texts(), log=lambda m: err.print(m, soft_wrap=True))
    result = write_report([res.results], out_dir, cfg.batches[0], cfg.seq_lens[0])
    res.seconds["total_s"] = round(time.time() - start, 1)
    (out_dir / "suite.json").write_text(json.dumps({"seconds": res.seconds, "formats": fmts, "config": {
        k: v for k, v in cfg.__dict__.items() if k != "texts"}}, indent=2) + "\n")
    out.print(efficiency_table(result.table, cfg.batches[0], cfg.seq_lens[0]))
    out.print(f"Suite took {time.time() - start:.0f} s. Wrote {', '.join(str(p) for p in result.paths)}, "
              f"{out_dir / 'suite.json'} and {res.results}")
    if res.export_failures:
        raise EdgebertError(f"{len(res.export_failures)} export(s) failed: "
                            + "; ".join(f"{k}: {v}" for k, v in res.export_failures.items()))


@app.command()
def verify(
    bundles: List[Path] = typer.Argument(..., help="Bundle folders."),
    device: str = typer.Option("cpu", help="cpu | cuda | tensorrt"),
    threads: Optional[int] = typer.Option(None, help="Intra-op threads [default: the runtime's].", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Check bundles on this device: run each one's golden inputs with the runtime alone and apply the gate it
    passed at export. Exit 0 only when every bundle passes (3: outputs beyond the gate; 1: a bundle could not be
    checked: corrupt, tampered, or its runtime is missing)."""
    from edgebert.verify import exit_code
    from edgebert.verify import verify as run_verify

    _positive(threads, "--threads")
    results = run_verify(list(bundles), device, threads)
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in results]))
    else:
        from edgebert.render import verify_table

        out.print(verify_table(results))
    code = exit_code(results)
    if code:
        bad = [r for r in results if not r.result.passed]
        raise CheckFailed(f"{len(bad)} of {len(results)} bundles failed verification: "
                          + "; ".join(f"{r.bundle}: {r.result.reason or r.result.status}" for r in bad), code)


@app.command()
def report(
    results: List[Path] = typer.Argument(..., help="One or more results JSONL files (several machines merge)."),
    out_dir: Path = typer.Option(Path("results/report"), "--out", "-o", help="Folder for report.md and charts."),
    batch: int = typer.Option(1, help="Batch of the table's rows."),
    seq: int = typer.Option(128, help="Sequence length of the table's rows."),
    baseline: Optional[List[Path]] = typer.Option(None, help="Earlier results to gate against (regression gate)."),
    max_slowdown: str = typer.Option("10%", help="Gate: latency growth allowed vs --baseline."),
    max_size_growth: str = typer.Option("5%", help="Gate: size growth allowed vs --baseline."),
    max_accuracy_drop: float = typer.Option(0.5, help="Gate: task-metric points (x 100) that may be lost."),
    price_per_hour: float = typer.Option(0.05, help="USD per core-hour for the cost table."),
    constraint: Optional[List[str]] = typer.Option(None, help="Scenario limit, e.g. mobile-app.max_file_mb=50 (repeatable)."),
) -> None:
    """Rebuild the efficiency table, cost, scenario picks, accuracy and charts from bench/eval results.

    With --baseline, also the regression gate: exit 1 naming each breach."""
    from edgebert.render import efficiency_table
    from edgebert.report import ReportOptions, write_report
    from edgebert.report.gate import Limits, parse_fraction

    _positive(batch, "--batch")
    _positive(seq, "--seq")
    if max_accuracy_drop < 0:
        raise UsageError(f"--max-accuracy-drop must not be negative (got {max_accuracy_drop:g})")
    limits = Limits(parse_fraction(max_slowdown, "--max-slowdown"), parse_fraction(max_size_growth, "--max-size-growth"),
                    max_accuracy_drop)
    result = write_report(list(results), out_dir, options=ReportOptions(
        batch, seq, price_per_hour, list(constraint or []), list(baseline or []), limits))
    if result.table:
        out.print(efficiency_table(result.table, batch, seq))
    out.print("Wrote " + ", ".join(str(p) for p in result.paths))
    if result.breaches:
        raise CheckFailed(f"{len(result.breaches)} regression(s) vs the baseline: " + "; ".join(
            f"{c.what} {c.key}: {c.old:.4g} -> {c.new:.4g}" for c in result.breaches) + f" (rules in {out_dir}/report.md)")


@app.command()
def distill(
    teacher: str = typer.Option(..., help="Teacher: HF model folder or id (BERT or DistilBERT)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Student model folder (HF layout, safetensors)."),
    objective: Optional[str] = typer.Option(None, help="task | mlm | hidden [task with --task, else hidden]."),
    task: Optional[str] = typer.Option(None, help="A GLUE preset for --data's columns and labels: sst2, cola, mrpc, qqp, mnli, qnli, rte, stsb, wnli."),
    data: Path = typer.Option(..., help="Labelled CSV/TSV/JSONL (task) or a text file, one passage a line (mlm/hidden)."),
    text_column: Optional[str] = typer.Option(None, help="Column with the text [text or sentence]."),
    pair_column: Optional[str] = typer.Option(None, help="Column with an optional second text (pairs)."),
    label_column: Optional[str] = typer.Option(None, help="Column with the label [label]."),
    eval_data: Optional[Path] = typer.Option(None, help="Held-out data scored every --eval-every steps."),
    layers: Optional[int] = typer.Option(None, help="Student layers [half the teacher's]."),
    layer_map: str = typer.Option("every-other", help="every-other | hf | explicit list such as 0,2,4."),
    init: str = typer.Option("teacher", help="teacher (copy mapped layers) | random (the paper's ablation)."),
    recipe: str = typer.Option("seed", help="seed (T=4, a=0.5) | hf (T=2, a_kd 5, a_mlm 2, a_cos 1)."),
    temperature: Optional[float] = typer.Option(None, help="Override the recipe's temperature."),
    alpha_kd: Optional[float] = typer.Option(None, help="Override: soft-target weight."),
    alpha_ce: Optional[float] = typer.Option(None, help="Override: hard-label weight."),
    alpha_cos: Optional[float] = typer.Option(None, help="Override: hidden-state cosine weight."),
    alpha_mlm: Optional[float] = typer.Option(None, help="Override: masked-LM weight."),
    steps: int = typer.Option(100, help="Optimizer steps."),
    batch_size: int = typer.Option(16, help="Sequences per optimizer step (all processes)."),
    grad_accum: GradAccum = 1,
    lr: LearningRate = 5e-5,
    warmup_ratio: WarmupRatio = 0.1,
    max_len: MaxLen = 128,
    seed: int = typer.Option(42, help="Seed: weights init, data order, masking, dropout."),
    eval_every: EvalEvery = 0,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
    skip_bad_rows: SkipBadRows = False,
    device: str = typer.Option("cpu", help="cpu | cuda"),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out."),
) -> None:
    """Build a DistilBERT student from TEACHER's layers and train it by knowledge distillation."""
    from edgebert.distill.losses import get_recipe
    from edgebert.distill.run import distill as run_distill

    from edgebert.distill.data import FORMATS

    rcp = get_recipe(recipe, temperature=temperature, alpha_kd=alpha_kd, alpha_ce=alpha_ce, alpha_cos=alpha_cos,
                     alpha_mlm=alpha_mlm)
    cfg = _train_config(steps, batch_size, grad_accum, lr, warmup_ratio, max_len, seed, eval_every, checkpoint_every,
                        device, eval_data is not None)
    labelled_file = task is not None or data.suffix.lower() in FORMATS
    with _training_progress("distill", steps) as on_step:
        result = run_distill(teacher, out_dir, objective=objective or ("task" if labelled_file else "hidden"),
                             recipe=rcp, layer_map=layer_map, n_layers=layers, cfg=cfg, task=task, data=data,
                             eval_data=eval_data, skip_bad_rows=skip_bad_rows, resume=resume, force=force,
                             init=init, on_step=on_step,
                             columns=_columns(text_column, pair_column, label_column))
    last = result.history[-1] if result.history else {}
    out.print(f"Student ({len(result.layer_map)} layers from teacher layers {result.layer_map}): "
              f"{result.student_parameters / 1e6:.1f}M parameters vs teacher {result.teacher_parameters / 1e6:.1f}M; "
              f"saved to {result.out}" + (f" (resumed at step {result.resumed_from})" if result.resumed_from else ""))
    if last:
        out.print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step"))


@app.command(name="eval")
def eval_cmd(
    targets: List[str] = typer.Argument(..., help="Models or bundles; the first is the reference for retention."),
    data: Path = typer.Option(..., help="Labelled CSV/TSV/JSONL (a header row; JSONL: one object a line)."),
    task: Optional[str] = typer.Option(None, help="A GLUE preset for columns, labels and metric: sst2, cola, mrpc, qqp, mnli, qnli, rte, stsb, wnli."),
    text_column: Optional[str] = typer.Option(None, help="Column with the text [text or sentence]."),
    pair_column: Optional[str] = typer.Option(None, help="Column with an optional second text (pairs)."),
    label_column: Optional[str] = typer.Option(None, help="Column with the label [label]."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Append eval rows to this JSONL."),
    skip_bad_rows: bool = typer.Option(False, help="Skip (and count) malformed rows instead of failing."),
) -> None:
    """Score models and exported bundles on labelled data; retention relative to the first TARGET.

    Labels are the first TARGET's (its id2label); a label the model never saw is an error naming its line."""
    from rich.table import Table

    from edgebert.bench.rows import append_rows
    from edgebert.distill.evaluate import evaluate

    rows = evaluate(list(targets), data, task, _columns(text_column, pair_column, label_column), skip_bad_rows)
    if out_path:
        append_rows(out_path, rows)
    tbl = Table(title=f"{rows[0]['task']} on {data} ({rows[0]['rows']} rows)", title_justify="left")
    for col in ("model", "format", rows[0]["metric"], "other metrics", "retention %", "max tokens", "truncated"):
        tbl.add_column(col)
    for r in rows:
        others = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items() if k != r["metric"])
        tbl.add_row(r["model"], r["format"], f"{r['score']:.4f}", others, f"{r['retention_pct']:.1f}",
                    str(r["max_tokens"]), str(r["truncated_rows"]))
    out.print(tbl)


@app.command()
def finetune(
    model: str = typer.Argument(..., help="Base model: HF model folder or id (BERT or DistilBERT)."),
    data: Path = typer.Option(..., help="Labelled CSV/TSV/JSONL; the label set and its order come from this file."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="The fine-tuned model folder (HF layout, safetensors)."),
    eval_data: Optional[Path] = typer.Option(None, help="Held-out labelled file scored every --eval-every steps."),
    task: Optional[str] = typer.Option(None, help="A GLUE preset for columns and labels."),
    text_column: Optional[str] = typer.Option(None, help="Column with the text [text or sentence]."),
    pair_column: Optional[str] = typer.Option(None, help="Column with an optional second text (pairs)."),
    label_column: Optional[str] = typer.Option(None, help="Column with the label [label]."),
    steps: int = typer.Option(300, help="Optimizer steps."),
    batch_size: int = typer.Option(16, help="Sequences per optimizer step."),
    grad_accum: GradAccum = 1,
    lr: LearningRate = 5e-5,
    warmup_ratio: WarmupRatio = 0.1,
    max_len: MaxLen = 128,
    seed: int = typer.Option(42, help="Seed: head initialisation, data order, dropout."),
    eval_every: EvalEvery = 0,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
    skip_bad_rows: SkipBadRows = False,
    device: str = typer.Option("cpu", help="cpu | cuda"),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out."),
) -> None:
    """Fine-tune MODEL as a classifier on your labelled data: the teacher to distill from when you have none."""
    from edgebert.distill.finetune import finetune as run_finetune

    cfg = _train_config(steps, batch_size, grad_accum, lr, warmup_ratio, max_len, seed, eval_every, checkpoint_every,
                        device, eval_data is not None)
    with _training_progress("finetune", steps) as on_step:
        result = run_finetune(model, out_dir, data=data, eval_data=eval_data, cfg=cfg, task=task,
                              columns=_columns(text_column, pair_column, label_column), skip_bad_rows=skip_bad_rows,
                              resume=resume, force=force, on_step=on_step)
    last = result.history[-1] if result.history else {}
    out.print(f"Fine-tuned {model} on {result.train_rows} rows, {len(result.labels)} labels ({', '.join(result.labels)})"
              f"; {result.parameters / 1e6:.1f}M parameters; saved to {result.out}"
              + (f" (resumed at step {result.resumed_from})" if result.resumed_from else ""))
    if last:
        out.print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step"))


def _columns(text: str | None, pair: str | None, label: str | None):
    from edgebert.distill.data import Columns

    return Columns.from_flags(text, pair, label) if (text or pair or label) else None


def _train_config(steps, batch_size, grad_accum, lr, warmup_ratio, max_len, seed, eval_every, checkpoint_every,
                  device, has_eval):
    from edgebert.distill.train import TrainConfig

    for value, flag in ((steps, "--steps"), (batch_size, "--batch-size"), (grad_accum, "--grad-accum"),
                        (max_len, "--max-len")):
        _positive(value, flag)
    if not lr > 0:
        raise UsageError(f"--lr must be positive (got {lr:g})")
    return TrainConfig(steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup_ratio=warmup_ratio,
                       max_len=max_len, seed=seed, eval_every=eval_every or (steps if has_eval else 0),
                       checkpoint_every=checkpoint_every, device=device)


def _training_progress(name: str, steps: int):
    """A progress bar on stderr; yields the on_step callback the training loop calls."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        with Progress(TextColumn(name, style="bold", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=err) as progress:
            task = progress.add_task("", total=steps)

            def on_step(step: int, rec: dict) -> None:
                terms = " ".join(f"{k}={v:.4f}" for k, v in rec.items() if k not in ("step", "lr", "step_s"))
                progress.update(task, completed=step, description=terms)

            yield on_step

    return bar()


@app.command()
def formats() -> None:
    """List export formats and the extras they need."""
    from edgebert.formats import FORMATS

    for spec in FORMATS.values():
        out.print(f"{spec.name:22} {spec.description}  (export: edgebert[{spec.export_extra}], "
                  f"run: edgebert[{spec.runtime_extra}])\n{'':22} in an app: {spec.app_sdk}", markup=False)


def _parser_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """Usage/exit/abort exception types: newer typer vendors click, older typer uses the click package."""
    usage: list[type] = []
    exits: list[type] = [typer.Exit]
    aborts: list[type] = [typer.Abort]
    try:
        from typer._click.exceptions import UsageError as VendoredUsageError

        usage.append(VendoredUsageError)
    except ImportError:  # pragma: no cover - typer < 0.22
        pass
    try:
        import click

        usage.append(click.UsageError)
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(usage), tuple(exits), tuple(aborts)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become a one-line message and an exit code."""
    usage_errors, exits, aborts = _parser_exceptions()
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args
    try:
        code = app(args=args, prog_name="edgebert", standalone_mode=False)
    except exits as exc:
        code = exc.exit_code
    except usage_errors as exc:
        where = exc.ctx.command_path if exc.ctx else "edgebert"
        err.print(f"error: {exc.format_message()} (see `{where} --help`)", soft_wrap=True)
        code = 2
    except aborts:
        err.print("error: interrupted")
        code = 130
    except EdgebertError as exc:
        if verbose:
            traceback.print_exc()
        err.print(f"error: {exc}", soft_wrap=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("error: interrupted")
        code = 130
    except Exception as exc:  # noqa: BLE001 - the boundary: never a raw traceback unless --verbose
        if verbose:
            traceback.print_exc()
        first = first_line(exc)
        err.print(f"error: unexpected {type(exc).__name__}: {first} (rerun with --verbose for the traceback)", soft_wrap=True)
        code = 1
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
