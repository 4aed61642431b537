"""Bench rows -> the efficiency table (seed form, BERT-base = 100), its markdown and PNG charts.

Every relative figure is computed from rows; the seed's and the paper's figures (reference.json) stand beside them.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from edgebert.bench.rows import Row
from edgebert.device_info import DeviceKey
from edgebert.report.common import BASELINE_MODEL, per_artifact, reference, save_chart, short_name


def seed_entry(model: str) -> dict[str, float] | None:
    seed = reference()["efficiency_seed"]
    name = model.lower()
    if "distilbert" in name:
        return seed["DistilBERT"]
    if name.startswith("bert-base"):
        return seed["BERT-base"]
    return None


def _golden(rows: list[Row]) -> str:
    """The parity column: pass, FAIL (outputs beyond the gate on this device), ref (PyTorch itself), or – ."""
    states = {r.golden for r in rows}
    for bad in ("fail", "error"):
        if bad in states:
            return "FAIL"
    return "pass" if states == {"pass"} else "ref" if states == {"reference"} else "–"


@dataclass
class TableRow:
    group: DeviceKey
    model: str
    format: str
    runtime: str
    weights: str
    params_m: float | None
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p50_spread_ms: float  # max - min of the p50s of repeated rows (0 with one repeat)
    repeats: int
    model_rss_mb: float
    peak_rss_mb: float
    size_mb: float | None
    time_rel: float | None = None  # BERT-base PyTorch fp32 = 100
    memory_rel: float | None = None
    seed: dict[str, float] | None = None
    golden: str = "–"  # pass | FAIL | ref | –  (the bundle's golden check in its bench workers)


def _table_row(group: DeviceKey, model: str, fmt: str, rs: list[Row]) -> TableRow:
    """One artifact on one device: medians over its repeated rows."""
    p50s = [r.p50_ms for r in rs]
    params = rs[0].parameters
    return TableRow(
        group=group, model=model, format=fmt, runtime=rs[0].runtime, weights=rs[0].weights,
        params_m=params / 1e6 if params else None, p50_ms=statistics.median(p50s),
        p90_ms=statistics.median(r.p90_ms for r in rs), p99_ms=statistics.median(r.p99_ms for r in rs),
        p50_spread_ms=max(p50s) - min(p50s), repeats=len(rs), model_rss_mb=statistics.median(r.model_rss_mb for r in rs),
        peak_rss_mb=statistics.median(r.peak_rss_mb for r in rs), size_mb=rs[0].file_mb, seed=seed_entry(model),
        golden=_golden(rs))


def build_table(rows: list[Row], batch: int = 1, seq_len: int = 128) -> list[TableRow]:
    """One TableRow per device x model x format at (batch, seq_len), relative to the device's baseline."""
    table = [_table_row(*key, rs) for key, rs in per_artifact(rows, batch, seq_len).items()]
    for group in {t.group for t in table}:
        if group.emulated:
            continue  # emulated latency and RSS say nothing about the hardware: no relative figures
        members = [t for t in table if t.group == group]
        base = _baseline(members)
        for t in members:
            if base is not None and t.golden != "FAIL":  # wrong outputs are never a plain latency
                t.time_rel = 100.0 * t.p50_ms / base.p50_ms
                t.memory_rel = 100.0 * t.model_rss_mb / base.model_rss_mb if base.model_rss_mb > 0 else None
    order = {"pytorch": 0}
    table.sort(key=lambda t: (t.group, -(t.params_m or 0), order.get(t.format, 1), t.format))
    return table


def _baseline(members: list[TableRow]) -> TableRow | None:
    """BERT-base in eager PyTorch fp32; failing that, the largest model measured in PyTorch."""
    torch_rows = [t for t in members if t.format == "pytorch"]
    for t in torch_rows:
        if t.model == BASELINE_MODEL:
            return t
    return max(torch_rows, key=lambda t: t.params_m or 0, default=None)


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


HEADER = ["model", "format", "weights", "params (M)", "seed", "time (BERT-base=100)", "seed", "memory (=100)",
          "seed", "size (MB)", "seed", "p50 ms", "p90 ms", "p50 spread", "model RSS MB", "peak RSS MB", "parity"]


def table_cells(t: TableRow) -> list[str]:
    s = t.seed or {}
    return [t.model, t.format, t.weights, _fmt(t.params_m, ".1f"), _fmt(s.get("parameters_m")),
            _fmt(t.time_rel), _fmt(s.get("inference_time")), _fmt(t.memory_rel), _fmt(s.get("memory")),
            _fmt(t.size_mb, ".1f"), _fmt(s.get("size_mb")), _fmt(t.p50_ms, ".1f"), _fmt(t.p90_ms, ".1f"),
            f"{t.p50_spread_ms:.1f} (n={t.repeats})", _fmt(t.model_rss_mb), _fmt(t.peak_rss_mb), t.golden]


