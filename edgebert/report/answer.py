"""Text-to-answer rows (`bench --texts`) beside the model-only ones: what a user's text costs, end to end."""
from __future__ import annotations

import statistics

from edgebert.bench.rows import Row
from edgebert.report.efficiency import TableRow


def text_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.ok and r.input.startswith("texts:")]


def markdown(rows: list[Row], table: list[TableRow], seq_len: int) -> str:
    """One line per device, artifact and text set: tokens (real and as run), model-only and text-to-answer p50/p90,
    and the fixed-shape tensor p50 at `seq_len` from the efficiency table for comparison."""
    buckets: dict[tuple, list[Row]] = {}
    for r in text_rows(rows):
        # a static-shape bundle of a format beside its dynamic one: two lines, not one median over both
        buckets.setdefault((r.device_key, r.model, r.format + (" (static)" if r.buckets else ""), r.input),
                           []).append(r)
    fixed = {(t.group, t.model, t.format): t.p50_ms for t in table}
    lines = ["## Text to answer (`bench --texts`)", "",
             "One request at a time at each text's real length: tokenization, the format's padding (static shapes pay "
             "their bucket), the run, and softmax/pooling. `model` is the run alone inside the same requests; "
             f"`tensor s{seq_len}` the fixed-shape p50 from the efficiency table. Medians over repeats. "
             "`wasted to padding` is the share of the tokens run that were padding to a static bucket (texts per "
             "bucket in brackets; 0 for dynamic shapes).", "",
             "| device | model | format | texts | tokens p50/p90 | as run p50/p90 | tokens wasted to padding | "
             f"model p50/p90 ms | text-to-answer p50/p90 ms | overhead % | tensor s{seq_len} p50 ms |",
             "|" + "---|" * 11]
    for (group, model, fmt, source), rs in sorted(buckets.items()):
        med = {k: statistics.median(getattr(r, k) for r in rs) for k in (
            "tokens_p50", "tokens_p90", "padded_tokens_p50", "padded_tokens_p90", "model_p50_ms", "model_p90_ms",
            "p50_ms", "p90_ms")}
        over = 100.0 * (med["p50_ms"] / med["model_p50_ms"] - 1) if med["model_p50_ms"] else 0.0
        tensor = fixed.get((group, model, rs[0].format))
        lines.append(f"| {group} | {model} | {fmt} | {source[6:]} ({rs[0].texts}) | "
                     f"{med['tokens_p50']:.0f}/{med['tokens_p90']:.0f} | "
                     f"{med['padded_tokens_p50']:.0f}/{med['padded_tokens_p90']:.0f} | {wasted(rs[0])} | "
                     f"{med['model_p50_ms']:.1f}/{med['model_p90_ms']:.1f} | {med['p50_ms']:.1f}/{med['p90_ms']:.1f} | "
                     f"{over:.0f} | {'–' if tensor is None else f'{tensor:.1f}'} |")
    return "\n".join(lines + [""])


def wasted(row: Row) -> str:
    """Tokens run as padding, as a share of all tokens run, with the texts per bucket: "31% (16: 210, 32: 40)";
    "–" for rows measured before it was recorded. Every repeat runs the same texts, so one row says it."""
    if row.tokens is None or row.padding_tokens is None:
        return "–"
    run = row.tokens + row.padding_tokens
    share = f"{100.0 * row.padding_tokens / run:.0f}%" if run else "0%"
    if not row.buckets:
        return share
    return f"{share} ({', '.join(f'{b}: {n}' for b, n in row.buckets.items())})"
