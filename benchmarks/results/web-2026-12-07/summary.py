"""summary.md from rows-r*.jsonl: per runtime, threads and input, the median p50 over the repeats and their spread."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from edgebert.bench.rows import read_rows

out = Path(sys.argv[1])
rows = [r for p in sorted(out.glob("rows-r*.jsonl")) for r in read_rows(p) if r.ok]
groups: dict[tuple, list] = {}
for r in rows:
    groups.setdefault((r.input, r.threads, r.runtime), []).append(r)
print("| input | threads | runtime | p50 ms (median of repeats) | p50 spread | p90 ms | model-only p50 ms | golden |")
print("|---|---|---|---|---|---|---|---|")
for (inp, threads, runtime), rs in sorted(groups.items()):
    p50s = [r.p50_ms for r in rs]
    model = statistics.median(r.model_p50_ms for r in rs) if rs[0].model_p50_ms is not None else None
    print(f"| {'b1 s128' if inp == 'tensor' else inp} | {threads} | {runtime} {rs[0].runtime_version} | "
          f"{statistics.median(p50s):.2f} | {min(p50s):.2f}-{max(p50s):.2f} (n={len(rs)}) | "
          f"{statistics.median(r.p90_ms for r in rs):.2f} | {'' if model is None else f'{model:.2f}'} | "
          f"{'/'.join(sorted({r.golden for r in rs}))} |")
print(f"\nfile: {rows[0].model} {rows[0].format}, sha256 {rows[0].model_sha256[:16]}..., "
      f"{rows[0].file_mb} MB; every row's model_sha256 is this file: {len({r.model_sha256 for r in rows}) == 1}")
