"""Distillation: exact student mapping, losses against hand-computed values, the recipes against reference.json, GLUE
data/metrics, a learnable synthetic task (its teacher fine-tuned by `finetune`), exact resume, and DDP over gloo with
2 CPU processes. The objectives one by one: tests/test_objectives.py."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgebert.distill.data import Columns, DataError, read_task
from edgebert.distill.metrics import f1, glue_metrics, matthews, spearman
from edgebert.distill.student import build_student, resolve_layer_map
from edgebert.errors import UsageError
from tests.cli_helpers import run_cli
from tests.synthetic import finetuned_teacher, write_task

REFERENCE = Path(__file__).parents[1] / "edgebert" / "reference.json"


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    from edgebert.models import require_torch

    require_torch()
    root = tmp_path_factory.mktemp("synthetic")
    train, dev = write_task(root)
    return root, train, dev, finetuned_teacher(root, train)


def _tiny_teacher(layers=4, labels=3):
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(0)
    cfg = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                               intermediate_size=64, num_labels=labels)
    return AutoModelForSequenceClassification.from_config(cfg).eval()


def test_student_keeping_all_layers_reproduces_teacher():
    import torch

    teacher = _tiny_teacher()
    student, copied = build_student(teacher, [0, 1, 2, 3], "classification")
    assert len(copied) == len(student.state_dict())
    ids = torch.randint(1000, 2000, (3, 17))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.no_grad():  # single segment: token type 0 everywhere, folded into positions
        t = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        s = student(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    keep = mask.bool()
    for th, sh in zip(t, s):
        assert (th - sh)[keep].abs().max().item() < 1e-4


def test_half_student_copies_mapped_layers():
    import torch

    teacher = _tiny_teacher()
    student, _ = build_student(teacher, [0, 2], "classification")
    assert student.config.n_layers == 2 and student.config.model_type == "distilbert"
    assert torch.equal(student.distilbert.transformer.layer[1].attention.q_lin.weight,
                       teacher.bert.encoder.layer[2].attention.self.query.weight)
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    assert torch.equal(student.pre_classifier.weight, teacher.bert.pooler.dense.weight)
    random_student, copied = build_student(teacher, [0, 2], "classification", init="random")
    assert copied == [] and not torch.equal(random_student.classifier.weight, teacher.classifier.weight)


def test_layer_maps():
    assert resolve_layer_map("every-other", 12, None) == [0, 2, 4, 6, 8, 10]
    assert resolve_layer_map("hf", 12, None) == [0, 2, 4, 7, 9, 11]
    assert resolve_layer_map("every-other", 6, 3) == [0, 2, 4]
    assert resolve_layer_map("1,3", 6, None) == [1, 3]
    with pytest.raises(UsageError, match="must name layers"):
        resolve_layer_map("0,12", 12, None)
    with pytest.raises(UsageError, match="Valid: every-other, hf"):
        resolve_layer_map("odd", 12, None)
    with pytest.raises(UsageError, match="defined for a 12-layer teacher"):
        resolve_layer_map("hf", 6, 3)


def test_losses_match_hand_computed_values():
    import torch

    from edgebert.distill.losses import ce_loss, cosine_loss, kd_loss

    s = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 1.0]])
    t = torch.tensor([[2.0, 1.0, 0.0], [0.5, 0.5, -1.0]])
    T = 4.0

    def softmax(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    expected = np.mean([np.sum(softmax(tr / T) * (np.log(softmax(tr / T)) - np.log(softmax(sr / T))))
                        for sr, tr in zip(s.numpy(), t.numpy())]) * T * T
    assert kd_loss(s, t, T).item() == pytest.approx(expected, rel=1e-5)
    assert kd_loss(t, t, T).item() == pytest.approx(0.0, abs=1e-6)
    labels = torch.tensor([1, 2])
    expected_ce = -np.mean([np.log(softmax(s.numpy()[0])[1]), np.log(softmax(s.numpy()[1])[2])])
    assert ce_loss(s, labels).item() == pytest.approx(expected_ce, rel=1e-5)
    assert ce_loss(s, torch.tensor([1, -100])).item() == pytest.approx(-np.log(softmax(s.numpy()[0])[1]), rel=1e-5)
    a = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (B=1, T=2, H=2)
    b = torch.tensor([[[1.0, 1.0], [5.0, 5.0]]])
    mask = torch.tensor([[1, 0]])  # second token is padding: ignored
    assert cosine_loss([a], [b], mask).item() == pytest.approx(1 - 1 / math.sqrt(2), rel=1e-5)
    assert cosine_loss([a, a], [a, b], torch.ones(1, 2)).item() == pytest.approx((0 + (1 - 1 / math.sqrt(2))) / 2,
                                                                                rel=1e-5)


def test_recipes_and_layer_maps_are_the_references():
    """The recipes and layer maps as reference.json records them from the seed chapter and the HF scripts."""
    from edgebert.distill.losses import get_recipe

    reference = json.loads(REFERENCE.read_text())["distillation_recipe"]
    seed, hf = get_recipe("seed"), get_recipe("hf")
    chapter = reference["seed"]
    assert (seed.temperature, seed.alpha_kd, seed.alpha_ce, seed.alpha_cos, seed.alpha_mlm) == (
        chapter["temperature"], chapter["alpha_soft"], chapter["beta_hard"], 0.0, 0.0)
    scripts = reference["hf_reference_scripts"]  # their alpha_ce weighs the soft-target KL term: our alpha_kd
    assert (hf.temperature, hf.alpha_kd, hf.alpha_ce, hf.alpha_cos, hf.alpha_mlm) == (
        scripts["temperature"], scripts["alpha_ce"], 0.0, scripts["alpha_cos"], scripts["alpha_mlm"])
    assert resolve_layer_map("every-other", 12, None) == chapter["student_init_teacher_layers"]
    assert resolve_layer_map("hf", 12, None) == scripts["student_init_teacher_layers"]
    assert get_recipe("seed", temperature=2.0).temperature == 2.0
    with pytest.raises(UsageError, match="Valid: seed, hf"):
        get_recipe("tinybert")


def test_glue_tsv_layouts_and_bad_rows(tmp_path):
    """GLUE's TSVs: each preset's columns and label names, quotes taken literally, bad rows named by line."""
    p = tmp_path / "mrpc.tsv"
    p.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\ta\tb\tHe said hi.\tHe greeted.\n"
                 '0\ta\tb\t"Cats.\tThe stock fell.\n')
    ds = read_task(p, "mrpc")
    assert ds.text_a == ["He said hi.", '"Cats.'] and ds.text_b == ["He greeted.", "The stock fell."]
    assert ds.labels.tolist() == [1, 0] and ds.label_names == ["0", "1"]
    as_csv = tmp_path / "mrpc.csv"  # a preset's columns in a quoted CSV, with a column named by flag
    as_csv.write_text('Quality,first,#2 String\n1,"He said ""hi"", twice",He greeted.\n')
    ds = read_task(as_csv, "mrpc", columns=Columns(("first",), ("#2 String",), ("Quality",)))
    assert ds.text_a == ['He said "hi", twice'] and ds.labels.tolist() == [1]
    bad = tmp_path / "sst2.tsv"
    bad.write_text("sentence\tlabel\ngood film\t1\n\t0\nfine\tpositive\nshort\n")
    with pytest.raises(DataError, match=rf"{bad}:3: empty text"):
        read_task(bad, "sst2")
    ds = read_task(bad, "sst2", skip_bad_rows=True)
    assert len(ds) == 1 and ds.skipped == 3
    with pytest.raises(DataError, match="no label column"):
        p2 = tmp_path / "x.tsv"
        p2.write_text("sentence\tscore\nhi\t1\n")
        read_task(p2, "sst2")
    mnli = tmp_path / "mnli.tsv"
    mnli.write_text("sentence1\tsentence2\tgold_label\nA man sleeps.\tA person rests.\tentailment\n")
    assert read_task(mnli, "mnli").labels.tolist() == [1]
    stsb = tmp_path / "stsb.tsv"
    stsb.write_text("sentence1\tsentence2\tscore\na\tb\t3.8\n")
    assert read_task(stsb, "stsb").labels.dtype == np.float32
    with pytest.raises(UsageError, match="Unknown task 'squad'"):
        read_task(stsb, "squad")


def test_glue_metrics_against_hand_values():
    pred, gold = np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1])
    assert f1(pred, gold) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert matthews(pred, gold) == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 20.0, 40.0])) == pytest.approx(
        0.9486832980505138)
    logits = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert glue_metrics("cola", logits, np.array([1, 0]))["matthews"] == pytest.approx(1.0)
    assert set(glue_metrics("stsb", np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.5, 2.9]))) == {"pearson",
                                                                                                   "spearman"}


def _distill(teacher, out, train, dev, **kw):
    from edgebert.distill.losses import get_recipe
    from edgebert.distill.run import distill
    from edgebert.distill.config import TrainConfig

    cfg_kw = {k: kw.pop(k) for k in list(kw) if k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{"steps": 60, "batch_size": 32, "lr": 1e-3, "eval_every": 10, **cfg_kw})
    return distill(str(teacher), out, objective="task", recipe=get_recipe("seed"), layer_map="every-other",
                   n_layers=None, cfg=cfg, task="sst2", data=train, eval_data=dev, **kw)


def test_distilled_student_agrees_with_teacher(task, tmp_path):
    root, train, dev, teacher = task
    res = _distill(teacher, tmp_path / "s", train, dev, init="random", steps=80, lr=3e-3)
    evals = [r["eval_agreement"] for r in res.history if "eval_agreement" in r]
    assert evals[0] < 0.9 and evals[-1] > 0.95  # rises above 95% from a random start
    kd = [r["kd"] for r in res.history]
    assert np.mean(kd[-10:]) < 0.5 * np.mean(kd[:10])  # and the KD loss falls
    assert res.layer_map == [0, 2] and res.student_parameters < res.teacher_parameters
    saved = tmp_path / "s"
    assert (saved / "model.safetensors").is_file() and (saved / "tokenizer.json").is_file()
    meta = json.loads((saved / "distillation.json").read_text())
    assert meta["layer_map"] == [0, 2] and meta["recipe"]["temperature"] == 4.0


def test_student_exports_and_evaluates(task, tmp_path, capsys):
    root, train, dev, teacher = task
    _distill(teacher, tmp_path / "s", train, dev, steps=20)
    res = run_cli(capsys, "export", tmp_path / "s", "--out", tmp_path / "b")
    assert res.code == 0, res.err
    out = tmp_path / "eval.jsonl"
    res = run_cli(capsys, "eval", teacher, tmp_path / "s", tmp_path / "b", "--task", "sst2", "--data", dev,
                  "--out", out)
    assert res.code == 0, res.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["format"] for r in rows] == ["pytorch", "pytorch", "onnx"]
    assert rows[0]["retention_pct"] == 100.0 and rows[1]["score"] > 0.95
    assert rows[2]["score"] == rows[1]["score"]  # the exported student scores as the PyTorch one
    res = run_cli(capsys, "eval", teacher, "--task", "sst2", "--data", root / "missing.tsv")
    assert res.code == 2 and "does not exist" in res.err


def test_resume_continues_exactly(task, tmp_path):
    from safetensors.torch import load_file

    root, train, dev, teacher = task
    full = _distill(teacher, tmp_path / "full", train, dev, steps=20, checkpoint_every=5, eval_every=0)

    class Stop(Exception):
        pass

    def crash_at_13(step, rec):
        if step == 13:
            raise Stop

    with pytest.raises(Stop):
        _distill(teacher, tmp_path / "cut", train, dev, steps=20, checkpoint_every=5, eval_every=0,
                 on_step=crash_at_13)
    assert not (tmp_path / "cut").exists()  # nothing half-written
    assert sorted(p.name for p in (tmp_path / ".cut.training" / "checkpoints").iterdir()) == ["step-10", "step-5"]
    resumed = _distill(teacher, tmp_path / "cut", train, dev, steps=20, checkpoint_every=5, eval_every=0,
                       resume=True)
    assert resumed.resumed_from == 10 and [r["step"] for r in resumed.history] == list(range(11, 21))
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history[10:]]
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)


def test_ddp_two_cpu_processes_end_identical(task, tmp_path):
    root, train, dev, teacher = task
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "edgebert.cli", "distill", "--teacher", str(teacher), "--out", str(tmp_path / "ddp"), "--task", "sst2",
           "--data", str(train), "--steps", "6", "--batch-size", "8", "--lr", "1e-3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                                 "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "ddp" / "distillation.json").read_text())
    assert meta["processes"] == 2
    digests = meta["rank_weight_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]


def test_distill_cli_errors(capsys, task, tmp_path):
    root, train, dev, teacher = task
    res = run_cli(capsys, "distill", "--teacher", teacher, "--out", tmp_path / "o", "--task", "sst2",
                  "--data", train, "--layer-map", "0,9")
    assert res.code == 2 and "must name layers of the 4-layer teacher" in res.err
    res = run_cli(capsys, "distill", "--teacher", teacher, "--out", tmp_path / "o", "--task", "sst2",
                  "--data", train, "--recipe", "fast")
    assert res.code == 2 and "Unknown recipe 'fast'" in res.err
    assert not (tmp_path / "o").exists()
