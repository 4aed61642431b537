"""Text to answer: latency from a user's string to a label or an embedding, one request at a time, at the texts'
real lengths. Each request is timed end to end (tokenize, pad to what the format takes, run, softmax/pooling)
with the model-only part (the run) timed inside it, so the two sit side by side in one row.

Dynamic-shape formats run at each text's length; static-shape ones (TFLite, static OpenVINO and ONNX) pay their
bucket's padding, and the row records both the real and the padded token counts, the tokens wasted to padding and
how many texts ran at each bucket.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable


from edgebert.bench.stats import Latency, percentile
from edgebert.errors import UsageError

MAX_TEXT_CHARS = 20_000  # a "text" longer than this is not one request's input; refuse it with its line


def default_texts() -> list[str]:
    """The shipped sample: 120 real texts (CPython docstrings and documentation), 4-212 tokens."""
    return resources.files("edgebert.assets").joinpath("sample_texts.txt").read_text(encoding="utf-8").splitlines()


def read_texts(path: Path) -> list[str]:
    """One text a line; empty, binary or absurdly long lines are usage errors naming the line."""
    if not path.is_file():
        raise UsageError(f"Texts file '{path}' does not exist")
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise UsageError(f"'{path}' is binary, not one text a line")
    texts = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            raise UsageError(f"{path}:{lineno}: not UTF-8 ({err.reason}). Fix: save the file as UTF-8") from None
        if len(line) > MAX_TEXT_CHARS:
            raise UsageError(f"{path}:{lineno}: a line of {len(line)} characters is not one text (limit "
                             f"{MAX_TEXT_CHARS}). Fix: one text a line")
        if line:
            texts.append(line)
    if not texts:
        raise UsageError(f"Texts file '{path}' has no non-empty lines")
    return texts


def resolve_texts(option: str | None) -> tuple[list[str] | None, str]:
    """`--texts`: None, 'sample' (the shipped sample) or a file; returns the texts and the name rows record."""
    if option is None:
        return None, ""
    if option == "sample":
        return default_texts(), "sample"
    return read_texts(Path(option)), Path(option).name


@dataclass
class Answer:
    e2e_ns: int
    model_ns: int
    tokens: int
    padded: int
    static: bool = False  # padded is the static bucket the text ran at


class BundleAnswerer:
    """A bundle's Predictor: encode -> run (the format pads as it must) -> softmax or pooled embedding."""

    def __init__(self, predictor: Any) -> None:
        from edgebert.runner import pick_length

        self.p = predictor
        shapes = predictor.bundle.manifest.get("shapes") or {}
        static = shapes.get("seq_lens") if shapes.get("static") else None
        self._padded = (lambda n: pick_length(static, min(n, max(static)))) if static else (lambda n: n)
        self._static = bool(static)

    def __call__(self, text: str) -> Answer:
        from edgebert.runtime import softmax

        clock = time.perf_counter_ns
        start = clock()
        if self.p.runner.takes_text:  # the graph tokenizes: the run is the whole model part
            mid = clock()
            out = self.p.runner.run_text([text])
            end_model = clock()
            tokens = min(len(self.p.tokenizer.encode(text).ids), self.p.max_positions)  # for the row only
            feed = None
        else:
            feed = self.p.encode([text])
            mid = clock()
            out = self.p.run(feed)
            end_model = clock()
            tokens = int(feed["attention_mask"].sum())
        # the answer an app shows: probabilities, or the sentence vector its head makes (timed, then dropped)
        _ = softmax(out) if self.p.output_kind == "logits" else self.p.sentence_vectors(out, feed) \
            if self.p.task == "encoder" else out
        end = clock()
        return Answer(end - start, end_model - mid, tokens, self._padded(tokens), self._static)


class TorchAnswerer:
    """Eager PyTorch with the model's HF tokenizer: the baseline's text-to-answer."""

    def __init__(self, model: Any, runner: Any) -> None:
        if model.tokenizer is None:
            raise UsageError(f"'{model.source.spec}' has no tokenizer: text-to-answer needs one")
        self.model, self.runner = model, runner

    def __call__(self, text: str) -> Answer:
        from edgebert.inputs import tokenize
        from edgebert.pooling import pool
        from edgebert.runtime import softmax

        clock = time.perf_counter_ns
        start = clock()
        feed = tokenize(self.model.tokenizer, [text], None, self.model.input_names, max_length=self.model.max_length)
        mid = clock()
        out = self.runner.run(feed)
        end_model = clock()
        _ = softmax(out) if self.model.task == "classification" else pool(out, feed["attention_mask"], self.model.head)
        end = clock()
        n = int(feed["attention_mask"].sum())
        return Answer(end - start, end_model - mid, n, n)


def measure(answer: Callable[[str], Answer], texts: list[str], warmup: int, min_seconds: float
            ) -> dict[str, Any]:
    """Every text at least once (in order), repeated until min_seconds; returns the row's text fields."""
    for text in texts[:warmup]:
        answer(text)
    results: list[Answer] = []
    deadline = time.perf_counter() + min_seconds
    while len(results) < len(texts) or time.perf_counter() < deadline:
        results.append(answer(texts[len(results) % len(texts)]))
    model = Latency.from_ns([r.model_ns for r in results])
    once = results[: len(texts)]  # each text once: what the texts cost, whatever the repeats
    tokens = sorted(float(r.tokens) for r in once)
    padded = sorted(float(r.padded) for r in once)
    buckets = None
    if once[0].static:  # the bucket each text ran at, smallest bucket first
        buckets = {str(b): sum(1 for r in once if r.padded == b) for b in sorted({r.padded for r in once})}
    return {**Latency.from_ns([r.e2e_ns for r in results]).to_fields(batch=1), "texts": len(texts),
            "model_p50_ms": round(model.p50_ms, 4), "model_p90_ms": round(model.p90_ms, 4),
            "tokens_p50": percentile(tokens, 50), "tokens_p90": percentile(tokens, 90),
            "padded_tokens_p50": percentile(padded, 50), "padded_tokens_p90": percentile(padded, 90),
            "tokens": sum(r.tokens for r in once), "padding_tokens": sum(r.padded - r.tokens for r in once),
            "buckets": buckets}
