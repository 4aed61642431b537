"""Training and scoring: `finetune` (a teacher from your labels), `distill` (a student from a teacher), `eval`."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import LabelColumn, PairColumn, SkipBadRows, Task, TextColumn, columns, err, out
from edgebert.distill.config import TrainConfig

D = TrainConfig()
Steps = Annotated[int, typer.Option(help="Optimizer steps.")]
BatchSize = Annotated[int, typer.Option(help="Sequences per optimizer step (all processes).")]
GradAccum = Annotated[int, typer.Option(help="Micro-batches per optimizer step.")]
LearningRate = Annotated[float, typer.Option(help="Peak learning rate (AdamW, linear warm-up then decay).")]
WarmupRatio = Annotated[float, typer.Option(help="Fraction of steps warming up.")]
MaxLen = Annotated[int, typer.Option(help="Truncate inputs to this many tokens.")]
Seed = Annotated[int, typer.Option(help="Seed: weights init, data order, masking, dropout.")]
EvalData = Annotated[Optional[Path], typer.Option(help="Held-out data scored every --eval-every steps.")]
EvalEvery = Annotated[int, typer.Option(help="Evaluate every K steps (0: at the end only, with --eval-data).")]
CheckpointEvery = Annotated[int, typer.Option(help="Checkpoint every N steps (0: none).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint of an interrupted run.")]
TrainDevice = Annotated[str, typer.Option(help="cpu | cuda", metavar="DEVICE")]
Out = Annotated[Path, typer.Option("--out", "-o", help="The trained model folder (HF layout, safetensors).")]
ForceOut = Annotated[bool, typer.Option("--force", help="Replace a non-empty --out.")]


def _config(**values: Any) -> TrainConfig:
    return TrainConfig(**values)  # validates: a bad value is a usage error naming its flag


@command()
def distill(
    teacher: Annotated[str, typer.Option(help="Teacher: HF model folder or id (BERT or DistilBERT).")],
    out_dir: Out,
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL (task) or a text file, one passage a line "
                                            "(mlm/hidden).")],
    objective: Annotated[Optional[str], typer.Option(help="task | mlm | hidden [task for labelled data, else "
                                                          "hidden].", show_default=False)] = None,
    task: Task = None, text_column: TextColumn = None, pair_column: PairColumn = None, label_column: LabelColumn = None,
    eval_data: EvalData = None,
    layers: Annotated[Optional[int], typer.Option(help="Student layers [half the teacher's].", show_default=False)
                      ] = None,
    layer_map: Annotated[str, typer.Option(help="every-other | hf | explicit list such as 0,2,4.")] = "every-other",
    init: Annotated[str, typer.Option(help="teacher (copy mapped layers) | random (the paper's ablation).")] = "teacher",
    recipe: Annotated[str, typer.Option(help="seed (T=4, a=0.5) | hf (T=2, a_kd 5, a_mlm 2, a_cos 1).")] = "seed",
    temperature: Annotated[Optional[float], typer.Option(help="Override the recipe's temperature.")] = None,
    alpha_kd: Annotated[Optional[float], typer.Option(help="Override: soft-target weight.")] = None,
    alpha_ce: Annotated[Optional[float], typer.Option(help="Override: hard-label weight.")] = None,
    alpha_cos: Annotated[Optional[float], typer.Option(help="Override: hidden-state cosine weight.")] = None,
    alpha_mlm: Annotated[Optional[float], typer.Option(help="Override: masked-LM weight.")] = None,
    steps: Steps = D.steps, batch_size: BatchSize = D.batch_size, grad_accum: GradAccum = D.grad_accum,
    lr: LearningRate = D.lr, warmup_ratio: WarmupRatio = D.warmup_ratio, max_len: MaxLen = D.max_len,
    seed: Seed = D.seed, eval_every: EvalEvery = D.eval_every, checkpoint_every: CheckpointEvery = D.checkpoint_every,
    resume: Resume = False, skip_bad_rows: SkipBadRows = False, device: TrainDevice = D.device, force: ForceOut = False,
) -> None:
    """Build a DistilBERT student from TEACHER's layers and train it by knowledge distillation."""
    from edgebert.distill.losses import get_recipe
    from edgebert.distill.run import distill as run_distill
    from edgebert.render import distill_summary, training_progress

    loss_recipe = get_recipe(recipe, temperature=temperature, alpha_kd=alpha_kd, alpha_ce=alpha_ce,
                             alpha_cos=alpha_cos, alpha_mlm=alpha_mlm)
    cfg = _config(steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup_ratio=warmup_ratio,
                  max_len=max_len, seed=seed, eval_every=eval_every, checkpoint_every=checkpoint_every, device=device)
    with training_progress(err, "distill", steps) as on_step:
        result = run_distill(teacher, out_dir, objective=objective, recipe=loss_recipe, layer_map=layer_map,
                             n_layers=layers, cfg=cfg, task=task, data=data, eval_data=eval_data,
                             skip_bad_rows=skip_bad_rows, resume=resume, force=force, init=init, on_step=on_step,
                             columns=columns(text_column, pair_column, label_column))
    out.print(distill_summary(result))


