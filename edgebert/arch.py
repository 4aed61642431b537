"""Architectures as numbers: the shipped configs of the known ones, (layers, hidden, intermediate) of any HF config,
and the FLOPs of a forward pass. Plain arithmetic on dicts: the device side, export, bench and fit all read it.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from edgebert.errors import UsageError

ARCHITECTURES = ("bert-base-uncased", "distilbert-base-uncased")


def packaged_config(arch: str) -> dict[str, Any]:
    """The config.json of a known architecture, shipped inside the package (no network)."""
    if arch not in ARCHITECTURES:
        raise UsageError(f"Unknown architecture '{arch}' for --random-weights. Valid: {', '.join(ARCHITECTURES)}")
    return json.loads(resources.files("edgebert.configs").joinpath(f"{arch}.json").read_text())


def model_shape(config: dict[str, Any]) -> tuple[int, int, int] | None:
    """(layers, hidden, intermediate) from an HF config dict (BERT or DistilBERT names)."""
    layers = config.get("num_hidden_layers") or config.get("n_layers")
    hidden = config.get("hidden_size") or config.get("dim")
    inter = config.get("intermediate_size") or config.get("hidden_dim")
    return (int(layers), int(hidden), int(inter)) if layers and hidden and inter else None


def attention_width(config: dict[str, Any]) -> int | None:
    """Q/K/V width of a head-pruned model (kept heads x head size, from its `edgebert_pruning` record), else None
    (the width is the hidden size). Pruning keeps the same head count in every layer."""
    record = config.get("edgebert_pruning") or {}
    heads = record.get("heads_per_layer") or []
    return int(max(heads)) * int(record["head_dim"]) if heads and record.get("head_dim") else None


def gflop(layers: int, hidden: int, intermediate: int, batch: int, seq: int, attention: int | None = None) -> float:
    """Multiply-adds x 2 of a BERT encoder's forward pass: per layer Q, K, V and output projections
    (4 x 2SHA), attention scores and context (2 x 2S^2A) and the FFN (2 x 2SHI), with A the attention width (kept
    heads x head size; the hidden size H unless pruned); embeddings, softmax and norms are O(SH) and left out.
    DistilBERT s128: 11.17; BERT-base s128: 22.35."""
    a = attention or hidden
    per_layer = 4 * 2 * seq * hidden * a + 2 * 2 * seq * seq * a + 2 * 2 * seq * hidden * intermediate
    return batch * layers * per_layer / 1e9
