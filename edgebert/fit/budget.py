"""The budget: every limit optional, validated before anything is written; which limits a candidate misses and by
how much (ratio > 1 is a miss), and the one-line verdict when nothing meets it."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from edgebert.errors import UsageError

FLAGS = {"latency": "--max-latency-ms", "size": "--max-size-mb", "memory": "--max-memory-mb",
         "retention": "--min-retention"}


@dataclass(frozen=True)
class Budget:
    max_latency_ms: float | None = None  # p95 text to answer on --texts
    max_size_mb: float | None = None  # the model file(s)
    max_memory_mb: float | None = None  # a cgroup memory limit the candidate must run under
    min_retention: float | None = None  # held-out score / the teacher's (classifiers), embedding cosine (encoders)
    max_hours: float | None = None  # the whole fit
    cpu_quota: float | None = None  # cores: run every cost row under this CPU quota (a slower device)

    def __post_init__(self) -> None:
        for name in ("max_latency_ms", "max_size_mb", "max_memory_mb", "max_hours", "cpu_quota"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive (got {value:g}): no candidate can "
                                 "meet it")
        if self.min_retention is not None and not 0 < self.min_retention <= 1:
            raise UsageError(f"--min-retention is a fraction of the teacher's score in (0, 1] (got "
                             f"{self.min_retention:g}); 0.98 keeps 98%")
        cores = os.cpu_count() or 1
        if self.cpu_quota is not None and self.cpu_quota > cores:
            raise UsageError(f"--cpu-quota {self.cpu_quota:g} is more cores than this machine has ({cores})")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def cost_ratios(self, cost: dict[str, Any]) -> dict[str, float]:
        """measured / limit for each cost limit (> 1: missed); memory is 1 when it fit, 2 when it did not."""
        ratios: dict[str, float] = {}
        if self.max_latency_ms is not None and cost.get("p95_ms") is not None:
            ratios["latency"] = cost["p95_ms"] / self.max_latency_ms
        if self.max_size_mb is not None and cost.get("file_mb") is not None:
            ratios["size"] = cost["file_mb"] / self.max_size_mb
        memory = cost.get("memory") or {}
        if self.max_memory_mb is not None and memory:
            ratios["memory"] = 1.0 if memory.get("fits") else max(2.0, memory.get("observed_mb", 0) /
                                                                   self.max_memory_mb)
        return ratios

    def retention_ratio(self, retention: float | None) -> float | None:
        if self.min_retention is None or retention is None:
            return None
        return self.min_retention / max(retention, 1e-9)

    def misses(self, cost: dict[str, Any], retention: float | None = None) -> list[str]:
        """The limits `cost` (and `retention`, when known) miss."""
        ratios = self.cost_ratios(cost)
        r = self.retention_ratio(retention)
        if r is not None:
            ratios["retention"] = r
        return [k for k, v in ratios.items() if v > 1.0]

    def miss_text(self, limit: str, cost: dict[str, Any], retention: float | None) -> str:
        """'p95 1.31 ms > --max-latency-ms 1' for one missed limit."""
        if limit == "latency":
            return f"p95 {cost['p95_ms']:.3g} ms > {FLAGS[limit]} {self.max_latency_ms:g}"
        if limit == "size":
            return f"{cost['file_mb']:.3g} MB > {FLAGS[limit]} {self.max_size_mb:g}"
        if limit == "memory":
            return f"did not run in {FLAGS[limit]} {self.max_memory_mb:g} ({cost['memory'].get('how', '')})"
        return f"retention {100 * (retention or 0):.1f}% < {FLAGS[limit]} {self.min_retention:g}"


def closest(budget: Budget, records: list[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
    """The candidate nearest to the budget (smallest worst ratio over the limits it was judged on) and the limit
    that binds it; None when no candidate was measured."""
    best: tuple[float, dict[str, Any], str] | None = None
    for rec in records:
        cost = rec.get("costs") or {}
        if not cost:
            continue
        ratios = budget.cost_ratios(cost)
        r = budget.retention_ratio(rec.get("retention"))
        if r is not None:
            ratios["retention"] = r
        if not ratios:
            continue
        limit, worst = max(ratios.items(), key=lambda kv: kv[1])
        if best is None or worst < best[0]:
            best = (worst, rec, limit)
    return (best[1], best[2]) if best else None
