"""`edgebert distill`: teacher -> DistilBERT student -> trained HF model directory (safetensors + tokenizer)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgebert.distill.losses import Recipe
from edgebert.distill.train import Distiller, TrainConfig, config_dict
from edgebert.errors import ModelLoadError, UsageError, first_line


@dataclass
class DistillResult:
    out: Path
    layer_map: list[int]
    teacher_parameters: int
    student_parameters: int
    history: list[dict[str, float]]
    resumed_from: int


def load_teacher(spec: str, objective: str) -> tuple[Any, Any]:
    """The teacher as an HF model with the head the objective needs, and its tokenizer."""
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    from edgebert.models import load_tokenizer, require_torch

    require_torch()
    path = Path(spec)
    if not path.exists() and spec.startswith((".", "/", "~")):
        raise ModelLoadError(f"Teacher path '{spec}' does not exist")
    try:
        config = AutoConfig.from_pretrained(spec)
        cls = {"task": AutoModelForSequenceClassification, "mlm": AutoModelForMaskedLM}.get(objective, AutoModel)
        teacher = cls.from_pretrained(spec, config=config, trust_remote_code=False,
                                      **({"add_pooling_layer": False} if objective == "hidden" and
                                         config.model_type == "bert" else {}))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Could not load teacher '{spec}': {first_line(err)}") from err
    tokenizer = load_tokenizer(spec)
    if tokenizer is None:
        raise ModelLoadError(f"Teacher '{spec}' has no tokenizer files; distillation needs one")
    if objective == "task" and not any("SequenceClassification" in a for a in (config.architectures or [])):
        raise UsageError(f"Teacher '{spec}' has no classification head; use --objective hidden or mlm")
    return teacher.eval(), tokenizer


def teacher_layers(teacher: Any) -> int:
    cfg = teacher.config
    return int(getattr(cfg, "num_hidden_layers", None) or cfg.n_layers)


def _encode_chunks(tokenizer: Any, texts: tuple[list[str], list[str] | None], max_len: int, size: int = 64) -> list:
    a, b = texts
    return [tokenizer(a[i:i + size], b[i:i + size] if b else None, padding=True, truncation=True,
                      max_length=max_len, return_tensors="pt") for i in range(0, len(a), size)]


def _logits(model: Any, chunks: list, segments: bool) -> Any:
    """A model's main output over tokenized chunks: logits (N, C) or last hidden state (per chunk)."""
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


def metric_eval(tokenizer: Any, texts: tuple[list[str], list[str] | None], labels: Any, task: str,
                max_len: int) -> Callable[[Any], dict[str, float]]:
    """Held-out task metrics of a classifier being trained (finetune)."""
    import torch

    from edgebert.distill.data import glue_metrics

    chunks = _encode_chunks(tokenizer, texts, max_len)

    def evaluate(model: Any) -> dict[str, float]:
        logits = torch.cat(_logits(model, chunks, model.config.model_type == "bert"))
        return glue_metrics(task, logits.numpy(), labels)

    return evaluate


def agreement_eval(teacher: Any, tokenizer: Any, texts: tuple[list[str], list[str] | None], labels: np.ndarray | None,
                   task: str | None, max_len: int) -> Callable[[Any], dict[str, float]]:
    """Student vs teacher on held-out rows: argmax agreement (classifiers) or output cosine, plus the task metric."""
    import torch

    from edgebert.distill.data import glue_metrics

    chunks = _encode_chunks(tokenizer, texts, max_len)
    # the student has no segments: the teacher sees segment 0 too (folded into the student's positions)
    t_main = _logits(teacher, chunks, segments=False)

    def evaluate(student: Any) -> dict[str, float]:
        s_main = _logits(student, chunks, segments=False)
        if s_main[0].ndim == 2 and s_main[0].shape[-1] > 1:
            s_all, t_all = torch.cat(s_main), torch.cat(t_main)
            result = {"agreement": float((s_all.argmax(-1) == t_all.argmax(-1)).float().mean())}
            if labels is not None and task:
                result.update(glue_metrics(task, s_all.numpy(), labels))
            return result
        cosines = []
        for enc, s, t in zip(chunks, s_main, t_main):
            m = enc["attention_mask"].unsqueeze(-1).float()
            s_pool, t_pool = (s * m).sum(1) / m.sum(1), (t * m).sum(1) / m.sum(1)
            cosines.append(torch.nn.functional.cosine_similarity(s_pool, t_pool))
        return {"cosine": float(torch.cat(cosines).mean())}

    return evaluate


def labelled(data: Path, eval_data: Path | None, task: str | None, columns: Any, label_names: list[str] | None,
             skip_bad_rows: bool) -> tuple[Any, Any]:
    """Training and held-out data: a GLUE preset (its labels) or a user's file (the given or the file's labels)."""
    from edgebert.distill.data import Columns, get_task, read_data

    if task:
        spec = get_task(task)
        cols, names, regression = columns or spec.columns, list(spec.labels) if spec.labels else None, \
            spec.labels is None
    else:
        cols, names, regression = columns or Columns(), label_names, False
    def raw(path: Path) -> str | None:  # GLUE's own TSVs quote nothing
        return "tsv-raw" if task and path.suffix.lower() == ".tsv" else None

    ds = read_data(data, cols, label_names=names, regression=regression, skip_bad_rows=skip_bad_rows,
                   task=task or "text-classification", fmt=raw(data))
    held = read_data(eval_data, cols, label_names=ds.label_names, regression=regression, skip_bad_rows=skip_bad_rows,
                     task=ds.task, fmt=raw(eval_data)) if eval_data else None
    return ds, held


