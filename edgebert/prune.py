"""Structured pruning of BERT / DistilBERT: whole attention heads and whole FFN neurons, so the result is a smaller
dense model every runtime runs faster (not a sparse one that needs a special engine).

transformers 5 removed `prune_heads` and `head_mask` (a `head_mask` argument is swallowed silently), so:
- importance comes from gates hooked (forward pre-hooks) onto the inputs of the attention output projection
  (B, T, H*d) and the FFN output projection (B, T, I): the gradient of the task loss w.r.t. a gate that scales each
  head / neuron, |grad| summed over batches (Michel et al. 2019; Kwon et al. 2022), or, without labels, each head's
  and neuron's mean contribution to the output ("contribution", Wanda-like);
- `prune_` slices the Linear layers in place, the same counts in every layer (ONNX Runtime's attention fusion takes
  one head count for the whole graph), each layer keeping its own best heads/neurons;
- a standard config cannot say "6 heads of 32 in hidden 384", so the head count stays the teacher's (head size
  stays right) and the kept shape is recorded as `config.edgebert_pruning`; `load_pruned` rebuilds that shape
  before a strict weight load (a plain `from_pretrained` refuses the sliced tensors, and must never be told to
  ignore mismatched sizes: it would re-initialise them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from edgebert.errors import ModelLoadError, UsageError

PRUNING_KEY = "edgebert_pruning"
METHODS = ("grad", "contribution")


@dataclass
class LayerParts:
    """One encoder layer's modules that heads and FFN neurons live in (dotted names relative to `owner`)."""

    owner: Any  # the layer module
    attn: Any  # the module that owns attention_head_size
    qkv: tuple[str, str, str]
    out: str  # attention output projection: in_features = heads x head_dim
    ffn_in: str  # intermediate dense: out_features = width
    ffn_out: str  # FFN output dense: in_features = width

    def get(self, dotted: str) -> Any:
        mod = self.owner
        for part in dotted.split("."):
            mod = getattr(mod, part)
        return mod

    def put(self, dotted: str, new: Any) -> None:
        *path, last = dotted.split(".")
        setattr(self.get(".".join(path)) if path else self.owner, last, new)

    @property
    def head_dim(self) -> int:
        return int(getattr(self.attn, "attention_head_size", 0) or self.attn.dim // self.attn.n_heads)

    @property
    def heads(self) -> int:
        return self.get(self.qkv[0]).out_features // self.head_dim

    @property
    def width(self) -> int:
        return self.get(self.ffn_in).out_features


def base_model(model: Any) -> Any:
    """The encoder inside a task model (model.bert / model.distilbert), or the model itself."""
    for name in ("bert", "distilbert"):
        if hasattr(model, name):
            return getattr(model, name)
    return model


def layer_parts(model: Any) -> list[LayerParts]:
    base = base_model(model)
    kind = base.config.model_type
    if kind == "bert":
        return [LayerParts(layer, layer.attention.self, ("attention.self.query", "attention.self.key",
                           "attention.self.value"), "attention.output.dense", "intermediate.dense", "output.dense")
                for layer in base.encoder.layer]
    if kind == "distilbert":
        return [LayerParts(layer, layer.attention, ("attention.q_lin", "attention.k_lin", "attention.v_lin"),
                           "attention.out_lin", "ffn.lin1", "ffn.lin2") for layer in base.transformer.layer]
    raise UsageError(f"Pruning supports bert and distilbert models, not '{kind}'")


class Gates:
    """Pre-hooks scaling each head's context (B, T, H, d) and each FFN neuron (B, T, I) by a leaf tensor of ones:
    their gradients are the importance signal; with `record`, each head's / neuron's output contribution too."""

    def __init__(self, model: Any, record: bool = False) -> None:
        import torch

        self.parts = layer_parts(model)
        self.head = [torch.ones(p.heads, requires_grad=True) for p in self.parts]
        self.neuron = [torch.ones(p.width, requires_grad=True) for p in self.parts]
        self.head_contrib = [torch.zeros(p.heads) for p in self.parts]
        self.neuron_contrib = [torch.zeros(p.width) for p in self.parts]
        self.record = record
        self.handles = []
        for i, p in enumerate(self.parts):
            self.handles.append(p.get(p.out).register_forward_pre_hook(self._head_hook(i, p.head_dim)))
            self.handles.append(p.get(p.ffn_out).register_forward_pre_hook(self._neuron_hook(i)))

    def _head_hook(self, i: int, d: int) -> Callable:
        import torch

        def hook(mod: Any, args: tuple) -> tuple:
            x = args[0]  # (B, T, H*d)
            xh = x.view(*x.shape[:-1], -1, d)  # (B, T, H, d)
            if self.record:
                with torch.no_grad():  # each head's own term of the output projection: norm per token, mean
                    w = mod.weight.view(mod.out_features, -1, d)  # (out, H, d)
                    self.head_contrib[i] += torch.einsum("bthd,ohd->btho", xh, w).norm(dim=-1).mean(dim=(0, 1))
            return ((xh * self.head[i].view(1, 1, -1, 1)).reshape(x.shape),)
        return hook

    def _neuron_hook(self, i: int) -> Callable:
        import torch

        def hook(mod: Any, args: tuple) -> tuple:
            x = args[0]  # (B, T, I)
            if self.record:
                with torch.no_grad():
                    self.neuron_contrib[i] += x.abs().mean(dim=(0, 1)) * mod.weight.norm(dim=0)
            return (x * self.neuron[i],)
        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def importance(model: Any, batches: Iterable[dict[str, Any]], loss_fn: Callable[[Any, dict], Any] | None,
               method: str = "grad") -> tuple[list[Any], list[Any]]:
    """Per layer: head scores (H,) and FFN-neuron scores (I,). `grad`: sum |dL/dgate| (loss_fn(model, batch));
    `contribution`: label-free mean output contribution (for encoders without labels). Dropout off."""
    import torch

    if method not in METHODS:
        raise UsageError(f"Unknown importance method '{method}'. Valid: {', '.join(METHODS)}")
    gates = Gates(model, record=method == "contribution")
    heads = [torch.zeros_like(g) for g in gates.head]
    neurons = [torch.zeros_like(g) for g in gates.neuron]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            if method == "contribution":
                with torch.no_grad():
                    model(**batch)
                continue
            grads = torch.autograd.grad(loss_fn(model, batch), gates.head + gates.neuron)
            n = len(gates.head)
            for i in range(n):
                heads[i] += grads[i].abs()
                neurons[i] += grads[n + i].abs()
        if method == "contribution":
            heads, neurons = gates.head_contrib, gates.neuron_contrib
    finally:
        gates.remove()
        model.train(was_training)
    return [h.detach() for h in heads], [n.detach() for n in neurons]


def _linear(lin: Any, index: Any | None, dim: int, size: int | None = None) -> Any:
    """A copy of `lin` keeping `index` along `dim` (0: outputs, 1: inputs); or, with `size`, an empty one resized."""
    import torch

    shape = [lin.out_features, lin.in_features]
    shape[dim] = size if index is None else len(index)
    new = torch.nn.Linear(shape[1], shape[0], bias=lin.bias is not None, dtype=lin.weight.dtype)
    if index is not None:
        with torch.no_grad():
            new.weight.copy_(lin.weight.index_select(dim, index))
            if lin.bias is not None:
                new.bias.copy_(lin.bias if dim == 1 else lin.bias[index])
    return new


def _keep(scores: Any | None, total: int, count: int) -> Any:
    """Indices of the `count` best of `total` (original order kept); without scores the first ones."""
    import torch

    s = scores if scores is not None else -torch.arange(total, dtype=torch.float)
    return torch.sort(torch.topk(s, count).indices).values


def prune_(model: Any, heads: int | None, ffn: int | None, head_scores: list[Any] | None = None,
           ffn_scores: list[Any] | None = None) -> dict[str, Any]:
    """Keep the `heads` best heads and `ffn` best FFN neurons in every layer, in place; returns the record written
    into the config (`edgebert_pruning`). Without scores the first ones are kept (random-weight cost candidates)."""
    import torch

    parts = layer_parts(model)
    kept_heads: list[list[int]] = []
    for i, p in enumerate(parts):
        d, h = p.head_dim, p.heads
        if heads is not None and not 0 < heads <= h:
            raise UsageError(f"Cannot keep {heads} heads of {h}")
        keep = _keep(head_scores[i] if head_scores else None, h, heads) if heads and heads < h else torch.arange(h)
        if len(keep) < h:
            cols = (keep.view(-1, 1) * d + torch.arange(d).view(1, -1)).reshape(-1)
            for name in p.qkv:
                p.put(name, _linear(p.get(name), cols, 0))
            p.put(p.out, _linear(p.get(p.out), cols, 1))
        kept_heads.append([int(k) for k in keep])
        if ffn is not None and ffn < p.width:
            if ffn <= 0:
                raise UsageError(f"Cannot keep {ffn} FFN neurons")
            idx = _keep(ffn_scores[i] if ffn_scores else None, p.width, ffn)
            p.put(p.ffn_in, _linear(p.get(p.ffn_in), idx, 0))
            p.put(p.ffn_out, _linear(p.get(p.ffn_out), idx, 1))
    width = parts[0].width
    config = base_model(model).config
    setattr(config, "intermediate_size" if config.model_type == "bert" else "hidden_dim", width)
    record = {"heads_per_layer": [len(k) for k in kept_heads], "head_dim": parts[0].head_dim,
              "kept_heads": kept_heads, "intermediate_size": width}
    for cfg in {id(config): config, id(model.config): model.config}.values():
        setattr(cfg, PRUNING_KEY, record)
    return record


def pruning_record(config: Any) -> dict[str, Any] | None:
    """The config's pruning record (a config object or an HF config dict), or None for an unpruned model."""
    record = config.get(PRUNING_KEY) if isinstance(config, dict) else getattr(config, PRUNING_KEY, None)
    return record or None


def apply_shape_(model: Any, record: dict[str, Any]) -> None:
    """Shrink a freshly built model's attention projections to the recorded head counts (weights come after)."""
    parts = layer_parts(model)
    if len(parts) != len(record["heads_per_layer"]):
        raise ModelLoadError(f"{PRUNING_KEY} lists {len(record['heads_per_layer'])} layers, the model has "
                             f"{len(parts)}")
    for p, h in zip(parts, record["heads_per_layer"]):
        d = int(record["head_dim"])
        if p.head_dim != d:
            raise ModelLoadError(f"{PRUNING_KEY} records head size {d}, the config gives {p.head_dim}")
        for name in p.qkv:
            p.put(name, _linear(p.get(name), None, 0, h * d))
        p.put(p.out, _linear(p.get(p.out), None, 1, h * d))


def _state(path: Path) -> dict[str, Any]:
    weights = path / "model.safetensors"
    if weights.is_file():
        from safetensors.torch import load_file

        return load_file(str(weights))
    if (path / "pytorch_model.bin").is_file():
        import torch

        return torch.load(path / "pytorch_model.bin", weights_only=True)  # never unpickle arbitrary objects
    raise ModelLoadError(f"'{path}' holds a pruned model config but no model.safetensors")


def load_pruned(path: str | Path, cls: Any, config: Any, *, new_head: bool = False, **build: Any) -> Any:
    """from_config -> the recorded shape -> a strict weight load (a task model's checkpoint loads into the bare
    encoder and back, as from_pretrained does); with `new_head`, a classifier of another shape keeps its init."""
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"A pruned model ({PRUNING_KEY} in its config) loads from a local folder, not '{path}'")
    model = cls.from_config(config, **build)
    apply_shape_(model, pruning_record(config))
    state, prefix = _state(path), model.base_model_prefix + "."
    target = model.state_dict()
    has_prefix = any(k.startswith(prefix) for k in target)
    from_bare = has_prefix and not any(k.startswith(prefix) for k in state)
    if not has_prefix:  # a bare encoder from a task checkpoint: drop the prefix and the head
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} or state
    elif from_bare:  # a task model from a bare encoder checkpoint: its head stays new
        state = {prefix + k: v for k, v in state.items()}
    if new_head:
        state = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and
               not ((new_head or from_bare) and not k.startswith(prefix))]
    if missing or unexpected:
        raise ModelLoadError(f"Pruned weights in '{path}' do not match their config: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}")
    return model.eval()
