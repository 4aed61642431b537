"""Cost first: every candidate exported with seeded random weights and measured on this machine (fresh-process
bench rows: p95 text to answer on --texts, file size, memory under the budget's limit), cheapest first; a candidate
implied to miss (a smaller one in the same format already missed by a margin) or predicted too big is never
exported. Costs can come from another device instead: `--candidates-only` writes the bundles, the device benches
them, and `--costs rows.jsonl` reads its rows back (matched on the candidate's name, which keys the teacher too).
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgebert.bench.rows import Row, append_rows, read_rows
from edgebert.errors import UsageError, first_line
from edgebert.fit.budget import Budget
from edgebert.fit.shape import SIZE_SLACK, Candidate

MARGIN = 1.1  # a measured miss implies larger shapes miss only beyond this (the VM's run-to-run noise)
RECORDS = "cost-records.jsonl"
ROWS = "cost-rows.jsonl"


@dataclass
class CostContext:
    """What measuring a candidate needs; `tokenizers` maps a vocabulary size to its tokenizer."""

    teacher_dir: Path
    teacher_config: Any
    tokenizers: dict[int, Any]
    texts: list[str]
    texts_name: str
    work: Path
    budget: Budget
    threads: int = 0
    min_seconds: float = 2.0
    warmup: int = 10
    log: Callable[[str], None] = field(default=lambda m: None)

    @property
    def profile(self) -> dict[str, Any]:
        """The device profile every cost row runs under (part of a record's resume key)."""
        b = self.budget
        return {"memory_limit_mb": b.max_memory_mb, "cpu_quota": b.cpu_quota, "threads": self.threads,
                "texts": self.texts_name, "texts_count": len(self.texts)}


def export_candidate(c: Candidate, ctx: CostContext, dest: Path) -> None:
    """The candidate's bundle with random weights (parity-gated like any export)."""
    from edgebert.export import export_model
    from edgebert.fit.student import random_candidate
    from edgebert.formats.base import ExportOptions

    model = random_candidate(c, ctx.teacher_config, ctx.tokenizers[c.shape.vocab], ctx.teacher_dir)
    opts = ExportOptions(seq_lens=[c.seq] if c.seq else [128],
                         fp32_layers={"fp32": "emb", "int8": "none"}.get(c.embedding, "auto"))
    export_model(model, c.format, dest, opts, force=True)


def _spec(bundle: Path, ctx: CostContext) -> Any:
    from edgebert.bench.spec import Target
    from edgebert.bench.sweep import SweepConfig, plan

    cfg = SweepConfig(threads=ctx.threads, warmup=ctx.warmup, min_seconds=ctx.min_seconds, min_runs=1,
                      texts=ctx.texts, texts_name=ctx.texts_name)
    return plan([Target("bundle", str(bundle))], cfg)[0]


def _worker(spec: Any, ctx: CostContext, why_not: str | None) -> tuple[Row | None, Any]:
    """Run one bench worker: under the budget's cgroup limits when it has them and they work here, else plainly;
    inside `flock $EDGEBERT_MEASURE_LOCK` when that is set (shared machines: one timing at a time)."""
    import subprocess

    from edgebert.bench.sweep import WORKER_MODULE
    from edgebert.fit.limits import LimitedRun, run_limited

    b = ctx.budget
    env = {**os.environ, "OMP_NUM_THREADS": str(spec.threads), "TOKENIZERS_PARALLELISM": "false",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    lock = os.environ.get("EDGEBERT_MEASURE_LOCK")
    with tempfile.TemporaryDirectory(prefix="edgebert-fit-row-") as tmp:
        out = Path(tmp) / "row.json"
        cmd = (["flock", lock] if lock else []) + [sys.executable, "-m", WORKER_MODULE, str(out)]
        if why_not is None and (b.max_memory_mb is not None or b.cpu_quota is not None):
            run = run_limited(cmd, b.max_memory_mb or 1e6, b.cpu_quota, stdin=spec.to_json(), env=env, timeout_s=900)
        else:
            proc = subprocess.run(cmd, input=spec.to_json(), capture_output=True, text=True, env=env, timeout=900)
            run = LimitedRun(proc.returncode, False, 0.0, 0.0, 0.0, proc.stderr)
        return (Row.from_dict(json.loads(out.read_text())) if out.is_file() else None), run


def limited_row(bundle: Path, ctx: CostContext, why_not: str | None) -> tuple[Row, dict[str, Any]]:
    """One texts row in a fresh worker and what it says about memory: fit or OOM-killed under the cgroup limit, or
    (no limit, or cgroups not writable here) the worker's peak RSS against the limit, marked as an estimate."""
    spec, b = _spec(bundle, ctx), ctx.budget
    row, run = _worker(spec, ctx, why_not)
    if row is None:
        from dataclasses import replace

        from edgebert.bench.rows import start_row
        from edgebert.device_info import machine_fields

        tail = [ln for ln in run.stderr.strip().splitlines() if ln.strip()][-1:]
        reason = "OOM-killed" if run.oom_killed else f"worker exited {run.returncode}: {''.join(tail)[:200]}"
        row = replace(start_row(spec, machine_fields()), reason=reason)
    limited = why_not is None and (b.max_memory_mb is not None or b.cpu_quota is not None)
    if not limited:
        return row, {"check": "estimate", "observed_mb": row.peak_rss_mb,
                     "fits": row.ok and (b.max_memory_mb is None or (row.peak_rss_mb or 0) <= b.max_memory_mb),
                     "how": f"peak RSS {row.peak_rss_mb} MB, no limit applied" + (f" ({why_not})" if why_not else "")}
    how = ("OOM-killed" if run.oom_killed else "ran") + f" under a {b.max_memory_mb:g} MB cgroup limit" \
        if b.max_memory_mb else "ran without a memory limit"
    return row, {"check": "cgroup-v1", "limit_mb": b.max_memory_mb, "cpu_quota": b.cpu_quota,
                 "fits": row.ok and not run.oom_killed, "oom_killed": run.oom_killed,
                 "charged_max_mb": run.max_usage_mb, "observed_mb": run.max_usage_mb, "peak_rss_mb": row.peak_rss_mb,
                 "throttled_s": run.throttled_s,
                 "how": how + (f", charged {run.max_usage_mb:g} MB at most" if b.max_memory_mb else "")}


def row_costs(row: Row) -> dict[str, Any]:
    """A texts row's cost fields."""
    return {"p50_ms": row.p50_ms, "p95_ms": row.p95_ms, "p99_ms": row.p99_ms, "file_mb": row.file_mb,
            "peak_rss_mb": row.peak_rss_mb, "tokens_p50": row.tokens_p50, "padded_tokens_p90": row.padded_tokens_p90,
            "golden": row.golden, "cpu": row.cpu, "cpu_features": [f for f in row.cpu_features if "avx512_vnni" in f
                                                                     or f in ("avx2", "asimddp", "i8mm")],
            "threads": row.threads, "runtime_version": row.runtime_version}


def measure(c: Candidate, ctx: CostContext, why_not: str | None) -> dict[str, Any]:
    """Export (reusing a finished bundle) and measure one candidate; the cost record."""
    from edgebert.bundle import MANIFEST

    bundle = ctx.work / "cand" / c.name
    if not (bundle / MANIFEST).is_file():
        try:
            export_candidate(c, ctx, bundle)
        except Exception as err:  # noqa: BLE001 - one failed export drops that candidate, the search goes on
            return {"status": "dropped", "reason": f"export failed: {type(err).__name__}: {first_line(err)}"}
    row, memory = limited_row(bundle, ctx, why_not)
    append_rows(ctx.work / ROWS, [row.to_dict()])
    if not row.ok and not (memory.get("oom_killed")):
        return {"status": "dropped", "reason": f"bench failed: {row.reason}"}
    return {"status": "measured", "costs": {**row_costs(row), "memory": memory}}


def _implied(c: Candidate, missed: list[tuple[Candidate, str]]) -> str | None:
    for small, why in missed:
        if small.group() == c.group() and small.shape.within(c.shape):
            return f"implied by {small.label} ({why})"
    return None


def predicted_miss(c: Candidate, budget: Budget) -> str | None:
    mb = c.predicted_mb()
    if budget.max_size_mb is not None and mb * SIZE_SLACK > budget.max_size_mb:
        return f"predicted {mb:.1f} MB (parameters x bytes) > --max-size-mb {budget.max_size_mb:g}"
    return None


def _load_records(path: Path, profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a killed run
            if rec.get("profile") == profile:
                done[rec["name"]] = rec
    return done


def limits_unavailable(budget: Budget) -> str | None:
    """Why the budget's memory limit / CPU quota cannot be applied here (None: they can, or there are none)."""
    from edgebert.fit.limits import unavailable

    return unavailable(cpu=budget.cpu_quota is not None) if budget.max_memory_mb or budget.cpu_quota else None


def run_costs(cands: list[Candidate], ctx: CostContext) -> dict[str, dict[str, Any]]:
    """Every candidate's cost record, cheapest first; finished ones (same device profile) are read back."""
    why_not = limits_unavailable(ctx.budget)
    done = _load_records(ctx.work / RECORDS, ctx.profile)
    missed: list[tuple[Candidate, str]] = []
    out: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(cands, 1):
        rec = done.get(c.name)
        kept = rec is not None
        if rec is None:
            reason = predicted_miss(c, ctx.budget) or _implied(c, missed)
            rec = {"status": "dropped", "reason": reason} if reason else measure(c, ctx, why_not)
            rec = {"name": c.name, "profile": ctx.profile, **rec}
            append_rows(ctx.work / RECORDS, [rec])
        out[c.name] = rec
        misses = [k for k, v in ctx.budget.cost_ratios(rec.get("costs") or {}).items() if v > MARGIN]
        if misses:
            missed.append((c, ", ".join(ctx.budget.miss_text(k, rec["costs"], None) for k in misses)))
        ctx.log(f"[costs {i}/{len(cands)}] {c.label}: " + _summary(rec) + (" (kept from an earlier run)" if kept else ""))
    return out


def _summary(rec: dict[str, Any]) -> str:
    cost = rec.get("costs")
    if not cost:
        return rec.get("reason", rec["status"])
    p95 = f"p95 {cost['p95_ms']:.3g} ms" if cost.get("p95_ms") is not None else "no latency"
    return f"{p95}, {cost.get('file_mb')} MB, memory {cost['memory'].get('how', '')}"


def board_costs(path: Path, cands: list[Candidate], budget: Budget) -> dict[str, dict[str, Any]]:
    """Cost records from another device's bench rows (`edgebert bench CAND/* --texts ... --out rows.jsonl`)."""
    rows = [r for r in read_rows(path) if r.ok and r.input.startswith("texts:")]  # a foreign schema: UsageError
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        by_name.setdefault(row.model, []).append(row)
    names = {c.name for c in cands}
    if not names & set(by_name):
        seen = ", ".join(sorted(by_name)[:3]) or "none with text-to-answer rows"
        raise UsageError(f"Costs file '{path}' has no text-to-answer rows for this fit's candidates (it measured "
                         f"{seen}): rows from another teacher, search space or edgebert. Fix: bench the bundles "
                         "`fit --candidates-only` wrote for this teacher, with --texts")
    if any(r.p95_ms is None for name in names & set(by_name) for r in by_name[name]):
        raise UsageError(f"Costs file '{path}' has rows without p95_ms (an older edgebert). Fix: bench again")
    out = {}
    for c in cands:
        found = by_name.get(c.name)
        if not found:
            out[c.name] = {"name": c.name, "status": "dropped", "reason": f"no row in {path.name}"}
            continue
        row = sorted(found, key=lambda r: r.p95_ms or 0)[len(found) // 2]  # the median row by p95
        cost = row_costs(row)
        cost["p95_ms"] = statistics.median(r.p95_ms for r in found)
        limit = budget.max_memory_mb
        cost["memory"] = {"check": "estimate", "observed_mb": row.peak_rss_mb, "how": f"peak RSS {row.peak_rss_mb} "
                          "MB on the device (its rows carry no cgroup limit)",
                          "fits": limit is None or (row.peak_rss_mb or 0) <= limit}
        out[c.name] = {"name": c.name, "status": "measured", "costs": cost, "rows": len(found),
                       "device": row.device_label or row.board or row.cpu}
    return out
