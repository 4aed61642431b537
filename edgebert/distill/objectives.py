"""Training objectives: what one micro-batch's loss is made of. The trainer (train.py) owns the loop; an objective
gets the batch, the student and the teacher's outputs, and returns named loss terms that its `weights` weigh.

- `Finetune`: no teacher; cross-entropy (MSE for a one-output regression head) on the user's labels.
- `TaskKD`: a classifier teacher: soft targets (KL at T, times T^2), hard labels, optional hidden cosine.
- `MLMKD`: general distillation on raw text: soft targets on the masked tokens, masked-LM loss, optional cosine.
- `HiddenCosine`: an encoder teacher without a head (e.g. a sentence-embedding model): cosine on mapped layers.
- `EmbeddingKD`: an encoder teacher's sentence embeddings (mean-pooled) of the user's texts (what `fit` uses).

A new objective (say, pooled sentence embeddings) is one more `Distillation` subclass: its `head`, its `losses`,
its own `weights` or `teacher_outputs` if the defaults do not fit; and a name for it in `run.OBJECTIVES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from edgebert.distill.config import TrainConfig
from edgebert.distill.losses import Recipe, ce_loss, cosine_loss, kd_loss, regression_loss

Batch = dict[str, Any]  # tokenizer output as (B, T) tensors on the training device, plus "labels" when labelled


def layer_pairs(layer_map: list[int], n_teacher: int) -> list[tuple[int, int]]:
    """(student hidden index, teacher hidden index) for the cosine loss: student layer j stands in for teacher
    layers map[j]..map[j+1]-1, so its output is compared with the last of those (and the final with the final)."""
    pairs = []
    for j, start in enumerate(layer_map):
        end = layer_map[j + 1] - 1 if j + 1 < len(layer_map) else n_teacher - 1
        pairs.append((j + 1, max(start, end) + 1))  # hidden_states[0] is the embedding output
    return pairs


def mask_tokens(ids: Any, special: Any, mask_id: int, vocab: int, prob: float, gen: Any) -> tuple[Any, Any]:
    """BERT masking: `prob` of non-special tokens chosen; of those 80% [MASK], 10% random, 10% kept.

    ids, special: (B, T) int64 and bool on the CPU; returns the masked ids and the labels (-100 where not chosen)."""
    import torch

    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=gen) < prob) & ~special
    labels[~chosen] = -100
    ids = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    ids[chosen & (roll < 0.8)] = mask_id
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[rand] = torch.randint(vocab, ids.shape, generator=gen)[rand]
    return ids, labels


def label_loss(logits: Any, labels: Any) -> Any:
    """The task loss on labels: cross-entropy over classes, or MSE for a one-output (regression) head."""
    return ce_loss(logits, labels) if logits.shape[-1] > 1 else regression_loss(logits, labels)


def hidden_cosine(pairs: list[tuple[int, int]], student_out: Any, teacher_out: Any, mask: Any) -> Any:
    """1 - cosine between each student layer and the teacher layer it stands for (mapped pairs)."""
    return cosine_loss([student_out.hidden_states[i] for i, _ in pairs],
                       [teacher_out.hidden_states[j] for _, j in pairs], mask)


def student_outputs(student: Any, batch: Batch) -> Any:
    """The student's outputs with all hidden states. DistilBERT reads no segment ids."""
    return student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)


class Objective:
    """What a training step optimises; subclasses set `head` and implement `losses` (and `weights`, if the
    recipe's do not fit)."""

    head: ClassVar[str] = "encoder"  # the head teacher and student need: classification | mlm | encoder
    needs_teacher: ClassVar[bool] = True
    recipe: Recipe

    @property
    def weights(self) -> dict[str, float]:
        r = self.recipe
        return {"kd": r.alpha_kd, "ce": r.alpha_ce, "mlm": r.alpha_mlm, "cos": r.alpha_cos}

    def prepare(self, batch: Batch, gen: Any) -> Batch:
        """The batch as the models see it (MLM masks it here); `gen` is this step's seeded generator."""
        return batch

    def teacher_outputs(self, teacher: Any, batch: Batch) -> Any:
        """The teacher's outputs with all hidden states, without gradients. The student has no segments: a BERT
        teacher sees segment 0 everywhere, which the student's position embeddings fold in."""
        import torch

        kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                  "output_hidden_states": True}
        if "token_type_ids" in batch and teacher.config.model_type == "bert":
            kwargs["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        with torch.no_grad():
            return teacher(**kwargs)

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        """Named scalar loss terms for one micro-batch (each has a weight in `weights`)."""
        raise NotImplementedError

    def total(self, terms: dict[str, Any]) -> Any:
        weights = self.weights
        return sum(weights[name] * value for name, value in terms.items())


@dataclass
class Finetune(Objective):
    """No teacher: the task loss on the user's labels (how `edgebert finetune` makes a teacher)."""

    segments: bool  # a BERT student reads segment ids (sentence pairs); DistilBERT has none
    recipe: Recipe = Recipe(alpha_kd=0.0, alpha_ce=1.0)  # only the hard-label term (recorded in finetune.json)
    head: ClassVar[str] = "classification"
    needs_teacher: ClassVar[bool] = False

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        extra = {"token_type_ids": batch["token_type_ids"]} if self.segments and "token_type_ids" in batch else {}
        logits = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra).logits
        return {"ce": label_loss(logits, batch["labels"])}


