"""`edgebert finetune`: a teacher from the user's labelled data (the seed's pipeline starts from a fine-tuned BERT).

A classification head on MODEL's encoder, the whole network trained with cross-entropy by the same loop as
distillation: seeded per step, checkpoints with exact resume, held-out metrics every N steps, progress, and an
HF model folder (safetensors, tokenizer, id2label from the data) moved into place only when complete.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgebert.distill.train import Distiller, TrainConfig, config_dict
from edgebert.errors import ModelLoadError, UsageError, first_line


@dataclass
class FinetuneResult:
    out: Path
    parameters: int
    labels: list[str]
    train_rows: int
    history: list[dict[str, float]]
    resumed_from: int


def load_base(spec: str, label_names: list[str] | None, seed: int) -> tuple[Any, Any]:
    """MODEL with a fresh, seeded classification head for the data's labels (its encoder weights kept)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from edgebert.models import load_tokenizer, require_torch

    require_torch()
    if not Path(spec).exists() and spec.startswith((".", "/", "~")):
        raise ModelLoadError(f"Model path '{spec}' does not exist")
    names = label_names or ["score"]
    try:
        config = AutoConfig.from_pretrained(spec, num_labels=len(names), id2label=dict(enumerate(names)),
                                            label2id={n: i for i, n in enumerate(names)})
        config.architectures = None
        torch.manual_seed(seed)  # the head's initialisation is part of the run
        model = AutoModelForSequenceClassification.from_pretrained(spec, config=config, trust_remote_code=False,
                                                                   ignore_mismatched_sizes=True)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Could not load '{spec}': {first_line(err)}") from err
    tokenizer = load_tokenizer(spec)
    if tokenizer is None:
        raise ModelLoadError(f"'{spec}' has no tokenizer files; fine-tuning needs one")
    if model.config.model_type not in ("bert", "distilbert"):
        raise UsageError(f"'{spec}' is a {model.config.model_type} model; edgebert fine-tunes BERT and DistilBERT")
    return model, tokenizer


def finetune(spec: str, out: Path, *, data: Path, eval_data: Path | None, cfg: TrainConfig, task: str | None = None,
             columns: Any = None, skip_bad_rows: bool = False, resume: bool = False, force: bool = False,
             on_step: Callable[[int, dict[str, float]], None] | None = None) -> FinetuneResult:
    from edgebert.bundle import check_out_dir
    from edgebert.distill.losses import Recipe
    from edgebert.distill.run import finish, labelled, metric_eval

    cfg = cfg.evaluating(eval_data is not None)
    work = out.with_name(f".{out.name}.training")
    if not resume:
        check_out_dir(out, force)
        if work.exists() and any((work / "checkpoints").glob("step-*")) and not force:
            raise UsageError(f"'{work}' holds checkpoints of an interrupted run. Fix: pass --resume, or --force")
    ds, held = labelled(data, eval_data, task, columns, None, skip_bad_rows)  # cheap checks before the model
    model, tokenizer = load_base(spec, ds.label_names, cfg.seed)
    eval_fn = metric_eval(tokenizer, (held.text_a, held.text_b), held.labels, ds.task, cfg.max_len) if held else None
    if work.exists() and not resume:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    trainer = Distiller(None, model, tokenizer, "finetune", Recipe(alpha_kd=0.0, alpha_ce=1.0), [], cfg, work,
                        (ds.text_a, ds.text_b), ds.labels, eval_fn)
    resumed = trainer.resume() if resume else 0
    history = trainer.train(on_step)
    meta = {**config_dict(cfg, trainer.recipe), "base": spec, "data": str(data), "eval_data": str(eval_data or ""),
            "task": ds.task, "labels": ds.label_names, "train_rows": len(ds), "skipped_rows": ds.skipped,
            "resumed_from": resumed, "final": history[-1] if history else {}}
    finish(trainer, tokenizer, work, out, force or resume, meta, "finetune.json")
    return FinetuneResult(out, sum(p.numel() for p in model.parameters()), ds.label_names or [], len(ds), history,
                          resumed)
