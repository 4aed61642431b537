"""Self-verifying bundles: a few real inputs and PyTorch's outputs for them, carried inside every bundle.

At export, each golden text is tokenized at its own length and run through PyTorch alone (batch 1), so a text
has one answer whatever it would be batched with. On a device, `check()` runs the same inputs through the
bundle's runtime and applies the gate recorded at export. Runtime-only: numpy and the format's runner.

golden.npz holds plain arrays (loaded with allow_pickle=False): the token inputs padded to a common length,
`lengths`, and `reference` = PyTorch's outputs, (N, C) / (N, H) for vector outputs or every valid token's
(sum(lengths), H) for token outputs. The texts, the gate and the file's sha256 are in manifest.json.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import BundleError, ParityError, first_line
from edgebert.parity import Gate, Parity, compare

GOLDEN_FILE = "golden.npz"
MAX_TOKENS = 64  # per text: keeps the file small (BERT-base token outputs: ~0.3 MB)
# Short and long, a question, negation, numbers, and capitals/accents/punctuation (tokenizers differ there).
GOLDEN_TEXTS = [
    "The movie was an absolute delight from start to finish.",
    "I would not recommend this restaurant to anyone.",
    "How do I reset my password if I no longer have access to my email?",
    "Bake the bread at 220 degrees for about thirty-five minutes.",
    "I loved the characters, but the plot dragged on far too long and the ending made no sense at all, "
    "which left the whole audience confused and somewhat annoyed as we walked out of the theatre.",
    "Café Zürich's crème brûlée was naïve — but GREAT!",
]


@dataclass
class GoldenResult:
    """One bundle's golden check: 'pass', 'fail' (outputs beyond the gate) or 'error' (could not run)."""

    status: str
    samples: int = 0
    max_abs: float | None = None
    mean_cosine: float | None = None
    min_cosine: float | None = None
    agreement: float | None = None
    gate: str = ""
    reason: str = ""
    buckets: dict[str, int] | None = None  # static shapes: golden texts run at each bucket (every bucket each fits)
    # static shapes, two buckets or more: pad_summary() of the same runs (the export gates on it; not in to_dict)
    padding: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "padding"}


def choose_texts(user_texts: list[str] | None, n: int = 6) -> list[str]:
    """The golden texts: with the user's own text (--calibration-text), six of it spread from shortest to longest
    (a device is checked on the inputs it will see); otherwise the built-in set (accents, a long text...)."""
    if not user_texts:
        return list(GOLDEN_TEXTS)
    ranked = sorted(dict.fromkeys(user_texts), key=lambda t: (len(t), t))
    if len(ranked) <= n:
        return ranked
    return [ranked[round(i * (len(ranked) - 1) / (n - 1))] for i in range(n)]


def golden_feeds(tokenizer: Any | None, names: list[str], vocab_size: int, max_len: int,
                 texts: list[str] | None = None, buckets: list[int] | None = None) -> list[dict[str, np.ndarray]]:
    """One batch-1 feed per golden text at its own length (at most max_len); seeded random ids without a tokenizer.
    With static `buckets` (lengths held side by side), each bucket shorter than every text gets the first text cut
    at it, so every bucket has a golden sample."""
    from edgebert.inputs import random_ids, tokenize

    limit = min(MAX_TOKENS, max_len)
    if tokenizer is None:
        feeds = [random_ids(1, n, vocab_size, names, seed=n, ragged=False) for n in (8, 16, 24, min(32, limit))]
    else:
        feeds = [tokenize(tokenizer, [text], None, names, max_length=limit) for text in texts or GOLDEN_TEXTS]
    shortest = min(f["attention_mask"].shape[1] for f in feeds)
    for n in sorted(b for b in buckets or [] if 2 <= b < shortest):
        feeds.append(random_ids(1, n, vocab_size, names, seed=n, ragged=False) if tokenizer is None else
                     tokenize(tokenizer, [(texts or GOLDEN_TEXTS)[0]], None, names, max_length=n))
    return feeds


def pack(feeds: list[dict[str, np.ndarray]], outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays for golden.npz: inputs padded with 0 to a common length, and the reference outputs."""
    lengths = np.array([f["attention_mask"].shape[1] for f in feeds], dtype=np.int64)
    width = int(lengths.max())
    arrays: dict[str, np.ndarray] = {"lengths": lengths}
    for name in feeds[0]:
        arrays[name] = np.stack([np.pad(f[name][0], (0, width - f[name].shape[1])) for f in feeds]).astype(np.int64)
    if outputs[0].ndim == 3:  # (1, T, H) each: keep every valid token, concatenated
        arrays["reference"] = np.concatenate([o[0] for o in outputs]).astype(np.float32)
    else:
        arrays["reference"] = np.concatenate(outputs).astype(np.float32)
    return arrays


def write(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write golden.npz (uncompressed: readable by any npz reader, including an app's)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (folder / GOLDEN_FILE).write_bytes(buf.getvalue())
    return GOLDEN_FILE


def section(texts: list[str] | None, arrays: dict[str, np.ndarray], gate: Gate, reference: str) -> dict[str, Any]:
    """The manifest's "golden" entry."""
    return {"file": GOLDEN_FILE, "samples": int(len(arrays["lengths"])), "texts": texts,
            "lengths": [int(n) for n in arrays["lengths"]], "reference": reference, "gate": gate.to_dict()}


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:  # never unpickle: a bundle may come from anywhere
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise BundleError(f"Golden file '{path}' is unreadable: {first_line(err)}") from err


def samples(arrays: dict[str, np.ndarray], names: list[str]) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray]]:
    """Unpack golden.npz into batch-1 feeds at each text's length and the matching reference outputs."""
    lengths = [int(n) for n in arrays["lengths"]]
    missing = [n for n in names if n not in arrays]
    if missing or "reference" not in arrays:
        raise BundleError(f"Golden file lacks {', '.join(missing or ['reference'])}. Fix: re-export the bundle")
    feeds = [{n: arrays[n][i:i + 1, :length] for n in names} for i, length in enumerate(lengths)]
    ref = arrays["reference"]
    if ref.shape[0] == len(lengths):  # one vector per sample
        refs = [ref[i:i + 1] for i in range(len(lengths))]
    elif ref.shape[0] == sum(lengths):  # every valid token of every sample
        cuts = np.cumsum([0] + lengths)
        refs = [ref[None, cuts[i]:cuts[i + 1]] for i in range(len(lengths))]
    else:
        raise BundleError(f"Golden reference has {ref.shape[0]} rows for {len(lengths)} samples. Fix: re-export")
    return feeds, refs


