"""Per-bundle medians from rows.jsonl. Rows carry the format, not the bundle folder, and two bundles here share a
format (A/B pairs), so each row is named by its place: `bench` measures its targets in the order given, every
repeat (run.sh's `b` list), for the text rows first and then the tensor rows. Checked against file size and padding."""
import json
import statistics
import sys
from pathlib import Path

here = Path(__file__).parent
B = ["onnx", "onnx-int8", "onnx-int8-fused", "tflite", "tflite-int8", "tflite-int8-s128", "mediapipe-int8-s128",
     "mediapipe-int8-auto"]
rows = [json.loads(line) for line in (here / "rows.jsonl").read_text().splitlines()]
assert len(rows) == 2 * 3 * len(B), len(rows)
out: dict = {}
for i, r in enumerate(rows):
    name = B[i % len(B)]
    kind = "texts" if r["input"].startswith("texts") else f"s{r['seq_len']}"
    out.setdefault(name, {}).setdefault(kind, []).append(r)
    assert r["status"] == "ok" and r["golden"] == "pass", (i, r["reason"])
summary = {}
for name, kinds in out.items():
    t, s = kinds["texts"], kinds["s128"]
    summary[name] = {"format": t[0]["format"], "file_mb": t[0]["file_mb"],
                     "texts_p50_ms": [round(r["p50_ms"], 2) for r in t],
                     "texts_p50_median": round(statistics.median(r["p50_ms"] for r in t), 2),
                     "texts_p90_median": round(statistics.median(r["p90_ms"] for r in t), 2),
                     "padding_tokens": t[0]["padding_tokens"], "tokens": t[0]["tokens"], "buckets": t[0]["buckets"],
                     "s128_p50_ms": [round(r["p50_ms"], 2) for r in s],
                     "s128_p50_median": round(statistics.median(r["p50_ms"] for r in s), 2)}


def ratio(a: str, b: str, key: str) -> list[float]:
    """Within each repeat (the same round), a's p50 over b's."""
    k = "texts" if key == "texts" else "s128"
    return [round(x["p50_ms"] / y["p50_ms"], 3) for x, y in zip(out[a][k], out[b][k])]


pairs = {"tflite-int8 / onnx-int8 (texts; goal <= 1.3)": ratio("tflite-int8", "onnx-int8", "texts"),
         "tflite / onnx (texts; goal <= 1.3)": ratio("tflite", "onnx", "texts"),
         "mediapipe-int8-auto / onnx-int8 (texts; goal <= 1.5)": ratio("mediapipe-int8-auto", "onnx-int8", "texts"),
         "mediapipe-int8-s128 / onnx-int8 (texts)": ratio("mediapipe-int8-s128", "onnx-int8", "texts"),
         "tflite-int8 4 buckets / single 128 (texts)": ratio("tflite-int8", "tflite-int8-s128", "texts"),
         "tflite-int8 4 buckets / single 128 (s128; goal within 5%)": ratio("tflite-int8", "tflite-int8-s128", "s128"),
         "onnx-int8 unfused / fused SkipLayerNorm (texts)": ratio("onnx-int8", "onnx-int8-fused", "texts"),
         "onnx-int8 unfused / fused SkipLayerNorm (s128)": ratio("onnx-int8", "onnx-int8-fused", "s128")}
result = {"bundles": summary, "ratios_per_repeat": pairs,
          "ratio_medians": {k: statistics.median(v) for k, v in pairs.items()}}
(here / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
for k, v in summary.items():
    print(f"{k:22s} texts p50 {v['texts_p50_median']:6.2f} {v['texts_p50_ms']}  s128 p50 {v['s128_p50_median']:6.2f} "
          f"{v['s128_p50_ms']}  {v['file_mb']} MB  padding {v['padding_tokens']}/{v['tokens']}")
for k, v in pairs.items():
    print(f"{k:60s} median {statistics.median(v):.3f}  per repeat {v}")
