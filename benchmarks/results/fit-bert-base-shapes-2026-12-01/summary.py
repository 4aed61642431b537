"""Summarise run.sh's rows: each candidate's b1 s128 p50 (median of its repeats) against PyTorch BERT-base's in the
same run, with its GFLOP (kept attention width counted) and parameters, and the latency/GFLOP/parameter Pareto front.
    python summary.py rows.jsonl CAND_DIR... > summary.md"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from edgebert.arch import gflop


def main(rows_path: str, *cand_dirs: str) -> None:
    rows = [json.loads(line) for line in Path(rows_path).read_text().splitlines()]
    ok = [r for r in rows if r["status"] == "ok" and r["batch"] == 1 and r["seq_len"] == 128]
    base = statistics.median(r["p50_ms"] for r in ok if r["format"] == "pytorch")
    labels = {}
    for folder in cand_dirs:
        plan = json.loads((Path(folder) / ".fit-plan.json").read_text())
        labels.update({p["name"]: p for p in plan})
    by: dict[str, list[dict]] = {}
    for r in ok:
        if r["format"] != "pytorch":
            by.setdefault(r["model"], []).append(r)
    table = []
    for name, rs in by.items():
        plan = labels[name]
        s = plan["shape"]
        attention = s["heads"] * s["head_dim"]
        table.append({"label": plan["label"], "format": rs[0]["format"], "params_m": rs[0]["parameters"] / 1e6,
                      "gflop": gflop(len(s["layer_map"]), s["hidden"], s["ffn"], 1, 128, attention=attention),
                      "mb": rs[0]["file_mb"], "p50": statistics.median(r["p50_ms"] for r in rs), "n": len(rs)})
    table.sort(key=lambda t: t["p50"])
    def dominated(t: dict) -> bool:  # another is no slower, no more FLOPs, no more parameters, and better in one
        keys = ("p50", "gflop", "params_m")
        return any(all(o[k] <= t[k] for k in keys) and any(o[k] < t[k] for k in keys) for o in table if o is not t)

    front = {t["label"] + t["format"] for t in table if not dominated(t)}
    cpu = next(r for r in ok if r["format"] == "pytorch")
    print(f"# BERT-base-shaped students: pruned + fewer layers + INT8 vs PyTorch BERT-base (random weights, b1 s128)\n")
    print(f"Machine: {cpu['cpu']}, features {', '.join(cpu['cpu_features'])}, {cpu['threads']} threads. PyTorch "
          f"BERT-base p50 {base:.1f} ms (median of {sum(r['format'] == 'pytorch' for r in ok)} rows), 22.35 GFLOP.\n")
    print("| student (layers, heads kept/12, FFN kept/3072) | format | params M | GFLOP s128 | MB | p50 ms | x BERT-base "
          "| Pareto (p50, GFLOP, params) |")
    print("|---|---|---|---|---|---|---|---|")
    for t in table:
        mark = "yes" if t["label"] + t["format"] in front else ""
        print(f"| {t['label'].split(' v')[0]} | {t['format']} | {t['params_m']:.1f} | "
              f"{t['gflop']:.2f} | {t['mb']:.1f} | {t['p50']:.2f} | {base / t['p50']:.1f} | {mark} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