def check(bundle: Any, runner: Any) -> GoldenResult:
    """Run the bundle's golden inputs through its runner and apply the gate recorded at export.

    Token-input bundles get each golden input alone; bundles whose graph takes raw text get the golden texts
    (through `runner.run_text`)."""
    meta = bundle.manifest.get("golden")
    if not meta:
        return GoldenResult("error", reason="the bundle has no golden set (exported before edgebert 0.2). "
                                            "Fix: re-export it")
    gate = Gate.from_dict(meta["gate"])
    arrays = load_arrays(bundle.path / meta["file"])
    try:
        token_inputs = [n for n in bundle.input_names if n in arrays]
        if runner.takes_text:  # text-in graphs: the stored ids only shape the comparison
            token_inputs = [n for n in arrays if n not in ("lengths", "reference")]
        feeds, refs = samples(arrays, token_inputs or bundle.input_names)
        buckets = padding = None
        if runner.takes_text:
            actual = [np.asarray(runner.run_text([text])) for text in meta.get("texts") or []]
        elif static_lengths(bundle.manifest):
            feeds, refs, actual, buckets, padding = _every_bucket(feeds, refs, runner, static_lengths(bundle.manifest))
        else:
            actual = [np.asarray(runner.run(feed)) for feed in feeds]
        parity: Parity = compare(feeds, refs, actual, bundle.manifest.get("task", "encoder"), gate.min_margin)
    except BundleError:
        raise
    except ParityError as err:  # e.g. an output of the wrong shape
        return GoldenResult("fail", len(feeds), gate=gate.describe(), reason=str(err))
    except Exception as err:  # noqa: BLE001 - a runtime that fails on its own golden inputs is a failed check
        return GoldenResult("error", len(feeds) if "feeds" in locals() else 0,
                            reason=f"{type(err).__name__}: {first_line(err)}")
    ok, why = gate.judge(parity)
    empty = [n for n, runs in (buckets or {}).items() if not runs]
    if ok and empty:
        ok, why = False, f"no golden input fits bucket(s) {', '.join(empty)} (shorter than every golden text)"
    return GoldenResult("pass" if ok else "fail", parity.samples, parity.max_abs, parity.mean_cosine,
                        parity.min_cosine, parity.agreement, parity.gate, why, buckets, padding)


def static_lengths(manifest: dict[str, Any]) -> list[int]:
    """A static-shape bundle's buckets (its --seq-len), or [] for a dynamic one."""
    shapes = manifest.get("shapes") or {}
    return sorted(int(n) for n in shapes.get("seq_lens") or []) if shapes.get("static") else []


def _every_bucket(feeds: list, refs: list, runner: Any, lengths: list[int]) -> tuple:
    """Static shapes: each golden text is checked at every bucket it fits, not only its smallest, so a broken larger
    bucket fails the check; (feeds, references, outputs) per (text, bucket), the samples per bucket, and what padding
    did to the answers (pad_summary of the same runs)."""
    out_feeds, out_refs, actual, counts, per_text = [], [], [], {str(b): 0 for b in lengths}, []
    for feed, ref in zip(feeds, refs):
        width = feed["attention_mask"].shape[1]
        outs = {b: np.asarray(runner.run_bucket(feed, b)) for b in lengths if b >= width}
        per_text.append((feed, outs))
        for b, out in outs.items():
            out_feeds.append(feed)
            out_refs.append(ref)
            actual.append(out)
            counts[str(b)] += 1
    return out_feeds, out_refs, actual, counts, pad_summary(per_text) if len(lengths) > 1 else None


PAD_MIN_COSINE = 0.9999  # fp32: padding a text to a larger bucket must not change its answer


def pad_summary(per_text: list[tuple[dict[str, np.ndarray], dict[int, np.ndarray]]]) -> dict[str, Any]:
    """Does padding a text to a larger bucket change its answer? Each text's output at every bucket it fits vs at its
    smallest: the lowest cosine (of the pooled embedding for token outputs)."""
    from edgebert.parity import mean_pool

    low, pairs, seen = 1.0, 0, set()
    for feed, outs in per_text:
        seen.update(outs)
        vecs = [mean_pool(o, feed["attention_mask"]) if o.ndim == 3 else np.asarray(o, np.float64) for o in
                outs.values()]
        for vec in vecs[1:]:
            a, b = vecs[0].ravel(), vec.ravel()
            low = min(low, float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)))
            pairs += 1
    return {"min_cosine": low, "pairs": pairs, "buckets_run": sorted(seen), "min_required": PAD_MIN_COSINE,
            "how": "each golden text at every bucket it fits vs at its smallest bucket (cosine, pooled for token "
                   "outputs)"}
