#!/usr/bin/env bash
# Issue 23's goals: text to answer on the shipped sample (120 real texts, p50 17 tokens), one run, every bundle in
# every round (bench --repeat interleaves), 2 threads, batch 1. DistilBERT, random weights (latency depends only on
# the shapes). Static formats with the default bucket ladder (16,32,64,128), a single-128 tflite-int8 for the
# "s128 rows do not get slower" check, and MediaPipe at one length chosen from the texts (--seq-len auto).
# Usage: bash run.sh WORK_DIR   (bundles in WORK_DIR, rows and report beside this script)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/buckets-goals}
eb=${EDGEBERT:-edgebert}
mkdir -p "$work"
python=$(dirname "$(command -v "$eb")")/python
"$python" -c "from edgebert.bench.texts import default_texts; print('\n'.join(default_texts()))" > "$work/sample.txt"
grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16|amx_tile' /proc/cpuinfo | sort | uniq -c > "$here/cpuinfo.txt"
grep -m1 'model name' /proc/cpuinfo >> "$here/cpuinfo.txt"
m=distilbert-base-uncased
x() { [ -f "$work/$2/manifest.json" ] || "$eb" export $m --random-weights -f "$1" -o "$work/$2" --force "${@:3}"; }
x onnx onnx
x onnx-int8 onnx-int8
# the same QInt8 full-range per-channel weights as the avx512-vnni preset, with SkipLayerNormalization fused (what
# onnx-int8 was before issue 23 pt 6): the A/B of that change, in the same rounds
x onnx-int8 onnx-int8-fused --target avx2
x tflite tflite
x tflite-int8 tflite-int8
x tflite-int8 tflite-int8-s128 --seq-len 128
x tflite-mediapipe-int8 mediapipe-int8-s128
x tflite-mediapipe-int8 mediapipe-int8-auto --seq-len auto --texts "$work/sample.txt"
b=(onnx onnx-int8 onnx-int8-fused tflite tflite-int8 tflite-int8-s128 mediapipe-int8-s128 mediapipe-int8-auto)
rm -f "$here/rows.jsonl"
lock() { ${LOCK-flock /tmp/edgebert-measure.lock} "$@"; }  # never two measurements at once
echo "bench start: load average $(cut -d' ' -f1-3 /proc/loadavg)" > "$here/holds.txt"
lock "$eb" bench "${b[@]/#/$work/}" --texts sample --threads 2 --repeat 3 --warmup 5 --out "$here/rows.jsonl"
lock "$eb" bench "${b[@]/#/$work/}" --seq 128 --threads 2 --repeat 3 --runs 30 --min-seconds 3 --out "$here/rows.jsonl"
echo "bench end: load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$here/holds.txt"
"$eb" report "$here/rows.jsonl" --out "$here/report"
for d in "${b[@]}"; do
  "$python" - "$work/$d" <<'PY'
import json, sys, pathlib
m = json.loads((pathlib.Path(sys.argv[1]) / "manifest.json").read_text())
s = m.get("shapes") or {}
f = sum(v["bytes"] for v in m["files"].values() if str(v).startswith("{") or isinstance(v, dict))
print(pathlib.Path(sys.argv[1]).name, "seq_lens", s.get("seq_lens"), "buckets", json.dumps(s.get("buckets")),
      "pad_invariance", json.dumps(m.get("pad_invariance")), "files_bytes", f)
PY
done > "$here/bundles.txt"
