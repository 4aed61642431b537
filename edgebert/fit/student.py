"""The models fit builds: a candidate with seeded random weights (costs depend only on the architecture), the
teacher's head and neuron importance on the user's data (measured once, shared by every candidate through the layer
map), and the student to train: the teacher's mapped layers, pruned by that importance, vocabulary shrunk."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.fit.shape import Candidate, Shape
from edgebert.models import LoadedModel, ModelSource, with_head, wrap_hf

IMPORTANCE_EXAMPLES = 512  # training rows the teacher's importance is measured on
IMPORTANCE_BATCH = 16


def _student_class(task: str) -> Any:
    from transformers import DistilBertForSequenceClassification, DistilBertModel

    return DistilBertForSequenceClassification if task == "classification" else DistilBertModel


def random_student(shape: Shape, teacher_config: Any, seed: int = 0) -> Any:
    """A DistilBERT-layout model of `shape` with seeded random weights (the first heads kept: weights are random)."""
    import torch

    from edgebert.distill.student import student_config
    from edgebert.prune import prune_

    cfg = student_config(teacher_config, shape.layers, shape.num_labels if shape.task == "classification" else None)
    cfg.hidden_dim, cfg.vocab_size = shape.ffn, shape.vocab
    cls = _student_class(shape.task)
    cfg.architectures = [cls.__name__]
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    if shape.heads < shape.teacher_heads:
        prune_(model, shape.heads, None)
    return model


def as_loaded(model: Any, tokenizer: Any, task: str, name: str, kind: str, teacher_dir: Path) -> LoadedModel:
    """Wrap for export; an encoder keeps the teacher's sentence head (pooling, normalisation, max length)."""
    weights = "random" if kind == "random" else "fit"
    loaded = wrap_hf(model, tokenizer, task, ModelSource(name, kind, weights))
    return with_head(loaded, teacher_dir, None)


def random_candidate(c: Candidate, teacher_config: Any, tokenizer: Any, teacher_dir: Path) -> LoadedModel:
    return as_loaded(random_student(c.shape, teacher_config), tokenizer, c.shape.task, c.name, "random", teacher_dir)


def _batches(tokenizer: Any, texts: list[str], labels: Any, max_len: int) -> list[dict[str, Any]]:
    import torch

    out = []
    for start in range(0, min(len(texts), IMPORTANCE_EXAMPLES), IMPORTANCE_BATCH):
        chunk = texts[start:start + IMPORTANCE_BATCH]
        enc = tokenizer(chunk, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if labels is not None:
            batch["labels"] = torch.as_tensor(labels[start:start + len(chunk)])
        out.append(batch)
    return out


def teacher_importance(teacher: Any, tokenizer: Any, texts: list[str], labels: Any, max_len: int
                       ) -> dict[str, Any]:
    """Head and FFN-neuron scores per teacher layer: |d loss / d gate| on labelled rows (the teacher's own task
    loss), or the label-free output contribution for an encoder. One pass, shared by all candidates."""
    import torch

    from edgebert.distill.objectives import label_loss
    from edgebert.prune import importance

    def loss(model: Any, batch: dict[str, Any]) -> Any:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return label_loss(out.logits, batch["labels"])

    method = "grad" if labels is not None else "contribution"
    heads, neurons = importance(teacher, _batches(tokenizer, texts, labels, max_len), loss, method)
    return {"method": method, "examples": min(len(texts), IMPORTANCE_EXAMPLES),
            "heads": torch.stack(heads), "neurons": torch.stack(neurons)}  # (L, H), (L, I)


def id_mapped(teacher: Any, kept: list[int]) -> Any:
    """The teacher behind a shrunk vocabulary: student ids map back to the teacher's (new id i = old id kept[i]),
    so both see the same pieces and their token states stay aligned for the hidden-state losses."""
    import torch

    class Mapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = teacher
            self.config = teacher.config
            self.register_buffer("kept", torch.tensor(kept, dtype=torch.long), persistent=False)

        def forward(self, input_ids: Any, **kwargs: Any) -> Any:
            return self.inner(input_ids=self.kept[input_ids], **kwargs)

    return Mapped().eval()


def trained_student(teacher: Any, shape: Shape, scores: dict[str, Any] | None, kept: list[int] | None) -> Any:
    """The student to train: the teacher's mapped layers (DistilBERT layout), pruned to the shape's heads and FFN
    width by the teacher's importance of those layers, embeddings cut to the kept vocabulary."""
    from edgebert.distill.student import build_student
    from edgebert.fit.vocab import shrink_embeddings_
    from edgebert.prune import prune_

    layers = list(shape.layer_map)
    student, _ = build_student(teacher, layers, "classification" if shape.task == "classification" else "encoder")
    if shape.heads < shape.teacher_heads or shape.ffn < shape.teacher_ffn:
        head_scores = [scores["heads"][i] for i in layers] if scores else None
        ffn_scores = [scores["neurons"][i] for i in layers] if scores else None
        prune_(student, shape.heads if shape.heads < shape.teacher_heads else None,
               shape.ffn if shape.ffn < shape.teacher_ffn else None, head_scores, ffn_scores)
    if kept is not None and shape.vocab == len(kept):
        shrink_embeddings_(student, kept)
    return student


def pooled(model: Any, tokenizer: Any, texts: list[str], max_len: int) -> Any:
    """Mean-pooled last hidden states of `texts` (N, H) as a numpy array: an encoder's sentence embeddings."""
    import torch

    from edgebert.distill.objectives import mean_pool

    vectors = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            vectors.append(mean_pool(out, enc["attention_mask"]))
    return torch.cat(vectors).numpy()
