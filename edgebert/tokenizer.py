"""Tokenizers: the model's own (fast tokenizers only), or bert-base-uncased's WordPiece built from the vocab shipped
in the package (random-weight architectures and tests). transformers is imported inside the functions."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model")


def load_tokenizer(spec: str) -> Any | None:
    from transformers import AutoTokenizer

    path = Path(spec)
    if path.is_dir() and not any((path / f).is_file() for f in TOKENIZER_FILES):
        return None  # transformers 5 would build a vocab-less tokenizer here instead of failing

    try:
        tok = AutoTokenizer.from_pretrained(spec, use_fast=True, trust_remote_code=False)
    except (OSError, ValueError, TypeError):
        return None
    return tok if getattr(tok, "is_fast", False) else None


def packaged_tokenizer() -> Any:
    """bert-base-uncased's WordPiece tokenizer built from the vocab shipped in the package."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab_path = resources.files("edgebert.assets").joinpath("bert-base-uncased-vocab.txt")
    vocab = {tok: i for i, tok in enumerate(vocab_path.read_text(encoding="utf-8").splitlines())}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    # transformers 5.x ignores `vocab_file=` on BertTokenizerFast; wrapping a tokenizers object is reliable.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
        mask_token="[MASK]", model_max_length=512,
    )


def save_for_apps(tokenizer: Any, folder: Path, max_length: int) -> None:
    """The tokenizer files a bundle ships, set to cut where the bundle cuts (`max_length`, the manifest's) and to pad
    nothing. transformers' fast tokenizers keep the truncation and padding of their last call in the backend, so
    saved as they are, tokenizer.json would tell an app loading it with `tokenizers` to cut at whatever length the
    export's last call used (64 on its gate texts) and pad every text to that batch; transformers.js and
    AutoTokenizer cut at tokenizer_config.json's model_max_length, which for sentence-transformers models is not the
    max_seq_length they were trained to use."""
    import json

    from tokenizers import Tokenizer

    tokenizer.save_pretrained(str(folder))
    path = folder / "tokenizer.json"
    if path.is_file():
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        tok.enable_truncation(max_length=max_length)
        tok.save(str(path))
    config = folder / "tokenizer_config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        data["model_max_length"] = max_length
        config.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
