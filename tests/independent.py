"""An independent second opinion on a bundle: its model file run by the plain runtime (no edgebert runner, no
edgebert tokenizer path) against transformers run directly. What export's gate computed, recomputed by other code,
so a test can assert a margin the gate cannot see rather than restate that the gate passed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TEXTS = [
    "The movie was an absolute delight from start to finish.",
    "I would not recommend this restaurant to anyone.",
    "How do I reset my password if I no longer have access to my email?",
    "A cat is sleeping on the warm windowsill.",
    "Terrible customer service; they hung up on me twice.",
    "Quantum computers use qubits, which can represent zero and one at the same time.",
]


def _ids(bundle: Path, text: str, names: list[str]) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    tok.enable_truncation(512)
    enc = tok.encode(text)
    feed = {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
    return {n: np.array([feed[n]], dtype=np.int64) for n in names}


def _run_onnx(bundle: Path, m: dict, feed: dict) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(bundle / m["model_file"]), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: feed[i.name] for i in sess.get_inputs()})[0]


def _run_openvino(bundle: Path, m: dict, feed: dict) -> np.ndarray:
    import openvino as ov

    compiled = ov.Core().compile_model(str(bundle / m["model_file"]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled({i.get_any_name(): feed[i.get_any_name()] for i in compiled.inputs})[0]


def _run_tflite(bundle: Path, m: dict, feed: dict) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    length = min(int(n) for n in m["shapes"]["files"] if int(n) >= feed["input_ids"].shape[1])
    interp = Interpreter(model_path=str(bundle / m["shapes"]["files"][str(length)]))
    runner = interp.get_signature_runner((m["shapes"].get("signatures") or {}).get(str(length)))  # app: sNN
    pad = length - feed["input_ids"].shape[1]
    out = runner(**{n: np.pad(v, ((0, 0), (0, pad))).astype(np.int32) for n, v in feed.items()})
    out = next(iter(out.values()))
    return out[:, : feed["input_ids"].shape[1]] if out.ndim == 3 else out


def _run_executorch(bundle: Path, m: dict, feed: dict) -> np.ndarray:
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(bundle / m["model_file"])).load_method("forward")
    return method.execute([torch.from_numpy(np.ascontiguousarray(feed[i["name"]])) for i in m["inputs"]])[0].numpy()


RUNTIMES = {"onnx": _run_onnx, "openvino": _run_openvino, "tflite": _run_tflite, "executorch": _run_executorch}


def plain_outputs(bundle: Path, texts: list[str] = TEXTS) -> list[np.ndarray]:
    """Each text alone through the bundle's model file with its runtime's own Python API."""
    m = json.loads((bundle / "manifest.json").read_text())
    family = m["format"].split("-")[0]
    run = RUNTIMES[family]
    return [np.asarray(run(bundle, m, _ids(bundle, t, [i["name"] for i in m["inputs"]])), np.float64)
            for t in texts]


def torch_outputs(model_dir: Path, texts: list[str] = TEXTS) -> list[np.ndarray]:
    """transformers on the model folder: logits for classifiers, last hidden states for encoders."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    classifier = any("SequenceClassification" in a for a in config.architectures or [])
    model = (AutoModelForSequenceClassification if classifier else AutoModel).from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    outs = []
    with torch.inference_mode():
        for text in texts:
            out = model(**tok([text], return_tensors="pt", truncation=True, max_length=512))
            outs.append((out.logits if classifier else out.last_hidden_state).double().numpy())
    return outs


def cosines(actual: list[np.ndarray], reference: list[np.ndarray]) -> list[float]:
    """Per text: cosine of the mean-pooled (token outputs) or flat (vector outputs) answers."""
    found = []
    for a, b in zip(actual, reference):
        a, b = (x.mean(axis=1) if x.ndim == 3 else x for x in (a, b))
        a, b = a.ravel(), b.ravel()
        found.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return found
