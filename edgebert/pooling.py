"""How an encoder turns token states into one sentence vector: the model's own sentence-transformers head.

sentence-transformers folders say it in `modules.json` + `1_Pooling/config.json` (cls for the BGE family, mean for
MiniLM/E5/GTE, max, mean with sqrt length, weighted mean, last token; several modes concatenate in that order),
`N_Dense/` (a Linear + torch activation) and a `Normalize` module; `sentence_bert_config.json` gives the length the
model's users truncate at (MiniLM: 256, not its 512 positions). Both the legacy (2.x-5.x, every hub model) and the
6.x layouts are read. A model without them keeps mean pooling, recorded as such.

`pool()` applies a head in numpy (the device side: no torch); `head_module()` is the same head as a traceable torch
module, for formats whose graph carries the pooling (onnx-text, MediaPipe's embedder). The tests hold both against
sentence-transformers' own formulas.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import UsageError

MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")  # concatenation order
LEGACY_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
               "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
               "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
ALIASES = {"mean_tokens": "mean", "max_tokens": "max", "cls_token": "cls", "mean_sqrt_len": "mean_sqrt_len_tokens"}
# torch.nn activations a Dense may name (all export to ONNX/TFLite), with their numpy twins for the device side
_erf = np.vectorize(math.erf)
ACTIVATIONS = {"Tanh": np.tanh, "Identity": lambda x: x, "ReLU": lambda x: np.maximum(x, 0),
               "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "GELU": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))}
OVERRIDES = ("cls", "mean", "max")  # what --pooling takes
HEAD_FILE = "head.npz"  # Dense weights inside a bundle, for formats that output token states


@dataclass
class Dense:
    weight: np.ndarray  # (out, in)
    bias: np.ndarray | None  # (out,)
    activation: str  # a torch.nn class name

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ACTIVATIONS[self.activation](x @ self.weight.T + (self.bias if self.bias is not None else 0.0))


@dataclass
class Head:
    """What follows the encoder: pooling modes (concatenated), Dense layers, L2 normalisation."""

    modes: tuple[str, ...] = ("mean",)
    source: str = "default"  # "sentence-transformers" | "default (no sentence-transformers config)" | "--pooling"
    dense: list[Dense] = field(default_factory=list)
    normalize: bool = False
    max_seq_length: int | None = None  # the truncation the model's users see, when the model says

    def to_manifest(self) -> dict[str, Any]:
        return {"modes": list(self.modes), "source": self.source, "normalize": self.normalize,
                "dense": [{"in": d.weight.shape[1], "out": d.weight.shape[0], "bias": d.bias is not None,
                           "activation": d.activation} for d in self.dense],
                "dense_file": HEAD_FILE if self.dense else None, "max_seq_length": self.max_seq_length}

    @classmethod
    def from_manifest(cls, entry: dict[str, Any] | None, folder: Path | None = None) -> "Head":
        """The head a bundle records (bundles before 0.3 recorded none: mean pooling)."""
        if not entry:
            return cls()
        dense = []
        if entry.get("dense"):
            with np.load(folder / entry["dense_file"], allow_pickle=False) as data:  # never unpickle a bundle
                dense = [Dense(data[f"w{i}"], data[f"b{i}"] if f"b{i}" in data else None, d["activation"])
                         for i, d in enumerate(entry["dense"])]
        return cls(tuple(entry["modes"]), entry.get("source", ""), dense, bool(entry.get("normalize")),
                   entry.get("max_seq_length"))

    def write_dense(self, folder: Path) -> None:
        if self.dense:
            arrays = {f"w{i}": d.weight.astype(np.float32) for i, d in enumerate(self.dense)}
            arrays |= {f"b{i}": d.bias.astype(np.float32) for i, d in enumerate(self.dense) if d.bias is not None}
            np.savez(folder / HEAD_FILE, **arrays)



# Without a sentence-transformers config: mean pooling, L2-normalised (what edgebert's embeddings always were)
DEFAULT = Head(("mean",), "default (no sentence-transformers config)", normalize=True)


def pool(hidden: np.ndarray, mask: np.ndarray, head: Head = DEFAULT) -> np.ndarray:
    """(B, T, H) token states and (B, T) mask (right padding) -> (B, D) sentence vectors, as the head says."""
    hidden = hidden.astype(np.float64)
    weights = mask[..., None].astype(np.float64)  # (B, T, 1)
    count = np.clip(weights.sum(axis=1), 1e-9, None)  # (B, 1)
    outs = []
    for mode in head.modes:
        if mode == "cls":
            outs.append(hidden[:, 0])
        elif mode == "max":
            outs.append(np.where(weights > 0, hidden, -np.inf).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            outs.append((hidden * weights).sum(axis=1) / (count if mode == "mean" else np.sqrt(count)))
        elif mode == "weightedmean":
            w = weights * np.arange(1, hidden.shape[1] + 1)[None, :, None]
            outs.append((hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None))
        else:  # lasttoken
            last = np.clip(mask.sum(axis=1).astype(int) - 1, 0, None)
            outs.append(hidden[np.arange(hidden.shape[0]), last])
    out = np.concatenate(outs, axis=-1)
    for dense in head.dense:
        out = dense.apply(out)
    if head.normalize:
        out = out / np.clip(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12, None)
    return out


def override(mode: str) -> Head:
    """`--pooling cls|mean|max`: that mode alone, L2-normalised, no Dense (the model's config is set aside)."""
    if mode not in OVERRIDES:
        raise UsageError(f"Unknown --pooling '{mode}'. Valid: {', '.join(OVERRIDES)}")
    return Head((mode,), "--pooling", normalize=True)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _modes(cfg: dict[str, Any], where: str) -> tuple[str, ...]:
    if "pooling_mode" in cfg:  # 6.x: a string or a list
        raw = cfg["pooling_mode"]
        modes = tuple(ALIASES.get(m, m) for m in ((raw,) if isinstance(raw, str) else raw))
    else:
        modes = tuple(mode for key, mode in LEGACY_KEYS.items() if cfg.get(key)) or ("mean",)
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise UsageError(f"Unknown pooling mode '{bad[0]}' in {where}. Valid: {', '.join(MODES)}")
    return tuple(m for m in MODES if m in modes)  # sentence-transformers concatenates in this order


def _dense(folder: Path, width: int, where: str) -> Dense:
    cfg = _json(folder / "config.json")
    activation = str(cfg.get("activation_function") or "torch.nn.modules.activation.Tanh")
    name = activation.rsplit(".", 1)[-1]
    if not activation.startswith("torch.") or name not in ACTIVATIONS:
        raise UsageError(f"{where}: activation '{activation}' is not one edgebert exports. "
                         f"Valid: {', '.join(f'torch.nn.{a}' for a in ACTIVATIONS)}")
    if cfg.get("use_residual") or cfg.get("module_input_name", "sentence_embedding") != "sentence_embedding":
        raise UsageError(f"{where}: a Dense with a residual or on token embeddings is not supported")
    weights = _dense_weights(folder, where)
    w, b = weights.get("linear.weight"), weights.get("linear.bias")
    size_in, size_out = int(cfg.get("in_features", -1)), int(cfg.get("out_features", -1))
    if size_in != width or w is None or w.shape != (size_out, size_in) or (
            cfg.get("bias", True) and (b is None or b.shape != (size_out,))):
        raise UsageError(f"{where}: Dense {size_in}->{size_out} does not fit its input ({width} wide) or its "
                         f"weights {None if w is None else tuple(w.shape)}")
    return Dense(w, b if cfg.get("bias", True) else None, name)


def _dense_weights(folder: Path, where: str) -> dict[str, np.ndarray]:
    if (folder / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        import torch

        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)  # no pickled code
        return {k: v.float().numpy() for k, v in state.items()}
    raise UsageError(f"{where} has no model.safetensors or pytorch_model.bin")


def read_head(model_dir: Path, hidden_size: int) -> Head | None:
    """The folder's sentence-transformers head, or None when the folder has no modules.json."""
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return None
    head, width = Head(source="sentence-transformers"), hidden_size
    for entry in sorted(json.loads(modules.read_text()), key=lambda e: e.get("idx", 0)):
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]  # legacy and 6.x type paths end alike
        folder, where = model_dir / entry.get("path", ""), f"{model_dir.name}/{entry.get('path', '')}"
        if kind == "Transformer":
            head.max_seq_length = _json(model_dir / "sentence_bert_config.json").get("max_seq_length")
        elif kind == "Pooling":
            cfg = _json(folder / "config.json")
            dim = cfg.get("embedding_dimension", cfg.get("word_embedding_dimension", hidden_size))
            if dim != hidden_size:
                raise UsageError(f"{where}/config.json says dimension {dim}; the encoder's hidden size is {hidden_size}")
            head.modes = _modes(cfg, f"{where}/config.json")
            width = hidden_size * len(head.modes)
        elif kind == "Dense":
            head.dense.append(_dense(folder, width, where))
            width = head.dense[-1].weight.shape[0]
        elif kind == "Normalize":
            head.normalize = True  # the folder may be missing (all-MiniLM-L6-v2 ships none)
        else:
            raise UsageError(f"{model_dir.name}/modules.json names a {kind} module; edgebert applies Transformer, "
                             "Pooling, Dense and Normalize")
    return head


