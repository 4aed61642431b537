"""A/B and shadow: which bundle answers a request, and a candidate run on a copy of live traffic.

Routing: a request naming a served bundle (header `X-Edgebert-Model`, or the body's OpenAI `model` field) gets that
bundle; otherwise `--weights` split traffic at random (all to the first bundle without them). The shadow answers
nobody: each shadowed request's texts go to the candidate's queue after the primary has answered, and the two
outputs are compared per text -- cosine for every bundle, top-label agreement for classifiers -- into /metrics
(edgebert_shadow_*) and one `"kind": "shadow"` log line. A full candidate queue skips the copy (counted), so the
shadow can slow the primary only by the CPU it shares.
"""
from __future__ import annotations

import asyncio
import bisect
import itertools
import random
from typing import Any, Callable

import numpy as np

from edgebert.errors import UsageError
from edgebert.serve.batcher import Batcher, ModelError, Overloaded
from edgebert.serve.model import ServedModel
from edgebert.serve.routes import ApiError

HEADER = b"x-edgebert-model"


class Router:
    """Bundle names in order and their traffic weights."""

    def __init__(self, names: list[str], weights: tuple[float, ...] = ()) -> None:
        if weights and len(weights) != len(names):
            raise UsageError(f"--weights has {len(weights)} values for {len(names)} bundles: give one per bundle")
        if weights and (any(w < 0 for w in weights) or sum(weights) <= 0):
            raise UsageError("--weights must be non-negative with a positive sum, e.g. 90,10")
        self.names = names
        split = weights or tuple([1.0] + [0.0] * (len(names) - 1))
        self.cumulative = list(itertools.accumulate(w / sum(split) for w in split))
        self.random = random.Random()

    def choose(self, header: bytes | None, body_model: str | None) -> str:
        """The header's bundle (an unknown one is a 400 naming the choices), the body's if it names one, else a
        weighted draw."""
        if header is not None:
            name = header.decode("latin-1").strip()
            if name not in self.names:
                raise ApiError(400, f"unknown model '{name[:80]}' in X-Edgebert-Model. Valid: {', '.join(self.names)}",
                               "unknown_model")
            return name
        if body_model in self.names:
            return body_model  # type: ignore[return-value]
        i = bisect.bisect_left(self.cumulative, self.random.random() * self.cumulative[-1])
        return self.names[min(i, len(self.names) - 1)]


def check_comparable(primary: ServedModel, candidate: ServedModel) -> None:
    """A shadow must answer in the primary's terms: same kind, width and labels."""
    if primary.classifier != candidate.classifier or primary.dim != candidate.dim:
        raise UsageError(f"--shadow {candidate.name} answers {'labels' if candidate.classifier else 'embeddings'} of "
                         f"width {candidate.dim}; {primary.name} answers {'labels' if primary.classifier else 'embeddings'}"
                         f" of width {primary.dim}: they cannot be compared")
    if primary.classifier and primary.labels != candidate.labels:
        raise UsageError(f"--shadow {candidate.name} has labels {candidate.labels}, {primary.name} {primary.labels}")


def compare(primary: list[np.ndarray], shadow: list[np.ndarray], classifier: bool) -> tuple[list[float], int | None]:
    """Per-text cosine between the two answers, and how many top labels agree (classifiers)."""
    a, b = np.stack(primary).astype(np.float64), np.stack(shadow).astype(np.float64)
    cos = (a * b).sum(-1) / np.clip(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12, None)
    agree = int((a.argmax(-1) == b.argmax(-1)).sum()) if classifier else None
    return [float(c) for c in cos], agree


class Shadow:
    """The candidate, its batcher, and the comparisons in flight."""

    def __init__(self, model: ServedModel, batcher: Batcher, metrics: Any, log: Callable[[dict], None],
                 rate: float = 1.0) -> None:
        self.model, self.batcher, self.metrics, self.log, self.rate = model, batcher, metrics, log, rate
        self.tasks: set[asyncio.Task] = set()
        self.random = random.Random()

    def copy(self, primary: ServedModel, texts: list[str], answers: list[np.ndarray]) -> None:
        """Send a copy of an answered request to the candidate (a `rate` share of requests), compare later."""
        if self.rate < 1.0 and self.random.random() >= self.rate:
            return
        task = asyncio.get_running_loop().create_task(self._compare(primary, texts, answers))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _compare(self, primary: ServedModel, texts: list[str], answers: list[np.ndarray]) -> None:
        name = self.model.name
        try:
            futures = self.batcher.submit(self.model.encode(texts), asyncio.get_running_loop())
            rows = await asyncio.gather(*futures)
        except Overloaded:
            self.metrics.shadow_skipped(name, "queue_full", len(texts))
            return
        except ModelError as err:
            self.metrics.shadow_skipped(name, "model_error", len(texts))
            self.log({"kind": "shadow", "primary": primary.name, "candidate": name, "error": str(err)})
            return
        cosines, agree = compare(answers, list(rows), primary.classifier)
        self.metrics.observe_shadow(primary.name, name, cosines, agree)
        self.log({"kind": "shadow", "primary": primary.name, "candidate": name, "texts": len(texts),
                  "agree": agree, "cosine_min": round(min(cosines), 6),
                  "cosine_mean": round(sum(cosines) / len(cosines), 6)})
