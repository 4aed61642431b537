#!/usr/bin/env bash
# Issue 23 (TFLite buckets): one LiteRT file with a signature per length vs one file per length, and whether a
# dynamic-length graph converts at all. DistilBERT-shaped, random weights (size and speed depend only on shape).
#   bash benchmarks/results/litert-buckets-2026-12-01/run.sh [WORK]    (default /tmp/litert-buckets); from the repo root
set -euo pipefail
R=benchmarks/results/litert-buckets-2026-12-01
W=${1:-/tmp/litert-buckets}
PY=${PY:-.venv/bin/python}
LOCK=${EDGEBERT_MEASURE_LOCK:-/tmp/edgebert-measure.lock}
mkdir -p "$W"
{ grep -m1 '^model name' /proc/cpuinfo; echo "cpus: $(nproc)"; grep -m1 '^flags' /proc/cpuinfo; } > $R/cpuinfo.txt
flock "$LOCK" $PY $R/build.py big "$W" | grep -v '^('                 # one.tflite (s128 only), multi.tflite (4 sigs)
flock "$LOCK" env PYTHONPATH=$PWD $PY $R/quantize.py "$W"             # int8 / fp16 of both; every signature kept
$PY $R/sizes.py "$W"/{one,multi}{,-int8,-fp16}.tflite > $R/sizes.txt  # buffers vs per-subgraph quant params
# dynamic sequence (torch.export Dim): as litert-torch 0.10 ships, then with its arange pass patched (measurement only)
flock "$LOCK" $PY $R/dynamic.py big "$W/dyn.tflite" 2>&1 | grep -E 'DYNAMIC FAILED|dynamic converted' > $R/dynamic.txt || true
flock "$LOCK" $PY $R/dynamic.py big "$W/dyn.tflite" patch 2>&1 | grep -E 'DYNAMIC FAILED|dynamic converted' >> $R/dynamic.txt || true
flock "$LOCK" $PY $R/bench.py "$W" | grep -v '^INFO' > $R/latency.json
