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
        buckets.setdefault((r.device_key, r.model, r.format, r.input), []).append(r)
    fixed = {(t.group, t.model, t.format): t.p50_ms for t in table}
    lines = ["## Text to answer (`bench --texts`)", "",
             "One request at a time at each text's real length: tokenization, the format's padding (static shapes pay "
             "their bucket), the run, and softmax/pooling. `model` is the run alone inside the same requests; "
             f"`tensor s{seq_len}` the fixed-shape p50 from the efficiency table. Medians over repeats.", "",
             "| device | model | format | texts | tokens p50/p90 | as run p50/p90 | model p50/p90 ms | "
             f"text-to-answer p50/p90 ms | overhead % | tensor s{seq_len} p50 ms |", "|" + "---|" * 10]
    for (group, model, fmt, source), rs in sorted(buckets.items()):
        med = {k: statistics.median(getattr(r, k) for r in rs) for k in (
            "tokens_p50", "tokens_p90", "padded_tokens_p50", "padded_tokens_p90", "model_p50_ms", "model_p90_ms",
            "p50_ms", "p90_ms")}
        over = 100.0 * (med["p50_ms"] / med["model_p50_ms"] - 1) if med["model_p50_ms"] else 0.0
        tensor = fixed.get((group, model, fmt))
        lines.append(f"| {group} | {model} | {fmt} | {source[6:]} ({rs[0].texts}) | "
                     f"{med['tokens_p50']:.0f}/{med['tokens_p90']:.0f} | "
                     f"{med['padded_tokens_p50']:.0f}/{med['padded_tokens_p90']:.0f} | "
                     f"{med['model_p50_ms']:.1f}/{med['model_p90_ms']:.1f} | {med['p50_ms']:.1f}/{med['p90_ms']:.1f} | "
                     f"{over:.0f} | {'–' if tensor is None else f'{tensor:.1f}'} |")
    return "\n".join(lines + [""])
