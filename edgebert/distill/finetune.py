"""`edgebert finetune`: a teacher from the user's labelled data (the seed's pipeline starts from a fine-tuned BERT).

A classification head on MODEL's encoder, the whole network trained by the distillation loop (train.Trainer) with
the `Finetune` objective: seeded per step, checkpoints with exact resume, held-out metrics every N steps, progress,
and an HF model folder (safetensors, tokenizer, id2label from the data) moved into place only when complete.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgebert.distill.config import TrainConfig, config_dict
from edgebert.distill.data import DataFiles
from edgebert.distill.objectives import Finetune
from edgebert.distill.train import Examples, Trainer
from edgebert.distill.workdir import training_workdir
from edgebert.errors import UsageError


@dataclass
class FinetuneResult:
    out: Path
    parameters: int
    labels: list[str]
    train_rows: int
    history: list[dict[str, float]]
    resumed_from: int


def load_base(base: str, label_names: list[str] | None, seed: int) -> tuple[Any, Any]:
    """BASE with a fresh, seeded classification head for the data's labels (one "score" output for regression),
    its encoder weights kept; BERT and DistilBERT only."""
    import torch

    from edgebert.models import load_hf

    torch.manual_seed(seed)  # the head's initialisation is part of the run
    model, tokenizer = load_hf(base, "classification", labels=label_names or ["score"])
    if model.config.model_type not in ("bert", "distilbert"):
        raise UsageError(f"'{base}' is a {model.config.model_type} model; edgebert fine-tunes BERT and DistilBERT")
    return model, tokenizer


def finetune(base: str, out: Path, *, data: Path, eval_data: Path | None, cfg: TrainConfig, task: str | None = None,
             columns: Any = None, skip_bad_rows: bool = False, resume: bool = False, force: bool = False,
             on_step: Callable[[int, dict[str, float]], None] | None = None) -> FinetuneResult:
    """Fine-tune BASE as a classifier on `data`; the model lands in `out` only when the run completes."""
    from edgebert.distill.heldout import metric_eval

    cfg = cfg.evaluating(eval_data is not None)
    workdir = training_workdir(out, resume, force)
    files = DataFiles(data, eval_data, task, columns, skip_bad_rows)
    train, held = files.read_labelled()  # cheap checks before the model
    model, tokenizer = load_base(base, train.label_names, cfg.seed)
    evaluate = metric_eval(tokenizer, (held.text_a, held.text_b), held.labels, train.task, cfg.max_len) if held \
        else None
    objective = Finetune(segments=model.config.model_type == "bert")
    trainer = Trainer(model, objective, Examples(tokenizer, train.text_a, train.text_b, train.labels), cfg,
                      workdir.open(), evaluate=evaluate)
    resumed = trainer.resume() if resume else 0
    history = trainer.train(on_step)
    meta = {**config_dict(cfg, objective.recipe), "base": base, "data": str(data), "eval_data": str(eval_data or ""),
            "task": train.task, "labels": train.label_names, "train_rows": len(train), "skipped_rows": train.skipped,
            "resumed_from": resumed, "final": history[-1] if history else {}}
    workdir.finish(model, tokenizer, meta, "finetune.json")
    return FinetuneResult(out, sum(p.numel() for p in model.parameters()), train.label_names or [], len(train),
                          history, resumed)
