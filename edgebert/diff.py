"""`edgebert diff BUNDLE`: where a bundle's numbers leave PyTorch's, layer by layer.

The bundle and its PyTorch reference (rebuilt from the manifest's source) run the same text; every LayerNorm output
(1 + 2L of them: embeddings, then each layer's attention and FFN outputs) is compared token by token. The report
names the first layer below the threshold and the layer that adds the most drift. The first is where to look; it is
not always the one to keep in fp32 (a late FFN amplifies what earlier layers got wrong): --fp32-layers auto keeps
groups by measured effect on the gate instead.
ONNX (fused or not, INT8), text-in ONNX, OpenVINO (dynamic IRs) and TFLite/MediaPipe files are tapped; .ort and .pte
files keep no intermediate tensors a Python runtime can read, so those bundles get the output comparison only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.bundle import Bundle
from edgebert.errors import UsageError
from edgebert.formats import get_format

DEFAULT_THRESHOLD = 0.99


@dataclass
class LayerDrift:
    text: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per LayerNorm: k, torch, graph, cosines, max_abs
    first_below: int | None = None  # k of the first LayerNorm whose worst token cosine is below the threshold
    largest_drop: int | None = None  # k whose mean token cosine fell most from the one before
    output_cosine: float | None = None  # the bundle's own output vs PyTorch's

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _feed(bundle: Bundle, text: str) -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    if bundle.tokenizer_file is None:
        raise UsageError(f"'{bundle.path}' has no tokenizer: diff runs text through it")
    tok = Tokenizer.from_file(str(bundle.tokenizer_file))
    tok.no_padding()
    tok.enable_truncation(int(bundle.manifest.get("max_length") or bundle.manifest.get("max_positions", 512)))
    enc = tok.encode(text)
    feed = {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
    return {k: np.array([v], dtype=np.int64) for k, v in feed.items()}


def diff(path: Path, texts: list[str] | None = None, threshold: float = DEFAULT_THRESHOLD) -> list[LayerDrift]:
    """Run each text (default: the bundle's golden texts) through the bundle and its PyTorch reference."""
    from edgebert import layers
    from edgebert.models import load_model
    from edgebert.runtime import load

    if not 0 < threshold <= 1:
        raise UsageError(f"--threshold must be in (0, 1] (got {threshold:g})")
    bundle = Bundle.open(path, verify=True)
    source = bundle.manifest.get("source") or {}
    texts = texts or (bundle.manifest.get("golden") or {}).get("texts") or []
    if not texts:
        raise UsageError(f"'{path}' has no golden texts (random ids): pass --text")
    model = load_model(source["spec"], random_weights=source.get("kind") == "random", task=bundle.manifest["task"])
    predictor = load(path, verify=False)
    found = []
    for text in texts:
        feed = _feed(bundle, text)
        drift = LayerDrift(text, output_cosine=_output_cosine(model, predictor, feed, text))
        graph = get_format(bundle.format).layer_taps(bundle, feed, text)
        if graph is not None:
            ref = layers.torch_layernorms(model.module, feed, model.input_names)
            drift.rows = layers.drift(ref, graph, feed["attention_mask"][0], threshold)
            drift.first_below = next((r["k"] for r in drift.rows if r.get("first_below")), None)
            drops = [drift.rows[k - 1]["mean_token_cos"] - r["mean_token_cos"] if k else 1 - r["mean_token_cos"]
                     for k, r in enumerate(drift.rows)]
            drift.largest_drop = int(np.argmax(drops))
        found.append(drift)
    return found


def _output_cosine(model: Any, predictor: Any, feed: dict[str, np.ndarray], text: str) -> float:
    """The bundle's answer for the text vs PyTorch's, pooled for token outputs."""
    from edgebert.parity import torch_reference
    from edgebert.pooling import pool

    ref = torch_reference(model.module, [feed], model.input_names)[0]
    got = predictor([text]) if predictor.runner.takes_text else predictor.run(
        {n: feed[n] for n in predictor.bundle.input_names})
    if predictor.output_kind == "probabilities":  # MediaPipe classifiers put the softmax in the graph
        from edgebert.runtime import softmax

        ref = softmax(ref)
    if ref.ndim == 3 and np.asarray(got).ndim == 3:
        ref, got = pool(ref, feed["attention_mask"]), pool(np.asarray(got), feed["attention_mask"])
    elif ref.ndim == 3:  # the bundle pools in its graph
        ref = pool(ref, feed["attention_mask"], predictor.head)
    a, b = np.ravel(ref).astype(np.float64), np.ravel(got).astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
