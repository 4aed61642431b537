"""What a deployer decides with, from measurements: cost per million requests, the best artifact per scenario,
and the Pareto front of latency against size (accuracy where eval rows exist). The seed answers these with assumed
scores (its cost and scenario charts); here every figure comes from bench and eval rows.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgebert.device_info import DeviceKey
from edgebert.errors import UsageError
from edgebert.report.common import reference, save_chart, short_name
from edgebert.report.efficiency import TableRow

# USD per core-hour: about what a general-purpose cloud vCPU cost on demand in 2026 (e.g. ~$0.045-0.05 for
# c7i/n2 per vCPU-hour). Override with --price-per-hour; relative costs do not depend on it.
DEFAULT_PRICE_PER_CORE_HOUR = 0.05


@dataclass(frozen=True)
class Scenario:
    """Constraints an artifact must meet (None: no limit) and what "best" minimises among those that do."""

    name: str
    seed_name: str  # the seed's scenario it answers
    objective: str  # a Candidate field to minimise
    max_p50_ms: float | None = None
    max_p99_ms: float | None = None
    max_memory_mb: float | None = None  # peak RSS of the process running the model
    max_file_mb: float | None = None
    min_retention_pct: float | None = None  # where eval rows exist

    def describe(self) -> str:
        limits = [f"{k} {v:g}" for k, v in (("p50 ms <=", self.max_p50_ms), ("p99 ms <=", self.max_p99_ms),
                                             ("peak RSS MB <=", self.max_memory_mb), ("size MB <=", self.max_file_mb),
                                             ("retention % >=", self.min_retention_pct)) if v is not None]
        return ", ".join(limits) + f"; best = lowest {self.objective.replace('_', ' ')}"


SCENARIOS = {
    "mobile-app": Scenario("mobile app", "移动端部署 (mobile deployment)", "file_mb", max_p50_ms=100,
                           max_memory_mb=400, max_file_mb=100, min_retention_pct=97),
    "real-time-service": Scenario("real-time service", "实时系统 (real-time systems)", "p99_ms", max_p99_ms=50,
                                  min_retention_pct=98),
    "edge-box": Scenario("edge box", "边缘计算 (edge computing)", "peak_rss_mb", max_p50_ms=200, max_memory_mb=600,
                         min_retention_pct=97),
    "batch-server": Scenario("batch server", "生产服务 (production services)", "cost_per_million",
                             min_retention_pct=99),
}


@dataclass
class Candidate:
    """One measured artifact on one device, with what scenarios and costs are computed from."""

    group: DeviceKey
    model: str
    format: str
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    file_mb: float | None
    threads: int
    golden: str
    retention_pct: float | None = None
    cost_per_million: float = 0.0
    requests_per_core_s: float = 0.0


def candidates(table: list[TableRow], evals: list[dict[str, Any]], price_per_core_hour: float) -> list[Candidate]:
    """Table rows (real hardware only) with their device's threads, cost, and eval retention."""
    if not price_per_core_hour > 0:
        raise UsageError(f"--price-per-hour must be positive (got {price_per_core_hour:g})")
    retention = {(e["model"], e["format"]): e.get("retention_pct") for e in evals}
    out = []
    for t in table:
        if t.group.emulated:
            continue
        threads = t.group.threads
        # batch-1 latency on `threads` cores: requests per core-second, and the cores' cost per million requests
        per_core = 1e3 / t.p50_ms / threads
        out.append(Candidate(t.group, t.model, t.format, t.p50_ms, t.p99_ms, t.peak_rss_mb, t.size_mb, threads,
                             t.golden, retention.get((t.model, t.format)), 1e6 / (per_core * 3600) * price_per_core_hour,
                             per_core))
    return out