@dataclass
class Distillation(Objective):
    """Learning from a teacher: the recipe's weights and the mapped layers (student, teacher hidden-state index)."""

    recipe: Recipe
    pairs: list[tuple[int, int]]

    @classmethod
    def for_teacher(cls, recipe: Recipe, pairs: list[tuple[int, int]], tokenizer: Any,
                    cfg: TrainConfig) -> Distillation:
        """The objective as `edgebert distill` builds it; one that needs more (MLM: the tokenizer's mask and special
        tokens, the masking rate) takes it from the tokenizer or the training config."""
        return cls(recipe, pairs)

    def cosine(self, student_out: Any, teacher_out: Any, batch: Batch) -> Any:
        return hidden_cosine(self.pairs, student_out, teacher_out, batch["attention_mask"])


@dataclass
class TaskKD(Distillation):
    """A classifier teacher on labelled data: soft targets, hard labels and (alpha_cos) hidden cosine."""

    head: ClassVar[str] = "classification"

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        r, labels = self.recipe, batch.get("labels")
        s_out = student_outputs(student, batch)
        s_logits, t_logits = s_out.logits, teacher_out.logits  # (B, C)
        terms: dict[str, Any] = {}
        if r.alpha_kd and s_logits.shape[-1] > 1:
            terms["kd"] = kd_loss(s_logits, t_logits, r.temperature)
        if r.alpha_ce and labels is not None:
            terms["ce"] = label_loss(s_logits, labels)
        if s_logits.shape[-1] == 1:  # regression: the soft target is the teacher's score, MSE
            terms["kd"] = regression_loss(s_logits, t_logits.squeeze(-1))
        if r.alpha_cos:
            terms["cos"] = self.cosine(s_out, teacher_out, batch)
        return terms


@dataclass
class MLMKD(Distillation):
    """General distillation on raw text: BERT masking, soft targets and masked-LM loss on the masked tokens."""

    mask_id: int
    vocab_size: int  # random replacements are drawn from the tokenizer's vocabulary
    special_ids: list[int]  # never masked: [CLS], [SEP], [PAD], ...
    probability: float = 0.15
    head: ClassVar[str] = "mlm"

    @classmethod
    def for_teacher(cls, recipe: Recipe, pairs: list[tuple[int, int]], tokenizer: Any,
                    cfg: TrainConfig) -> Distillation:
        return cls(recipe, pairs, tokenizer.mask_token_id, tokenizer.vocab_size, list(tokenizer.all_special_ids),
                   cfg.mlm_probability)

    def prepare(self, batch: Batch, gen: Any) -> Batch:
        import torch

        ids = batch["input_ids"]
        special = torch.isin(ids.cpu(), torch.tensor(self.special_ids, dtype=ids.dtype))
        masked, labels = mask_tokens(ids.cpu(), special, self.mask_id, self.vocab_size, self.probability, gen)
        return {**batch, "input_ids": masked.to(ids.device), "labels": labels.to(ids.device)}

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        r, labels = self.recipe, batch["labels"]
        s_out = student_outputs(student, batch)
        keep = labels != -100  # soft targets on the masked positions only
        s_logits, t_logits = s_out.logits[keep], teacher_out.logits[keep]  # (masked tokens, vocab)
        terms: dict[str, Any] = {}
        if r.alpha_kd and s_logits.shape[-1] > 1:
            terms["kd"] = kd_loss(s_logits, t_logits, r.temperature)
        if r.alpha_mlm:
            terms["mlm"] = ce_loss(s_out.logits.view(-1, s_out.logits.shape[-1]), labels.view(-1))
        if r.alpha_cos:
            terms["cos"] = self.cosine(s_out, teacher_out, batch)
        return terms


@dataclass
class HiddenCosine(Distillation):
    """An encoder teacher without a head: the mapped layers' cosine, weighted at least 1 (it is the whole loss)."""

    head: ClassVar[str] = "encoder"

    @property
    def weights(self) -> dict[str, float]:
        return {"cos": max(self.recipe.alpha_cos, 1.0)}

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        s_out = student_outputs(student, batch)
        return {"cos": self.cosine(s_out, teacher_out, batch)}


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of the unpadded token states: (B, T, H), (B, T) -> (B, H)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


@dataclass
class EmbeddingKD(Distillation):
    """An encoder teacher distilled on its sentence embeddings of the user's texts: 1 - cosine between the student's
    and the teacher's mean-pooled last hidden states ("emb"), plus (alpha_cos) the mapped layers' token cosine."""

    head: ClassVar[str] = "encoder"

    @property
    def weights(self) -> dict[str, float]:
        return {"emb": 1.0, "cos": self.recipe.alpha_cos}

    def losses(self, batch: Batch, student: Any, teacher_out: Any) -> dict[str, Any]:
        import torch.nn.functional as F

        s_out = student_outputs(student, batch)
        mask = batch["attention_mask"]
        s_emb = mean_pool(s_out.last_hidden_state, mask)  # (B, H)
        t_emb = mean_pool(teacher_out.last_hidden_state, mask)
        terms = {"emb": (1.0 - F.cosine_similarity(s_emb, t_emb, dim=-1)).mean()}
        if self.recipe.alpha_cos:
            terms["cos"] = self.cosine(s_out, teacher_out, batch)
        return terms
