"""`edgebert bench --serve`: load on a running server (or one started here for the run), measured from the client.

Closed loop: C connections, each sending one text per request back to back (HTTP/1.1 keep-alive), for each
concurrency in turn -- one bench row per level: throughput (texts answered per second), p50/p90/p99 of the
request latency, errors. Open loop (`drive_rate`, for soaks and fixed-load points): Poisson arrivals at a rate,
latency counted from each request's scheduled time, so a stalled server cannot hide its queue (no coordinated
omission). MLPerf's Server scenario reads off the highest throughput whose p99 meets a bound (`best_under_slo`).

Row fields for serve rows (`input` = "serve:NAME"): `batch` is the concurrency, `seq_len` 0 (each text at its own
length), `runs` the requests answered 200, `throughput_seq_s` texts answered per second, `peak_rss_mb` the server's
VmHWM after the level, `threads` the server's model threads x intra-op threads; `reason` starts "errors N/M" when
requests failed (the row keeps status ok: errors under load are part of the measurement).
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import random
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from edgebert.bench.stats import Latency

ROUTES = ("/predict", "/v1/embeddings")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    path: str  # /predict or /v1/embeddings
    api_key: str | None = None

    @classmethod
    def parse(cls, url: str, api_key: str | None = None) -> "Endpoint":
        """http://HOST:PORT[/predict | /v1/embeddings] (the route defaults to /predict)."""
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"'{url}' is not an http://HOST:PORT URL")
        path = u.path.rstrip("/") or "/predict"
        if path not in ROUTES:
            raise ValueError(f"route '{path}' is not one the load driver posts to ({', '.join(ROUTES)})")
        return cls(u.hostname, u.port or 80, path, api_key)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(self, text: str) -> bytes:
        """The whole HTTP request for one text, built once per text."""
        body = json.dumps({"texts": [text]} if self.path == "/predict" else {"input": text}).encode()
        auth = f"Authorization: Bearer {self.api_key}\r\n" if self.api_key else ""
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"{auth}Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body


@dataclass
class Outcome:
    """One load level: per-request latencies of the 200s inside the timed window, and errors by kind."""

    label: str  # "c16" or "r120/s"
    seconds: float
    latencies_ns: list[int] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    warmup: int = 0
    resent: int = 0  # requests resent once because the server had closed their idle kept-alive connection

    @property
    def requests(self) -> int:
        return len(self.latencies_ns) + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return len(self.latencies_ns) / self.seconds if self.seconds > 0 else 0.0


