"""`bench --profile` rows: time by operator category per artifact (stacked bars) and achieved GFLOP/s against the
machine's measured fp32 GEMM peak, so a user sees why an artifact is slow."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from edgebert.bench.rows import Row
from edgebert.device_info import DeviceKey
from edgebert.opprofile import CATEGORIES
from edgebert.report.common import per_artifact, save_chart, short_name


def profiled(rows: list[Row], batch: int, seq_len: int) -> dict[tuple[DeviceKey, str, str], list[Row]]:
    return per_artifact(rows, batch, seq_len, keep=lambda r: bool(r.fp32_peak_gflops))


def _by_category(rs: list[Row]) -> dict[str, Any] | None:
    """The first of the rows' profiles that has per-category times (the profiled repetition)."""
    return next((r.profile for r in rs if (r.profile or {}).get("by_category")), None)


def markdown(rows: list[Row], batch: int, seq_len: int) -> str:
    found = profiled(rows, batch, seq_len)
    head = ["device", "model", "format", "p50 ms", "GFLOP", "GFLOP/s", "% of fp32 peak", "ops' sum ms", "profiled run ms",
            *[f"{c} ms" for c in CATEGORIES], "profiler"]
    lines = ["## Where the time goes (`bench --profile`)", "",
             f"Batch {batch}, sequence {seq_len}. Per-operator time from each runtime's own profiler, by category, "
             "ms per run; GFLOP from the architecture; the fp32 peak is this machine's measured GEMM throughput at "
             "the row's threads (an INT8 artifact can exceed 100%: its GEMMs do not run in fp32). A profiled run is "
             "slower than a timed one by the profiler's own cost (in brackets: ONNX Runtime's is about 8 µs a node).",
             "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (group, model, fmt), rs in sorted(found.items()):
        med = lambda key: statistics.median(getattr(r, key) for r in rs if getattr(r, key) is not None)  # noqa: E731
        prof = _by_category(rs)
        cats = [f"{prof['by_category'][c]:.1f}" if prof else "–" for c in CATEGORIES]
        gf = [r for r in rs if r.gflop]
        achieved = f"{med('gflops_achieved'):.0f}" if gf else "–"
        share = f"{100 * med('gflops_achieved') / med('fp32_peak_gflops'):.0f}" if gf else "–"
        lines.append(f"| {group} | {model} | {fmt} | {med('p50_ms'):.1f} | {gf[0].gflop if gf else '–'} | "
                     f"{achieved} | {share} | {prof['total_ms'] if prof else '–'} | {_wall(prof)} | " + " | ".join(cats)
                     + f" | {(rs[0].profile or {}).get('source', '–')} |")
    return "\n".join(lines + ["", "![profile](profile.png)", ""])


def _wall(prof: dict[str, Any] | None) -> str:
    if not prof or not prof.get("wall_ms"):
        return "–"
    over = prof.get("overhead_pct")
    return f"{prof['wall_ms']:.1f}" + (f" ({over:+.0f}%)" if over is not None else "")


def plot(rows: list[Row], batch: int, seq_len: int, out_dir: Path) -> Path | None:
    """One stacked bar per profiled artifact: ms per run by operator category."""
    found = {k: _by_category(rs) for k, rs in profiled(rows, batch, seq_len).items()}
    found = {k: v for k, v in found.items() if v}
    if not found:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(found)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(keys) + 2), 4.8))
    bottom = [0.0] * len(keys)
    for cat in CATEGORIES:
        values = [found[k]["by_category"][cat] for k in keys]
        ax.bar(range(len(keys)), values, bottom=bottom, label=cat)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xticks(range(len(keys)), [f"{short_name(m, 14)} {f}" for _, m, f in keys], fontsize=7,
                  rotation=45, ha="right")
    ax.set_ylabel(f"ms per run (b{batch} s{seq_len})")
    ax.set_title("where the time goes (each runtime's own profiler)")
    ax.legend(fontsize=7)
    return save_chart(fig, out_dir / "profile.png")
