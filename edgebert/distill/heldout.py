"""Held-out scores while training: the task metrics of a classifier being fine-tuned, and a student's agreement with
its teacher (argmax agreement and the task metric for classifiers, mean-pooled output cosine for encoders)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgebert.distill.metrics import glue_metrics

Texts = tuple[list[str], list[str] | None]  # first texts, second texts of pairs (or None)
Scorer = Callable[[Any], dict[str, float]]  # model -> {metric: value}


def _encode_chunks(tokenizer: Any, texts: Texts, max_len: int, size: int = 64) -> list:
    a, b = texts
    return [tokenizer(a[i:i + size], b[i:i + size] if b else None, padding=True, truncation=True,
                      max_length=max_len, return_tensors="pt") for i in range(0, len(a), size)]


def _main_outputs(model: Any, chunks: list, segments: bool) -> list:
    """A model's main output per tokenized chunk: logits (N, C), or the last hidden state (N, T, H)."""
    import torch

    outs = []
    with torch.no_grad():
        for enc in chunks:
            kwargs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
            if segments and "token_type_ids" in enc:
                kwargs["token_type_ids"] = enc["token_type_ids"]
            out = model(**kwargs)
            outs.append(out.logits if hasattr(out, "logits") else out.last_hidden_state)
    return outs


def metric_eval(tokenizer: Any, texts: Texts, labels: np.ndarray, task: str, max_len: int) -> Scorer:
    """Held-out task metrics of a classifier being trained (finetune)."""
    import torch

    chunks = _encode_chunks(tokenizer, texts, max_len)

    def evaluate(model: Any) -> dict[str, float]:
        logits = torch.cat(_main_outputs(model, chunks, model.config.model_type == "bert"))
        return glue_metrics(task, logits.numpy(), labels)

    return evaluate


def agreement_eval(teacher: Any, tokenizer: Any, texts: Texts, labels: np.ndarray | None, task: str | None,
                   max_len: int) -> Scorer:
    """Student vs teacher on held-out rows: argmax agreement (classifiers) or output cosine, plus the task metric."""
    import torch

    chunks = _encode_chunks(tokenizer, texts, max_len)
    # the student has no segments: the teacher sees segment 0 too (folded into the student's positions)
    t_main = _main_outputs(teacher, chunks, segments=False)

    def evaluate(student: Any) -> dict[str, float]:
        s_main = _main_outputs(student, chunks, segments=False)
        if s_main[0].ndim == 2:  # logits (N, C), or one score (N, 1) for regression: no argmax to agree on
            s_all, t_all = torch.cat(s_main), torch.cat(t_main)
            result = {"agreement": float((s_all.argmax(-1) == t_all.argmax(-1)).float().mean())} \
                if s_all.shape[-1] > 1 else {}
            if labels is not None and task:
                result.update(glue_metrics(task, s_all.numpy(), labels))
            return result
        cosines = []
        for enc, s, t in zip(chunks, s_main, t_main):
            m = enc["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            s_pool, t_pool = (s * m).sum(1) / m.sum(1), (t * m).sum(1) / m.sum(1)  # (B, H)
            cosines.append(torch.nn.functional.cosine_similarity(s_pool, t_pool))
        return {"cosine": float(torch.cat(cosines).mean())}

    return evaluate