class _Conn:
    """One keep-alive connection; `send` returns the status (0 when the connection failed)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint, self.reader, self.writer, self.resent = endpoint, None, None, 0

    async def send(self, request: bytes) -> tuple[int, str]:
        for attempt in (0, 1):
            reused = self.writer is not None
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                await self.reader.readexactly(int(length.group(1)) if length else 0)
                if re.search(rb"(?i)\r\nconnection:\s*close", head):
                    self.close()
                return status, ""
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as err:
                self.close()
                # a kept-alive connection the server closed while idle (its keep-alive timeout) fails before any
                # byte of an answer: resend once on a new connection, as HTTP clients do; anything else counts
                closed_idle = isinstance(err, (ConnectionResetError, BrokenPipeError)) or (
                    isinstance(err, asyncio.IncompleteReadError) and not err.partial)
                if not (reused and closed_idle and attempt == 0):
                    return 0, type(err).__name__
                self.resent += 1
        return 0, "unreachable"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _closed(endpoint: Endpoint, requests: list[bytes], concurrency: int, seconds: float,
                  warmup_s: float) -> Outcome:
    out = Outcome(f"c{concurrency}", seconds)
    loop = time.perf_counter_ns
    begin = loop()
    t0, t1 = begin + int(warmup_s * 1e9), begin + int((warmup_s + seconds) * 1e9)

    sent = itertools.count()  # one sequence for all clients: every text once a pass, whatever the concurrency

    async def client() -> None:
        conn = _Conn(endpoint)
        while True:
            start = loop()
            if start >= t1:
                break
            status, why = await conn.send(requests[next(sent) % len(requests)])
            end = loop()
            if start < t0:
                out.warmup += 1
            elif end <= t1:
                _record(out, status, why, end - start)
            if status == 0:
                await asyncio.sleep(0.01)
        conn.close()
        out.resent += conn.resent

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return out


async def _open(endpoint: Endpoint, requests: list[bytes], rate: float, seconds: float, max_in_flight: int,
                seed: int) -> Outcome:
    out = Outcome(f"r{rate:g}/s", seconds)
    idle = [_Conn(endpoint) for _ in range(max_in_flight)]
    rnd, tasks = random.Random(seed), set()
    start = time.perf_counter_ns()
    due, n = start, 0

    async def one(conn: _Conn, request: bytes, scheduled: int) -> None:
        status, why = await conn.send(request)
        _record(out, status, why, time.perf_counter_ns() - scheduled)  # from the scheduled time: no omission
        idle.append(conn)

    while due < start + int(seconds * 1e9):
        await asyncio.sleep(max(0.0, (due - time.perf_counter_ns()) / 1e9))
        if idle:
            task = asyncio.get_running_loop().create_task(one(idle.pop(), requests[n % len(requests)], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            out.errors["client_saturated"] += 1  # more than max_in_flight outstanding: the server is not keeping up
        n += 1
        due += int(rnd.expovariate(rate) * 1e9)
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
        out.resent += conn.resent
    return out


def _record(out: Outcome, status: int, why: str, ns: int) -> None:
    if status == 200:
        out.latencies_ns.append(ns)
    else:
        out.errors[f"http_{status}" if status else why or "connection"] += 1


def _run(coro) -> Outcome:  # noqa: ANN001 - a coroutine
    try:
        import uvloop  # the client's own cost per request drops ~2x: more of the CPU is left to the server

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def drive(endpoint: Endpoint, texts: list[str], concurrency: int, seconds: float, warmup_s: float | None = None
          ) -> Outcome:
    """Closed loop at `concurrency` for `seconds` after `warmup_s` of untimed load [min(2 s, seconds / 2)]."""
    warmup_s = min(2.0, seconds / 2) if warmup_s is None else warmup_s
    return _run(_closed(endpoint, shuffled(endpoint, texts), concurrency, seconds, warmup_s))


def drive_rate(endpoint: Endpoint, texts: list[str], rate: float, seconds: float, max_in_flight: int = 256,
               seed: int = 0) -> Outcome:
    """Open loop: Poisson arrivals at `rate` requests/s for `seconds`, at most `max_in_flight` outstanding."""
    return _run(_open(endpoint, shuffled(endpoint, texts), rate, seconds, max_in_flight, seed))


def shuffled(endpoint: Endpoint, texts: list[str], seed: int = 0) -> list[bytes]:
    """The texts' requests in a fixed shuffled order: text files are often sorted by length (the shipped sample is),
    and any stretch of a run -- a short level, the clients of a high concurrency -- must see the same mix."""
    requests = [endpoint.request(t) for t in texts]
    random.Random(seed).shuffle(requests)
    return requests


def get_json(endpoint: Endpoint, path: str) -> dict:
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    with urllib.request.urlopen(urllib.request.Request(endpoint.base + path, headers=headers), timeout=30) as resp:
        return json.loads(resp.read())


def metric(endpoint: Endpoint, name: str) -> float | None:
    """One unlabelled (or first-labelled) sample from the server's /metrics."""
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    with urllib.request.urlopen(urllib.request.Request(endpoint.base + "/metrics", headers=headers), timeout=30) as r:
        found = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", r.read().decode(), re.M)
    return float(found.group(1)) if found else None


def latency(outcome: Outcome) -> Latency | None:
    return Latency.from_ns(outcome.latencies_ns) if outcome.latencies_ns else None
