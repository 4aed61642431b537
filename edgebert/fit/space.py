"""The search space from the teacher's config and the user's choices: depth (which teacher layers), heads and FFN
width kept per layer, vocabulary (the teacher's or shrunk), formats with their precision variants, the static
length of static-shape formats (from the texts' own lengths) and the embedding precision of INT8 formats."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgebert.errors import UsageError
from edgebert.fit.shape import BYTES, Candidate, Shape
from edgebert.formats import FORMATS, get_format

BUCKETS = (16, 32, 64, 128, 256, 512)
VOCABS = ("full", "shrink")
EMBEDDINGS = ("int8", "fp32")


@dataclass
class SpaceOptions:
    """What the user allows; None takes the default noted beside it."""

    formats: list[str] = field(default_factory=lambda: ["onnx-int8"])
    precisions: list[str] | None = None  # add these precision variants of each format [none: the formats as given]
    depths: list[int] | None = None  # student layers [1/2, 1/3, 1/4 of the teacher's]
    heads: list[int] | None = None  # heads kept per layer [all, half]
    ffn: list[int] | None = None  # FFN neurons kept per layer [all, 1/2, 1/4]
    vocabs: list[str] = field(default_factory=lambda: list(VOCABS))
    embeddings: list[str] = field(default_factory=lambda: list(EMBEDDINGS))
    seq_lens: list[int] | None = None  # static lengths [the buckets of the texts' p95 and longest]

    def __post_init__(self) -> None:
        for fmt in self.formats:
            spec = get_format(fmt)
            if spec.variant not in BYTES:
                raise UsageError(f"fit cannot search format '{fmt}' (variant {spec.variant}). Valid: "
                                 + ", ".join(n for n, s in FORMATS.items() if s.variant in BYTES))
        for name, values, valid in (("--precision", self.precisions or [], BYTES), ("--vocab", self.vocabs, VOCABS),
                                    ("--embedding", self.embeddings, EMBEDDINGS)):
            bad = [v for v in values if v not in valid]
            if bad:
                raise UsageError(f"{name} takes {', '.join(valid)} (got {', '.join(bad)})")
        for name, values in (("--depths", self.depths), ("--heads", self.heads), ("--ffn", self.ffn),
                             ("--seq-lens", self.seq_lens)):
            if values is not None and (not values or any(v <= 0 for v in values)):
                raise UsageError(f"{name} takes positive whole numbers")


@dataclass(frozen=True)
class Teacher:
    """What the space needs of the teacher, read from its config.json (no weights loaded)."""

    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    task: str
    num_labels: int

    @classmethod
    def from_config(cls, cfg: dict[str, Any], task: str) -> "Teacher":
        heads = cfg.get("num_attention_heads") or cfg.get("n_heads")
        hidden = cfg.get("hidden_size") or cfg.get("dim")
        labels = len(cfg.get("id2label") or {}) or 2
        return cls(int(cfg.get("num_hidden_layers") or cfg["n_layers"]), int(hidden), int(heads),
                   int(cfg.get("intermediate_size") or cfg["hidden_dim"]), int(cfg["vocab_size"]),
                   int(cfg["max_position_embeddings"]), task, labels)


def _round(value: float, unit: int) -> int:
    return max(unit, int(round(value / unit)) * unit)


def default_depths(layers: int) -> list[int]:
    return sorted({max(1, round(layers * f)) for f in (1 / 2, 1 / 3, 1 / 4)})


def shapes(t: Teacher, opts: SpaceOptions, shrunk_vocab: int | None) -> list[Shape]:
    """Every (depth, heads, FFN, vocab) shape the options allow, smallest first."""
    from edgebert.distill.student import resolve_layer_map

    unit = 64 if t.ffn >= 256 else 8
    depths = opts.depths or default_depths(t.layers)
    heads = opts.heads or sorted({t.heads, max(1, t.heads // 2)})
    ffns = opts.ffn or sorted({t.ffn, _round(t.ffn / 2, unit), _round(t.ffn / 4, unit)})
    for name, values, top in (("--depths", depths, t.layers), ("--heads", heads, t.heads), ("--ffn", ffns, t.ffn)):
        if max(values) > top:
            raise UsageError(f"{name} {max(values)} is more than the teacher's {top}")
    vocabs = sorted({t.vocab if v == "full" else shrunk_vocab or t.vocab for v in opts.vocabs})
    out = [Shape(tuple(resolve_layer_map("every-other", t.layers, d)), t.hidden, h, t.heads, t.hidden // t.heads,
                 f, t.ffn, v, t.max_positions, t.task, t.num_labels)
           for d in depths for h in heads for f in ffns for v in vocabs]
    return sorted(out, key=lambda s: (s.gflop(128), s.params()))


def formats(opts: SpaceOptions) -> list[str]:
    """The allowed formats and, with --precision, their precision siblings (same family)."""
    names: list[str] = []
    for fmt in opts.formats:
        spec = get_format(fmt)
        siblings = [n for n, s in FORMATS.items() if s.family is spec.family and s.variant in (opts.precisions or [])]
        for name in [fmt, *siblings]:
            if name not in names:
                names.append(name)
    return names


def bucket(tokens: int) -> int:
    return next((b for b in BUCKETS if b >= tokens), BUCKETS[-1])


def static_lengths(token_counts: list[int], max_len: int) -> list[int]:
    """The static lengths a fixed-shape format is tried at: the buckets of the texts' p95 and longest (<= max_len)."""
    ordered = sorted(token_counts)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return sorted({min(bucket(p95), max_len), min(bucket(ordered[-1]), max_len)})


def candidates(shape_list: list[Shape], opts: SpaceOptions, lengths: list[int], teacher_key: str) -> list[Candidate]:
    """shapes x formats x static lengths x embedding precisions, cheapest first."""
    out = []
    for fmt in formats(opts):
        spec = get_format(fmt)
        seqs = (opts.seq_lens or lengths) if spec.caps.static_shapes == "always" else [0]
        embs = opts.embeddings if spec.caps.fp32_fallback and spec.variant == "int8" else [""]
        out += [Candidate(s, fmt, spec.variant, seq, emb, teacher_key)
                for s in shape_list for seq in seqs for emb in embs]
    return sorted(out, key=lambda c: (c.shape.gflop(c.seq or 128), c.predicted_mb(), c.format))
