"""Vocabulary shrinking: a WordPiece vocabulary cut to the pieces the user's texts use, plus every single-character
piece (an unseen word then falls back to characters instead of becoming [UNK] whole), old order kept (new id i is
old id kept[i], so [PAD] stays 0). What it changes is measured on held-out text and recorded, never assumed:
`unk_rate` (tokens of held-out words that become [UNK] and were not), `retokenized_rate` (texts whose pieces change).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgebert.errors import UsageError

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
KEPT_FILE = "kept_ids.json"


def _wordpiece(tok: Any) -> dict[str, Any]:
    state = json.loads(tok.backend_tokenizer.to_str())
    if state["model"]["type"] != "WordPiece":
        raise UsageError(f"--vocab shrink needs a WordPiece tokenizer (this teacher's is {state['model']['type']}). "
                         "Fix: --vocab full")
    return state["model"]


def shrink(tok: Any, texts: list[str], max_len: int = 512) -> tuple[Any, list[int]]:
    """A fast tokenizer over the pieces `texts` use (+ specials + single characters) and the old id of each new id."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    model = _wordpiece(tok)
    vocab: dict[str, int] = model["vocab"]
    keep: set[int] = set()
    for start in range(0, len(texts), 256):
        for row in tok(texts[start:start + 256], truncation=True, max_length=max_len)["input_ids"]:
            keep.update(row)
    keep |= {vocab[s] for s in SPECIALS if s in vocab}
    keep |= {i for s, i in vocab.items() if len(s) == 1 or (s.startswith("##") and len(s) == 3)}
    kept = sorted(keep)
    names = {i: s for s, i in vocab.items()}
    new_vocab = {names[old]: new for new, old in enumerate(kept)}
    backend = Tokenizer(WordPiece(new_vocab, unk_token=model.get("unk_token", "[UNK]"),
                                  continuing_subword_prefix=model.get("continuing_subword_prefix", "##"),
                                  max_input_chars_per_word=model.get("max_input_chars_per_word", 100)))
    src = tok.backend_tokenizer
    backend.normalizer, backend.pre_tokenizer, backend.decoder = src.normalizer, src.pre_tokenizer, src.decoder
    backend.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", new_vocab["[CLS]"]), ("[SEP]", new_vocab["[SEP]"])])
    new = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                  cls_token="[CLS]", mask_token="[MASK]", model_max_length=tok.model_max_length)
    return new, kept


def shrink_embeddings_(model: Any, kept: list[int]) -> None:
    """Keep the word-embedding rows of `kept` (in order); sets config.vocab_size."""
    import torch

    emb = model.get_input_embeddings()
    new = torch.nn.Embedding(len(kept), emb.embedding_dim, padding_idx=0 if kept[0] == 0 else None)
    with torch.no_grad():
        new.weight.copy_(emb.weight.index_select(0, torch.tensor(kept)))
    model.set_input_embeddings(new)
    model.config.vocab_size = len(kept)


@dataclass
class VocabChange:
    """What shrinking changed on held-out texts."""

    old_vocab: int
    new_vocab: int
    texts: int
    tokens: int  # under the old vocabulary
    new_unk: int  # tokens that are [UNK] under the new vocabulary in words that had none under the old
    unk_rate: float
    retokenized_texts: int
    retokenized_rate: float
    measured_on: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(old: Any, new: Any, texts: list[str], measured_on: str) -> VocabChange:
    """Compare the two tokenizations of `texts` word by word (same normalizer and pre-tokenizer in both)."""
    tokens = new_unk = changed = 0
    for text in texts:
        a, b = old(text, add_special_tokens=False), new(text, add_special_tokens=False)
        tokens += len(a["input_ids"])
        changed += old.convert_ids_to_tokens(a["input_ids"]) != new.convert_ids_to_tokens(b["input_ids"])
        old_unk = {w for w, i in zip(a.word_ids(), a["input_ids"]) if i == old.unk_token_id}
        new_unk += sum(1 for w, i in zip(b.word_ids(), b["input_ids"]) if i == new.unk_token_id and w not in old_unk)
    n = max(1, len(texts))
    return VocabChange(len(old), len(new), len(texts), tokens, new_unk, round(new_unk / max(1, tokens), 6), changed,
                       round(changed / n, 4), measured_on)


def save(folder: Path, tok: Any, kept: list[int], change: VocabChange) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(folder))
    (folder / KEPT_FILE).write_text(json.dumps({"kept": kept, "change": change.to_dict()}))


def load(folder: Path) -> tuple[Any, list[int], dict[str, Any]]:
    """The shrunk tokenizer, the kept old ids and the recorded change, as `save` wrote them."""
    from edgebert.tokenizer import load_tokenizer

    data = json.loads((folder / KEPT_FILE).read_text())
    return load_tokenizer(str(folder)), list(data["kept"]), data["change"]
