"""Load a model to export or measure: an HF hub id, a local HF directory, or an architecture with random weights;
`load_hf` gives the bare HF model with a chosen head, to train or distil from.
Everything here imports torch/transformers lazily: `import edgebert` must stay light on a device.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebert.arch import ARCHITECTURES, packaged_config
from edgebert.errors import MissingRuntime, ModelLoadError, UsageError, first_line
from edgebert.pooling import DEFAULT, Head, override, read_head
from edgebert.tokenizer import load_tokenizer, packaged_tokenizer

TASKS = ("classification", "encoder")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
RANDOM_SEED = 0


@dataclass
class ModelSource:
    """Where a model came from, as recorded in manifests and bench rows."""

    spec: str  # what the user passed
    kind: str  # "hub" | "dir" | "random"
    weights_sha256: str  # sha256 of the weight files, or "random"
    model_type: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"spec": self.spec, "kind": self.kind, "weights_sha256": self.weights_sha256,
                "model_type": self.model_type}


@dataclass
class LoadedModel:
    """A PyTorch model in eval mode plus what export, parity and bench need to know about it."""

    module: Any  # torch.nn.Module returning one tensor: logits (B, L) or last_hidden_state (B, T, H)
    tokenizer: Any | None  # transformers PreTrainedTokenizerFast, or None
    task: str
    source: ModelSource
    input_names: list[str]
    output_name: str
    max_positions: int
    vocab_size: int
    labels: list[str] = field(default_factory=list)
    # What the output holds: logits | probabilities | last_hidden_state | embedding (pooled, (B, H))
    output_kind: str = ""
    head: Head | None = None  # encoders: how token states become one sentence vector (the model's own head)

    def __post_init__(self) -> None:
        self.output_kind = self.output_kind or ("logits" if self.task == "classification" else "last_hidden_state")

    @property
    def max_length(self) -> int:
        """The truncation the model's users see: its sentence-transformers max_seq_length, else max positions."""
        limit = self.head.max_seq_length if self.head is not None else None
        return min(int(limit), self.max_positions) if limit else self.max_positions

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def name(self) -> str:
        return Path(self.source.spec.rstrip("/")).name or self.source.spec


def require_torch() -> None:
    """Import torch + transformers, with their import-time chatter (torchao, pytree notices) kept quiet."""
    from edgebert.quiet import quiet_after_import, verbose

    try:
        import torch  # noqa: F401

        # torch configures its loggers on import; lower them again before transformers pulls in torchao.
        quiet_after_import("torch", "torchao", "transformers", "huggingface_hub")
        import transformers

        if not verbose():
            transformers.utils.logging.set_verbosity_error()
            transformers.utils.logging.disable_progress_bar()
    except ImportError as err:  # pragma: no cover - depends on the install
        raise MissingRuntime(err.name or "torch", "onnx") from err


def sha256_files(paths: list[Path]) -> str:
    """One sha256 over several files, in the given order (weights may be sharded)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _single_output(hf_model: Any, task: str) -> Any:
    """Wrap an HF model so forward(ids, mask[, types]) returns exactly one tensor (logits or hidden states)."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf_model

        def forward(self, input_ids, attention_mask, token_type_ids=None):  # (B, T) int64 each
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            out = self.hf(**kwargs)
            return out.logits if task == "classification" else out.last_hidden_state

    wrapped = Wrapped().eval()
    wrapped.config = hf_model.config
    return wrapped


def _task_from_config(config: Any) -> str:
    archs = getattr(config, "architectures", None) or []
    return "classification" if any("SequenceClassification" in a for a in archs) else "encoder"


def _build_hf(config: Any, task: str, num_labels: int) -> Any:
    from transformers import AutoModel, AutoModelForSequenceClassification

    if task == "classification":
        config.num_labels = num_labels
        return AutoModelForSequenceClassification.from_config(config)
    return AutoModel.from_config(config, add_pooling_layer=False) if config.model_type == "bert" \
        else AutoModel.from_config(config)


def wrap_hf(hf_model: Any, tokenizer: Any, task: str, source: ModelSource) -> LoadedModel:
    config = hf_model.config
    hf_model.eval()
    input_names = ["input_ids", "attention_mask"]
    # BERT-family models read segment ids (sentence pairs); DistilBERT has none.
    if getattr(config, "type_vocab_size", 0) and config.model_type != "distilbert":
        input_names.append("token_type_ids")
    labels = [config.id2label[i] for i in range(config.num_labels)] if task == "classification" else []
    source.model_type = config.model_type
    return LoadedModel(
        module=_single_output(hf_model, task),
        tokenizer=tokenizer,
        task=task,
        source=source,
        input_names=input_names,
        output_name="logits" if task == "classification" else "last_hidden_state",
        max_positions=int(config.max_position_embeddings),
        vocab_size=int(config.vocab_size),
        labels=[str(x) for x in labels],
    )


def load_random(arch: str, task: str = "classification", num_labels: int = 2) -> LoadedModel:
    """An architecture with seeded random weights: latency, memory and size depend only on the architecture."""
    cfg_dict = packaged_config(arch)
    _check_task(task)
    require_torch()
    import torch
    from transformers import AutoConfig

    cfg_dict = {k: v for k, v in cfg_dict.items() if k != "architectures"}
    config = AutoConfig.for_model(**cfg_dict)
    torch.manual_seed(RANDOM_SEED)
    hf_model = _build_hf(config, task, num_labels)
    return wrap_hf(hf_model, packaged_tokenizer(), task, ModelSource(arch, "random", "random"))


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise UsageError(f"Unknown task '{task}'. Valid: {', '.join(TASKS)}")


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec


def load_model(spec: str, *, random_weights: bool = False, task: str | None = None, num_labels: int = 2,
               pooling: str | None = None) -> LoadedModel:
    """Resolve MODEL (hub id, local dir, or --random-weights architecture) to a LoadedModel; an encoder carries its
    own sentence head (sentence-transformers config), mean pooling without one, or `pooling` when given."""
    _check_task(task)
    if pooling is not None:
        override(pooling)  # an unknown mode is refused before the slow load
    if random_weights:
        model = load_random(spec, task or "classification", num_labels)
    elif Path(spec).expanduser().exists():
        model = _load_dir(Path(spec).expanduser(), task)
    elif _looks_like_path(spec):
        raise ModelLoadError(f"Model path '{spec}' does not exist. Fix: pass an existing HF model directory, "
                             f"a hub id, or an architecture with --random-weights ({', '.join(ARCHITECTURES)})")
    else:
        model = _load_hub(spec, task)
    return with_head(model, Path(spec).expanduser(), pooling)


def with_head(model: LoadedModel, folder: Path, pooling: str | None) -> LoadedModel:
    """Attach the encoder's sentence head; `--pooling` on a classifier is a usage error (it has no pooling)."""
    if model.task == "classification":
        if pooling is not None:
            raise UsageError(f"--pooling applies to encoders; '{model.name}' is a classifier (its head decides)")
        return model
    config = model.module.config
    hidden = int(getattr(config, "hidden_size", None) or config.dim)
    model.head = override(pooling) if pooling else (read_head(folder, hidden) if folder.is_dir() else None) or DEFAULT
    return model


def _load_dir(path: Path, task: str | None) -> LoadedModel:
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelLoadError(f"'{path}' is not a Hugging Face model directory (no config.json). "
                             "Fix: pass a folder written by save_pretrained")
    weights = sorted(p for p in path.iterdir() if p.name in WEIGHT_FILES or
                     (p.name.startswith("model-") and p.suffix == ".safetensors"))
    if not weights:
        raise ModelLoadError(f"'{path}' has a config.json but no weights ({' or '.join(WEIGHT_FILES)})")
    require_torch()
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path)
        task = task or _task_from_config(config)
        hf_model = _from_pretrained(str(path), task, config)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise ModelLoadError(f"Could not load the model in '{path}': {first_line(err)}") from err
    return wrap_hf(hf_model, load_tokenizer(str(path)), task, ModelSource(str(path), "dir", sha256_files(weights)))


def _load_hub(spec: str, task: str | None) -> LoadedModel:
    require_torch()
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(spec)
        task = task or _task_from_config(config)
        hf_model = _from_pretrained(spec, task, config)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Could not load '{spec}' from the Hugging Face hub or its cache ({first_line(err)}). "
                             "Fix: pass a local model directory, or --random-weights for an architecture") from err
    return wrap_hf(hf_model, load_tokenizer(spec), task, ModelSource(spec, "hub", _hub_sha(spec)))


def _from_pretrained(spec: str, task: str, config: Any, **kwargs: Any) -> Any:
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    from edgebert.prune import load_pruned, pruning_record

    cls = {"classification": AutoModelForSequenceClassification, "mlm": AutoModelForMaskedLM}.get(task, AutoModel)
    if pruning_record(config):  # head-pruned (edgebert fit): from_pretrained would refuse the sliced tensors
        return load_pruned(spec, cls, config, new_head=bool(kwargs.pop("ignore_mismatched_sizes", False)), **kwargs)
    # trust_remote_code stays off: a model directory must never run code it ships.
    return cls.from_pretrained(spec, config=config, trust_remote_code=False, **kwargs)


def load_hf(name_or_path: str, head: str, *, labels: list[str] | None = None, role: str = "Model") -> tuple[Any, Any]:
    """An HF model with `head` (classification, mlm, or encoder: no pooler) and its tokenizer, to train or distil
    from. With `labels` the classification head is new, for those classes, drawn from torch's seeded global RNG."""
    require_torch()
    if not Path(name_or_path).exists() and name_or_path.startswith((".", "/", "~")):
        raise ModelLoadError(f"{role} path '{name_or_path}' does not exist")
    from transformers import AutoConfig

    new_head = {} if labels is None else {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                                          "label2id": {name: i for i, name in enumerate(labels)}}
    try:
        config = AutoConfig.from_pretrained(name_or_path, **new_head)
        config.architectures = None if new_head else config.architectures  # the checkpoint's head is not this one
        no_pooler = {"add_pooling_layer": False} if head == "encoder" and config.model_type == "bert" else {}
        model = _from_pretrained(name_or_path, head, config, ignore_mismatched_sizes=bool(new_head), **no_pooler)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Could not load {role.lower()} '{name_or_path}': {first_line(err)}") from err
    tokenizer = load_tokenizer(name_or_path)
    if tokenizer is None:
        raise ModelLoadError(f"{role} '{name_or_path}' has no tokenizer files; training needs one")
    return model.eval(), tokenizer


def _hub_sha(spec: str) -> str:
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec, "model.safetensors")
        return sha256_files([Path(cached)]) if isinstance(cached, str) else "unknown"
    except Exception:  # noqa: BLE001 - provenance is best-effort for hub ids
        return "unknown"
