"""Distillation losses (Hinton et al. 2015; Sanh et al. 2019). Each returns a scalar tensor."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgebert.errors import UsageError


@dataclass(frozen=True)
class Recipe:
    """Loss weights and temperature. `seed`: the source chapter; `hf`: the HF DistilBERT research scripts."""

    temperature: float = 4.0
    alpha_kd: float = 0.5  # soft targets (KL at temperature T, times T^2)
    alpha_ce: float = 0.5  # hard labels (cross-entropy), task distillation
    alpha_cos: float = 0.0  # hidden-state cosine, mapped layers
    alpha_mlm: float = 0.0  # masked-LM cross-entropy, general distillation


RECIPES = {
    "seed": Recipe(temperature=4.0, alpha_kd=0.5, alpha_ce=0.5, alpha_cos=0.0, alpha_mlm=0.0),
    # HF scripts: alpha_ce weighs the soft-target term there; alpha_mlm the masked-LM term.
    "hf": Recipe(temperature=2.0, alpha_kd=5.0, alpha_ce=0.0, alpha_cos=1.0, alpha_mlm=2.0),
}


def get_recipe(name: str, **overrides: float | None) -> Recipe:
    if name not in RECIPES:
        raise UsageError(f"Unknown recipe '{name}'. Valid: {', '.join(RECIPES)}")
    base = RECIPES[name]
    return Recipe(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})


def kd_loss(student_logits: Any, teacher_logits: Any, temperature: float) -> Any:
    """KL(teacher || student) on temperature-softened distributions, scaled by T^2 (gradients keep their size).

    Rows are samples (or masked tokens): (N, C) logits; mean over rows."""
    import torch.nn.functional as F

    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.softmax(teacher_logits / t, dim=-1),
                    reduction="batchmean") * (t * t)


def ce_loss(student_logits: Any, labels: Any) -> Any:
    """Hard-label cross-entropy; labels of -100 are ignored (unlabelled rows, unmasked tokens)."""
    import torch.nn.functional as F

    return F.cross_entropy(student_logits, labels, ignore_index=-100)


def regression_loss(student_out: Any, labels: Any) -> Any:
    """STS-B style: mean squared error against float targets."""
    import torch.nn.functional as F

    return F.mse_loss(student_out.squeeze(-1), labels.float())


def cosine_loss(student_hidden: list[Any], teacher_hidden: list[Any], mask: Any) -> Any:
    """1 - cos(student, teacher) per unpadded token, averaged over tokens and mapped layers.

    hidden states: lists of (B, T, H), same length (mapped layer pairs); mask: (B, T) of 0/1."""
    import torch
    import torch.nn.functional as F

    keep = mask.bool()
    losses = []
    for s, t in zip(student_hidden, teacher_hidden):
        losses.append((1.0 - F.cosine_similarity(s[keep], t[keep], dim=-1)).mean())
    return torch.stack(losses).mean()
