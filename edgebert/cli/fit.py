"""`edgebert fit`: from a device budget to the bundle that meets it (cost first, training last, the proof beside)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import csv_ints, err, out
from edgebert.errors import EdgebertError


def _opt(help_text: str, *names: str) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help_text, show_default=False)


Teacher = Annotated[str, typer.Argument(help="Teacher: a local HF model folder (a classifier for labelled data, an "
                                             "encoder for plain text).")]
Data = Annotated[Path, _opt("Training data: labelled CSV/TSV/JSONL, or plain text one passage a line (encoders).")]
OutDir = Annotated[Path, _opt("Output folder: candidates.jsonl, report.md, chosen/ (a fit resumes in its own "
                              "folder).", "--out", "-o")]
EvalData = Annotated[Optional[Path], _opt("Held-out rows for retention [the last tenth of --data].")]
Texts = Annotated[str, typer.Option(help="Your real requests, one a line, or 'sample': the length distribution the "
                                         "latency limit is judged on.")]
MaxLatency = Annotated[Optional[float], _opt("p95 text to answer on --texts, ms.")]
MaxSize = Annotated[Optional[float], _opt("Model file(s), MB.")]
MaxMemory = Annotated[Optional[float], _opt("Must run under this cgroup memory limit, MB.")]
MinRetention = Annotated[Optional[float], _opt("Held-out score / the teacher's (encoders: embedding cosine), e.g. "
                                               "0.98.")]
MaxHours = Annotated[Optional[float], _opt("No training rung starts that would end later.")]
CpuQuota = Annotated[Optional[float], _opt("Cores: measure every cost under this CPU quota (a slower device).")]
Formats = Annotated[str, typer.Option("--formats", help="Allowed formats, comma-separated.")]
Precision = Annotated[Optional[str], _opt("Also try these precision variants of each format: fp32, fp16, int8.")]
Depths = Annotated[Optional[str], _opt("Student layers to try [1/2, 1/3, 1/4 of the teacher's].")]
Heads = Annotated[Optional[str], _opt("Heads kept per layer [all, half].")]
Ffn = Annotated[Optional[str], _opt("FFN neurons kept per layer [all, 1/2, 1/4].")]
Vocab = Annotated[str, typer.Option(help="full, shrink (to the pieces your data uses; OOV rate measured).")]
Embedding = Annotated[str, typer.Option(help="INT8 formats' word-embedding precision: int8, fp32.")]
SeqLens = Annotated[Optional[str], _opt("Static lengths for fixed-shape formats [the buckets of the texts' p95 and "
                                        "longest].")]
Steps = Annotated[int, typer.Option(help="Training steps of the last successive-halving rung.")]
MaxTrained = Annotated[int, typer.Option(help="At most this many shapes trained (spread over the cost range).")]
Workers = Annotated[int, typer.Option(help="Candidate trainings in parallel processes.")]
Ray = Annotated[Optional[str], _opt("Run trainings as Ray tasks: 'local' or a cluster address (pip install "
                                    "'edgebert[ray]').")]
Threads = Annotated[int, typer.Option(help="Threads for cost rows and training [0: all cores].")]
CandidatesOnly = Annotated[bool, typer.Option("--candidates-only", help="Write the candidate bundles to --out and "
                                              "stop: bench them on the device, then pass its rows with --costs.")]
Costs = Annotated[Optional[Path], _opt("Costs measured on another device: edgebert bench rows (with --texts) of the "
                                       "--candidates-only bundles.")]
Force = Annotated[bool, typer.Option("--force", help="Use a non-empty --out that is not a fit's.")]


def _names(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


@command()
def fit(teacher: Teacher, data: Data, out_dir: OutDir, eval_data: EvalData = None, texts: Texts = "sample",
        max_latency_ms: MaxLatency = None, max_size_mb: MaxSize = None, max_memory_mb: MaxMemory = None,
        min_retention: MinRetention = None, max_hours: MaxHours = None, cpu_quota: CpuQuota = None,
        formats: Formats = "onnx-int8", precision: Precision = None, depths: Depths = None, heads: Heads = None,
        ffn: Ffn = None, vocab: Vocab = "full,shrink", embedding: Embedding = "int8,fp32", seq_lens: SeqLens = None,
        steps: Steps = 900, batch_size: Annotated[int, typer.Option(help="Sequences per step.")] = 16,
        lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-4,
        max_len: Annotated[int, typer.Option(help="Truncate training inputs here.")] = 128,
        seed: Annotated[int, typer.Option(help="Seed.")] = 42,
        min_seconds: Annotated[float, typer.Option(help="Timed seconds of each cost row, at least.")] = 2.0,
        max_trained: MaxTrained = 9, workers: Workers = 1,
        ray: Ray = None, threads: Threads = 0, candidates_only: CandidatesOnly = False, costs: Costs = None,
        force: Force = False) -> None:
    """Find the student that meets a device budget: every candidate shape (depth, heads, FFN width, vocabulary,
    format, precision) measured with random weights first; those that fit are trained cheapest-first with successive
    halving; the winner is exported to --out/chosen with its evidence. Exits 1 when nothing meets the budget."""
    from edgebert.bench.texts import resolve_texts
    from edgebert.fit.budget import Budget
    from edgebert.fit.prepare import FitRequest
    from edgebert.fit.run import fit as run_fit
    from edgebert.fit.space import SpaceOptions

    budget = Budget(max_latency_ms, max_size_mb, max_memory_mb, min_retention, max_hours, cpu_quota)
    ints = {k: csv_ints(v, f"--{k.replace('_', '-')}") if v else None
            for k, v in (("depths", depths), ("heads", heads), ("ffn", ffn), ("seq_lens", seq_lens))}
    space = SpaceOptions(_names(formats) or [], _names(precision), vocabs=_names(vocab) or [],
                         embeddings=_names(embedding) or [], **ints)
    text_list, text_name = resolve_texts(texts)
    req = FitRequest(teacher, data, out_dir, text_list or [], text_name, budget, space, eval_data, steps, batch_size,
                     lr, max_len, seed, max_trained=max_trained, workers=workers, ray=ray, threads=threads,
                     candidates_only=candidates_only, costs=costs, force=force,
                     min_seconds=min_seconds)
    result = run_fit(req, log=lambda m: err.print(m, soft_wrap=True))
    _render(result, out_dir, candidates_only)


def _render(result: object, out_dir: Path, candidates_only: bool) -> None:
    if candidates_only:
        n = sum(r["status"] == "exported" for r in result.records)
        out.print(f"{n} candidate bundles in {out_dir}. On the device: edgebert bench {out_dir}/* --texts FILE --out "
                  "rows.jsonl; then here: edgebert fit ... --costs rows.jsonl")
        return
    out.print(f"Wrote {out_dir / 'candidates.jsonl'}, {out_dir / 'report.md'}"
              + (f", {out_dir / 'chosen'}" if result.chosen else ""))
    if result.verdict:
        raise EdgebertError(result.verdict)
    c = result.chosen["candidate"]
    out.print(f"Chosen: {c['label']}: held-out retention {100 * result.chosen['artifact']['retention']:.1f}%, "
              f"p95 {result.chosen['real_weights_row'].get('p95_ms')} ms, total {result.seconds.get('total_s', 0):.0f} s")
