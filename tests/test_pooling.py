"""The model's own pooling: sentence-transformers configs read as they are written (legacy and 6.x), applied in
numpy (the device side) and as a torch module (graphs that pool), both held against the pooling written out here
in torch, as sentence-transformers computes it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgebert.errors import UsageError
from edgebert.pooling import DEFAULT, Head, head_module, override, pool, read_head
from tests.st_folders import tiny_st_dir

TEXTS = ["the cat sat on the mat", "a dog", "", "the dog ran fast , the cat is good !" * 3, "zzz qqq"]
TANH = "torch.nn.modules.activation.Tanh"


def _reference(folder, texts, max_len):
    """sentence-transformers' pooling, written out: masked mean / -inf max / first token, Dense, normalize."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    cfg = json.loads((folder / "1_Pooling" / "config.json").read_text())
    named = cfg.get("pooling_mode", [])  # 6.x: a mode or a list; legacy: one boolean per mode
    named = [named] if isinstance(named, str) else named
    modes = [m for k, m in (("cls_token", "cls"), ("max_tokens", "max"), ("mean_tokens", "mean"),
                            ("mean_sqrt_len_tokens", "mean_sqrt_len_tokens"))
             if cfg.get(f"pooling_mode_{k}") or m in named]
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        parts = {"cls": h[:, 0], "max": h.masked_fill(m == 0, float("-inf")).max(1).values,
                 "mean": (h * m).sum(1) / m.sum(1), "mean_sqrt_len_tokens": (h * m).sum(1) / m.sum(1).sqrt()}
        out = torch.cat([parts[k] for k in modes], -1)
        if (folder / "2_Dense").is_dir():
            from safetensors.torch import load_file

            w = load_file(str(folder / "2_Dense" / "model.safetensors"))
            out = torch.tanh(out @ w["linear.weight"].T + w["linear.bias"])
        if any("Normalize" in e["type"] for e in json.loads((folder / "modules.json").read_text())):
            out = torch.nn.functional.normalize(out, dim=-1)
    return h.numpy(), enc["attention_mask"].numpy(), out.numpy()


CASES = [dict(pooling="cls"), dict(pooling="mean"), dict(pooling="max"), dict(pooling="mean_sqrt_len_tokens"),
         dict(pooling=("cls", "mean")), dict(pooling="cls", dense=(16, TANH), normalize=True),
         dict(pooling="mean", normalize=True, normalize_folder=False)]


@pytest.mark.parametrize("legacy", [True, False], ids=["st<=5-config", "st6-config"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "+".join(map(str, c.values())))
def test_head_matches_sentence_transformers_formulas(tmp_path, case, legacy):
    import torch

    folder = tiny_st_dir(tmp_path / "st", legacy_keys=legacy, **case)
    head = read_head(folder, 32)
    assert head.source == "sentence-transformers" and head.max_seq_length == 64
    hidden, mask, expected = _reference(folder, TEXTS, head.max_seq_length)
    np.testing.assert_allclose(pool(hidden, mask, head), expected, atol=1e-5)
    with torch.no_grad():
        traced = head_module(head)(torch.from_numpy(hidden), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(traced, expected, atol=1e-5)


def test_without_a_config_mean_pooling_is_the_recorded_default(tmp_path):
    assert read_head(tmp_path, 32) is None
    assert DEFAULT.modes == ("mean",) and DEFAULT.source.startswith("default")
    hidden = np.arange(24, dtype=np.float32).reshape(1, 4, 6)
    mask = np.array([[1, 1, 0, 0]])
    mean = hidden[:, :2].mean(1)  # padding left out; L2-normalised, as edgebert's embeddings always were
    np.testing.assert_allclose(pool(hidden, mask), mean / np.linalg.norm(mean))
    largest = hidden[:, 1]  # max over the two unmasked tokens: the second, elementwise
    np.testing.assert_allclose(pool(hidden, mask, override("max")), largest / np.linalg.norm(largest))
    assert override("cls").modes == ("cls",) and override("cls").source == "--pooling"


def test_a_bundles_head_round_trips_with_its_dense_weights(tmp_path):
    head = read_head(tiny_st_dir(tmp_path / "st", pooling="cls", dense=(16, TANH), normalize=True), 32)
    head.write_dense(tmp_path)
    again = Head.from_manifest(json.loads(json.dumps(head.to_manifest())), tmp_path)
    x, mask = np.random.default_rng(0).normal(size=(2, 5, 32)), np.ones((2, 5))
    np.testing.assert_array_equal(pool(x, mask, again), pool(x, mask, head))


@pytest.mark.parametrize("edit,message", [
    (lambda d: (d / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "median"})),
     "Unknown pooling mode 'median' in st/1_Pooling/config.json. Valid: cls, max, mean"),
    (lambda d: (d / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 48, "out_features": 16, "bias": True, "activation_function": TANH})),
     "st/2_Dense: Dense 48->16 does not fit its input (32 wide)"),
    (lambda d: (d / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 32, "out_features": 16, "activation_function": "mylib.Swish"})),
     "st/2_Dense: activation 'mylib.Swish' is not one edgebert exports"),
])
def test_bad_sentence_transformers_configs_are_usage_errors(tmp_path, edit, message):
    folder = tiny_st_dir(tmp_path / "st", pooling="cls", dense=(16, TANH))
    edit(folder)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_head(folder, 32)
    with pytest.raises(UsageError, match="Unknown --pooling 'sum'. Valid: cls, mean, max"):
        override("sum")