@command()
def finetune(
    model: Annotated[str, typer.Argument(help="Base model: HF model folder or id (BERT or DistilBERT).")],
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL; the label set and its order come from this "
                                            "file.")],
    out_dir: Out,
    eval_data: EvalData = None,
    task: Task = None, text_column: TextColumn = None, pair_column: PairColumn = None, label_column: LabelColumn = None,
    steps: Steps = 300, batch_size: BatchSize = D.batch_size, grad_accum: GradAccum = D.grad_accum,
    lr: LearningRate = D.lr, warmup_ratio: WarmupRatio = D.warmup_ratio, max_len: MaxLen = D.max_len,
    seed: Seed = D.seed, eval_every: EvalEvery = D.eval_every, checkpoint_every: CheckpointEvery = D.checkpoint_every,
    resume: Resume = False, skip_bad_rows: SkipBadRows = False, device: TrainDevice = D.device, force: ForceOut = False,
) -> None:
    """Fine-tune MODEL as a classifier on your labelled data: the teacher to distill from when you have none."""
    from edgebert.distill.finetune import finetune as run_finetune
    from edgebert.render import finetune_summary, training_progress

    cfg = _config(steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup_ratio=warmup_ratio,
                  max_len=max_len, seed=seed, eval_every=eval_every, checkpoint_every=checkpoint_every, device=device)
    with training_progress(err, "finetune", steps) as on_step:
        result = run_finetune(model, out_dir, data=data, eval_data=eval_data, cfg=cfg, task=task,
                              columns=columns(text_column, pair_column, label_column), skip_bad_rows=skip_bad_rows,
                              resume=resume, force=force, on_step=on_step)
    out.print(finetune_summary(model, result))


@command("eval")
def eval_cmd(
    targets: Annotated[list[str], typer.Argument(help="Models or bundles; the first is the reference for retention.",
                                                 metavar="TARGETS...")],
    data: Annotated[Path, typer.Option(help="Labelled CSV/TSV/JSONL (a header row; JSONL: one object a line).")],
    task: Task = None, text_column: TextColumn = None, pair_column: PairColumn = None, label_column: LabelColumn = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", "-o", help="Append eval rows to this JSONL.")] = None,
    skip_bad_rows: SkipBadRows = False,
) -> None:
    """Score models and exported bundles on labelled data; retention relative to the first TARGET.

    Labels are the first TARGET's (its id2label); a label the model never saw is an error naming its line."""
    from edgebert.bench.rows import append_rows
    from edgebert.distill.evaluate import evaluate
    from edgebert.render import eval_table

    rows = evaluate(list(targets), data, task, columns(text_column, pair_column, label_column), skip_bad_rows)
    if out_path:
        append_rows(out_path, rows)
    out.print(eval_table(rows, data))
