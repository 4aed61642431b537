"""What a fit leaves: candidates.jsonl (every candidate: shape, format, measured costs, retention where trained,
why dropped), report.md with the Pareto chart (held-out retention vs p95 latency, marker area = size, the budget
drawn in) and the cost chart (p95 vs GFLOP), fit.json (time split), and the verdict when nothing meets the budget."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgebert.fit.budget import Budget, closest
from edgebert.fit.prepare import MARKER, FitRequest
from edgebert.fit.shape import Candidate


def _trained_by_shape(trained: dict[str, Any]) -> dict[str, tuple[Any, bool]]:
    """shape key -> (entry, survived to the last rung played)."""
    top = max((len(e.rungs) for e in trained["entries"]), default=0)
    out = {}
    for key, (job, cs) in trained["jobs"].items():
        entry = next(e for e in trained["entries"] if e.key == key)
        out[cs[0].shape.key()] = (entry, len(entry.rungs) == top)
    return out


def _status(req: FitRequest, c: Candidate, rec: dict[str, Any], by_shape: dict, skipped: set[str],
            chosen_name: str | None, failures: dict[str, str]) -> tuple[str, str]:
    if c.name == chosen_name:
        return "chosen", ""
    if rec.get("status") != "measured":
        return "dropped", rec.get("reason", "")
    misses = req.budget.misses(rec["costs"])
    if misses:
        return "dropped", "; ".join(req.budget.miss_text(m, rec["costs"], None) for m in misses)
    if c.name in failures:
        return "trained", failures[c.name]
    if c.shape.key() in skipped:
        return "not trained", "beyond --max-trained (trained shapes spread over the cost range)"
    entry, last = by_shape.get(c.shape.key(), (None, False))
    if entry is None or not entry.rungs:
        return "not trained", entry.error if entry is not None and entry.error else "training stopped (--max-hours)"
    why = "" if last else f"eliminated after rung {len(entry.rungs)} (successive halving)"
    if req.budget.min_retention is not None and entry.retention < req.budget.min_retention:
        why = req.budget.miss_text("retention", {}, entry.retention) + (f"; {why}" if why else "")
    return "trained", why


def build_records(req: FitRequest, cands: list[Candidate], costs: dict[str, dict], trained: dict[str, Any],
                  chosen: dict[str, Any] | None, failures: dict[str, str]) -> list[dict[str, Any]]:
    by_shape = _trained_by_shape(trained)
    skipped = {cs[0].shape.key() for cs in trained["skipped"]}
    chosen_name = chosen["candidate"]["name"] if chosen else None
    records = []
    for c in cands:
        rec = costs.get(c.name) or {"status": "dropped", "reason": "not measured"}
        status, reason = _status(req, c, rec, by_shape, skipped, chosen_name, failures)
        entry = by_shape.get(c.shape.key(), (None, False))[0]
        records.append({**c.to_dict(), "status": status, "reason": reason, "costs": rec.get("costs"),
                        "retention": entry.retention if entry else None,
                        "rungs": entry.rungs if entry else [], "training_key": entry.key if entry else None})
    return records


def verdict(budget: Budget, records: list[dict[str, Any]]) -> str:
    """One line: the binding constraint and the closest candidate."""
    near = closest(budget, records)
    if near is None:
        return "No candidate could be measured (see candidates.jsonl for each one's reason)"
    rec, limit = near
    flag = {"latency": "--max-latency-ms", "size": "--max-size-mb", "memory": "--max-memory-mb",
            "retention": "--min-retention"}[limit]
    return (f"No candidate meets the budget; {flag} binds: the closest is {rec['label']} "
            f"({budget.miss_text(limit, rec['costs'], rec.get('retention'))})")


def _fmt(value: Any, pattern: str = "{:.3g}") -> str:
    return "" if value is None else pattern.format(value)


def _table(records: list[dict[str, Any]]) -> list[str]:
    lines = ["| candidate | GFLOP s128 | params | MB | p95 ms | memory | held-out retention | status | why |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        cost = r.get("costs") or {}
        mem = (cost.get("memory") or {})
        memory = ("fit" if mem.get("fits") else "OOM" if mem.get("oom_killed") else "over") + \
            f" ({mem.get('check')}, {mem.get('observed_mb')} MB)" if mem else ""
        lines.append(f"| {r['label']} | {r['gflop_s128']:.2f} | {r['params'] / 1e6:.2f}M | {_fmt(cost.get('file_mb'))}"
                     f" | {_fmt(cost.get('p95_ms'))} | {memory} | {_fmt(r.get('retention'), '{:.1%}')} | "
                     f"{r['status']} | {r['reason'].replace('|', '/')} |")
    return lines


def _charts(out: Path, records: list[dict[str, Any]], budget: Budget) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgebert.report.common import save_chart

    measured = [r for r in records if (r.get("costs") or {}).get("p95_ms") is not None]
    trained = [r for r in measured if r.get("retention") is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in trained:
        ax.scatter(r["costs"]["p95_ms"], 100 * r["retention"], s=20 + 8 * (r["costs"].get("file_mb") or 0),
                   alpha=0.6, color="tab:red" if r["status"] == "chosen" else "tab:blue")
        ax.annotate(r["label"], (r["costs"]["p95_ms"], 100 * r["retention"]), fontsize=6)
    if budget.max_latency_ms:
        ax.axvline(budget.max_latency_ms, color="gray", ls="--", label=f"--max-latency-ms {budget.max_latency_ms:g}")
    if budget.min_retention:
        ax.axhline(100 * budget.min_retention, color="gray", ls=":", label=f"--min-retention {budget.min_retention:g}")
    ax.set(xlabel="p95 text to answer (ms, random-weight bundle)", ylabel="held-out retention (%)",
           title="Trained candidates (marker area ~ size MB; red: chosen)")
    if budget.max_latency_ms or budget.min_retention:
        ax.legend(fontsize=7)
    save_chart(fig, out / "pareto.png")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for fmt in sorted({r["format"] for r in measured}):
        pts = [r for r in measured if r["format"] == fmt]
        ax.scatter([r["gflop_s128"] for r in pts], [r["costs"]["p95_ms"] for r in pts], label=fmt, alpha=0.7)
    if budget.max_latency_ms:
        ax.axhline(budget.max_latency_ms, color="gray", ls="--")
    ax.set(xlabel="GFLOP per sequence at 128 tokens", ylabel="p95 text to answer (ms)", title="Measured costs")
    ax.legend(fontsize=7)
    save_chart(fig, out / "costs.png")
    return ["![Pareto](pareto.png)", "", "![Costs](costs.png)"]


def _header(req: FitRequest, result: Any) -> list[str]:
    b, notes = req.budget, result.notes
    budget = ", ".join(f"{k} {v:g}" for k, v in b.to_dict().items()) or "none (every limit optional)"
    lines = [f"# edgebert fit: {Path(req.teacher).name}", "",
             f"Budget: {budget}. Texts: {req.texts_name} ({len(req.texts)}); static lengths tried: {notes['lengths']}.",
             f"Data: {req.data} ({notes['data']['train']} training rows); held out: {notes['data']['held_out']}; "
             f"teacher's held-out {notes['meta']['metric']}: {notes['meta']['teacher_score']:.4f}.",
             f"Importance: {notes['meta']['importance']['method']} on {notes['meta']['importance']['examples']} "
             "training rows; heads and FFN neurons pruned uniformly per layer (each layer keeps its own best).", ""]
    if result.chosen:
        c, art = result.chosen["candidate"], result.chosen["artifact"]
        real = result.chosen.get("real_weights_row") or {}
        lines += [f"**Chosen: {c['label']}** -> `chosen/` ({c['params'] / 1e6:.2f}M parameters). Held-out "
                  f"{art['metric']} of the bundle {art['score']:.4f} = {100 * art['retention']:.1f}% of the teacher's; "
                  f"p95 {_fmt(real.get('p95_ms'))} ms with its real weights "
                  f"({_fmt(result.chosen['costs_random_weights'].get('p95_ms'))} ms random), "
                  f"{_fmt(real.get('file_mb'))} MB, memory: {(real.get('memory') or {}).get('how', '')}.", ""]
    else:
        lines += [f"**Nothing meets the budget.** {result.verdict}.", ""]
    if notes.get("vocab"):
        v = notes["vocab"]
        lines += [f"Vocabulary shrink: {v['old_vocab']} -> {v['new_vocab']} pieces; on {v['measured_on']}: "
                  f"{v['new_unk']} new [UNK] tokens of {v['tokens']} ({100 * v['unk_rate']:.3f}%), "
                  f"{v['retokenized_texts']} of {v['texts']} texts tokenized differently "
                  f"({100 * v['retokenized_rate']:.1f}%; retention above is measured with the shrunk tokenizer).", ""]
    if notes.get("stopped"):
        lines += [f"Training stopped early: {notes['stopped']}.", ""]
    split = ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in result.seconds.items())
    lines += [f"Time: {split}." + (" Costs came from another device's rows (--costs)." if notes.get("board") else ""),
              "", "Latency is p95 text to answer on the texts (bench --texts, fresh process per row); memory is "
              "judged on a cgroup limit (fit = not OOM-killed) where cgroups are writable, else on peak RSS "
              "(marked estimate).", ""]
    return lines


def write_outputs(req: FitRequest, result: Any) -> None:
    """candidates.jsonl, report.md (+ charts) and fit.json, each written whole (temp file, then rename)."""
    out = req.out
    _write(out / "candidates.jsonl", "".join(json.dumps(r, default=str) + "\n" for r in result.records))
    charts = _charts(out, result.records, req.budget)
    _write(out / "report.md", "\n".join(_header(req, result) + charts + [""] + _table(result.records)) + "\n")
    _write(out / MARKER, json.dumps({"teacher": req.teacher, "data": str(req.data), "state": "done",
                                     "budget": req.budget.to_dict(), "seconds": result.seconds,
                                     "chosen": (result.chosen or {}).get("candidate", {}).get("label"),
                                     "verdict": result.verdict, "notes": result.notes}, indent=2, default=str))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
