"""Tiny random sentence-transformers-layout folders for tests, written by hand (no sentence-transformers, no hub).

Layout (what sentence-transformers 2.x-6.x reads):
  config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json)   the Transformer module (path "")
  modules.json                          [{"idx","name","path","type"}...]
  sentence_bert_config.json             {"max_seq_length": N, "do_lower_case": false}
  1_Pooling/config.json                 legacy booleans (pooling_mode_*_tokens) -- what hub models carry
  2_Dense/config.json + model.safetensors   {"in_features","out_features","bias","activation_function"};
                                        weights "linear.weight" (out, in), "linear.bias" (out)
  N_Normalize/                          folder optional (all-MiniLM-L6-v2 lists it in modules.json but ships none)
"""
from __future__ import annotations

import json
from pathlib import Path

LEGACY_KEYS = {"cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens", "mean": "pooling_mode_mean_tokens",
               "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
               "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}
TYPES = {"transformer": "sentence_transformers.models.Transformer", "pooling": "sentence_transformers.models.Pooling",
         "dense": "sentence_transformers.models.Dense", "normalize": "sentence_transformers.models.Normalize"}


def tiny_bert_dir(path: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random 2-layer BertModel with bert-base-uncased's WordPiece tokenizer, saved as an HF folder."""
    import torch
    from transformers import BertConfig, BertModel

    from edgebert.tokenizer import packaged_tokenizer

    path.mkdir(parents=True, exist_ok=True)
    tok = packaged_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=hidden * 2, max_position_embeddings=128, pad_token_id=0)
    BertModel(config, add_pooling_layer=False).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


def tiny_st_dir(path: Path, pooling: str | tuple[str, ...] = "mean", dense: tuple[int, str] | None = None,
                normalize: bool = False, hidden: int = 32, max_seq_length: int = 64, seed: int = 0,
                legacy_keys: bool = True, normalize_folder: bool = True) -> Path:
    """tiny_bert_dir + the sentence-transformers modules. dense=(out_features, activation class path)."""
    import torch
    from safetensors.torch import save_file

    tiny_bert_dir(path, hidden=hidden, seed=seed)
    modes = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    modules = [{"idx": 0, "name": "0", "path": "", "type": TYPES["transformer"]},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": TYPES["pooling"]}]
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length,
                                                                "do_lower_case": False}))
    (path / "1_Pooling").mkdir(exist_ok=True)
    if legacy_keys:  # hub models (2.x-5.x saves)
        pool_cfg = {"word_embedding_dimension": hidden} | {k: m in modes for m, k in LEGACY_KEYS.items()}
        pool_cfg["include_prompt"] = True
    else:  # sentence-transformers >= 6 saves
        pool_cfg = {"embedding_dimension": hidden, "pooling_mode": modes[0] if len(modes) == 1 else list(modes),
                    "include_prompt": True}
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pool_cfg, indent=2))
    width = hidden * len(modes)
    if dense:
        out_features, activation = dense
        d = path / "2_Dense"
        d.mkdir(exist_ok=True)
        (d / "config.json").write_text(json.dumps({"in_features": width, "out_features": out_features, "bias": True,
                                                   "activation_function": activation}))
        g = torch.Generator().manual_seed(seed + 1)
        save_file({"linear.weight": torch.randn(out_features, width, generator=g) * 0.2,
                   "linear.bias": torch.randn(out_features, generator=g) * 0.1}, str(d / "model.safetensors"))
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": TYPES["dense"]})
    if normalize:
        idx = len(modules)
        modules.append({"idx": idx, "name": str(idx), "path": f"{idx}_Normalize", "type": TYPES["normalize"]})
        if normalize_folder:
            (path / f"{idx}_Normalize").mkdir(exist_ok=True)
    (path / "modules.json").write_text(json.dumps(modules, indent=2))
    return path
