"""`bench --serve` end to end: the server (a URL, or a bundle started here), a row per concurrency, the best
throughput under the latency bound.

A serve row's identity (model, sha256, format, runtime) and device (CPU, features, threads) come from the server's
own /v1/models, so rows measured against a remote box name that box, not the client.
"""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from edgebert import __version__
from edgebert.bench.load import Endpoint, Outcome, drive, get_json, latency, metric
from edgebert.bench.rows import Row, append_rows
from edgebert.device_info import machine_fields
from edgebert.errors import EdgebertError, UsageError, first_line

ERRORS = "errors "  # a serve row's reason starts "errors N/M" when requests failed


@dataclass
class ServeBench:
    rows: list[Row]
    best: Row | None  # highest throughput with p99 under the bound (None: no level met it, or no bound given)
    url: str


def serve_row(info: dict[str, Any], outcome: Outcome, concurrency: int, repeat: int, texts: int, texts_name: str,
              device_label: str = "", peak_rss_mb: float | None = None) -> Row:
    """The bench row of one load level, named by what the server says it runs."""
    model = info["data"][0]["edgebert"]
    box = info["edgebert"]
    golden = model.get("golden") or {}
    ident = {k: model.get(k) for k in ("model", "model_sha256", "weights", "format", "runtime", "runtime_version",
                                       "file_mb", "parameters")}
    machine = {k: box.get(k, "") for k in ("cpu", "cores", "machine", "host", "cpu_features", "board", "emulated",
                                           "python")}
    lat = latency(outcome)
    errors = sum(outcome.errors.values())
    reason = (f"{ERRORS}{errors}/{outcome.requests}: " + ", ".join(f"{k} x{v}" for k, v in
                                                                  sorted(outcome.errors.items()))) if errors else ""
    row = Row(**ident, **machine, device=box.get("device", "cpu"), device_label=device_label,
              threads=int(box.get("workers", 1)) * int(box.get("threads", 1)), batch=concurrency, seq_len=0,
              repeat=repeat, input=f"serve:{texts_name}", texts=texts, status="ok" if lat else "failed",
              reason=reason or ("" if lat else "no request answered 200"), golden=golden.get("status", "none"),
              golden_max_abs=golden.get("max_abs"), golden_mean_cosine=golden.get("mean_cosine"),
              golden_agreement=golden.get("agreement"), warmup=outcome.warmup, peak_rss_mb=peak_rss_mb,
              edgebert_version=__version__, timestamp=machine_fields()["timestamp"])
    if lat is None:
        return row
    return replace(row, **{**lat.to_fields(1), "throughput_seq_s": round(outcome.throughput, 3)})


def serve_errors(row: Row) -> int:
    """Failed requests of a serve row (0 when its reason does not start with 'errors N/M')."""
    if not row.reason.startswith(ERRORS):
        return 0
    return int(row.reason[len(ERRORS):].split("/", 1)[0])


def best_under_slo(rows: list[Row], slo_ms: float) -> Row | None:
    """MLPerf Server style: the highest throughput whose p99 stays under the bound, with no errors."""
    fit = [r for r in rows if r.ok and r.p99_ms is not None and r.p99_ms <= slo_ms and not serve_errors(r)]
    return max(fit, key=lambda r: r.throughput_seq_s or 0.0, default=None)


@contextmanager
def started_server(bundle: Path, extra: list[str], timeout_s: float = 300.0) -> Iterator[str]:
    """`edgebert serve BUNDLE --port 0` in a child process; yields its URL once ready; SIGTERM (drain) at the end."""
    cmd = [sys.executable, "-m", "edgebert.cli", "serve", str(bundle), "--port", "0", "--no-log-requests", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: collections.deque = collections.deque(maxlen=50)
    ready = threading.Event()
    url: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line.strip())
            if "ready on http://" in line and not url:
                url.append(line.split("ready on ", 1)[1].split()[0])
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + timeout_s
    while not ready.wait(0.1):
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            last = next((ln for ln in reversed(lines) if ln), "no output")
            raise EdgebertError(f"the server for {bundle} did not get ready: {last}")
    try:
        yield url[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_serve_bench(target: str, texts: list[str], texts_name: str, concurrencies: list[int], seconds: float,
                    repeats: int, out: Path, slo_ms: float | None = None, device_label: str = "",
                    server_args: list[str] | None = None, api_key: str | None = None,
                    log: Callable[[str], None] = lambda m: None) -> ServeBench:
    """Rows for every (repeat, concurrency), appended to `out` as each level ends; a bundle TARGET is served here."""
    if target.startswith("http://"):
        return _sweep(target, texts, texts_name, concurrencies, seconds, repeats, out, slo_ms, device_label, api_key,
                      log)
    if not (Path(target) / "manifest.json").is_file():
        raise UsageError(f"--serve takes http://HOST:PORT[/predict|/v1/embeddings] or a bundle folder (got '{target}')")
    with started_server(Path(target), server_args or []) as url:
        log(f"serving {target} at {url}")
        return _sweep(url, texts, texts_name, concurrencies, seconds, repeats, out, slo_ms, device_label, api_key, log)


def _sweep(url: str, texts: list[str], texts_name: str, concurrencies: list[int], seconds: float, repeats: int,
           out: Path, slo_ms: float | None, device_label: str, api_key: str | None,
           log: Callable[[str], None]) -> ServeBench:
    try:
        endpoint = Endpoint.parse(url, api_key)
        info = get_json(endpoint, "/v1/models")
    except (ValueError, OSError) as err:
        raise UsageError(f"Cannot load-test {url}: {first_line(err)}") from None
    rows = []
    for repeat in range(repeats):
        for c in concurrencies:
            outcome = drive(endpoint, texts, c, seconds)
            hwm = metric(endpoint, "edgebert_process_peak_resident_memory_bytes")
            row = serve_row(info, outcome, c, repeat, len(set(texts)), texts_name, device_label,
                            round(hwm / 1e6, 1) if hwm else None)
            append_rows(out, [row.to_dict()])
            rows.append(row)
            log(f"c{c}: {outcome.throughput:.1f} texts/s, {len(outcome.latencies_ns)} ok, "
                f"{sum(outcome.errors.values())} errors")
    return ServeBench(rows, best_under_slo(rows, slo_ms) if slo_ms else None, url)


__all__ = ["ServeBench", "serve_row", "serve_errors", "best_under_slo", "started_server", "run_serve_bench"]
