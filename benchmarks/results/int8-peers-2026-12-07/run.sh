#!/usr/bin/env bash
# Issue 23 pt 6: edgebert's onnx-int8 against optimum-onnx's INT8 files of the same DistilBERT (random weights, saved
# once as a plain HF folder), timed side by side in one process (time_peers.py: plain onnxruntime, 2 threads, b1,
# s16 and s128, every file in every round). optimum runs from its own venv (PEER, it pins other versions).
#   PEER=/tmp/peer/bin EB=/work/main/.venv/bin bash run.sh WORK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/peers}; mkdir -p "$work"
[ -f "$work/hf/config.json" ] || "$EB/python" - "$work/hf" <<'PY'
import sys
from edgebert.models import load_model
m = load_model("distilbert-base-uncased", random_weights=True, task="classification")
m.module.hf.save_pretrained(sys.argv[1]); m.tokenizer.save_pretrained(sys.argv[1])
PY
[ -f "$work/edgebert-int8/manifest.json" ] || "$EB/edgebert" export "$work/hf" -f onnx-int8 -o "$work/edgebert-int8"
[ -f "$work/edgebert-int8-fused/manifest.json" ] || "$EB/edgebert" export "$work/hf" -f onnx-int8 --target avx2 -o "$work/edgebert-int8-fused"
[ -f "$work/opt-fp32/model.onnx" ] || "$PEER/optimum-cli" export onnx --model "$work/hf" --task text-classification "$work/opt-fp32"
[ -f "$work/opt-int8-pc/model_quantized.onnx" ] || "$PEER/optimum-cli" onnxruntime quantize --onnx_model "$work/opt-fp32" --avx512_vnni --per_channel -o "$work/opt-int8-pc"
[ -f "$work/opt-int8-pt/model_quantized.onnx" ] || "$PEER/optimum-cli" onnxruntime quantize --onnx_model "$work/opt-fp32" --avx512_vnni -o "$work/opt-int8-pt"
[ -f "$work/opt-int8-pc-O3/model_quantized_optimized.onnx" ] || "$PEER/optimum-cli" onnxruntime optimize --onnx_model "$work/opt-int8-pc" -O3 -o "$work/opt-int8-pc-O3" || true
{ grep -m1 '^model name' /proc/cpuinfo; grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16' /proc/cpuinfo | sort | uniq -c; } > "$here/cpuinfo.txt"
"$PEER/pip" list 2>/dev/null | grep -i -E "^(optimum|onnxruntime|torch|transformers) " > "$here/peer-versions.txt"
${LOCK-flock /tmp/edgebert-measure.lock} "$EB/python" "$here/time_peers.py" "$work" "${ROUNDS:-10}" | tee "$here/timing.txt"
