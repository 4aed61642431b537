#!/usr/bin/env bash
# Issue 22's architecture-cost goals, from the repository root: what pruning + fewer layers + INT8 buys against
# PyTorch BERT-base, random weights (latency, size and memory depend only on the architecture), b1 s128, one run.
# 1. A BERT-base-shaped classifier with random weights as the teacher (the shipped config, 9 labels).
# 2. `edgebert fit --candidates-only`: every (depth, heads kept, FFN kept) student as an onnx-int8 bundle, exported and
#    parity-gated like any bundle; plus tflite-int8 of the DistilBERT-depth shapes.
# 3. One `edgebert bench` run: PyTorch BERT-base and every candidate, fresh process per row, 2 interleaved repeats.
# 4. summary.py: speedup vs BERT-base in that run, GFLOP (pruned attention width counted), parameters, Pareto front.
#   bash benchmarks/results/fit-bert-base-shapes-2026-12-01/run.sh [WORK]     (default /tmp/fit22-shapes)
set -euo pipefail
R=benchmarks/results/fit-bert-base-shapes-2026-12-01
W=${1:-/tmp/fit22-shapes}
PY=${PY:-.venv/bin/python}
EB="$PY -m edgebert.cli"
LOCK=${EDGEBERT_MEASURE_LOCK:-/tmp/edgebert-measure.lock}
mkdir -p "$W"
{ grep -m1 '^model name' /proc/cpuinfo; echo "cpus: $(nproc)"; grep -m1 '^flags' /proc/cpuinfo; } > $R/cpuinfo.txt
[ -f "$W/teacher/config.json" ] || $PY - "$W/teacher" <<'PYEOF'
import json, sys
from importlib.resources import files
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification
from edgebert.tokenizer import packaged_tokenizer
labels = ["concurrency", "containers", "data", "debugging", "files", "network", "numbers", "text", "time"]
cfg = json.loads(files("edgebert.configs").joinpath("bert-base-uncased.json").read_text())
config = AutoConfig.for_model("bert", **{k: v for k, v in cfg.items() if k != "model_type"},
                              id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
torch.manual_seed(0)
AutoModelForSequenceClassification.from_config(config).save_pretrained(sys.argv[1])
packaged_tokenizer().save_pretrained(sys.argv[1])
PYEOF
[ -f "$W/data/train.csv" ] || $PY scripts/build_docs_dataset.py "$W/data" > /dev/null
fit="$EB fit $W/teacher --data $W/data/train.csv --texts sample --vocab full --embedding int8 --candidates-only --force"
$fit --formats onnx-int8 --depths 6,4,3,2 --heads 12,8,6 --ffn 3072,1536,768 --out "$W/cand" 2>&1 | tail -2
$fit --formats tflite-int8 --depths 6,4,3 --heads 12,6 --ffn 3072,1536 --out "$W/cand-tflite" 2>&1 | tail -2
flock "$LOCK" $EB bench --random-weights bert-base-uncased "$W"/cand/fit-* "$W"/cand-tflite/fit-* --batch 1 --seq 128 --threads 2 \
  --min-seconds 3 --repeat 2 --out "$R/rows.jsonl"
$PY $R/summary.py "$R/rows.jsonl" "$W/cand" "$W/cand-tflite" > "$R/summary.md"
cat "$R/summary.md"
