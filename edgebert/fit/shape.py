"""Candidate shapes: what a student's cost depends on (depth, heads and FFN width kept per layer, vocabulary size),
and a candidate = shape x format x static length x embedding precision. Plain arithmetic: params and FLOPs are
exact for the DistilBERT-layout student `edgebert distill` builds; keys are content hashes (resume)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from edgebert.arch import gflop

BYTES = {"fp32": 4.0, "fp16": 2.0, "int8": 1.0}  # per parameter, by the format's precision
SIZE_SLACK = 0.9  # a prediction drops a candidate only when 90% of it is already over the limit


def content_key(*parts: object) -> str:
    """16 hex digits of sha256 over JSON: the same inputs give the same key on every run and machine."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Shape:
    """A student architecture: teacher layers kept (`layer_map`), heads and FFN neurons kept per layer (uniform),
    vocabulary rows. Width (hidden) and head size stay the teacher's."""

    layer_map: tuple[int, ...]
    hidden: int
    heads: int
    teacher_heads: int
    head_dim: int
    ffn: int
    teacher_ffn: int
    vocab: int
    max_positions: int
    task: str = "classification"
    num_labels: int = 2

    @property
    def layers(self) -> int:
        return len(self.layer_map)

    @property
    def label(self) -> str:
        return f"{self.layers}L h{self.heads}/{self.teacher_heads} f{self.ffn}/{self.teacher_ffn} v{self.vocab}"

    def key(self) -> str:
        return content_key(asdict(self))

    def params(self) -> int:
        """Exact parameter count of the DistilBERT-layout student (classifier: pre_classifier + classifier)."""
        h, a, f = self.hidden, self.heads * self.head_dim, self.ffn
        layer = 3 * (h * a + a) + (a * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h
        head = h * h + h + h * self.num_labels + self.num_labels if self.task == "classification" else 0
        return self.embedding_params() + self.layers * layer + head

    def embedding_params(self) -> int:
        return self.vocab * self.hidden + self.max_positions * self.hidden + 2 * self.hidden

    def gflop(self, seq: int) -> float:
        """One sequence of `seq` tokens (arch.gflop with the kept attention width)."""
        return gflop(self.layers, self.hidden, self.ffn, 1, seq, attention=self.heads * self.head_dim)

    def within(self, other: "Shape") -> bool:
        """Every dimension no larger than `other`'s: its cost is no higher on the same format (monotone)."""
        return (self.layers <= other.layers and self.heads <= other.heads and self.ffn <= other.ffn
                and self.vocab <= other.vocab)


@dataclass(frozen=True)
class Candidate:
    """A shape in one format: `seq` is the static length (0: dynamic shapes), `embedding` the word-embedding
    precision of INT8 formats that can keep it fp32 ("" where the format decides)."""

    shape: Shape
    format: str
    precision: str  # fp32 | fp16 | int8
    seq: int = 0
    embedding: str = ""
    teacher: str = field(default="", compare=False)  # the teacher's fingerprint: part of the name

    @property
    def name(self) -> str:
        """The bundle's model name: the key bench rows (from any device) are matched on."""
        return "fit-" + content_key(self.teacher, asdict(self.shape), self.format, self.seq, self.embedding)

    @property
    def label(self) -> str:
        extra = (f" s{self.seq}" if self.seq else "") + (f" emb-{self.embedding}" if self.embedding else "")
        return f"{self.shape.label} {self.format}{extra}"

    def predicted_mb(self) -> float:
        """Bytes the weights take at the format's precision (fp32 embeddings where kept), in MB."""
        emb = self.shape.embedding_params()
        rest = self.shape.params() - emb
        emb_bytes = BYTES["fp32"] if self.embedding == "fp32" else BYTES[self.precision]
        return (emb * emb_bytes + rest * BYTES[self.precision]) / 1e6

    def group(self) -> tuple:
        """Candidates whose costs compare by shape alone (monotone within a group)."""
        return (self.format, self.seq, self.embedding)

    def to_dict(self) -> dict:
        s = self.shape
        return {"name": self.name, "label": self.label, "format": self.format, "precision": self.precision,
                "seq": self.seq, "embedding": self.embedding or None, "shape_key": s.key(),
                "shape": {**asdict(s), "layer_map": list(s.layer_map)}, "params": s.params(),
                "gflop_s128": round(s.gflop(128), 4), "predicted_mb": round(self.predicted_mb(), 2)}
