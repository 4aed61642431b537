"""The regression gate: `edgebert report NEW.jsonl --baseline OLD.jsonl` fails (exit 1) naming each breach.

Rows match on model, format, batch, sequence and device (device_info.DeviceKey: label or board, CPU, machine,
features, threads, emulation). Latency is compared as the ratio to the same run's BERT-base PyTorch row on that
device when both runs have one (shared machines drift by 10-40% between runs; a ratio within one run does not),
otherwise as raw p50. Size is compared in MB, accuracy in points of the task metric (x 100), and a bundle whose
outputs passed before and fail now is a breach.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from edgebert.bench.rows import SCHEMA_VERSION, Row
from edgebert.device_info import DeviceKey
from edgebert.errors import UsageError
from edgebert.report.common import BASELINE_MODEL, tell_bundles_apart

Key = tuple[str, str, int, int, DeviceKey]  # model, format, batch, seq_len, device


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


def _key(row: Row) -> Key:
    return (row.model, row.format, row.batch, row.seq_len, row.device_key)


def _name(key: Key) -> str:
    model, fmt, batch, seq, device = key
    return f"{model} {fmt} b{batch} s{seq} [{device}]"


def _median_p50(rows: list[Row]) -> dict[Key, float]:
    buckets: dict[Key, list[float]] = {}
    for r in rows:
        if r.ok and not r.wrong_outputs:
            buckets.setdefault(_key(r), []).append(r.p50_ms)
    return {k: statistics.median(v) for k, v in buckets.items()}


def _check_schema(rows: list[Row], which: str) -> None:
    versions = {r.schema_version for r in rows}
    if versions and versions != {SCHEMA_VERSION}:
        raise UsageError(f"The {which} rows have schema version {sorted(versions)}; this edgebert writes "
                         f"{SCHEMA_VERSION}. Fix: compare runs measured by the same edgebert version")


def _latency(new_rows: list[Row], old_rows: list[Row], limits: Limits) -> list[Comparison]:
    new_p50, old_p50 = _median_p50(new_rows), _median_p50(old_rows)
    out: list[Comparison] = []
    for key in sorted(set(new_p50) & set(old_p50)):
        model, fmt, batch, seq, device = key
        base = (BASELINE_MODEL, "pytorch", batch, seq, device)
        if key == base:  # the yardstick itself: it measures the machine, not the change
            out.append(Comparison("latency", _name(key), old_p50[key], new_p50[key],
                                  "the ratio rule's yardstick (BERT-base PyTorch): shown, not gated", False))
            continue
        if base in new_p50 and base in old_p50:
            old, new = old_p50[key] / old_p50[base], new_p50[key] / new_p50[base]
            rule = f"p50 / BERT-base PyTorch p50 of the same run <= baseline x {1 + limits.max_slowdown:g}"
        else:
            old, new = old_p50[key], new_p50[key]
            rule = f"raw p50 ms <= baseline x {1 + limits.max_slowdown:g} (no BERT-base row in both runs)"
        out.append(Comparison("latency", _name(key), old, new, rule, new > old * (1 + limits.max_slowdown)))
    return out


def _sizes_and_outputs(new_rows: list[Row], old_rows: list[Row], limits: Limits) -> list[Comparison]:
    sizes_old = {_key(r): r.file_mb for r in old_rows if r.ok and r.file_mb}
    sizes_new = {_key(r): r.file_mb for r in new_rows if r.ok and r.file_mb}
    out = [Comparison("size", f"{key[0]} {key[1]}", sizes_old[key], sizes_new[key],
                      f"size MB <= baseline x {1 + limits.max_size_growth:g}",
                      sizes_new[key] > sizes_old[key] * (1 + limits.max_size_growth))
           for key in sorted(set(sizes_old) & set(sizes_new))]
    golden_old = {_key(r): r.golden for r in old_rows if r.ok}
    out += [Comparison("outputs", f"{r.model} {r.format} [{r.device_key}]", 1.0, 0.0,
                       "golden check passed in the baseline: it must still pass", True)
            for r in new_rows if r.wrong_outputs and golden_old.get(_key(r)) == "pass"]
    return out


def _accuracy(new_evals: list[dict[str, Any]], old_evals: list[dict[str, Any]], limits: Limits) -> list[Comparison]:
    old = {(e["model"], e["format"], e["task"]): 100 * e["score"] for e in old_evals}
    return [Comparison("accuracy", " ".join(key), old[key], 100 * e["score"],
                       f"task metric x 100 >= baseline - {limits.max_accuracy_drop:g}",
                       100 * e["score"] < old[key] - limits.max_accuracy_drop)
            for e in new_evals if (key := (e["model"], e["format"], e["task"])) in old]


def compare(new_rows: list[Row], old_rows: list[Row], new_evals: list[dict[str, Any]],
            old_evals: list[dict[str, Any]], limits: Limits) -> list[Comparison]:
    """Every matched measurement, old vs new, with the rule applied and whether it breaches."""
    _check_schema(new_rows, "new")
    _check_schema(old_rows, "baseline")
    # both runs labelled together, so a bundle named in either is told apart in both (and matched by name)
    rows, evals = tell_bundles_apart(new_rows + old_rows, new_evals + old_evals)
    new_rows, old_rows = rows[:len(new_rows)], rows[len(new_rows):]
    new_evals, old_evals = evals[:len(new_evals)], evals[len(new_evals):]
    out = _latency(new_rows, old_rows, limits) + _sizes_and_outputs(new_rows, old_rows, limits)
    out += _accuracy(new_evals, old_evals, limits)
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