def paper_note() -> str:
    """The paper's own efficiency figures (Sanh et al. 2019), which the seed's table rounds."""
    paper = reference()["efficiency_paper"]
    cpu, params = paper["cpu_inference_s_sts_b_dev_batch1"], paper["parameters_m"]
    return (f"The paper (Sanh et al. 2019) measured DistilBERT's CPU inference at "
            f"{100 * cpu['DistilBERT'] / cpu['BERT-base']:.0f}% of BERT-base's ({cpu['DistilBERT']} s vs "
            f"{cpu['BERT-base']} s; {cpu['_setup']}) with {params['DistilBERT']}M parameters vs "
            f"{params['BERT-base']}M, and on an iPhone 7 Plus question answering "
            f"{paper['iphone7plus_qa_speedup_vs_bert_base']:g}x as fast as BERT-base's ({paper['iphone_model_size_mb']} "
            "MB model).")


def markdown(rows: list[Row], table: list[TableRow], batch: int, seq_len: int) -> str:
    lines = ["# edgebert efficiency report", "",
             f"Batch {batch}, sequence {seq_len}. Time and memory are relative to BERT-base in eager PyTorch fp32 on "
             "the same device (= 100); memory is the model's own RSS (worker peak minus the worker's RSS after "
             "importing its runtime). Seed figures (the source chapter's table) stand beside the measured ones. "
             "The seed's 255 MB for DistilBERT matches 267.8 MB (10^6 bytes) counted in MiB.", "", paper_note(), ""]
    if any(t.weights == "random" for t in table):
        lines += ["**Random weights**: these models were built from their architectures with random weights. "
                  "Latency, memory and size depend only on the architecture; accuracy figures would not.", ""]
    if any(t.golden == "FAIL" for t in table):
        lines += ["**parity FAIL**: on that device the bundle's golden inputs gave outputs beyond the gate recorded "
                  "at export (see `golden_reason` in the rows). Its latency is listed but never compared.", ""]
    for group in sorted({t.group for t in table}):
        lines += [f"## {group}", ""]
        if group.emulated:
            lines += ["Measured under user-mode emulation: outputs and parity are real, latency and memory are not; "
                      "no relative figures.", ""]
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(table_cells(t)) + " |" for t in table if t.group == group]
        lines.append("")
    return "\n".join(lines + _all_measurements(rows))


def _all_measurements(rows: list[Row]) -> list[str]:
    """Every ok row, then every failed one with its reason."""
    lines = ["## All measurements", "", "| device | model | format | batch | seq | p50 ms | p90 ms | p99 ms | "
             "seq/s | peak RSS MB | runs |", "|" + "---|" * 11]
    for r in sorted((r for r in rows if r.ok),
                    key=lambda r: (r.device_key, r.model, r.format, r.batch, r.seq_len, r.repeat)):
        lines.append(f"| {r.device_key} | {r.model} | {r.format} | {r.batch} | {r.seq_len} | {r.p50_ms:.1f} | "
                     f"{r.p90_ms:.1f} | {r.p99_ms:.1f} | {r.throughput_seq_s:.1f} | {r.peak_rss_mb:.0f} | {r.runs} |")
    failed = [r for r in rows if not r.ok]
    if failed:
        lines += ["", "## Failed rows", ""] + [f"- {r.model} {r.format} b{r.batch} s{r.seq_len}: {r.reason}"
                                               for r in failed]
    return lines + ["", "![latency](latency.png) ![memory](memory.png) ![size](size.png)", ""]


def _label(t: TableRow) -> str:
    return f"{short_name(t.model, 18)} {t.format}"


def plot(table: list[TableRow], out_dir: Path) -> list[Path]:
    """Three bar charts (latency and memory relative to BERT-base, size in MB), one bar series per device."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = [t for t in table if not t.group.emulated]  # emulated latency is not plotted beside hardware
    labels = list(dict.fromkeys(_label(t) for t in table))
    groups = sorted({t.group for t in table})
    seed = reference()["efficiency_seed"]["DistilBERT"]
    paths = []
    for name, attr, ylabel, seed_value in (
        ("latency", "time_rel", "inference time (BERT-base PyTorch = 100)", seed["inference_time"]),
        ("memory", "memory_rel", "model memory (BERT-base PyTorch = 100)", seed["memory"]),
        ("size", "size_mb", "size (MB)", seed["size_mb"]),
    ):
        fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(labels) + 2), 4.8))
        width = 0.8 / max(1, len(groups))
        for gi, group in enumerate(groups):
            values = {_label(t): getattr(t, attr) for t in table if t.group == group}
            xs = [i + gi * width for i in range(len(labels))]
            ys = [values.get(lbl) or 0.0 for lbl in labels]
            bars = ax.bar(xs, ys, width=width, label=str(group)[:60])
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.axhline(seed_value, color="grey", linestyle="--", linewidth=1, label=f"seed DistilBERT ({seed_value})")
        ax.set_xticks([i + width * (len(groups) - 1) / 2 for i in range(len(labels))], labels, fontsize=7,
                      rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{name} ({'measured' if attr != 'size_mb' else 'file size'})")
        ax.legend(fontsize=7)
        paths.append(save_chart(fig, out_dir / f"{name}.png"))
    return paths