def default_objective(task: str | None, data: Path | None) -> str:
    """task for a GLUE preset or a labelled file (CSV/TSV/JSONL), hidden for a plain text file."""
    from edgebert.distill.data import FORMATS as DATA_SUFFIXES

    labelled_file = data is not None and data.suffix.lower() in DATA_SUFFIXES
    return "task" if task is not None or labelled_file else "hidden"


def distill(teacher_spec: str, out: Path, *, objective: str | None, recipe: Recipe, layer_map: list[int] | str,
            n_layers: int | None, cfg: TrainConfig, task: str | None = None, data: Path | None = None,
            eval_data: Path | None = None, skip_bad_rows: bool = False, resume: bool = False, force: bool = False,
            init: str = "teacher", on_step: Callable[[int, dict[str, float]], None] | None = None,
            columns: Any = None) -> DistillResult:
    """Build the student from the teacher and train it; the final model lands in `out` only when complete."""
    import torch

    from edgebert.bundle import check_out_dir
    from edgebert.distill.data import read_text
    from edgebert.distill.student import build_student, resolve_layer_map

    objective = objective or default_objective(task, data)
    cfg = cfg.evaluating(eval_data is not None)
    if objective not in ("task", "mlm", "hidden"):
        raise UsageError(f"Unknown objective '{objective}'. Valid: task, mlm, hidden")
    if objective == "task" and data is None:
        raise UsageError("Task distillation needs --data (CSV, TSV or JSONL with text and label columns)")
    if objective != "task" and data is None:
        raise UsageError("General distillation needs --data (a text file, one passage a line)")
    import os

    rank = int(os.environ.get("RANK", "0"))  # under torchrun only rank 0 touches the file system
    work = out.with_name(f".{out.name}.training")  # checkpoints live beside `out` until the run completes
    if not resume and rank == 0:
        check_out_dir(out, force)
        if work.exists() and any((work / "checkpoints").glob("step-*")) and not force:
            raise UsageError(f"'{work}' holds checkpoints of an interrupted run. Fix: pass --resume, or --force")
    torch.manual_seed(cfg.seed)
    teacher, tokenizer = load_teacher(teacher_spec, objective)
    layers = resolve_layer_map(layer_map, teacher_layers(teacher), n_layers) if isinstance(layer_map, str) else layer_map
    student, _ = build_student(teacher, layers, {"task": "classification", "mlm": "mlm"}.get(objective, "encoder"), init)
    if objective == "task":  # the student keeps the teacher's classes: the data's labels must be among them
        from edgebert.distill.evaluate import label_names_of

        ds, eval_ds = labelled(data, eval_data, task, columns, label_names_of(teacher_spec), skip_bad_rows)
        task = ds.task
        texts, labels = (ds.text_a, ds.text_b), ds.labels
        eval_texts, eval_labels = ((eval_ds.text_a, eval_ds.text_b), eval_ds.labels) if eval_ds else (None, None)
    else:
        lines = read_text(data)
        texts, labels = (lines, None), None
        held = read_text(eval_data) if eval_data else lines[: max(1, min(64, len(lines) // 10))]
        eval_texts, eval_labels = (held, None), None
    eval_fn = agreement_eval(teacher, tokenizer, eval_texts, eval_labels, task, cfg.max_len) if eval_texts else None
    if rank == 0:
        if work.exists() and not resume:
            import shutil

            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
    trainer = Distiller(teacher, student, tokenizer, objective, recipe, layers, cfg, work, texts, labels, eval_fn)
    resumed = trainer.resume() if resume else 0
    history = trainer.train(on_step)
    if trainer.rank == 0:
        finish(trainer, tokenizer, work, out, force or resume,
                {**config_dict(cfg, recipe), "teacher": teacher_spec, "objective": objective, "task": task,
                 "layer_map": layers, "init": init, "resumed_from": resumed, "processes": trainer.world,
                 "rank_weight_digests": trainer.rank_digests})
    if trainer.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return DistillResult(out, layers, sum(p.numel() for p in teacher.parameters()),
                         sum(p.numel() for p in student.parameters()), history, resumed)


def finish(trainer: Distiller, tokenizer: Any, work: Path, out: Path, force: bool, meta: dict[str, Any],
           meta_name: str = "distillation.json") -> None:
    """save_pretrained (safetensors) + tokenizer + the run's metadata into a staged folder, then move it into place
    and drop the checkpoints (distill and finetune both end here)."""
    import shutil

    from edgebert.bundle import staged_dir

    with staged_dir(out, force=force) as stage:
        trainer.student.config.architectures = [type(trainer.student).__name__]
        trainer.student.save_pretrained(stage, safe_serialization=True)
        tokenizer.save_pretrained(stage)
        (stage / meta_name).write_text(json.dumps(meta, indent=2) + "\n")
        if (work / "train_log.jsonl").is_file():
            shutil.copy(work / "train_log.jsonl", stage / "train_log.jsonl")
    shutil.rmtree(work, ignore_errors=True)
