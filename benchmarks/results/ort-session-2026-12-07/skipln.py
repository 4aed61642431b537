"""Issue 23 pt 6: does ONNX Runtime's fused SkipLayerNormalization cost time here? DistilBERT (random weights)
onnx-int8 and onnx-opt exported twice by edgebert: as shipped (the transformer optimizer fuses Add + LayerNorm into
SkipLayerNormalization) and with that one fusion off (offline, and ORT's own SkipLayerNormFusion disabled at session
creation so it is not redone). Plain onnxruntime, 2 threads, batch 1, s16 and s128; every variant timed in every
round, rounds interleaved; ratios taken within a round. Usage: python skipln.py OUT_DIR"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

OUT = Path(sys.argv[1])
MODEL = "distilbert-base-uncased"


def export_variants() -> dict[str, Path]:
    from onnxruntime.transformers import fusion_options

    from edgebert.export import export

    paths = {}
    for fmt in ("onnx-int8", "onnx-opt"):
        dest = OUT / f"{fmt}-fused"
        if not (dest / "manifest.json").exists():
            export(MODEL, fmt, dest, random_weights=True)
        paths[f"{fmt} fused"] = dest
    shipped = fusion_options.FusionOptions

    class NoSkipLN(shipped):
        def __init__(self, model_type: str) -> None:
            super().__init__(model_type)
            self.enable_skip_layer_norm = False

    fusion_options.FusionOptions = NoSkipLN
    try:
        for fmt in ("onnx-int8", "onnx-opt"):
            dest = OUT / f"{fmt}-unfused"
            if not (dest / "manifest.json").exists():
                export(MODEL, fmt, dest, random_weights=True)
            paths[f"{fmt} unfused"] = dest
    finally:
        fusion_options.FusionOptions = shipped
    return paths


def session(path: Path, disable: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = 2, 1
    model = json.loads((path / "manifest.json").read_text())["model_file"]
    kw = {"disabled_optimizers": ["SkipLayerNormFusion"]} if disable else {}
    return ort.InferenceSession(str(path / model), opts, providers=["CPUExecutionProvider"], **kw)


def ops(sess_path: Path) -> dict[str, int]:
    import onnx

    m = onnx.load(str(sess_path), load_external_data=False)
    out: dict[str, int] = {}
    for n in m.graph.node:
        out[n.op_type] = out.get(n.op_type, 0) + 1
    return {k: v for k, v in out.items() if k in ("SkipLayerNormalization", "LayerNormalization", "Attention",
                                                   "DynamicQuantizeMatMul", "MatMulInteger")}


def feed(sess: ort.InferenceSession, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    names = [i.name for i in sess.get_inputs()]
    f = {"input_ids": rng.integers(1000, 30000, (1, n)), "attention_mask": np.ones((1, n), np.int64)}
    return {k: f.get(k, np.zeros((1, n), np.int64)) for k in names}


def timed(sess: ort.InferenceSession, fd: dict, runs: int) -> float:
    for _ in range(5):
        sess.run(None, fd)
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        sess.run(None, fd)
        t.append(time.perf_counter() - s)
    return statistics.median(t) * 1e3


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    paths = export_variants()
    sessions = {}
    for name, p in paths.items():
        for disable in (False, True):
            if "fused" in name and not name.endswith("unfused") and disable:
                continue
            sessions[f"{name}{' +disable SkipLayerNormFusion' if disable else ''}"] = session(p, disable)
    structure = {}
    for name, p in paths.items():  # what ORT runs after its own session-time optimisations
        o = ort.SessionOptions()
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        for disable in (False, True):
            o.optimized_model_filepath = str(OUT / f"{name.replace(' ', '_')}-{int(disable)}.optimized.onnx")
            kw = {"disabled_optimizers": ["SkipLayerNormFusion"]} if disable else {}
            ort.InferenceSession(str(p / json.loads((p / 'manifest.json').read_text())["model_file"]), o,
                                 providers=["CPUExecutionProvider"], **kw)
            structure[f"{name} disable={disable}"] = ops(Path(o.optimized_model_filepath))
            Path(o.optimized_model_filepath).unlink()
    rounds = {n: {s: [] for s in sessions} for n in (16, 128)}
    for r in range(int(sys.argv[2]) if len(sys.argv) > 2 else 8):
        for n in (16, 128):
            for name, sess in sessions.items():
                rounds[n][name].append(timed(sess, feed(sess, n), 200 if n == 16 else 60))
    summary = {}
    for n, per in rounds.items():
        for name, ts in per.items():
            base = per[f"{name.split(' ')[0]} fused"]
            ratio = [a / b for a, b in zip(ts, base)]
            summary[f"s{n} {name}"] = {"median_ms": round(statistics.median(ts), 3), "min_ms": round(min(ts), 3),
                                       "max_ms": round(max(ts), 3), "vs_fused_median": round(statistics.median(ratio), 3),
                                       "vs_fused_min": round(min(ratio), 3), "vs_fused_max": round(max(ratio), 3)}
    result = {"onnxruntime": ort.__version__, "structure_after_session_opt": structure, "rows": summary,
              "rounds": rounds}
    (OUT / "skipln.json").write_text(json.dumps(result, indent=1) + "\n")
    for k, v in summary.items():
        print(f"{k:60s} {v['median_ms']:8.3f} ms  [{v['min_ms']:.3f}-{v['max_ms']:.3f}]  x fused {v['vs_fused_median']:.3f} [{v['vs_fused_min']:.3f}-{v['vs_fused_max']:.3f}]")
    print(json.dumps(structure, indent=1))


if __name__ == "__main__":
    main()
