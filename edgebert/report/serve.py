"""Serve rows (`bench --serve`): latency against throughput per served bundle, MLPerf Server style.

One line per device, model, format and concurrency (medians over repeats); the chart draws p50 and p99 against
throughput, each point a concurrency, so the knee -- where latency climbs and throughput stops -- is visible.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from edgebert.bench.rows import Row
from edgebert.bench.serve_sweep import serve_errors
from edgebert.report.common import save_chart, short_name


def serve_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.ok and r.input.startswith("serve:")]


def levels(rows: list[Row]) -> dict[tuple, list[tuple[int, dict[str, float]]]]:
    """(device, model, format, texts) -> [(concurrency, medians of throughput, p50, p90, p99, errors, RSS)]."""
    found: dict[tuple, dict[int, list[Row]]] = {}
    for r in serve_rows(rows):
        found.setdefault((r.device_key, r.model, r.format, r.input[6:]), {}).setdefault(r.batch, []).append(r)
    out = {}
    for key, by_c in sorted(found.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        out[key] = [(c, {"texts_s": statistics.median(r.throughput_seq_s for r in rs),
                         **{k: statistics.median(getattr(r, k) for r in rs) for k in ("p50_ms", "p90_ms", "p99_ms")},
                         "errors": sum(serve_errors(r) for r in rs), "repeats": len(rs),
                         "rss_mb": max((r.peak_rss_mb or 0.0) for r in rs)}) for c, rs in sorted(by_c.items())]
    return out


def markdown(rows: list[Row]) -> str:
    """The serve table: throughput and latency percentiles at each concurrency."""
    lines = ["## Served (`bench --serve`)", "",
             "Closed-loop load: C clients in flight, one text per request, keep-alive HTTP; latency from the client, "
             "throughput in texts answered per second. Medians over repeats; errors summed. The knee is where p99 "
             "climbs while texts/s stops rising (latency-throughput.png).", "",
             "| device | model | format | texts | concurrency | texts/s | p50 ms | p90 ms | p99 ms | errors | "
             "server peak RSS MB |", "|" + "---|" * 11]
    for (group, model, fmt, texts), points in levels(rows).items():
        for c, m in points:
            rss = f"{m['rss_mb']:.0f}" if m["rss_mb"] else "–"
            lines.append(f"| {group} | {model} | {fmt} | {texts} | {c} | {m['texts_s']:.1f} | {m['p50_ms']:.1f} | "
                         f"{m['p90_ms']:.1f} | {m['p99_ms']:.1f} | {m['errors']} | {rss} |")
    return "\n".join(lines + [""])


def plot(rows: list[Row], out_dir: Path) -> Path:
    """latency-throughput.png: p50 (solid) and p99 (dashed) against texts/s, one colour per served bundle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    for i, ((group, model, fmt, _), points) in enumerate(levels(rows).items()):
        colour = f"C{i % 10}"
        x = [m["texts_s"] for _, m in points]
        label = f"{short_name(model, 18)} {fmt}" + (f" · {group.label or group.cpu[:20]}" if group.label or i else "")
        ax.plot(x, [m["p50_ms"] for _, m in points], "o-", color=colour, label=f"{label} p50")
        ax.plot(x, [m["p99_ms"] for _, m in points], "s--", color=colour, label=f"{label} p99")
        for c, m in points:
            ax.annotate(f"c{c}", (m["texts_s"], m["p99_ms"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("throughput (texts answered per second)")
    ax.set_ylabel("request latency (ms)")
    ax.set_yscale("log")
    ax.set_title("served: latency against throughput (each point a concurrency)")
    ax.legend(fontsize=7)
    return save_chart(fig, out_dir / "latency-throughput.png")


def add_section(rows: list[Row], out_dir: Path, text: str, paths: list[Path]) -> tuple[str, list[Path]]:
    """The report with its serve section and chart added (unchanged without serve rows)."""
    if not serve_rows(rows):
        return text, paths
    return text + "\n" + markdown(rows), paths + [plot(rows, out_dir)]
