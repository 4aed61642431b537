"""Dynamic batching: texts from concurrent requests run together, grouped by length, under a token budget.

Jobs are single texts (a request with k texts submits k jobs) on one queue; `workers` model threads take from it.
A thread takes the oldest job, then every job already queued, and -- only while other texts are in the system (so a
lone request never waits) -- keeps taking until `window_s` after the oldest job arrived. It stops at `max_batch`
texts or `max_batch_tokens` real tokens, sorts what it took by length, cuts it into groups whose padded tokens
(texts x longest) stay under `max_batch_tokens` and whose padding stays under 2x, and runs each. Bundles that must not mix texts (dynamic INT8: a text's answer depends on
its batchmates) run every text alone at its own length, as `predict` does.

A run that raises fails only its own texts: a failed group is rerun a text at a time, so only the text that fails
alone gets the error. The queue is bounded: past `max_queue` waiting texts, `submit` raises Overloaded with a
Retry-After estimate from the measured model time.
"""
from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from edgebert.errors import first_line
from edgebert.serve.metrics import Metrics
from edgebert.serve.model import Item, ServedModel


class Overloaded(Exception):
    """The queue is at its bound: answer 429, retry after `retry_after_s`."""

    def __init__(self, waiting: int, retry_after_s: int) -> None:
        super().__init__(f"queue full ({waiting} texts waiting); retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ModelError(Exception):
    """The runtime raised on this text (alone): answer 500 with the one-line reason."""


@dataclass(frozen=True)
class BatchConfig:
    """Defaults as measured for issue 24 (2 cores, MiniLM): batching added no throughput over one text per run and
    batches of 32 halved it, so runs stay small; a window only delayed light load (TEI and Triton default to none:
    a run takes what queued while the model threads were busy)."""

    window_s: float = 0.0
    max_batch: int = 8
    max_batch_tokens: int = 2048
    max_queue: int = 256
    workers: int = 1


@dataclass(eq=False)
class Job:
    item: Item
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.perf_counter)


_STOP: Any = object()


class Batcher:
    """One bundle's queue and model threads."""

    def __init__(self, model: ServedModel, metrics: Metrics, cfg: BatchConfig) -> None:
        self.model, self.metrics, self.cfg = model, metrics, cfg
        self.queue: queue.SimpleQueue = queue.SimpleQueue()  # C-level: wakes a waiting thread in microseconds
        self.lock = threading.Lock()
        self.pending = 0  # texts submitted and not yet answered (queued or running)
        self.seconds_per_text = 0.01  # moving average of model time, for Retry-After
        self.threads = [threading.Thread(target=self._work, args=(i,), name=f"edgebert-model-{model.name}-{i}",
                                         daemon=True) for i in range(cfg.workers)]
        for thread in self.threads:
            thread.start()

    def depth(self) -> int:
        return self.queue.qsize()

    def submit(self, items: list[Item], loop: asyncio.AbstractEventLoop) -> list[asyncio.Future]:
        """Queue the texts of one request (all or none); their futures resolve to answer rows or ModelError."""
        waiting = self.queue.qsize()
        if waiting + len(items) > self.cfg.max_queue:
            wait = math.ceil(self.seconds_per_text * (waiting + len(items)) / max(1, self.cfg.workers))
            raise Overloaded(waiting, max(1, wait))
        with self.lock:
            self.pending += len(items)
        jobs = [Job(item, loop.create_future(), loop) for item in items]
        for job in jobs:
            self.queue.put(job)
        return [job.future for job in jobs]

    def _work(self, worker: int) -> None:
        carry = None
        while True:
            first = carry if carry is not None else self.queue.get()
            if first is _STOP:
                return
            jobs, carry = self._collect(first)
            jobs.sort(key=lambda j: j.item.tokens)
            for group in self._groups(jobs):
                self._run(worker, group)

    def _collect(self, first: Job) -> tuple[list[Job], Job | None]:
        """The jobs one run takes, and the job that did not fit (it starts the next run)."""
        if not self.model.mixes:
            return [first], None
        jobs, tokens, cfg = [first], first.item.tokens, self.cfg
        deadline = first.enqueued + cfg.window_s
        while len(jobs) < cfg.max_batch:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                left = deadline - time.perf_counter()
                if left <= 0 or self.pending <= len(jobs):  # nothing else in the system: do not wait for nobody
                    break
                try:
                    job = self.queue.get(timeout=left)
                except queue.Empty:
                    break
            if job is _STOP:
                self.queue.put(job)
                break
            if tokens + job.item.tokens > cfg.max_batch_tokens:  # real tokens here; padded ones bound each group
                return jobs, job
            jobs.append(job)
            tokens += job.item.tokens
        return jobs, None

    def _groups(self, jobs: list[Job]) -> Iterator[list[Job]]:
        """Length-sorted jobs -> runs whose padded tokens fit the budget and whose padding stays under 2x."""
        if not self.model.mixes:
            yield from ([j] for j in jobs)
            return
        group: list[Job] = []
        for job in jobs:
            n = job.item.tokens
            if group and (n * (len(group) + 1) > self.cfg.max_batch_tokens or n > 2 * group[0].item.tokens + 8):
                yield group
                group = []
            group.append(job)
        if group:
            yield group

    def _run(self, worker: int, group: list[Job]) -> None:
        started = time.perf_counter()
        try:
            rows, padded = self.model.run(worker, [j.item for j in group])
            results: list[Any] = list(rows)
        except Exception as err:  # noqa: BLE001 - one run's failure fails its own texts, never the server
            self.metrics.observe_batch(self.model.name, len(group), 0, time.perf_counter() - started, True)
            if len(group) > 1:  # find the text that fails: its batchmates still get their answers
                for job in group:
                    self._run(worker, [job])
                return
            results, padded = [ModelError(f"model error: {type(err).__name__}: {first_line(err, 200)}")], 0
        else:
            seconds = time.perf_counter() - started
            self.metrics.observe_batch(self.model.name, len(group), padded, seconds, False)
            self.seconds_per_text = 0.9 * self.seconds_per_text + 0.1 * seconds / len(group)
        with self.lock:
            self.pending -= len(group)
        group[0].loop.call_soon_threadsafe(_resolve, [(j.future, r) for j, r in zip(group, results)])

    def close(self, timeout_s: float) -> None:
        """Let queued and running texts finish (at most `timeout_s`), then stop the model threads."""
        end = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < end:
            time.sleep(0.01)
        for _ in self.threads:
            self.queue.put(_STOP)
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()) + 1.0)


def _resolve(pairs: list[tuple[asyncio.Future, Any]]) -> None:
    """On the event loop: hand each waiting request its row (or its error); a request that is gone is skipped."""
    for future, result in pairs:
        if future.done():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)