def override(scenarios: dict[str, Scenario], settings: list[str]) -> dict[str, Scenario]:
    """Apply --constraint SCENARIO.FIELD=VALUE (e.g. mobile-app.max_file_mb=50; 'none' removes a limit)."""
    result = dict(scenarios)
    for item in settings:
        try:
            left, value = item.split("=", 1)
            key, name = left.split(".", 1)
        except ValueError:
            raise UsageError(f"--constraint '{item}' must look like mobile-app.max_file_mb=50") from None
        if key not in result:
            raise UsageError(f"Unknown scenario '{key}' in --constraint. Valid: {', '.join(result)}")
        fields = [f for f in Scenario.__dataclass_fields__ if f.startswith(("max_", "min_"))] + ["objective"]
        if name not in fields:
            raise UsageError(f"Unknown constraint '{name}'. Valid: {', '.join(fields)}")
        if name == "objective":
            if value not in ("p50_ms", "p99_ms", "peak_rss_mb", "file_mb", "cost_per_million"):
                raise UsageError(f"objective '{value}' must be p50_ms, p99_ms, peak_rss_mb, file_mb or "
                                 "cost_per_million")
            result[key] = replace(result[key], objective=value)
            continue
        try:
            number = None if value.lower() == "none" else float(value)
        except ValueError:
            raise UsageError(f"--constraint '{item}': '{value}' is not a number") from None
        if number is not None and number < 0:
            raise UsageError(f"--constraint '{item}' must not be negative")
        result[key] = replace(result[key], **{name: number})
    return result


def meets(c: Candidate, s: Scenario) -> tuple[bool, str]:
    """Whether a candidate qualifies, and the first reason it does not."""
    if c.golden == "FAIL":
        return False, "outputs failed the golden check"
    for value, limit, what in ((c.p50_ms, s.max_p50_ms, "p50"), (c.p99_ms, s.max_p99_ms, "p99"),
                               (c.peak_rss_mb, s.max_memory_mb, "memory"), (c.file_mb, s.max_file_mb, "size")):
        if limit is not None and value is not None and value > limit:
            return False, f"{what} {value:.0f} > {limit:g}"
    if s.min_retention_pct is not None and c.retention_pct is not None and c.retention_pct < s.min_retention_pct:
        return False, f"retention {c.retention_pct:.1f}% < {s.min_retention_pct:g}%"
    return True, ""


def pick(cands: list[Candidate], s: Scenario) -> tuple[Candidate | None, int]:
    """The best qualifying candidate (lowest objective) and how many qualified."""
    ok = [c for c in cands if meets(c, s)[0]]
    key = (lambda c: (getattr(c, s.objective) if getattr(c, s.objective) is not None else float("inf"), c.p50_ms))
    return (min(ok, key=key) if ok else None), len(ok)


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """Candidates no other beats on both latency and size (good outputs only)."""
    good = [c for c in cands if c.golden != "FAIL" and c.file_mb is not None]
    return [c for c in good if not any(o is not c and o.p50_ms <= c.p50_ms and o.file_mb <= c.file_mb and
                                       (o.p50_ms < c.p50_ms or o.file_mb < c.file_mb) for o in good)]


def markdown(cands: list[Candidate], scenarios: dict[str, Scenario], price: float) -> str:
    front = pareto(cands)
    return "\n".join(_cost_lines(cands, price) + _scenario_lines(cands, scenarios) + [
        "", "Pareto front (no other artifact is both faster and smaller): "
        + ", ".join(f"{c.model} {c.format} ({c.p50_ms:.0f} ms, {c.file_mb:.0f} MB)" for c in front), "",
        "![cost](cost.png) ![pareto](pareto.png)", ""])


def _seed_chart(section: str, what: str, units: str, other: str = "") -> str:
    """One of the seed's assumed (not measured) charts from reference.json: DistilBERT's figures (beside `other`'s)."""
    seed = {k: v for k, v in reference()[section].items() if not k.startswith("_")}
    return (f"The seed's {what} chart is assumed, not measured ({units}): "
            + ", ".join(f"{k} {v['DistilBERT']}" + (f" vs {v[other]}" if other else "") for k, v in seed.items()) + ".")


