"""The regression gate: `edgebert report NEW.jsonl --baseline OLD.jsonl` fails (exit 1) naming each breach.

Rows match on model, format, batch, sequence, device (label, or CPU + features) and threads. Latency is compared
as the ratio to the same run's BERT-base PyTorch row on that device when both runs have one (shared machines
drift by 10-40% between runs; a ratio within one run does not), otherwise as raw p50. Size is compared in MB,
accuracy in points of the task metric (x 100), and a bundle whose outputs passed before and fail now is a breach.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from edgebert.bench.rows import SCHEMA_VERSION
from edgebert.errors import UsageError
from edgebert.report.efficiency import BASELINE_MODEL, device_group


@dataclass(frozen=True)
class Limits:
    max_slowdown: float = 0.10  # fraction: 0.10 = 10% slower
    max_size_growth: float = 0.05
    max_accuracy_drop: float = 0.5  # points of the task metric x 100


def parse_fraction(text: str, flag: str) -> float:
    """'10%' or '10' -> 0.10; negative values are usage errors."""
    try:
        value = float(text.strip().rstrip("%")) / 100.0
    except ValueError:
        raise UsageError(f"{flag} takes a percentage such as 10% (got '{text}')") from None
    if value < 0:
        raise UsageError(f"{flag} must not be negative (got '{text}')")
    return value


@dataclass
class Comparison:
    what: str  # "latency" | "size" | "accuracy" | "outputs"
    key: str
    old: float
    new: float
    rule: str
    breach: bool


def _key(row: dict[str, Any]) -> tuple:
    return (row["model"], row["format"], row.get("batch"), row.get("seq_len"), device_group(row))


def _median_p50(rows: list[dict[str, Any]]) -> dict[tuple, float]:
    buckets: dict[tuple, list[float]] = {}
    for r in rows:
        if r.get("status") == "ok" and r.get("golden") not in ("fail", "error"):
            buckets.setdefault(_key(r), []).append(r["p50_ms"])
    return {k: statistics.median(v) for k, v in buckets.items()}


def _check_schema(rows: list[dict[str, Any]], which: str) -> None:
    versions = {r.get("schema_version", 1) for r in rows if r.get("kind") != "eval"}
    if versions and versions != {SCHEMA_VERSION}:
        raise UsageError(f"The {which} rows have schema version {sorted(versions)}; this edgebert writes "
                         f"{SCHEMA_VERSION}. Fix: compare runs measured by the same edgebert version")


def compare(new_rows: list[dict[str, Any]], old_rows: list[dict[str, Any]], new_evals: list[dict[str, Any]],
            old_evals: list[dict[str, Any]], limits: Limits) -> list[Comparison]:
    """Every matched measurement, old vs new, with the rule applied and whether it breaches."""
    _check_schema(new_rows, "new")
    _check_schema(old_rows, "baseline")
    new_p50, old_p50 = _median_p50(new_rows), _median_p50(old_rows)
    out: list[Comparison] = []
    for key in sorted(set(new_p50) & set(old_p50), key=str):
        model, fmt, batch, seq, group = key
        base = (BASELINE_MODEL, "pytorch", batch, seq, group)
        name = f"{model} {fmt} b{batch} s{seq} [{group}]"
        if key == base and base in old_p50:  # the yardstick itself: it measures the machine, not the change
            out.append(Comparison("latency", name, old_p50[key], new_p50[key],
                                  "the ratio rule's yardstick (BERT-base PyTorch): shown, not gated", False))
            continue
        if base in new_p50 and base in old_p50:
            old, new = old_p50[key] / old_p50[base], new_p50[key] / new_p50[base]
            rule = f"p50 / BERT-base PyTorch p50 of the same run <= baseline x {1 + limits.max_slowdown:g}"
        else:
            old, new = old_p50[key], new_p50[key]
            rule = f"raw p50 ms <= baseline x {1 + limits.max_slowdown:g} (no BERT-base row in both runs)"
        out.append(Comparison("latency", name, old, new, rule, new > old * (1 + limits.max_slowdown)))
    sizes_old = {_key(r): r.get("file_mb") for r in old_rows if r.get("status") == "ok" and r.get("file_mb")}
    sizes_new = {_key(r): r.get("file_mb") for r in new_rows if r.get("status") == "ok" and r.get("file_mb")}
    for key in sorted(set(sizes_old) & set(sizes_new), key=str):
        out.append(Comparison("size", f"{key[0]} {key[1]}", sizes_old[key], sizes_new[key],
                              f"size MB <= baseline x {1 + limits.max_size_growth:g}",
                              sizes_new[key] > sizes_old[key] * (1 + limits.max_size_growth)))
    golden_old = {_key(r): r.get("golden") for r in old_rows if r.get("status") == "ok"}
    for r in new_rows:
        if r.get("status") == "ok" and r.get("golden") in ("fail", "error") and golden_old.get(_key(r)) == "pass":
            out.append(Comparison("outputs", f"{r['model']} {r['format']} [{device_group(r)}]", 1.0, 0.0,
                                  "golden check passed in the baseline: it must still pass", True))
    acc_old = {(e["model"], e["format"], e["task"]): 100 * e["score"] for e in old_evals}
    for e in new_evals:
        key = (e["model"], e["format"], e["task"])
        if key in acc_old:
            new = 100 * e["score"]
            out.append(Comparison("accuracy", " ".join(key), acc_old[key], new,
                                  f"task metric x 100 >= baseline - {limits.max_accuracy_drop:g}",
                                  new < acc_old[key] - limits.max_accuracy_drop))
    if not out:
        raise UsageError("No rows of the new results match the baseline (same model, format, batch, sequence, "
                         "device and threads). Fix: compare runs of the same targets")
    return out


def markdown(comparisons: list[Comparison], limits: Limits) -> str:
    lines = ["## Regression gate (vs --baseline)", "",
             f"Rules: latency <= baseline x {1 + limits.max_slowdown:g} (as a ratio to the same run's BERT-base "
             "PyTorch row when both runs have one, raw p50 otherwise); size <= baseline x "
             f"{1 + limits.max_size_growth:g}; accuracy >= baseline - {limits.max_accuracy_drop:g} points; a golden "
             "check that passed must still pass.", "",
             "| check | what | baseline | new | change | rule | result |", "|" + "---|" * 7]
    for c in comparisons:
        change = f"{100 * (c.new / c.old - 1):+.1f}%" if c.old and c.what in ("latency", "size") else \
            f"{c.new - c.old:+.2f}"
        lines.append(f"| {c.what} | {c.key} | {c.old:.4g} | {c.new:.4g} | {change} | {c.rule} | "
                     f"{'BREACH' if c.breach else 'ok'} |")
    return "\n".join(lines + [""])
