"""Model resolution: random architectures, local folders, task detection, computed parameter counts."""
from __future__ import annotations

import pytest

from edgebert.errors import ModelLoadError, UsageError
from edgebert.models import load_model


@pytest.mark.parametrize("arch,params", [
    # Computed from the shipped configs (+ a 2-label head); the paper rounds these to 110M and 66M.
    ("bert-base-uncased", 109_483_778),
    ("distilbert-base-uncased", 66_955_010),
])
def test_random_architectures_have_paper_parameter_counts(arch, params):
    model = load_model(arch, random_weights=True)
    assert model.parameters == params
    assert model.source.kind == "random" and model.source.weights_sha256 == "random"
    assert model.task == "classification" and len(model.labels) == 2


def test_random_encoder_task_has_no_head():
    model = load_model("distilbert-base-uncased", random_weights=True, task="encoder")
    assert model.output_name == "last_hidden_state"
    assert model.parameters < 66_955_010


def test_bert_reads_segment_ids_distilbert_does_not(tiny_bert, tiny_distilbert):
    assert load_model(str(tiny_bert)).input_names == ["input_ids", "attention_mask", "token_type_ids"]
    assert load_model(str(tiny_distilbert)).input_names == ["input_ids", "attention_mask"]


def test_task_detected_from_config(tiny_bert, tiny_encoder):
    assert load_model(str(tiny_bert)).task == "classification"
    assert load_model(str(tiny_encoder)).task == "encoder"


def test_local_dir_records_weights_sha(tiny_bert):
    import hashlib

    expected = hashlib.sha256((tiny_bert / "model.safetensors").read_bytes()).hexdigest()
    assert load_model(str(tiny_bert)).source.weights_sha256 == expected


def test_packaged_tokenizer_matches_real_bert_vocab(minilm):
    from transformers import AutoTokenizer

    from edgebert.tokenizer import packaged_tokenizer

    text = ["Distillation halves BERT's layers, doesn't it?", "naïve café ünïcode 123"]
    ours = packaged_tokenizer()(text)["input_ids"]
    real = AutoTokenizer.from_pretrained(minilm)(text)["input_ids"]
    assert ours == real


def test_errors_are_typed(tmp_path):
    with pytest.raises(UsageError, match="Valid: bert-base-uncased, distilbert-base-uncased"):
        load_model("roberta-base", random_weights=True)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(str(tmp_path))
    with pytest.raises(UsageError, match="Unknown task"):
        load_model("bert-base-uncased", random_weights=True, task="qa")
