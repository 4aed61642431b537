"""Prometheus text exposition (format 0.0.4), written by hand: no dependency, ~5 us per request observed.

prometheus_client measured 18 us per request (8 metrics) and 0.8 ms per scrape here, against 5 us and 0.06 ms for
this. Label sets are fixed (route, status, cause, bundle), so cardinality never grows with traffic.
"""
from __future__ import annotations

import bisect
import os
import threading
import time

# seconds: from 0.5 ms (an HTTP no-op here is ~0.1 ms) to 10 s (a queue at its bound on a small board)
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
TOKEN_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
COSINE_BUCKETS = (0.5, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """Per-bucket counts (one bisect per observation); cumulative sums only when rendered."""

    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, acc, sep = [], 0, "," if labels else ""
        for bound, n in zip(self.buckets, self.counts):
            acc += n
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {acc}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f"{{{labels}}}" if labels else ""
        return out + [f"{name}_sum{braces} {_number(self.sum)}", f"{name}_count{braces} {self.count}"]


class _Family:
    """One metric name: HELP, TYPE and its series by label string."""

    def __init__(self, name: str, kind: str, help_text: str, buckets: tuple[float, ...] = ()) -> None:
        self.name, self.kind, self.help, self.buckets = name, kind, help_text, buckets
        self.series: dict[str, float | Histogram] = {}

    def add(self, labels: str, value: float = 1.0) -> None:
        self.series[labels] = self.series.get(labels, 0) + value  # type: ignore[operator]

    def set(self, labels: str, value: float) -> None:
        self.series[labels] = value

    def observe(self, labels: str, value: float) -> None:
        hist = self.series.get(labels)
        if hist is None:
            hist = self.series[labels] = Histogram(self.buckets)
        hist.observe(value)  # type: ignore[union-attr]

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in sorted(self.series.items()):
            if isinstance(value, Histogram):
                out += value.lines(self.name, labels)
            else:
                text = _number(value)
                out.append(f"{self.name}{{{labels}}} {text}" if labels else f"{self.name} {text}")
        return out


# name, type, buckets (for histograms), help: one line each, read by _family_table()
FAMILIES = """
edgebert_request_duration_seconds histogram latency Request start to response, by route, bundle and status class.
edgebert_requests_total counter - Requests answered, by route and status.
edgebert_request_errors_total counter - Failed requests by cause.
edgebert_texts_total counter - Texts answered, by bundle.
edgebert_tokens_total counter - Real tokens (no padding) in answered texts, by bundle.
edgebert_batch_size histogram batch Texts per model run.
edgebert_batch_tokens histogram tokens Padded tokens per model run (texts x width).
edgebert_padded_tokens_total counter - Tokens the model ran, padding included.
edgebert_inference_duration_seconds histogram latency Model time per run (run + softmax/pooling).
edgebert_batch_failures_total counter - Model runs that raised.
edgebert_queue_depth gauge - Texts waiting for the model.
edgebert_requests_in_flight gauge - HTTP requests being handled.
edgebert_shadow_texts_total counter - Texts compared between a primary and the shadow.
edgebert_shadow_agreements_total counter - Shadowed texts whose top label matched (classifiers).
edgebert_shadow_cosine histogram cosine Cosine between the shadow's output and the primary's.
edgebert_shadow_skipped_total counter - Texts not shadowed, by cause (queue full, error).
process_resident_memory_bytes gauge - Resident memory (VmRSS).
edgebert_process_peak_resident_memory_bytes gauge - Peak resident memory (VmHWM).
process_cpu_seconds_total counter - User + system CPU time of this process.
process_start_time_seconds gauge - Start time of the process, seconds since the epoch.
"""
BUCKETS = {"latency": LATENCY_BUCKETS, "batch": BATCH_BUCKETS, "tokens": TOKEN_BUCKETS, "cosine": COSINE_BUCKETS,
           "-": ()}


def _family_table() -> list[_Family]:
    rows = [line.split(maxsplit=3) for line in FAMILIES.strip().splitlines()]
    return [_Family(name, kind, help_text, BUCKETS[buckets]) for name, kind, buckets, help_text in rows]


def _number(value: float) -> str:
    """Whole numbers in full (counters pass a million: never 1.23457e+06), others as Python writes them."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def memory_bytes() -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes from /proc/self/status; (0, 0) off Linux."""
    found = {}
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


class Metrics:
    """Every edgebert_* series; one lock, since the event loop and the model threads both observe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.families = {f.name: f for f in _family_table()}
        self.started = time.time()

    def observe_request(self, route: str, bundle: str, status: int, cause: str, seconds: float, texts: int,
                        tokens: int) -> None:
        f = self.families
        with self.lock:
            f["edgebert_request_duration_seconds"].observe(
                f'route="{route}",bundle="{bundle}",code="{status // 100}xx"', seconds)
            f["edgebert_requests_total"].add(f'route="{route}",status="{status}"')
            if cause:
                f["edgebert_request_errors_total"].add(f'cause="{cause}"')
            if status == 200:
                f["edgebert_texts_total"].add(f'bundle="{bundle}"', texts)
                f["edgebert_tokens_total"].add(f'bundle="{bundle}"', tokens)

    def observe_batch(self, bundle: str, size: int, padded_tokens: int, seconds: float, failed: bool) -> None:
        f, label = self.families, f'bundle="{bundle}"'
        with self.lock:
            f["edgebert_batch_size"].observe(label, size)
            f["edgebert_batch_tokens"].observe(label, padded_tokens)
            f["edgebert_padded_tokens_total"].add(label, padded_tokens)
            f["edgebert_inference_duration_seconds"].observe(label, seconds)
            if failed:
                f["edgebert_batch_failures_total"].add(label)

    def observe_shadow(self, primary: str, candidate: str, cosines: list[float], agreements: int | None) -> None:
        f, label = self.families, f'primary="{primary}",candidate="{candidate}"'
        with self.lock:
            f["edgebert_shadow_texts_total"].add(label, len(cosines))
            if agreements is not None:
                f["edgebert_shadow_agreements_total"].add(label, agreements)
            for c in cosines:
                f["edgebert_shadow_cosine"].observe(label, c)

    def shadow_skipped(self, candidate: str, cause: str, texts: int) -> None:
        with self.lock:
            self.families["edgebert_shadow_skipped_total"].add(f'candidate="{candidate}",cause="{cause}"', texts)

    def render(self, queue_depths: dict[str, int], in_flight: int) -> bytes:
        """The exposition text; gauges (queue depth, memory, CPU) are read now."""
        f = self.families
        rss, hwm = memory_bytes()
        times = os.times()
        with self.lock:
            for bundle, depth in queue_depths.items():
                f["edgebert_queue_depth"].set(f'bundle="{bundle}"', depth)
            f["edgebert_requests_in_flight"].set("", in_flight)
            f["process_resident_memory_bytes"].set("", rss)
            f["edgebert_process_peak_resident_memory_bytes"].set("", hwm)
            f["process_cpu_seconds_total"].set("", round(times.user + times.system, 3))
            f["process_start_time_seconds"].set("", round(self.started, 3))
            lines = [line for family in f.values() for line in family.lines()]
        return ("\n".join(lines) + "\n").encode()
