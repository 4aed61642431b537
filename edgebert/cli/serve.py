"""`edgebert serve`: bundles behind HTTP on the device; and the `bench --serve` rendering (load on a server)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import Bundles, Device, csv_ints, err, out, positive
from edgebert.errors import UsageError

# `bench --serve` options (bench.py declares them with these)
ServeTarget = Annotated[Optional[str], typer.Option(help="Load-test a server instead: its URL (http://HOST:PORT"
                        "[/v1/embeddings]) or a bundle served here for the run; one row per --concurrency, --texts "
                        "sent one per request, --min-seconds per level [10].", show_default=False)]
Concurrency = Annotated[str, typer.Option(help="With --serve: requests in flight, comma-separated.")]
SloMs = Annotated[Optional[float], typer.Option("--slo-ms", help="With --serve: print the highest throughput whose p99 "
                  "stays under this (MLPerf Server style).", show_default=False)]
BATCH_HELP = "Dynamic batching (bundles whose answers do not depend on batchmates; others run a text at a time)."


def _floats(text: str | None, flag: str) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated numbers, e.g. 90,10 (got '{text}')") from None


@command()
def serve(
    bundles: Bundles,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface; then set --api-key).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one, printed when ready).")] = 8080,
    workers: Annotated[Optional[int], typer.Option(help="Model threads per bundle [one per core].",
                                                   show_default=False)] = None,
    threads: Annotated[int, typer.Option(help="Intra-op threads per model run.")] = 1,
    device: Device = "cpu",
    batch_window_ms: Annotated[float, typer.Option(help=f"{BATCH_HELP} How long the first text of a run waits for "
                                                        "others while the server is busy.")] = 0.0,
    max_batch: Annotated[int, typer.Option(help="Texts per model run, at most.")] = 8,
    max_batch_tokens: Annotated[int, typer.Option(help="Padded tokens (texts x longest) per run, at most.")] = 2048,
    max_queue: Annotated[int, typer.Option(help="Texts waiting per bundle before requests get 429 + Retry-After.")
                         ] = 256,
    max_texts: Annotated[int, typer.Option(help="Texts per request, at most (413 beyond).")] = 64,
    max_body: Annotated[int, typer.Option(help="Request body bytes, at most (413 beyond).")] = 1 << 20,
    api_key: Annotated[Optional[str], typer.Option(help="Require 'Authorization: Bearer KEY' (or set "
                                                        "EDGEBERT_API_KEY); /healthz and /readyz stay open.",
                                                   show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option(help="A/B traffic split over the BUNDLES, e.g. 90,10 [all to the "
                                                        "first]; a request may name one (X-Edgebert-Model header).",
                                                   show_default=False)] = None,
    shadow: Annotated[Optional[Path], typer.Option(help="A candidate bundle run on a copy of live traffic: never "
                                                        "answers, compared with the primary in /metrics and the log.",
                                                   show_default=False)] = None,
    shadow_rate: Annotated[float, typer.Option(help="Share of requests copied to the shadow.")] = 1.0,
    log_requests: Annotated[bool, typer.Option(help="One JSON line per request on stdout.")] = True,
    drain_seconds: Annotated[float, typer.Option(help="On SIGTERM, how long in-flight requests may take to finish.")
                             ] = 30.0,
) -> None:
    """Serve BUNDLES over HTTP: POST /predict, POST /v1/embeddings (OpenAI), GET /healthz /readyz /metrics /v1/models.

    Each bundle's golden check runs at start; /readyz answers 200 once every one passed (a failure stops the
    server: exit 3). SIGTERM stops accepting, drains in-flight requests and exits 0."""
    from edgebert.serve.app import Limits
    from edgebert.serve.batcher import BatchConfig
    from edgebert.serve.server import ServeConfig, serve as run_server, warn_exposed

    for value, flag in ((workers, "--workers"), (threads, "--threads"), (max_batch, "--max-batch"),
                        (max_batch_tokens, "--max-batch-tokens"), (max_queue, "--max-queue"),
                        (max_texts, "--max-texts"), (max_body, "--max-body")):
        positive(value, flag)
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0-65535 (got {port})")
    if batch_window_ms < 0 or not 0 < shadow_rate <= 1 or drain_seconds < 0:
        raise UsageError("--batch-window-ms and --drain-seconds must be >= 0, --shadow-rate in (0, 1]")
    for path in list(bundles) + ([shadow] if shadow else []):
        if not (path / "manifest.json").is_file():
            raise UsageError(f"'{path}' is not a bundle (no manifest.json). Fix: edgebert export MODEL --out {path}")
    cfg = ServeConfig(host=host, port=port, device=device, workers=workers or 0, threads=threads,
                      batch=BatchConfig(batch_window_ms / 1e3, max_batch, max_batch_tokens, max_queue),
                      limits=Limits(max_body, max_texts, api_key or os.environ.get("EDGEBERT_API_KEY") or None),
                      weights=_floats(weights, "--weights"), shadow=shadow, shadow_rate=shadow_rate,
                      log_requests=log_requests, drain_s=drain_seconds)
    warning = warn_exposed(cfg)
    if warning:
        err.print(warning, soft_wrap=True)
    run_server(list(bundles), cfg, say=lambda m: err.print(m, soft_wrap=True))


def bench_serve(target: str, texts: Optional[str], concurrency: str, slo_ms: Optional[float], out_path: Optional[Path],
                seconds: Optional[float], repeat: Optional[int], device_label: str, threads: Optional[int]) -> None:
    """`edgebert bench --serve URL|BUNDLE`: a row per concurrency, the table, and the best throughput under --slo-ms."""
    from rich.table import Table

    from edgebert.bench.serve_sweep import run_serve_bench, serve_errors
    from edgebert.bench.texts import default_texts, resolve_texts

    levels = csv_ints(concurrency, "--concurrency")
    if slo_ms is not None and slo_ms <= 0:
        raise UsageError(f"--slo-ms must be positive (got {slo_ms})")
    positive(threads, "--threads")
    text_list, name = resolve_texts(texts)
    dest = out_path or Path("results/results.jsonl")
    extra = ["--threads", str(threads), "--workers", "1"] if threads else []
    done = run_serve_bench(target, text_list or default_texts(), name or "sample", levels, seconds or 10.0,
                           repeat or 1, dest, slo_ms, device_label, extra, os.environ.get("EDGEBERT_API_KEY"),
                           log=lambda m: err.print(m, soft_wrap=True))
    tbl = Table(title=f"edgebert bench --serve {done.url}: {len(done.rows)} rows appended to {dest}",
                title_justify="left")
    for col in ("model", "format", "concurrency", "texts/s", "p50 ms", "p90 ms", "p99 ms", "errors", "server RSS MB"):
        tbl.add_column(col)
    for r in done.rows:
        num = (lambda v, f=".1f": "–" if v is None else format(v, f))
        tbl.add_row(r.model, r.format, str(r.batch), num(r.throughput_seq_s), num(r.p50_ms), num(r.p90_ms),
                    num(r.p99_ms), str(serve_errors(r)), num(r.peak_rss_mb, ".0f"))
    out.print(tbl)
    if slo_ms is not None:
        best = done.best
        out.print(f"Highest throughput with p99 <= {slo_ms:g} ms and no errors: " + (
            f"{best.throughput_seq_s:.1f} texts/s at concurrency {best.batch} (p99 {best.p99_ms:.1f} ms)" if best
            else "none of the levels met it"))
