#!/usr/bin/env bash
# Issue 23 pt 6: edgebert's onnx-int8 against optimum-onnx's and Olive's INT8 files of the same DistilBERT (random
# weights, saved once as a plain HF folder), and two fp32 files for INT8/fp32, timed side by side in one process
# (time_peers.py: plain onnxruntime, 2 threads, b1, s16 and s128, every file in every round). optimum and Olive run
# from their own venvs (PEER, OLIVE: they pin other versions).
#   PEER=/tmp/peer/bin OLIVE=/tmp/olive-venv/bin EB=/work/main/.venv/bin bash run.sh WORK
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
for f in onnx onnx-opt; do
  [ -f "$work/edgebert-$f/manifest.json" ] || "$EB/edgebert" export "$work/hf" -f $f -o "$work/edgebert-$f"
done
[ -f "$work/edgebert-mobile-int8-vnni/manifest.json" ] || "$EB/edgebert" export "$work/hf" -f onnx-mobile-int8 --target avx512-vnni -o "$work/edgebert-mobile-int8-vnni"
export OLIVE_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
[ -f "$work/olive/auto-opt-int8/model.onnx" ] || "$OLIVE/olive" auto-opt --model_name_or_path "$work/hf" --task text-classification --device cpu --provider CPUExecutionProvider --precision int8 --output_path "$work/olive/auto-opt-int8" --disable_telemetry
if [ ! -f "$work/olive/workflow-bert-dynq-int8/model.onnx" ]; then
  sed -e "s|/tmp/peers/hf|$work/hf|" -e "s|/tmp/olive-work/|$work/olive/|g" "$here/olive-workflow.json" > "$work/olive/workflow.json"
  "$OLIVE/olive" run --config "$work/olive/workflow.json"
fi
if [ ! -f "$work/olive/workflow-bert-dynq-pc-int8/model.onnx" ]; then  # the same with per-channel weights
  sed -e "s|/tmp/peers/hf|$work/hf|" -e "s|/tmp/olive-work/|$work/olive/|g" "$here/olive-workflow-per-channel.json" > "$work/olive/workflow-pc.json"
  "$OLIVE/olive" run --config "$work/olive/workflow-pc.json"
fi
# edgebert's own measurement of INT8 / fp32: a fresh worker per row, rows interleaved
[ -f "$here/bench.jsonl" ] || ${LOCK-flock /tmp/edgebert-measure.lock} "$EB/edgebert" bench "$work/edgebert-onnx" "$work/edgebert-onnx-opt" "$work/edgebert-int8" "$work/edgebert-int8-fused" --seq 16,128 --repeat 4 --threads 2 --min-seconds 4 --out "$here/bench.jsonl"
{ grep -m1 '^model name' /proc/cpuinfo; grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16' /proc/cpuinfo | sort | uniq -c; } > "$here/cpuinfo.txt"
"$PEER/pip" list 2>/dev/null | grep -i -E "^(optimum|onnxruntime|torch|transformers) " > "$here/peer-versions.txt"
"$OLIVE/pip" list 2>/dev/null | grep -i -E "^(olive-ai|onnx|onnxruntime|optimum|torch|transformers) " > "$here/olive-versions.txt"
${LOCK-flock /tmp/edgebert-measure.lock} "$EB/python" "$here/time_peers.py" "$work" "${ROUNDS:-10}" | tee "$here/timing.txt"
