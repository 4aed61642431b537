"""Time every INT8 file in WORK side by side (and two fp32 files, for INT8/fp32): plain onnxruntime (this venv's),
ORT_ENABLE_ALL, 2 intra-op threads, batch 1, s16 and s128; each file 5 warm-up + N runs per round, all files in every
round, rounds interleaved. edgebert's bundles run with their manifest's session_config (what edgebert.load applies);
optimum's and Olive's files with defaults. Ratios to the fastest peer file (optimum or Olive) are taken within a
round. Writes timing.json beside this script."""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

work, rounds = Path(sys.argv[1]), int(sys.argv[2])
FILES = {"edgebert onnx-int8": "edgebert-int8", "edgebert onnx-int8 (SkipLN fused, before)": "edgebert-int8-fused",
         "edgebert onnx-mobile-int8 --target avx512-vnni (.ort, config baked)": "edgebert-mobile-int8-vnni",
         "optimum --avx512_vnni --per_channel": "opt-int8-pc/model_quantized.onnx",
         "optimum --avx512_vnni (per-tensor, default)": "opt-int8-pt/model_quantized.onnx",
         "optimum per-channel then -O3": "opt-int8-pc-O3/model_quantized_optimized.onnx",
         "olive auto-opt --precision int8": "olive/auto-opt-int8/model.onnx",
         "olive workflow (bert fusions, dynamic int8)": "olive/workflow-bert-dynq-int8/model.onnx",
         "olive workflow + per_channel": "olive/workflow-bert-dynq-pc-int8/model.onnx",
         "fp32 edgebert onnx": "edgebert-onnx", "fp32 edgebert onnx-opt": "edgebert-onnx-opt"}
PEERS = ("optimum", "olive")


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = 2, 1, 3
    if path.is_dir():  # an edgebert bundle: its model file and session config
        m = json.loads((path / "manifest.json").read_text())
        for k, v in (m.get("session_config") or {}).items():
            opts.add_session_config_entry(k, v)
        path = path / m["model_file"]
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


sessions = {name: session(work / rel) for name, rel in FILES.items() if (work / rel).exists()}


def feed(sess: ort.InferenceSession, n: int) -> dict:
    ids = np.random.default_rng(n).integers(1000, 30000, (1, n))
    base = {"input_ids": ids, "attention_mask": np.ones((1, n), np.int64)}
    return {i.name: base.get(i.name, np.zeros((1, n), np.int64)) for i in sess.get_inputs()}


def timed(sess: ort.InferenceSession, fd: dict, runs: int) -> float:
    for _ in range(5):
        sess.run(None, fd)
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        sess.run(None, fd)
        t.append(time.perf_counter() - s)
    return statistics.median(t) * 1e3


res = {n: {name: [] for name in sessions} for n in (16, 128)}
for r in range(rounds):
    for n in (16, 128):
        names = list(sessions)
        names = names if r % 2 == 0 else names[::-1]  # alternate the order: no file always goes first
        for name in names:
            res[n][name].append(timed(sessions[name], feed(sessions[name], n), 200 if n == 16 else 50))
out = {"onnxruntime": ort.__version__, "rounds": rounds, "ms": res, "summary": {}}
for n, per in res.items():
    peers = [k for k in per if k.startswith(PEERS)]
    for name, ts in per.items():
        best_peer = [min(per[p][i] for p in peers) for i in range(rounds)] if peers else ts
        ratio = [a / b for a, b in zip(ts, best_peer)]
        out["summary"][f"s{n} {name}"] = {"median_ms": round(statistics.median(ts), 3),
                                          "vs_fastest_peer_median": round(statistics.median(ratio), 3),
                                          "vs_fastest_peer_min": round(min(ratio), 3),
                                          "vs_fastest_peer_max": round(max(ratio), 3)}
for n, per in res.items():  # ORT INT8 / fp32: how many times faster edgebert's int8 runs than each fp32 file
    for fp32 in ("fp32 edgebert onnx", "fp32 edgebert onnx-opt"):
        if fp32 in per and "edgebert onnx-int8" in per:
            ratio = [a / b for a, b in zip(per[fp32], per["edgebert onnx-int8"])]
            out["speedup"] = out.get("speedup", {})
            out["speedup"][f"s{n} {fp32} / edgebert onnx-int8"] = {
                "median": round(statistics.median(ratio), 3), "min": round(min(ratio), 3), "max": round(max(ratio), 3)}
(Path(__file__).parent / "timing.json").write_text(json.dumps(out, indent=1) + "\n")
for k, v in out["summary"].items():
    print(f"{k:55s} {v['median_ms']:8.3f} ms  x fastest peer {v['vs_fastest_peer_median']:.3f} "
          f"[{v['vs_fastest_peer_min']:.3f}-{v['vs_fastest_peer_max']:.3f}]")
for k, v in out.get("speedup", {}).items():
    print(f"{k:55s} {v['median']:.3f}x [{v['min']:.3f}-{v['max']:.3f}]")
