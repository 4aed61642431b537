"""Training last: successive halving over the shapes that meet every cost limit, cheapest first. Rung r trains
each survivor to steps_max x eta^(r - R) on the full schedule (a survivor resumes its checkpoint: it continues,
it never restarts), scores held-out retention, and keeps the best 1/eta (plus the cheapest that meets
--min-retention); a rung that would not finish within --max-hours is not started."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ETA = 3


def rung_steps(steps_max: int, n: int, eta: int = ETA) -> list[int]:
    """Steps at each rung for `n` candidates: one rung per halving, the last at steps_max."""
    rungs = 0
    while eta ** rungs < n:
        rungs += 1
    return [max(1, round(steps_max / eta ** (rungs - r))) for r in range(rungs + 1)]


@dataclass
class Entry:
    """One shape in the tournament: its cost (p95 ms of its cheapest surviving format) and its rung results."""

    key: str
    cost: float
    rungs: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def retention(self) -> float | None:
        return self.rungs[-1]["retention"] if self.rungs else None

    @property
    def steps(self) -> int:
        return self.rungs[-1]["step"] if self.rungs else 0


@dataclass
class Halving:
    steps_max: int
    min_retention: float | None
    deadline: float | None  # time.time() after which no rung starts
    eta: int = ETA
    log: Callable[[str], None] = field(default=lambda m: None)
    stopped: str = ""  # why the tournament ended early, if it did

    def keep(self, alive: list[Entry]) -> list[Entry]:
        """The best 1/eta by retention, plus the cheapest entry that meets the minimum."""
        scored = [e for e in alive if e.retention is not None and not e.error]
        best = sorted(scored, key=lambda e: (-e.retention, e.cost))[: max(1, math.ceil(len(scored) / self.eta))]
        meeting = [e for e in sorted(scored, key=lambda e: e.cost)
                   if self.min_retention is not None and e.retention >= self.min_retention]
        if meeting and meeting[0] not in best:
            best.append(meeting[0])
        return sorted(best, key=lambda e: e.cost)

    def _estimate(self, alive: list[Entry], steps: int) -> float | None:
        rates = [e.rungs[-1]["s_per_step"] for e in alive if e.rungs]
        if not rates:
            return None
        return sum((steps - e.steps) * (e.rungs[-1]["s_per_step"] if e.rungs else max(rates)) for e in alive)

    def run(self, entries: list[Entry], train: Callable[[list[Entry], int], list[dict[str, Any]]]) -> list[Entry]:
        """Play the rungs; `train(entries, steps)` returns each entry's result (dicts with key, step, retention,
        s_per_step, or error). Returns all entries with their rung history."""
        alive = sorted(entries, key=lambda e: e.cost)
        plan = rung_steps(self.steps_max, len(alive), self.eta)
        for r, steps in enumerate(plan):
            estimate = self._estimate(alive, steps)
            if self.deadline is not None and (time.time() > self.deadline or
                                              (estimate is not None and time.time() + estimate > self.deadline)):
                self.stopped = f"rung {r + 1} ({len(alive)} x {steps} steps, ~{estimate or 0:.0f} s) would not " \
                               "finish within --max-hours"
                self.log(f"[train] stopped: {self.stopped}")
                break
            self.log(f"[train] rung {r + 1}/{len(plan)}: {len(alive)} candidate(s) to {steps} steps")
            by_key = {e.key: e for e in alive}
            for result in train(alive, steps):
                entry = by_key[result["key"]]
                if "error" in result:
                    entry.error = result["error"]
                else:
                    entry.rungs.append({k: result[k] for k in ("step", "retention", "score", "train_s", "s_per_step")})
            if r + 1 < len(plan):
                alive = self.keep(alive)
        return entries