def _cost_lines(cands: list[Candidate], price: float) -> list[str]:
    lines = ["## Measured cost", "",
             f"Batch 1 at each row's thread count; price {price:g} USD per core-hour (`--price-per-hour`). "
             "Cost per million requests = cores busy per request x price. Memory and storage per instance are the "
             "process's peak RSS and the model files.", "",
             "| device | model | format | p50 ms | requests/s per core | USD per 1M requests | peak RSS MB | "
             "size MB | parity |", "|" + "---|" * 9]
    for c in sorted(cands, key=lambda c: (c.group, c.cost_per_million)):
        lines.append(f"| {c.group} | {c.model} | {c.format} | {c.p50_ms:.1f} | {c.requests_per_core_s:.2f} | "
                     f"{c.cost_per_million:.3f} | {c.peak_rss_mb:.0f} | "
                     f"{'–' if c.file_mb is None else f'{c.file_mb:.1f}'} | {c.golden} |")
    return lines + ["", _seed_chart("cost_seed", "cost", "BERT-base = 100"), ""]


def _scenario_lines(cands: list[Candidate], scenarios: dict[str, Scenario]) -> list[str]:
    lines = ["## Scenario picks", "",
             "The best measured artifact per scenario (`--constraint SCENARIO.FIELD=VALUE` changes a limit). "
             "Artifacts whose outputs failed their golden check are never picked; retention limits apply where "
             "eval rows exist.", "",
             "| scenario (seed) | device | constraints | pick | qualifying | p50 ms | size MB | peak RSS MB | "
             "retention % |", "|" + "---|" * 9]
    for s in scenarios.values():
        for group in sorted({c.group for c in cands}):
            best, n = pick([c for c in cands if c.group == group], s)
            row = f"| {s.name} ({s.seed_name}) | {group} | {s.describe()} | "
            if best is None:
                lines.append(row + "none qualifies | 0 | – | – | – | – |")
            else:
                lines.append(row + f"{best.model} {best.format} | {n} | {best.p50_ms:.1f} | "
                             f"{'–' if best.file_mb is None else f'{best.file_mb:.1f}'} | {best.peak_rss_mb:.0f} | "
                             f"{'–' if best.retention_pct is None else f'{best.retention_pct:.1f}'} |")
    return lines + ["", _seed_chart("scenarios_seed", "scenario", "suitability 1-10, DistilBERT vs BERT", "BERT")]


def plot(cands: list[Candidate], out_dir: Path) -> list[Path]:
    """cost.png (measured cost per million, with the seed's assumed relative figure) and pareto.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(cands) + 2), 4.8))
    labels = [f"{short_name(c.model, 14)} {c.format}" for c in cands]
    bars = ax.bar(range(len(cands)), [c.cost_per_million for c in cands],
                  color=["#d62728" if c.golden == "FAIL" else "#1f77b4" for c in cands])
    ax.bar_label(bars, fmt="%.3f", fontsize=6)
    base = next((c for c in cands if c.format == "pytorch" and c.model.startswith("bert-base")), None)
    if base is not None:
        seed = reference()["cost_seed"]["inference_cost"]
        share = seed["DistilBERT"] / seed["BERT"]
        ax.axhline(share * base.cost_per_million, color="grey", linestyle="--", linewidth=1,
                   label=f"seed's assumed DistilBERT inference cost ({share:.0%} of BERT-base)")
        ax.legend(fontsize=7)
    ax.set_xticks(range(len(cands)), labels, fontsize=7, rotation=45, ha="right")
    ax.set_ylabel("USD per million requests (batch 1)")
    ax.set_title("measured cost")
    paths.append(save_chart(fig, out_dir / "cost.png"))

    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    front = {id(c) for c in pareto(cands)}
    for c in cands:
        if c.file_mb is None:
            continue
        marker = "x" if c.golden == "FAIL" else ("*" if id(c) in front else "o")
        ax.scatter(c.p50_ms, c.file_mb, marker=marker, s=70 if marker == "*" else 35)
        text = f"{short_name(c.model, 12)} {c.format}" + (
            f" ({c.retention_pct:.0f}%)" if c.retention_pct else "")
        ax.annotate(text, (c.p50_ms, c.file_mb), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("p50 latency, ms (batch 1)")
    ax.set_ylabel("size, MB")
    ax.set_title("latency vs size (star: Pareto front; x: outputs failed; % retention where evaluated)")
    paths.append(save_chart(fig, out_dir / "pareto.png"))
    return paths
