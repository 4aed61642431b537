"""Load a model to export or measure: an HF hub id, a local HF directory, or an architecture with random weights;
`load_hf` gives the bare HF model with a chosen head, to train or distil from.
Everything here imports torch/transformers lazily: `import edgebert` must stay light on a device.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edgebert.arch import ARCHITECTURES, packaged_config
from edgebert.errors import MissingRuntime, ModelLoadError, UsageError, first_line

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

    def __post_init__(self) -> None:
        self.output_kind = self.output_kind or ("logits" if self.task == "classification" else "last_hidden_state")

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


def packaged_tokenizer() -> Any:
    """bert-base-uncased's WordPiece tokenizer built from the vocab shipped in the package."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab_path = resources.files("edgebert.assets").joinpath("bert-base-uncased-vocab.txt")
    vocab = {tok: i for i, tok in enumerate(vocab_path.read_text(encoding="utf-8").splitlines())}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    # transformers 5.x ignores `vocab_file=` on BertTokenizerFast; wrapping a tokenizers object is reliable.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
        mask_token="[MASK]", model_max_length=512,
    )


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


def load_model(spec: str, *, random_weights: bool = False, task: str | None = None,
               num_labels: int = 2) -> LoadedModel:
    """Resolve MODEL (hub id, local dir, or --random-weights architecture) to a LoadedModel."""
    _check_task(task)
    if random_weights:
        return load_random(spec, task or "classification", num_labels)
    path = Path(spec).expanduser()
    if path.exists():
        return _load_dir(path, task)
    if _looks_like_path(spec):
        raise ModelLoadError(f"Model path '{spec}' does not exist. Fix: pass an existing HF model directory, "
                             f"a hub id, or an architecture with --random-weights ({', '.join(ARCHITECTURES)})")
    return _load_hub(spec, task)


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

    cls = {"classification": AutoModelForSequenceClassification, "mlm": AutoModelForMaskedLM}.get(task, AutoModel)
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


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model")


def load_tokenizer(spec: str) -> Any | None:
    from transformers import AutoTokenizer

    path = Path(spec)
    if path.is_dir() and not any((path / f).is_file() for f in TOKENIZER_FILES):
        return None  # transformers 5 would build a vocab-less tokenizer here instead of failing

    try:
        tok = AutoTokenizer.from_pretrained(spec, use_fast=True, trust_remote_code=False)
    except (OSError, ValueError, TypeError):
        return None
    return tok if getattr(tok, "is_fast", False) else None


def _hub_sha(spec: str) -> str:
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec, "model.safetensors")
        return sha256_files([Path(cached)]) if isinstance(cached, str) else "unknown"
    except Exception:  # noqa: BLE001 - provenance is best-effort for hub ids
        return "unknown"
