"""The serve goals' table from benchmarks/serve_goals.py's JSON files: python benchmarks/serve_goals.py summary DIR."""
from __future__ import annotations

import json
import statistics
from pathlib import Path


def _spread(values: list[float], fmt: str = ".1f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def _load_lines(res: dict) -> list[str]:
    rounds = res["rounds"]
    offline = {m: [r["offline"][m] for r in rounds] for m in rounds[0]["offline"]}
    levels = [k for k in rounds[0]["served"] if k.startswith("c")]
    served = {k: [r["served"][k]["texts_s"] for r in rounds] for k in levels}
    best_off = max(offline, key=lambda m: statistics.median(offline[m]))
    sat = [max(r["served"][k]["texts_s"] for k in levels) for r in rounds]
    ratios = [s / r["offline"][best_off] for s, r in zip(sat, rounds)]
    m, o, h = res["model"], res["overhead"], res["half"]
    wrk32 = [r["served"]["wrk_c32"]["texts_s"] for r in rounds if r["served"].get("wrk_c32")]
    lines = [f"### {Path(res['bundle']).name}", "",
             "| offline mode (tokenize + run + pool) | texts/s median [min-max] |", "|---|---|"]
    lines += [f"| {k} | {_spread(v)} |" for k, v in offline.items()]
    lines += ["", "| served, closed loop | texts/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
    for k in levels:
        p50 = [r["served"][k]["p50_ms"] for r in rounds]
        p99 = [r["served"][k]["p99_ms"] for r in rounds]
        errs = sum(sum(r["served"][k]["errors"].values()) for r in rounds)
        lines.append(f"| {k} | {_spread(served[k])} | {_spread(p50)} | {_spread(p99)} | {errs} |")
    if wrk32:
        lines.append(f"| c32 (wrk client) | {_spread(wrk32)} | | | |")
    client_over = o["client_p50_ms"] - m["fixed_model_p50_ms"]
    server_over = o["server_request_mean_ms"] - o["server_inference_mean_ms"]
    wrk1 = o.get("wrk_c1")
    wrk_ratios = [r["served"]["wrk_c32"]["texts_s"] / r["offline"][best_off] for r in rounds
                  if r["served"].get("wrk_c32")]
    lines += ["", f"- saturation / best offline ({best_off}): **{_spread(ratios, '.2f')}** with the Python client "
                  f"(it shares the 2 cores with the server)" + (f", **{_spread(wrk_ratios, '.2f')}** with wrk at c32"
                                                                if wrk_ratios else "") + " (goal >= 0.90), per round",
              f"- per-request overhead at c1, fixed 16-token text: client p50 {o['client_p50_ms']:.3f} ms - "
              f"model-only p50 {m['fixed_model_p50_ms']:.3f} ms = **{client_over:.3f} ms** (Python client)"
              + (f"; wrk p50 {wrk1['p50_ms']:.3f} ms -> {wrk1['p50_ms'] - m['fixed_model_p50_ms']:.3f} ms" if wrk1
                 else "")
              + f"; inside the server (request - model+pooling time, means) **{server_over:.3f} ms** (goal <= 0.3)",
              f"- half of saturation ({h['rate']:.1f} req/s, open loop, Poisson): p99 {h['p99_ms']:.1f} ms, p50 "
              f"{h['p50_ms']:.1f} ms, errors {sum(h['errors'].values())}; model-only over the same texts p50 "
              f"{m['model_p50_ms']:.2f} / p99 {m['model_p99_ms']:.2f} ms: p99 / model p50 = "
              f"**{h['p99_ms'] / m['model_p50_ms']:.1f}x** (goal <= 2x), p99 / model p99 = "
              f"{h['p99_ms'] / m['model_p99_ms']:.1f}x", ""]
    return lines


def _soak_lines(res: dict) -> list[str]:
    s = res["slices"]
    return [f"- soak {Path(res['bundle']).name}: {res['minutes']:.0f} min at {res['rate']:.1f} req/s (open loop), "
            f"{sum(x['ok'] for x in s)} answered, **{res['errors']} errors**; p99 per minute "
            f"{_spread([x['p99_ms'] for x in s])} ms; RSS after the first minute {res['rss_after_warmup_mb']:.1f} MB"
            f" -> end {res['rss_end_mb']:.1f} MB (**{res['rss_growth_pct']:+.2f}%**, max "
            f"{res['rss_max_growth_pct']:+.2f}%; goal <= 5%)"]


def write_summary(folder: Path) -> str:
    """summary.md in `folder` from its *-load.json and *-soak.json; returns the text."""
    lines = ["# edgebert serve: goals measured (issue 24)", ""]
    loads = sorted(folder.glob("*-load.json"))
    if loads:
        mach = json.loads(loads[0].read_text())["machine"]
        lines += [f"Machine: {mach['cpu']}, {mach['cores']} cores, {' '.join(mach['cpu_features'])}, Python "
                  f"{mach['python']}. Medians over rounds, [min-max]; offline and served interleaved per round.", ""]
    for path in loads:
        lines += _load_lines(json.loads(path.read_text()))
    soaks = sorted(folder.glob("*-soak.json"))
    if soaks:
        lines += ["## Soak", ""] + [ln for p in soaks for ln in _soak_lines(json.loads(p.read_text()))] + [""]
    text = "\n".join(lines)
    (folder / "summary.md").write_text(text)
    return text
