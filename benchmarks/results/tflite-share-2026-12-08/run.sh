#!/usr/bin/env bash
# Issue 23 pt 1: int8 TFLite with four signatures vs one, after export shares repeated vectors (a4fd15a).
# DistilBERT, random weights. Sizes only (outputs of the re-packed file vs the quantizer's own: same.py).
#   EB=/work/main/.venv/bin bash run.sh WORK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); work=${1:-/tmp/tfl}; mkdir -p "$work"
${LOCK-flock /tmp/edgebert-measure.lock} "$EB/edgebert" export distilbert-base-uncased --random-weights -f tflite-int8 -o "$work/new-int8-4"
${LOCK-flock /tmp/edgebert-measure.lock} "$EB/edgebert" export distilbert-base-uncased --random-weights -f tflite-int8 --seq-len 128 -o "$work/new-int8-1"
"$EB/python" - "$work" <<'PY' | tee "$here/sizes.json"
import json, sys
w = sys.argv[1]
m = {k: json.load(open(f"{w}/new-int8-{k}/manifest.json")) for k in ("4", "1")}
size = {k: v["files"]["model.tflite"]["bytes"] for k, v in m.items()}
print(json.dumps({"four_buckets_bytes": size["4"], "one_bucket_bytes": size["1"], "ratio": size["4"] / size["1"],
                  "shared_vectors_saved_bytes": m["4"]["quantization"]["shared_vectors_saved_bytes"]}, indent=1))
PY
"$EB/python" "$here/analyze.py" "$work/new-int8-4/model.tflite" > "$here/structure.txt"
