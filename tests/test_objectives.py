"""The training objectives one by one, on tiny in-memory models: BERT masking's proportions, the layer pairs the
cosine compares, which loss terms each objective and recipe give and how they are weighed, that the mlm and hidden
objectives learn (the hidden cosine pulls the student's layers toward the teacher's), exact resume with masking,
the hf recipe through the CLI, and the work-folder guard."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from edgebert.distill.losses import Recipe, get_recipe
from edgebert.distill.objectives import MLMKD, Finetune, HiddenCosine, TaskKD, layer_pairs, mask_tokens
from edgebert.errors import UsageError
from tests.cli_helpers import run_cli

WORDS = "the a cat dog sat ran on under mat road big small red old new house tree river saw".split()
HF, SEED = get_recipe("hf"), get_recipe("seed")


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def _bert(head: str, layers: int = 2, num_labels: int = 2):
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    from edgebert.models import require_torch

    require_torch()
    torch.manual_seed(0)
    # initializer_range 0.2, not BERT's 0.02: at 0.02 a random tiny BERT's layers barely change the residual stream
    # (consecutive hidden states have cosine ~1) and its predictions are near uniform: nothing to distil
    cfg = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64, num_labels=num_labels,
                               initializer_range=0.2)
    if head == "classification":
        return AutoModelForSequenceClassification.from_config(cfg).eval()
    if head == "mlm":
        return AutoModelForMaskedLM.from_config(cfg).eval()
    return AutoModel.from_config(cfg, add_pooling_layer=False).eval()


@pytest.fixture(scope="module")
def tokenizer():
    from edgebert.models import require_torch
    from edgebert.tokenizer import packaged_tokenizer

    require_torch()
    return packaged_tokenizer()


def _student(teacher, layers, head, init="random"):
    import torch

    from edgebert.distill.student import build_student

    torch.manual_seed(1)
    return build_student(teacher, layers, head, init)[0]


def _trainer(tmp_path, student, objective, tokenizer, texts, labels=None, teacher=None, **cfg):
    from edgebert.distill.config import TrainConfig
    from edgebert.distill.train import Examples, Trainer

    config = TrainConfig(**{"steps": 30, "batch_size": 16, "lr": 3e-3, "max_len": 32, "seed": 3, **cfg})
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Trainer(student, objective, Examples(tokenizer, texts, None, labels), config, tmp_path, teacher=teacher)


def test_mask_tokens_chooses_15_percent_of_ordinary_tokens_and_splits_80_10_10():
    import torch

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (64, 128), generator=gen)
    ids[:, 0], ids[:, -1], ids[:8, 100:] = 101, 102, 0  # [CLS] ... [SEP], and padding in 8 rows
    special = (ids == 101) | (ids == 102) | (ids == 0)
    masked, labels = mask_tokens(ids, special, 103, 30522, 0.15, torch.Generator().manual_seed(7))
    chosen = labels != -100
    assert not (chosen & special).any() and torch.equal(masked[special], ids[special])
    assert chosen.sum().item() / (~special).sum().item() == pytest.approx(0.15, abs=0.015)
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(masked[~chosen], ids[~chosen])
    n = chosen.sum().item()
    to_mask = (masked[chosen] == 103).sum().item() / n
    kept = (masked[chosen] == ids[chosen]).sum().item() / n
    assert (to_mask, kept, 1 - to_mask - kept) == pytest.approx((0.8, 0.1, 0.1), abs=0.035)
    again, _ = mask_tokens(ids, special, 103, 30522, 0.15, torch.Generator().manual_seed(7))
    other, _ = mask_tokens(ids, special, 103, 30522, 0.15, torch.Generator().manual_seed(8))
    assert torch.equal(again, masked) and not torch.equal(other, masked)  # the step's seed decides


def test_mlm_never_masks_the_tokenizers_special_tokens(tokenizer):
    import torch

    objective = MLMKD.for_teacher(HF, [(1, 2)], tokenizer, _config(mlm_probability=1.0))
    batch = dict(tokenizer(["a cat sat", "the big red dog ran under the old tree"], padding=True, return_tensors="pt"))
    masked = objective.prepare(batch, torch.Generator().manual_seed(0))
    special = torch.isin(batch["input_ids"], torch.tensor([0, 101, 102]))  # [PAD] [CLS] [SEP]
    assert special.sum().item() == 10 and ((masked["labels"] == -100) == special).all()


def _config(**values):
    from edgebert.distill.config import TrainConfig

    return TrainConfig(**values)


def test_layer_pairs_compare_each_student_layer_with_the_last_teacher_layer_it_replaces():
    assert layer_pairs([0, 2, 4, 6, 8, 10], 12) == [(1, 2), (2, 4), (3, 6), (4, 8), (5, 10), (6, 12)]
    assert layer_pairs([0, 2, 4, 7, 9, 11], 12) == [(1, 2), (2, 4), (3, 7), (4, 9), (5, 11), (6, 12)]
    assert layer_pairs([0, 1, 2, 3], 4) == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert layer_pairs([1, 3], 6) == [(1, 3), (2, 6)] and layer_pairs([3], 4) == [(1, 4)]


def test_hidden_cosine_is_zero_for_a_student_that_is_the_teacher(tokenizer):
    teacher = _bert("encoder", layers=4)
    batch = dict(tokenizer(["a cat sat", "the big red dog ran under the old tree"], padding=True, return_tensors="pt"))
    objective = HiddenCosine(SEED, layer_pairs([0, 1, 2, 3], 4))
    same = _student(teacher, [0, 1, 2, 3], "encoder", init="teacher").eval()
    assert objective.losses(batch, same, objective.teacher_outputs(teacher, batch))["cos"].item() < 1e-5
    shifted = HiddenCosine(SEED, [(i, j + 1) for i, j in objective.pairs[:-1]])  # each layer vs the next one
    assert shifted.losses(batch, same, objective.teacher_outputs(teacher, batch))["cos"].item() > 0.01


@pytest.mark.parametrize("name,recipe,weights", [
    ("task", SEED, {"kd": 0.5, "ce": 0.5}),
    ("task", HF, {"kd": 5.0, "cos": 1.0}),  # the HF scripts give hard labels no weight
    ("task-regression", SEED, {"ce": 0.5, "kd": 0.5}),  # one output: the soft target is the teacher's score (MSE)
    ("mlm", HF, {"kd": 5.0, "mlm": 2.0, "cos": 1.0}),
    ("mlm", SEED, {"kd": 0.5}),
    ("hidden", SEED, {"cos": 1.0}),  # the cosine is the whole loss: weight at least 1
    ("hidden", Recipe(alpha_cos=3.0), {"cos": 3.0}),
    ("finetune", None, {"ce": 1.0}),
])
def test_each_objective_gives_its_terms_weighed_by_its_recipe(tmp_path, tokenizer, name, recipe, weights):
    import torch

    texts = _texts(16)
    labels = np.arange(16) % 2
    if name == "finetune":
        student, teacher, objective = _bert("classification"), None, Finetune(segments=True)
    elif name.startswith("task"):
        regression = name == "task-regression"
        teacher = _bert("classification", num_labels=1 if regression else 2)
        student = _student(teacher, [0], "classification")
        objective = TaskKD(recipe, layer_pairs([0], 2))
        labels = np.linspace(0, 5, 16).astype(np.float32) if regression else labels
    else:
        teacher = _bert("mlm" if name == "mlm" else "encoder")
        student, labels = _student(teacher, [0], "mlm" if name == "mlm" else "encoder"), None
        objective = (MLMKD if name == "mlm" else HiddenCosine).for_teacher(recipe, layer_pairs([0], 2), tokenizer,
                                                                          _config())
    trainer = _trainer(tmp_path, student, objective, tokenizer, texts, labels, teacher)
    terms = trainer.losses(trainer.batch(list(range(8))), torch.Generator().manual_seed(0))
    total = terms.pop("loss")
    assert list(terms) == list(weights) and all(math.isfinite(v.item()) and v.item() > 0 for v in terms.values())
    assert total.item() == pytest.approx(sum(weights[k] * v.item() for k, v in terms.items()), rel=1e-6)


def _falls(history, term):
    values = [r[term] for r in history]
    assert all(math.isfinite(v) for v in values), (term, values)
    return np.mean(values[-5:]) < 0.9 * np.mean(values[:5])


def test_mlm_distillation_with_the_hf_recipe_learns(tmp_path, tokenizer):
    teacher = _bert("mlm")
    objective = MLMKD.for_teacher(HF, layer_pairs([0], 2), tokenizer, _config())
    trainer = _trainer(tmp_path, _student(teacher, [0], "mlm"), objective, tokenizer, _texts(200), teacher=teacher)
    history = trainer.train()
    assert all(_falls(history, term) for term in ("kd", "mlm", "cos", "loss")), history[:3] + history[-3:]
    for r in history:  # the logged terms are the recipe's weighting of the loss
        assert r["loss"] == pytest.approx(5 * r["kd"] + 2 * r["mlm"] + r["cos"], abs=2e-5)


def _mapped_cosine(student, teacher, pairs, batch):
    """Mean cosine between each student layer and its teacher layer over real tokens, recomputed in plain torch."""
    import torch

    with torch.no_grad():
        s = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
        t = teacher(**batch, output_hidden_states=True)
    keep = batch["attention_mask"].bool()
    return float(np.mean([torch.nn.functional.cosine_similarity(s.hidden_states[i][keep], t.hidden_states[j][keep],
                                                                dim=-1).mean().item() for i, j in pairs]))


def test_hidden_objective_pulls_the_student_layers_toward_the_teachers(tmp_path, tokenizer):
    teacher = _bert("encoder", layers=4)
    student = _student(teacher, [0, 2], "encoder")
    pairs = layer_pairs([0, 2], 4)
    held_out = dict(tokenizer(_texts(32, seed=9), padding=True, return_tensors="pt"))
    before = _mapped_cosine(student.eval(), teacher, pairs, held_out)
    history = _trainer(tmp_path, student, HiddenCosine(SEED, pairs), tokenizer, _texts(300), teacher=teacher,
                       steps=40).train()
    after = _mapped_cosine(student, teacher, pairs, held_out)
    assert _falls(history, "cos") and before < 0.2 and after > 0.6, (before, after)  # measured: 0.04 -> 0.82


class Interrupted(Exception):
    pass


def test_mlm_run_resumes_exactly_masking_included(tmp_path, tokenizer):
    teacher = _bert("mlm")

    def run(folder, stop_at=None, resume=False):
        objective = MLMKD.for_teacher(HF, layer_pairs([0], 2), tokenizer, _config())
        trainer = _trainer(folder, _student(teacher, [0], "mlm"), objective, tokenizer, _texts(64), teacher=teacher,
                           steps=6, batch_size=8, checkpoint_every=3)
        start = trainer.resume() if resume else 0

        def on_step(step, record):
            if step == stop_at:
                raise Interrupted

        return start, trainer.train(on_step)

    _, full = run(tmp_path / "full")
    with pytest.raises(Interrupted):
        run(tmp_path / "cut", stop_at=5)
    start, rest = run(tmp_path / "cut", resume=True)
    assert start == 3 and [r["step"] for r in rest] == [4, 5, 6]
    assert [(r["kd"], r["mlm"], r["cos"]) for r in rest] == [(r["kd"], r["mlm"], r["cos"]) for r in full[3:]]


def test_hf_recipe_through_the_cli(capsys, tiny_bert, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(_texts(24))))
    res = run_cli(capsys, "distill", "--teacher", tiny_bert, "--data", data, "--out", tmp_path / "s", "--recipe", "hf",
                  "--steps", "3", "--batch-size", "8")
    assert res.code == 0, res.err
    meta = json.loads((tmp_path / "s" / "distillation.json").read_text())
    assert meta["objective"] == "task" and meta["recipe"] == {"temperature": 2.0, "alpha_kd": 5.0, "alpha_ce": 0.0,
                                                              "alpha_cos": 1.0, "alpha_mlm": 2.0}
    steps = [json.loads(line) for line in (tmp_path / "s" / "train_log.jsonl").read_text().splitlines()]
    assert [sorted(k for k in r if k in ("kd", "ce", "cos", "mlm")) for r in steps] == [["cos", "kd"]] * 3


def test_the_data_chooses_the_objective_and_task_needs_a_classifier(capsys, tiny_encoder, tmp_path):
    text = tmp_path / "passages.txt"
    text.write_text("\n".join(_texts(20)) + "\n")
    res = run_cli(capsys, "distill", "--teacher", tiny_encoder, "--data", text, "--out", tmp_path / "s", "--steps",
                  "2", "--batch-size", "4")
    assert res.code == 0, res.err
    meta = json.loads((tmp_path / "s" / "distillation.json").read_text())
    steps = [json.loads(line) for line in (tmp_path / "s" / "train_log.jsonl").read_text().splitlines()]
    assert meta["objective"] == "hidden" and meta["layer_map"] == [0]
    assert sorted(steps[-1]) == ["cos", "loss", "lr", "step", "step_s"]  # no --eval-data: no held-out score
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(_texts(8))))
    res = run_cli(capsys, "distill", "--teacher", tiny_encoder, "--data", labelled, "--out", tmp_path / "t")
    assert res.code == 2 and f"Teacher '{tiny_encoder}' has no classification head; use --objective hidden or mlm" \
        in res.err
    assert not (tmp_path / "t").exists() and not (tmp_path / ".t.training").exists()


def test_regression_teacher_distils_and_scores_its_task(tmp_path, tokenizer):
    """STS-B: one output; the soft target is the teacher's score and held-out rows get Pearson/Spearman."""
    from edgebert.distill.config import TrainConfig
    from edgebert.distill.run import distill

    _bert("classification", num_labels=1).save_pretrained(tmp_path / "teacher")
    tokenizer.save_pretrained(tmp_path / "teacher")
    data = tmp_path / "stsb.tsv"
    data.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{i % 6}\n" for i, (a, b) in
                                                              enumerate(zip(_texts(24), _texts(24, seed=1)))))
    result = distill(str(tmp_path / "teacher"), tmp_path / "s", objective=None, recipe=SEED, layer_map="0",
                     n_layers=None, cfg=TrainConfig(steps=2, batch_size=8, max_len=32), task="stsb", data=data,
                     eval_data=data)
    last = result.history[-1]
    assert sorted(k for k in last if k.startswith("eval_")) == ["eval_pearson", "eval_spearman"]
    assert -1 <= last["eval_pearson"] <= 1 and math.isfinite(last["kd"]) and math.isfinite(last["ce"])


def test_a_fresh_run_does_not_discard_an_interrupted_ones_checkpoints(tmp_path):
    from edgebert.distill.workdir import training_workdir

    out = tmp_path / "student"
    checkpoint = tmp_path / ".student.training" / "checkpoints" / "step-5"
    checkpoint.mkdir(parents=True)
    with pytest.raises(UsageError, match="holds checkpoints of an interrupted run. Fix: pass --resume, or --force"):
        training_workdir(out, resume=False, force=False)
    assert training_workdir(out, resume=True, force=False).open() == checkpoint.parents[1] and checkpoint.is_dir()
    assert training_workdir(out, resume=False, force=True).open().is_dir() and not checkpoint.exists()
    out.mkdir()
    (out / "x").write_text("")
    with pytest.raises(UsageError, match="exists and is not empty"):
        training_workdir(out, resume=False, force=False)
