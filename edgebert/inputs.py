"""Inputs for parity gates, calibration and benchmarks: real tokenized text where a tokenizer exists."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import UsageError

# Varied English: short and long, questions, negation, numbers, pairs of paraphrases and unrelated lines.
SENTENCES = [
    "The movie was an absolute delight from start to finish.",
    "I would not recommend this restaurant to anyone.",
    "A cat is sleeping on the warm windowsill.",
    "A kitten naps on a sunny window ledge.",
    "The stock market fell sharply after the announcement of new interest rates.",
    "How do I reset my password if I no longer have access to my email?",
    "Quantum computers use qubits, which can represent zero and one at the same time.",
    "The quarterly report shows revenue grew by 12 percent compared to last year.",
    "She played the violin beautifully at the concert last night.",
    "This phone's battery barely lasts half a day, which is really disappointing.",
    "Bake the bread at 220 degrees for about thirty-five minutes.",
    "Distillation trains a small student network to imitate a larger teacher network.",
    "The train to Berlin was delayed by two hours because of a signal failure.",
    "Is it going to rain in Paris tomorrow afternoon?",
    "I loved the characters, but the plot dragged on far too long and the ending made no sense at all, "
    "which left the whole audience confused and somewhat annoyed as we walked out of the theatre.",
    "Mobile devices have limited memory, so compact models are preferred for on-device inference.",
    "The children built a sandcastle near the edge of the water.",
    "Terrible customer service; they hung up on me twice.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "We finally fixed the bug that crashed the app whenever the user rotated the screen.",
]


def read_text_file(path: Path) -> list[str]:
    """One sentence per non-empty line of a user's calibration/parity text file."""
    if not path.is_file():
        raise UsageError(f"Text file '{path}' does not exist")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise UsageError(f"Text file '{path}' has no non-empty lines")
    return lines


def tokenize(tokenizer: Any, texts: list[str], seq_len: int | None, names: list[str],
             max_length: int | None = None) -> dict[str, np.ndarray]:
    """Tokenize with an HF fast tokenizer: pad to `seq_len` (or to the longest text, truncating at `max_length`),
    int64 arrays (B, T)."""
    padding: Any = "max_length" if seq_len else "longest"
    enc = tokenizer(texts, padding=padding, truncation=True, max_length=seq_len or max_length or 512,
                    return_tensors="np")
    feed = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if "token_type_ids" in names:
        feed["token_type_ids"] = enc.get("token_type_ids", np.zeros_like(enc["input_ids"]))
    return {k: np.asarray(v, dtype=np.int64) for k, v in feed.items() if k in names}


def random_ids(batch: int, seq_len: int, vocab_size: int, names: list[str], seed: int = 0,
               ragged: bool = True) -> dict[str, np.ndarray]:
    """Random ids with [CLS]/[SEP]-like ends and, when `ragged`, mixed lengths padded with 0."""
    rng = np.random.default_rng(seed)
    low = 1000 if vocab_size > 2000 else 1  # past BERT's special and unused tokens, when the vocabulary has them
    ids = rng.integers(low, max(low + 1, vocab_size - 1), size=(batch, seq_len), dtype=np.int64)
    mask = np.ones((batch, seq_len), dtype=np.int64)
    if ragged:
        for row in range(batch):
            length = int(rng.integers(max(2, seq_len // 4), seq_len + 1)) if row else seq_len
            ids[row, length:] = 0
            mask[row, length:] = 0
    ids[:, 0] = min(101, vocab_size - 1)  # [CLS] in BERT vocabularies; harmless elsewhere
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {k: v for k, v in feed.items() if k in names}


def parity_batches(tokenizer: Any | None, names: list[str], vocab_size: int,
                   texts: list[str] | None = None, max_len: int | None = None) -> list[dict[str, np.ndarray]]:
    """The gate's inputs: several batch sizes x sequence lengths (real text when a tokenizer exists).

    `max_len` caps the lengths for static-shape artifacts (texts are truncated to it)."""
    batches = []
    texts = texts or SENTENCES
    for batch, seq_len in ((1, 16), (4, 64), (8, None), (len(texts), 128)):
        if max_len:
            seq_len = min(seq_len, max_len) if seq_len else None
        if tokenizer is not None:
            chunk = [texts[(i * 3 + batch) % len(texts)] for i in range(batch)]
            feed = tokenize(tokenizer, chunk, seq_len, names)
            if max_len and feed["input_ids"].shape[1] > max_len:
                feed = tokenize(tokenizer, chunk, max_len, names)
            batches.append(feed)
        else:
            batches.append(random_ids(batch, seq_len or min(48, max_len or 48), vocab_size, names, seed=batch))
    return batches


def bench_feed(batch: int, seq_len: int, vocab_size: int, names: list[str]) -> dict[str, np.ndarray]:
    """A full (unpadded) batch of random ids: benchmark latency depends on shape only."""
    return random_ids(batch, seq_len, vocab_size, names, seed=1234, ragged=False)


def bench_call(runner: Any, batch: int, seq_len: int, vocab_size: int, names: list[str]) -> Any:
    """The call a benchmark times: token ids of shape (batch, seq_len), or for graphs that tokenize, texts that
    make seq_len tokens with [CLS]/[SEP] ("word" is one WordPiece token)."""
    if runner.takes_text:
        texts = [" ".join(["word"] * max(1, seq_len - 2))] * batch
        return lambda: runner.run_text(texts)
    feed = bench_feed(batch, seq_len, vocab_size, names)
    return lambda: runner.run(feed)


def calibration_feeds(tokenizer: Any | None, names: list[str], vocab_size: int, texts: list[str] | None,
                      seq_len: int = 128, max_length: int = 512) -> list[dict[str, np.ndarray]]:
    """One batch-1 feed per calibration text at its own length: the user's file, or SENTENCES plus the hostile
    corpus (activation ranges of 2-token inputs, punctuation runs and 500-token texts are what padded ordinary
    sentences never show: OpenVINO INT8 calibrated on those fell to cosine 0.75 on such text). Random ids without
    a tokenizer."""
    if tokenizer is None:
        return [random_ids(1, seq_len, vocab_size, names, seed=i) for i in range(len(texts or SENTENCES))]
    if not texts:
        from edgebert import hostile

        texts = SENTENCES + hostile.texts(tokenizer.backend_tokenizer, boundary_lengths(max_length))
    return [tokenize(tokenizer, [t], None, names, max_length=max_length) for t in texts]


def boundary_lengths(max_length: int) -> tuple[int, ...]:
    """Token counts that land on truncation boundaries: BERT's 128 and 512, and this model's own limit."""
    return tuple(sorted({n for n in (127, 128, 129, 511, 512, 513, max_length - 1, max_length, max_length + 1)
                         if n >= 3}))


def hostile_feeds(tokenizer: Any | None, names: list[str], max_len: int) -> list[dict[str, np.ndarray]]:
    """The hostile corpus (edgebert.hostile), each text alone at its own length, cut at max_len: part of every
    gate, so an export that answers unusual text wrongly is refused rather than shipped."""
    if tokenizer is None:
        return []
    from edgebert import hostile

    texts = hostile.texts(tokenizer.backend_tokenizer, boundary_lengths(max_len)) + hostile.REGRESSIONS
    return [tokenize(tokenizer, [t], None, names, max_length=max_len) for t in texts]
