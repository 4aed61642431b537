"""Run a bundle on a device: tokenizer + the format's runner. Imports only numpy, tokenizers and the runtime."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.bundle import Bundle
from edgebert.errors import BundleError, MissingRuntime
from edgebert.formats import get_format
from edgebert.runner import Runner
from edgebert.pooling import Head, pool


class TruncationWarning(UserWarning):
    """A text was longer than the model's maximum positions and was cut."""


class Predictor:
    """A loaded bundle: `predictor(texts)` returns the raw output; `predict(texts)` readable results."""

    def __init__(self, bundle: Bundle, runner: Runner) -> None:
        self.bundle = bundle
        self.runner = runner
        self.task: str = bundle.manifest.get("task", "encoder")
        self.labels: list[str] = bundle.manifest.get("labels") or []
        self.max_positions = max_tokens(bundle.manifest)
        self.output_kind: str = output_kind(bundle.manifest)
        self._tokenizer: Any | None = None
        self.truncated = 0  # texts cut to max_positions so far (eval reports it)
        self.batch_invariant = bool((bundle.manifest.get("batching") or {}).get("batch_invariant", True))
        # an encoder's sentence head (bundles before 0.3 record none: mean pooling, L2-normalised)
        self.head = Head.from_manifest(bundle.manifest.get("pooling"), bundle.path) if self.task == "encoder" else None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            path = self.bundle.tokenizer_file
            if path is None:
                raise BundleError(f"Bundle '{self.bundle.path}' has no tokenizer: pass token arrays, not text")
            try:
                from tokenizers import Tokenizer
            except ImportError as err:
                raise MissingRuntime("tokenizers", "runtime") from err
            tok = Tokenizer.from_file(str(path))
            tok.enable_truncation(max_length=self.max_positions)
            pad_id = tok.token_to_id("[PAD]") or 0
            tok.enable_padding(pad_id=pad_id, pad_token="[PAD]")
            self._tokenizer = tok
        return self._tokenizer

    def encode(self, texts: list[str], pairs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Texts (and optional second texts) -> int64 (B, T) arrays; over-long input is truncated with a warning."""
        batch = list(zip(texts, pairs)) if pairs is not None else list(texts)
        encodings = self.tokenizer.encode_batch(batch)
        cut = sum(1 for e in encodings if e.overflowing)
        self.truncated += cut
        if cut:
            warnings.warn(f"{cut} text(s) longer than {self.max_positions} tokens were truncated",
                          TruncationWarning, stacklevel=2)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return {k: v for k, v in feed.items() if k in self.bundle.input_names}

    def __call__(self, inputs: list[str] | dict[str, np.ndarray], pairs: list[str] | None = None) -> np.ndarray:
        """Raw outputs for texts (or a feed of right-padded token arrays): one text, one answer, whatever batch."""
        if not isinstance(inputs, dict) and self.runner.takes_text:
            return self.runner.run_text(list(inputs), pairs)
        feed = inputs if isinstance(inputs, dict) else self.encode(inputs, pairs)
        return self.run(feed)

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The runner on a feed; bundles whose output depends on batchmates (dynamic INT8) run a text at a time,
        each at its own length, and outputs are padded back to the batch's shape."""
        batch = next(iter(feed.values())).shape[0]
        if self.batch_invariant or batch == 1:
            return self.runner.run(feed)
        lengths = feed["attention_mask"].sum(axis=1)
        outs = []
        for i, n in enumerate(lengths):
            out = self.runner.run({k: v[i:i + 1, : int(n)] for k, v in feed.items()})
            if out.ndim == 3:  # (1, n, H) -> (1, T, H)
                out = np.pad(out, ((0, 0), (0, feed["attention_mask"].shape[1] - out.shape[1]), (0, 0)))
            outs.append(out)
        return np.concatenate(outs)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """Labels + softmax scores (classifiers) or mean-pooled, L2-normalised embeddings (encoders)."""
        if self.runner.takes_text:
            feed, out = None, self.runner.run_text(list(texts)).astype(np.float64)
        else:
            feed = self.encode(texts)
            out = self.run(feed).astype(np.float64)
        results = []
        if self.output_kind in ("logits", "probabilities"):
            probs = out if self.output_kind == "probabilities" else softmax(out)
            for text, row in zip(texts, probs):
                best = int(row.argmax())
                label = self.labels[best] if best < len(self.labels) else str(best)
                scores = {self.labels[i] if i < len(self.labels) else str(i): round(float(p), 6) for i, p in enumerate(row)}
                results.append({"text": text, "label": label, "score": round(float(row[best]), 6), "scores": scores})
        else:
            emb = self.sentence_vectors(out, feed)
            results = [{"text": t, "embedding": [round(float(x), 6) for x in e]} for t, e in zip(texts, emb)]
        return results

    def sentence_vectors(self, out: np.ndarray, feed: dict[str, np.ndarray] | None) -> np.ndarray:
        """An encoder's outputs -> one vector per text, as the model's own head says: token states are pooled here;
        graphs that pool (onnx-text, MediaPipe) already applied the head."""
        if self.output_kind == "last_hidden_state" and feed is not None:
            return pool(out, feed["attention_mask"], self.head)
        if "pooling" in self.bundle.manifest:
            return out.astype(np.float64)
        return out / np.clip(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12, None)  # bundles before 0.3


def predict_reporting_truncation(predictor: Predictor, texts: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """`predict`, with the truncation warnings it raised returned as lines instead of printed by Python."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        results = predictor.predict(texts)
    return results, [str(w.message) for w in caught if issubclass(w.category, TruncationWarning)]


def softmax(logits: np.ndarray) -> np.ndarray:
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)


def output_kind(manifest: dict[str, Any]) -> str:
    """logits | probabilities | last_hidden_state | embedding (manifests before 0.2: from the task)."""
    out = (manifest.get("outputs") or [{}])[0]
    return out.get("kind") or ("logits" if manifest.get("task") == "classification" else "last_hidden_state")


def max_tokens(manifest: dict[str, Any]) -> int:
    """The longest input the bundle takes: the model's own truncation (max_length; bundles before 0.3: max
    positions), or its largest static length (texts are cut to it)."""
    limit = int(manifest.get("max_length") or manifest.get("max_positions", 512))
    shapes = manifest.get("shapes") or {}
    if shapes.get("static") and shapes.get("seq_lens"):
        limit = min(limit, max(int(n) for n in shapes["seq_lens"]))
    return limit


def load(path: str | Path, device: str = "cpu", threads: int | None = None, verify: bool = True) -> Predictor:
    """Open a bundle (checking every file's sha256) and build its runner once."""
    bundle = Bundle.open(path, verify=verify)
    return Predictor(bundle, get_format(bundle.format).load(bundle, device, threads))
