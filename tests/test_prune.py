"""Structured pruning (edgebert.prune): slicing whole heads and FFN neurons equals gating them to zero, importance
finds a head that contributes nothing, a pruned model reloads exactly through edgebert's loader, and ONNX Runtime
fuses its attention with the kept heads (not the config's)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _inputs(vocab: int = 1000) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _model(path):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(path).eval()


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_distilbert"])
def test_slicing_equals_gating_the_dropped_heads_and_neurons(fixture, request):
    from edgebert.prune import Gates, prune_

    path = request.getfixturevalue(fixture)
    gated, pruned = _model(path), _model(path)
    head_scores = [torch.tensor([0.1, 0.9]), torch.tensor([0.8, 0.2])]  # keep head 1 in layer 0, head 0 in layer 1
    ffn_scores = [torch.arange(64, dtype=torch.float), -torch.arange(64, dtype=torch.float)]
    record = prune_(pruned, 1, 16, head_scores, ffn_scores)
    assert record["kept_heads"] == [[1], [0]] and record["heads_per_layer"] == [1, 1]
    assert record["intermediate_size"] == 16 and record["head_dim"] == 16
    gates = Gates(gated)
    with torch.no_grad():
        gates.head[0].copy_(torch.tensor([0.0, 1.0]))
        gates.head[1].copy_(torch.tensor([1.0, 0.0]))
        gates.neuron[0].copy_((torch.arange(64) >= 48).float())  # layer 0 keeps its 16 highest-scored neurons
        gates.neuron[1].copy_((torch.arange(64) < 16).float())
        expected = gated(**_inputs()).logits
        got = pruned(**_inputs()).logits
    gates.remove()
    assert (got - expected).abs().max().item() < 1e-5


def test_importance_ranks_a_silent_head_last_and_prunes_it(tiny_bert):
    from edgebert.prune import importance, prune_

    model = _model(tiny_bert)
    with torch.no_grad():  # head 0 of layer 0 writes nothing: its output-projection columns are zero
        model.bert.encoder.layer[0].attention.output.dense.weight[:, :16] = 0
    batch = {**_inputs(), "labels": torch.tensor([0, 1, 1])}

    def loss(m, b):
        out = m(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
        return torch.nn.functional.cross_entropy(out.logits, b["labels"])

    heads, neurons = importance(model, [batch], loss)
    assert heads[0][0].item() == 0.0 and heads[0][1].item() > 0
    assert [len(n) for n in neurons] == [64, 64]
    assert prune_(model, 1, None, heads, neurons)["kept_heads"][0] == [1]


def test_pruned_model_reloads_exactly_through_load_model(tiny_distilbert, tmp_path):
    from edgebert.arch import attention_width, gflop, model_shape
    from edgebert.models import load_model
    from edgebert.prune import prune_

    model = _model(tiny_distilbert)
    prune_(model, 1, 24)
    model.save_pretrained(tmp_path / "pruned")
    from edgebert.tokenizer import load_tokenizer

    load_tokenizer(str(tiny_distilbert)).save_pretrained(str(tmp_path / "pruned"))
    loaded = load_model(str(tmp_path / "pruned"))
    with torch.no_grad():
        assert torch.equal(loaded.module(**_inputs()), model(**_inputs()).logits)
    assert loaded.parameters == sum(p.numel() for p in model.parameters())
    config = loaded.module.config.to_dict()
    assert attention_width(config) == 16 and model_shape(config) == (2, 32, 24)
    # Q, K, V, O over 16 of 32 wide: 4 x 2 x 128 x 32 x 16; scores 2 x 2 x 128^2 x 16; FFN 2 x 2 x 128 x 32 x 24
    assert gflop(2, 32, 24, 1, 128, attention=16) == pytest.approx(2 * (524288 + 1048576 + 393216) / 1e9)


def test_onnx_fuses_attention_with_the_kept_heads(tiny_bert, tmp_path):
    from edgebert.errors import ExportError
    from edgebert.export import export_model
    from edgebert.formats.onnx.optimize import heads_and_hidden
    from edgebert.models import load_model
    from edgebert.prune import prune_

    model = load_model(str(tiny_bert))
    prune_(model.module.hf, 1, None)
    assert heads_and_hidden(model) == (1, 16)
    manifest = export_model(model, "onnx-opt", tmp_path / "opt")
    assert manifest["optimizer"]["fusions"]["Attention"] == 2 and manifest["parity"]["max_abs"] < 1e-4
    assert manifest["architecture"] == {"layers": 2, "hidden": 32, "intermediate": 64, "attention": 16}
    model.module.config.edgebert_pruning = {**model.module.config.edgebert_pruning, "heads_per_layer": [1, 2]}
    with pytest.raises(ExportError, match=r"one head count; this model keeps \[1, 2\]"):
        heads_and_hidden(model)
