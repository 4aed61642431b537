"""`edgebert distill`: teacher -> DistilBERT student -> trained HF model directory (safetensors + tokenizer).

The objective (objectives.py) decides the heads: `task` (a classifier teacher on labelled data), `mlm` (general
distillation on raw text) or `hidden` (an encoder teacher without a head); the trainer (train.py) runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgebert.distill.data import LAYOUTS, DataFiles
from edgebert.distill.losses import Recipe
from edgebert.distill.objectives import MLMKD, Distillation, EmbeddingKD, HiddenCosine, TaskKD, layer_pairs
from edgebert.distill.config import TrainConfig, config_dict
from edgebert.distill.train import Examples, Trainer
from edgebert.distill.workdir import training_workdir
from edgebert.errors import UsageError

OBJECTIVES: dict[str, type[Distillation]] = {"task": TaskKD, "mlm": MLMKD, "hidden": HiddenCosine,
                                             "embedding": EmbeddingKD}


@dataclass
class DistillResult:
    out: Path
    layer_map: list[int]
    teacher_parameters: int
    student_parameters: int
    history: list[dict[str, float]]
    resumed_from: int


def teacher_layers(teacher: Any) -> int:
    """How many layers a BERT (num_hidden_layers) or DistilBERT (n_layers) teacher has."""
    cfg = teacher.config
    return int(getattr(cfg, "num_hidden_layers", None) or cfg.n_layers)


def default_objective(task: str | None, data: Path | None) -> str:
    """task for a GLUE preset or a labelled file (CSV/TSV/JSONL), hidden for a plain text file."""
    labelled_file = data is not None and data.suffix.lower() in LAYOUTS
    return "task" if task is not None or labelled_file else "hidden"


def _check_request(objective: str, data: Path | None) -> None:
    if objective not in OBJECTIVES:
        raise UsageError(f"Unknown objective '{objective}'. Valid: {', '.join(OBJECTIVES)}")
    if objective == "task" and data is None:
        raise UsageError("Task distillation needs --data (CSV, TSV or JSONL with text and label columns)")
    if objective != "task" and data is None:
        raise UsageError("General distillation needs --data (a text file, one passage a line)")


def load_teacher(name_or_path: str, objective: str) -> tuple[Any, Any]:
    """The teacher with the head `objective` needs, and its tokenizer."""
    from edgebert.models import load_hf

    teacher, tokenizer = load_hf(name_or_path, OBJECTIVES[objective].head, role="Teacher")
    if objective == "task" and not any("SequenceClassification" in a for a in (teacher.config.architectures or [])):
        raise UsageError(f"Teacher '{name_or_path}' has no classification head; use --objective hidden or mlm")
    return teacher, tokenizer


def _training_data(objective: str, teacher_name: str, teacher: Any, tokenizer: Any, files: DataFiles,
                   max_len: int) -> tuple[Examples, Callable[[Any], dict[str, float]] | None, str | None]:
    """The training rows, the held-out scorer (student vs teacher) and the task (a labelled file's, or None)."""
    from edgebert.distill.data import read_text
    from edgebert.distill.heldout import agreement_eval

    if objective == "task":  # the student keeps the teacher's classes: the data's labels must be among them
        from edgebert.distill.evaluate import label_names_of

        train, held = files.read_labelled(label_names_of(teacher_name))
        examples, task = Examples(tokenizer, train.text_a, train.text_b, train.labels), train.task
        held_texts, held_labels = ((held.text_a, held.text_b), held.labels) if held else (None, None)
    else:
        lines = read_text(files.train)
        examples, task, held_labels = Examples(tokenizer, lines), files.task, None
        held_texts = (read_text(files.held_out) if files.held_out else lines[: max(1, min(64, len(lines) // 10))],
                      None)
    scorer = agreement_eval(teacher, tokenizer, held_texts, held_labels, task, max_len) if held_texts else None
    return examples, scorer, task


def distill(teacher_name: str, out: Path, *, objective: str | None, recipe: Recipe, layer_map: list[int] | str,
            n_layers: int | None, cfg: TrainConfig, task: str | None = None, data: Path | None = None,
            eval_data: Path | None = None, skip_bad_rows: bool = False, resume: bool = False, force: bool = False,
            init: str = "teacher", on_step: Callable[[int, dict[str, float]], None] | None = None,
            columns: Any = None) -> DistillResult:
    """Build the student from the teacher and train it; the final model lands in `out` only when complete."""
    import torch

    from edgebert.distill.student import build_student, resolve_layer_map

    objective = objective or default_objective(task, data)
    cfg = cfg.evaluating(eval_data is not None)
    _check_request(objective, data)
    workdir = training_workdir(out, resume, force)
    torch.manual_seed(cfg.seed)
    teacher, tokenizer = load_teacher(teacher_name, objective)
    n_teacher = teacher_layers(teacher)
    layers = resolve_layer_map(layer_map, n_teacher, n_layers) if isinstance(layer_map, str) else layer_map
    kind = OBJECTIVES[objective]
    student, _ = build_student(teacher, layers, kind.head, init)
    examples, scorer, task = _training_data(objective, teacher_name, teacher, tokenizer,
                                            DataFiles(data, eval_data, task, columns, skip_bad_rows), cfg.max_len)
    trainer = Trainer(student, kind.for_teacher(recipe, layer_pairs(layers, n_teacher), tokenizer, cfg), examples,
                      cfg, workdir.open(), teacher=teacher, evaluate=scorer)
    resumed = trainer.resume() if resume else 0
    history = trainer.train(on_step)
    if trainer.rank == 0:
        workdir.finish(student, tokenizer, {
            **config_dict(cfg, recipe), "teacher": teacher_name, "objective": objective, "task": task,
            "layer_map": layers, "init": init, "resumed_from": resumed, "processes": trainer.world,
            "rank_weight_digests": trainer.rank_digests}, "distillation.json")
    if trainer.world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return DistillResult(out, layers, sum(p.numel() for p in teacher.parameters()),
                         sum(p.numel() for p in student.parameters()), history, resumed)
