"""edgebert fit's parts, without measuring: exact parameter counts, the search space, successive halving, the budget
and its verdict, monotone skipping of candidates implied to miss, vocabulary shrinking, the cgroup memory limit,
and the training pieces fit adds (stop-at-step resume, the embedding objective)."""
from __future__ import annotations

import sys

import pytest

from edgebert.errors import UsageError
from edgebert.fit.budget import Budget, closest
from edgebert.fit.search import Entry, Halving, rung_steps
from edgebert.fit.shape import Candidate, Shape
from edgebert.fit.space import SpaceOptions, Teacher, default_depths, formats, shapes, static_lengths

MINILM = Teacher(layers=6, hidden=384, heads=12, ffn=1536, vocab=30522, max_positions=512, task="classification",
                 num_labels=9)


def _shape(layers=3, heads=6, ffn=768, vocab=30522, task="classification"):
    return Shape(tuple(range(0, 2 * layers, 2)), 384, heads, 12, 32, ffn, 1536, vocab, 512, task, 9)


@pytest.mark.parametrize("shape", [_shape(), _shape(2, 12, 1536, 4745), _shape(1, 4, 384, 5000, "encoder")])
def test_shape_params_equal_the_built_models(shape):
    from transformers import AutoConfig

    from edgebert.fit.student import random_student

    teacher = AutoConfig.for_model("bert", hidden_size=384, num_attention_heads=12, intermediate_size=1536,
                                   num_hidden_layers=6, num_labels=9)
    model = random_student(shape, teacher)
    assert sum(p.numel() for p in model.parameters()) == shape.params()


def test_space_defaults_and_precision_siblings():
    assert default_depths(6) == [2, 3] and default_depths(12) == [3, 4, 6] and default_depths(2) == [1]
    found = shapes(MINILM, SpaceOptions(), shrunk_vocab=4745)
    assert len(found) == 2 * 2 * 3 * 2  # depths x heads (all, half) x FFN (1, 1/2, 1/4) x vocab (full, shrunk)
    assert {s.ffn for s in found} == {1536, 768, 384} and {s.heads for s in found} == {12, 6}
    assert found[0].gflop(128) <= found[-1].gflop(128)
    assert formats(SpaceOptions(["onnx-int8"], precisions=["fp32", "fp16"])) == ["onnx-int8", "onnx", "onnx-fp16"]
    assert formats(SpaceOptions(["tflite-int8", "onnx-int8"])) == ["tflite-int8", "onnx-int8"]
    assert static_lengths([10] * 96 + [40] * 3 + [200], 128) == [16, 128]


def test_space_refuses_what_the_teacher_cannot_give():
    with pytest.raises(UsageError, match="--heads 16 is more than the teacher's 12"):
        shapes(MINILM, SpaceOptions(heads=[16]), None)
    with pytest.raises(UsageError, match="--precision takes fp32, fp16, int8"):
        SpaceOptions(precisions=["int4"])
    with pytest.raises(UsageError, match="fit cannot search format 'onnx-int8-static' \\(variant int8-static\\)"):
        SpaceOptions(["onnx-int8-static"])


def test_rung_steps_and_halving_keep_the_best_third_and_the_cheapest_that_meets():
    assert rung_steps(900, 6) == [100, 300, 900] and rung_steps(900, 1) == [900] and rung_steps(90, 3) == [30, 90]
    quality = {"a": 0.90, "b": 0.97, "c": 0.99, "d": 0.995, "e": 0.80, "f": 0.985}
    calls = []

    def train(alive, steps):
        calls.append((steps, sorted(e.key for e in alive)))
        return [{"key": e.key, "step": steps, "retention": quality[e.key], "score": 0, "train_s": 1, "s_per_step": 0.01}
                for e in alive]

    entries = [Entry(k, cost) for cost, k in enumerate("abcdef")]
    Halving(900, 0.98, None).run(entries, train)
    # rung 2: the best 2 of 6 (d, c); rung 3: the best of those (d) plus the cheapest that meets 0.98 (c)
    assert calls == [(100, list("abcdef")), (300, ["c", "d"]), (900, ["c", "d"])]
    late = Halving(900, None, deadline=0.0)
    late.run([Entry("a", 1)], train)
    assert "would not finish within --max-hours" in late.stopped


def test_budget_validation_and_the_binding_constraint():
    for kwargs, message in (({"max_latency_ms": -1}, "--max-latency-ms must be positive"),
                            ({"min_retention": 1.5}, r"--min-retention is a fraction .* \(got 1.5\)"),
                            ({"max_size_mb": 0}, "--max-size-mb must be positive")):
        with pytest.raises(UsageError, match=message):
            Budget(**kwargs)
    budget = Budget(max_latency_ms=2, max_size_mb=10, min_retention=0.98)
    records = [{"label": "big", "costs": {"p95_ms": 1.0, "file_mb": 30}, "retention": 0.99},
               {"label": "slow", "costs": {"p95_ms": 2.5, "file_mb": 5}, "retention": 0.99},
               {"label": "weak", "costs": {"p95_ms": 1.0, "file_mb": 5}, "retention": 0.97}]
    rec, limit = closest(budget, records)
    assert (rec["label"], limit) == ("weak", "retention")
    assert budget.misses(records[1]["costs"], 0.99) == ["latency"]
    assert budget.miss_text("latency", records[1]["costs"], None) == "p95 2.5 ms > --max-latency-ms 2"


