"""A bundle as the server holds it: loaded and golden-checked once, tokenized on the event loop, run on the model
threads. Runtime install only (numpy, tokenizers, the format's runtime): never torch.

ONNX Runtime sessions take concurrent runs, so every model thread shares one; other runtimes' interpreters are not
thread-safe, so each model thread gets its own runner.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import CheckFailed, first_line


@dataclass(frozen=True)
class Item:
    """One text waiting for the model: its token ids (unpadded), or the text itself for text-in graphs (then
    `tokens` counts words: the graph tokenizes)."""

    ids: tuple[int, ...]
    tokens: int
    text: str = ""


class ServedModel:
    """The bundle's predictors (one shared, or one per model thread), what it answers, and how to run a group."""

    def __init__(self, name: str, path: Path, predictors: list[Any], golden: dict[str, Any],
                 identity: dict[str, Any]) -> None:
        first = predictors[0]
        self.name, self.path, self.predictors, self.golden, self.identity = name, path, predictors, golden, identity
        self.output_kind: str = first.output_kind
        self.classifier = self.output_kind in ("logits", "probabilities")
        self.labels: list[str] = list(first.labels)
        self.takes_text: bool = first.runner.takes_text
        self.input_names: list[str] = list(first.bundle.input_names)
        self.max_positions: int = first.max_positions
        self.batch_invariant: bool = first.batch_invariant
        self.tokenizer = None if self.takes_text else _unpadded(first.tokenizer)
        self.pad_id = 0 if self.takes_text else (first.tokenizer.padding or {}).get("pad_id", 0)
        self.dim = 0  # answer width, known after the first run (load() runs one)

    @property
    def mixes(self) -> bool:
        """May texts of different requests share one padded run? Only when the bundle's output is batch-invariant
        (export measured it; dynamic INT8 is not) and the graph takes token batches."""
        return self.batch_invariant and not self.takes_text

    def encode(self, texts: list[str]) -> list[Item]:
        """Each text's ids at its own length (cut to the bundle's limit, as `predict` cuts)."""
        if self.takes_text:
            return [Item((), max(1, len(t.split())), t) for t in texts]
        encoded = [self.tokenizer.encode(texts[0])] if len(texts) == 1 else self.tokenizer.encode_batch(texts)
        return [Item(tuple(e.ids), len(e.ids)) for e in encoded]

    def run(self, worker: int, items: list[Item]) -> tuple[np.ndarray, int]:
        """(answers (N, D) float64, padded tokens run): softmax scores for classifiers, sentence vectors for encoders
        through the bundle's own head (Predictor.sentence_vectors: its pooling, Dense and normalisation), exactly as
        `Predictor.predict` computes them."""
        predictor = self.predictors[worker % len(self.predictors)]
        if self.takes_text:
            out = np.concatenate([np.asarray(predictor.runner.run_text([i.text]), np.float64) for i in items])
            return answers(predictor, out, None), sum(i.tokens for i in items)
        width = max(i.tokens for i in items)
        ids = np.full((len(items), width), self.pad_id, np.int64)
        mask = np.zeros((len(items), width), np.int64)
        for row, item in enumerate(items):
            ids[row, :item.tokens] = item.ids
            mask[row, :item.tokens] = 1
        full = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feed = {k: v for k, v in full.items() if k in self.input_names}
        out = np.asarray(predictor.runner.run(feed), np.float64)
        return answers(predictor, out, {**feed, "attention_mask": mask}), ids.size

    def describe(self) -> dict[str, Any]:
        """What /v1/models says about the bundle: identity (as bench rows name it), answers, batching, golden."""
        return {"name": self.name, **self.identity, "output_kind": self.output_kind, "labels": self.labels,
                "dim": self.dim, "max_positions": self.max_positions, "batch_invariant": self.batch_invariant,
                "mixes_requests": self.mixes, "golden": self.golden}


def answers(predictor: Any, out: np.ndarray, feed: dict[str, np.ndarray] | None) -> np.ndarray:
    """Raw float64 outputs -> what `predict` reports before rounding: probabilities, or the model's sentence
    vectors (its own pooling head; `feed` carries the mask, None for graphs that take text and pool)."""
    from edgebert.runtime import softmax

    if predictor.output_kind == "probabilities":
        return out
    if predictor.output_kind == "logits":
        return softmax(out)
    return predictor.sentence_vectors(out, feed)


def _unpadded(tokenizer: Any) -> Any:
    """A copy of the bundle's tokenizer that truncates as the Predictor's does but never pads: the batcher pads."""
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    return copy


def load(path: Path, name: str, device: str, threads: int, workers: int) -> ServedModel:
    """Open the bundle, build its runner(s), run its golden check (a failure refuses to serve it: exit 3)."""
    from edgebert import golden
    from edgebert.bench.spec import Target
    from edgebert.bench.targets import identity
    from edgebert.runtime import Predictor, load as load_predictor

    first = load_predictor(path, device=device, threads=threads)
    result = golden.check(first.bundle, first.runner)
    if not result.passed:
        raise CheckFailed(f"{name}: golden check {result.status} on this device ({result.reason}); not serving it. "
                          f"Fix: run `edgebert verify {path}`", 3 if result.status == "fail" else 1)
    predictors = [first]
    if getattr(first.runner, "runtime", "") != "onnxruntime":  # interpreters are not thread-safe: one per thread
        from edgebert.formats import get_format

        spec = get_format(first.bundle.format)
        predictors += [Predictor(first.bundle, spec.load(first.bundle, device, threads)) for _ in range(workers - 1)]
    model = ServedModel(name, Path(path), predictors, result.to_dict(), asdict(identity(Target("bundle", str(path)))))
    try:
        probe, _ = model.run(0, model.encode(["warm up"]))
    except Exception as err:  # noqa: BLE001 - a runner that cannot answer one text is not served
        raise CheckFailed(f"{name}: could not answer a text ({type(err).__name__}: {first_line(err)})") from err
    model.dim = int(probe.shape[-1])
    return model
