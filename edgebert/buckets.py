"""Sequence-length buckets for static-shape artifacts: which lengths a bundle holds, given as a list, defaulted to a
ladder, or derived from the user's own texts.

A static file runs every text at its bucket's length, so the buckets decide the padding bill: the shipped sample's
texts are 17 tokens at the median, and one 128-token file pays 7x for them. A ladder lets the runner take the
smallest bucket that holds each text. MediaPipe's Tasks API takes one fixed length per file, so there the choice is
one length that keeps most texts whole.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from edgebert.errors import UsageError

DEFAULT_LADDER = (16, 32, 64, 128)  # fits the shipped sample (p50 17, p99 ~60 tokens) with the usual 128 on top
DEFAULT_SINGLE = 128  # one-length formats (MediaPipe) without --seq-len: what BERT text classifiers usually take
AUTO_QUANTILES = (0.5, 0.9, 0.99, 1.0)  # --seq-len auto: a bucket at each of these shares of the texts' lengths
AUTO_KEEP = 0.95  # --seq-len auto for one-length formats: the shortest length that keeps this share of texts whole
ROUND_TO = 8  # lengths round up to a multiple of 8: kernels vectorise over it, and it merges near-equal buckets


def parse(text: str | None) -> tuple[list[int] | None, bool]:
    """`--seq-len` as given: '' or None -> (None, False), the format's default; 'auto' -> (None, True);
    '16,32,64' -> ([16, 32, 64], False). A list must be ascending, without repeats, of positive lengths."""
    if text is None or not text.strip():
        return None, False
    if text.strip().lower() == "auto":
        return None, True
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--seq-len takes ascending whole numbers like 16,32,64,128, or auto (got '{text}')") from None
    check(values)
    return values, False


def check(lengths: Sequence[int], max_length: int | None = None) -> None:
    """Refuse a bucket list that is empty, not ascending, repeated, not positive, or beyond the model's positions."""
    if not lengths:
        raise UsageError("--seq-len needs at least one length, e.g. 16,32,64,128")
    bad = [n for n in lengths if n <= 0]
    if bad:
        raise UsageError(f"--seq-len lengths must be positive (got {bad[0]})")
    if len(set(lengths)) != len(lengths):
        raise UsageError(f"--seq-len lists a length twice ({','.join(map(str, lengths))})")
    if list(lengths) != sorted(lengths):
        raise UsageError(f"--seq-len lengths must be in ascending order (got {','.join(map(str, lengths))})")
    if max_length is not None and max(lengths) > max_length:
        raise UsageError(f"--seq-len {max(lengths)} is longer than the model takes ({max_length} positions). "
                         f"Fix: use lengths up to {max_length}")


def token_lengths(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Each text's length in tokens with the special tokens, untruncated (the cut is what the choice measures)."""
    enc = tokenizer(list(texts), add_special_tokens=True, truncation=False)
    return [len(ids) for ids in enc["input_ids"]]


def _round_up(n: int, cap: int) -> int:
    return min(cap, max(ROUND_TO, math.ceil(n / ROUND_TO) * ROUND_TO))


def _quantile(sorted_lengths: list[int], q: float) -> int:
    """The smallest length that holds a share q of the texts (nearest-rank, so the bucket really holds them)."""
    rank = max(1, math.ceil(q * len(sorted_lengths)))
    return sorted_lengths[rank - 1]


def ladder(lengths: Sequence[int], max_length: int) -> list[int]:
    """Buckets at the texts' length quantiles (AUTO_QUANTILES), rounded up to ROUND_TO and capped at max_length."""
    ordered = sorted(lengths)
    return sorted({_round_up(_quantile(ordered, q), max_length) for q in AUTO_QUANTILES})


def single(lengths: Sequence[int], max_length: int, keep: float = AUTO_KEEP) -> int:
    """One length: the shortest (rounded up) that keeps `keep` of the texts whole."""
    return _round_up(_quantile(sorted(lengths), keep), max_length)


def usage(lengths: Sequence[int], buckets: Sequence[int]) -> dict[str, Any]:
    """What `buckets` cost on these texts: how many run at each bucket, how many are cut at the largest, and the
    tokens run (padding included) against the tokens the texts hold."""
    ordered, per, cut, real, run = sorted(buckets), {str(b): 0 for b in buckets}, 0, 0, 0
    for n in lengths:
        fit = next((b for b in ordered if b >= n), ordered[-1])
        cut += n > fit
        per[str(fit)] += 1
        real += min(n, fit)
        run += fit
    return {"texts": len(lengths), "per_bucket": per, "cut": cut, "cut_share": round(cut / max(len(lengths), 1), 4),
            "tokens": real, "padding_tokens": run - real,
            "padding_share": round((run - real) / max(run, 1), 4)}


@dataclasses.dataclass(frozen=True)
class Choice:
    """The lengths a static export uses and how they were chosen (written to the manifest's shapes.buckets)."""

    seq_lens: list[int]
    how: str
    on_texts: dict[str, Any] | None = None  # usage() on the user's texts, when there were texts

    def to_manifest(self) -> dict[str, Any]:
        return {"how": self.how, **({"on_texts": self.on_texts} if self.on_texts else {})}


def choose(given: list[int] | None, auto: bool, one_length: bool, max_length: int, tokenizer: Any,
           texts: Sequence[str] | None) -> Choice:
    """The buckets for one export: the given list (checked against the model), a ladder (or one length) derived
    from the texts, or the default."""
    lengths = token_lengths(tokenizer, texts) if texts and tokenizer is not None else None
    if auto:
        if not lengths:
            raise UsageError("--seq-len auto chooses lengths from your texts: pass --texts FILE (one text a line)")
        if one_length:
            chosen = [single(lengths, max_length)]
            how = f"auto: the shortest length that keeps {AUTO_KEEP:.0%} of {len(lengths)} texts whole"
        else:
            chosen = ladder(lengths, max_length)
            how = (f"auto: buckets at the {', '.join(f'{q:.0%}' for q in AUTO_QUANTILES)} length quantiles of "
                   f"{len(lengths)} texts")
    elif given:
        check(given, max_length)
        if one_length and len(given) != 1:
            raise UsageError("MediaPipe text models have one fixed length: pass a single --seq-len (e.g. 128), or "
                             "--seq-len auto --texts FILE")
        chosen, how = list(given), "given (--seq-len)"
    elif one_length:
        chosen, how = [min(DEFAULT_SINGLE, max_length)], "default"
    else:
        chosen, how = sorted({min(n, max_length) for n in DEFAULT_LADDER}), "default ladder"
    return Choice(chosen, how, usage(lengths, chosen) if lengths else None)