def head_module(head: Head) -> Any:
    """The head as a torch module (hidden (B, T, H), mask (B, T)) -> (B, D), traceable by torch.onnx, litert-torch
    and torch.export. Max pooling fills padding with the column's minimum: the same result as -inf, finite in fp16."""
    import torch

    class SentenceHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = []
            for d in head.dense:
                linear = torch.nn.Linear(d.weight.shape[1], d.weight.shape[0], bias=d.bias is not None)
                with torch.no_grad():
                    linear.weight.copy_(torch.from_numpy(d.weight))
                    if d.bias is not None:
                        linear.bias.copy_(torch.from_numpy(d.bias))
                layers += [linear, getattr(torch.nn, d.activation)()]
            self.dense = torch.nn.Sequential(*layers)

        def forward(self, hidden, attention_mask):  # (B, T, H), (B, T)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            count = mask.sum(1).clamp(min=1e-9)  # (B, 1)
            outs = []
            for mode in head.modes:
                if mode == "cls":
                    outs.append(hidden[:, 0])
                elif mode == "max":
                    floor = hidden.amin(dim=1, keepdim=True).expand_as(hidden)
                    outs.append(torch.where(mask > 0, hidden, floor).amax(dim=1))
                elif mode in ("mean", "mean_sqrt_len_tokens"):
                    outs.append((hidden * mask).sum(1) / (count if mode == "mean" else count.sqrt()))
                elif mode == "weightedmean":
                    w = mask * torch.cumsum(torch.ones_like(mask), dim=1)  # weights 1..T
                    outs.append((hidden * w).sum(1) / w.sum(1).clamp(min=1e-9))
                else:  # lasttoken
                    last = (attention_mask.sum(1) - 1).clamp(min=0).long().view(-1, 1, 1)
                    outs.append(torch.gather(hidden, 1, last.expand(-1, 1, hidden.shape[-1])).squeeze(1))
            out = self.dense(outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1))
            return torch.nn.functional.normalize(out, p=2.0, dim=-1) if head.normalize else out

    return SentenceHead().eval()
