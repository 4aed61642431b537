"""Eval rows -> the seed's GLUE table shape (one row per artifact, one column per task, average, retention vs the
first artifact) and a chart of accuracy against latency (p50 from bench rows of the same report, where measured)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebert.report.common import reference, save_chart
from edgebert.report.efficiency import TableRow

GLUE_NAMES = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP", "mnli": "MNLI",
              "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}


@dataclass
class EvalRow:
    model: str
    format: str
    scores: dict[str, float] = field(default_factory=dict)  # task -> metric x 100
    max_tokens: int | None = None
    truncated: int = 0
    p50_ms: float | None = None  # b1 at the report's sequence length, from bench rows
    size_mb: float | None = None

    @property
    def average(self) -> float:
        return sum(self.scores.values()) / len(self.scores)


def task_name(task: str) -> str:
    return GLUE_NAMES.get(task, task)


def eval_table(evals: list[dict[str, Any]], latency: dict[tuple[str, str], float] | None = None
               ) -> tuple[list[str], list[EvalRow]]:
    """(task columns, one row per artifact in first-seen order); a later eval of the same pair wins."""
    tasks = list(dict.fromkeys(task_name(r["task"]) for r in evals))
    order = [t for t in GLUE_NAMES.values() if t in tasks] + [t for t in tasks if t not in GLUE_NAMES.values()]
    rows: dict[tuple[str, str], EvalRow] = {}
    for r in evals:
        key = (r["model"], r["format"])
        row = rows.setdefault(key, EvalRow(r["model"], r["format"]))
        row.scores[task_name(r["task"])] = 100.0 * r["score"]
        row.max_tokens = r.get("max_tokens", row.max_tokens)
        row.truncated = r.get("truncated_rows", 0) or 0
        row.size_mb = r.get("file_mb", row.size_mb)
        row.p50_ms = (latency or {}).get(key)
    return order, list(rows.values())


def latency_of(table: list[TableRow]) -> dict[tuple[str, str], float]:
    """(model, format) -> p50 on real hardware with good outputs (the first such device in the table wins)."""
    found: dict[tuple[str, str], float] = {}
    for t in table:
        if not t.group.emulated and t.golden != "FAIL":
            found.setdefault((t.model, t.format), t.p50_ms)
    return found


def eval_markdown(evals: list[dict[str, Any]], latency: dict[tuple[str, str], float] | None = None) -> str:
    tasks, rows = eval_table(evals, latency)
    head = ["model", "format", *tasks, "average", "retention %", "max tokens", "truncated rows", "p50 ms"]
    lines = ["## Accuracy (edgebert eval)", "",
             "Task metric x 100 per artifact; retention = average / the first artifact's average. `max tokens` is "
             "the longest input the artifact saw (static-shape bundles truncate to their largest length), "
             "`truncated rows` how many texts it cut. p50 ms: batch 1 from the bench rows in this report.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = rows[0].average if rows else None
    for r in rows:
        cells = [f"{r.scores[t]:.1f}" if t in r.scores else "–" for t in tasks]
        lines.append(f"| {r.model} | {r.format} | " + " | ".join(cells) + f" | {r.average:.1f} | "
                     f"{100 * r.average / base:.1f} | {r.max_tokens or '–'} | {r.truncated} | "
                     f"{'–' if r.p50_ms is None else f'{r.p50_ms:.1f}'} |")
    seed = reference()["glue_dev_seed"]
    glue = [t for t in tasks if t in GLUE_NAMES.values()]
    if glue:
        lines += ["", "Seed (the source chapter's GLUE dev table) on the same tasks:", "",
                  "| model | " + " | ".join(glue) + " | average | retention % |", "|" + "---|" * (len(glue) + 3)]
        avg_b = sum(seed["BERT-base"][t] for t in glue) / len(glue)
        for name in ("BERT-base", "DistilBERT"):
            avg = sum(seed[name][t] for t in glue) / len(glue)
            lines.append(f"| seed {name} | " + " | ".join(f"{seed[name][t]:.1f}" for t in glue)
                         + f" | {avg:.1f} | {100 * avg / avg_b:.1f} |")
    return "\n".join(lines + [""])


def plot_accuracy_latency(evals: list[dict[str, Any]], latency: dict[tuple[str, str], float], out_dir: Path) -> Path:
    """Average task score against p50 latency, one point per artifact (a bar chart where latency is unknown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, rows = eval_table(evals, latency)
    timed = [r for r in rows if r.p50_ms is not None]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    if timed:
        for r in timed:
            ax.scatter(r.p50_ms, r.average, s=40)
            ax.annotate(f"{r.model[:18]} {r.format}", (r.p50_ms, r.average), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
        ax.set_xlabel("p50 latency, ms (batch 1)")
        ax.set_title("accuracy vs latency (edgebert eval + bench)")
    else:
        bars = ax.bar(range(len(rows)), [r.average for r in rows])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set_xticks(range(len(rows)), [f"{r.model[:14]}\n{r.format}" for r in rows], fontsize=7)
        ax.set_title("accuracy (no bench rows to place it against latency)")
    ax.set_ylabel("average task metric x 100")
    return save_chart(fig, out_dir / "accuracy.png")