def test_costs_skip_shapes_implied_by_a_smaller_miss(tmp_path, monkeypatch):
    from edgebert.fit import costs

    measured = []

    def fake_measure(c, ctx, why_not):
        measured.append(c.shape.label)
        return {"status": "measured", "costs": {"p95_ms": 3.0 * c.shape.layers, "file_mb": 1.0, "memory": {}}}

    monkeypatch.setattr(costs, "measure", fake_measure)
    cands = [Candidate(_shape(layers, 6, 768), "onnx-int8", "int8") for layers in (1, 2, 3)]
    ctx = costs.CostContext(tmp_path, None, {}, ["x"], "t", tmp_path, Budget(max_latency_ms=5.0))
    records = costs.run_costs(cands, ctx)
    assert measured == ["1L h6/12 f768/1536 v30522", "2L h6/12 f768/1536 v30522"]
    assert records[cands[2].name]["reason"] == "implied by 2L h6/12 f768/1536 v30522 onnx-int8 (p95 6 ms > " \
                                               "--max-latency-ms 5)"
    again = costs.run_costs(cands, ctx)  # resumed: nothing measured twice
    assert len(measured) == 2 and again == records


def test_vocabulary_shrink_keeps_known_texts_identical_and_measures_the_rest():
    from edgebert.fit.vocab import measure, shrink
    from edgebert.tokenizer import packaged_tokenizer

    old = packaged_tokenizer()
    seen = ["the cat sat on the mat", "a dog barked at the cat"]
    new, kept = shrink(old, seen)
    assert kept[0] == 0 and len(new) == len(kept) < 3000  # the pieces used, specials, single characters
    assert old.convert_ids_to_tokens(old(seen[0])["input_ids"]) == new.convert_ids_to_tokens(new(seen[0])["input_ids"])
    change = measure(old, new, seen + ["an unseen zebra", "naïve café"], "held out")
    assert change.new_unk == 0 and change.retokenized_texts == 2 and change.retokenized_rate == 0.5


def test_a_memory_limit_is_observed_fit_or_oom_killed():
    """Under a cgroup where this machine allows one; elsewhere the reason it cannot, for the row's estimate mark."""
    from edgebert.fit.limits import run_limited, unavailable

    why = unavailable()
    if why is not None:
        assert "cgroup" in why
        return
    alloc = [sys.executable, "-c", "import sys; b = bytearray(int(sys.argv[1]) << 20); print(len(b))"]
    assert not run_limited(alloc + ["30"], 200).oom_killed
    killed = run_limited(alloc + ["400"], 100)
    assert killed.oom_killed and killed.returncode == -9 and killed.max_usage_mb <= 101


def test_stop_at_then_resume_equals_one_straight_run(tiny_distilbert, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    from edgebert.distill.config import TrainConfig
    from edgebert.distill.objectives import Finetune
    from edgebert.distill.train import Examples, Trainer
    from edgebert.tokenizer import packaged_tokenizer

    import numpy as np

    def run(workdir, stops):
        workdir.mkdir()
        model = None
        for stop in stops:
            torch.manual_seed(0)
            model = AutoModelForSequenceClassification.from_pretrained(tiny_distilbert)
            ex = Examples(packaged_tokenizer(), ["good day", "bad day", "fine", "awful"], None, np.array([1, 0, 1, 0]))
            trainer = Trainer(model, Finetune(segments=False), ex, TrainConfig(steps=6, batch_size=2, stop_at=stop),
                              workdir)
            trainer.resume()
            trainer.train()
            trainer.save_checkpoint()
        return model.state_dict()

    straight, halves = run(tmp_path / "a", [6]), run(tmp_path / "b", [3, 6])
    assert all(torch.equal(straight[k], halves[k]) for k in straight)  # bit-identical: same seed, same order
    with pytest.raises(UsageError, match="stop_at must be between 0 and --steps 6"):
        TrainConfig(steps=6, stop_at=7)


def test_embedding_objective_is_zero_for_the_teacher_itself(tiny_encoder):
    import torch
    from transformers import AutoModel

    from edgebert.distill.losses import Recipe
    from edgebert.distill.objectives import EmbeddingKD

    teacher = AutoModel.from_pretrained(tiny_encoder).eval()
    batch = {"input_ids": torch.tensor([[101, 2000, 2001, 102, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 1, 0]])}
    objective = EmbeddingKD(Recipe(), [(1, 1)])
    terms = objective.losses(batch, teacher, objective.teacher_outputs(teacher, batch))
    assert list(terms) == ["emb"] and terms["emb"].item() == pytest.approx(0.0, abs=1e-6)
