"""A synthetic, learnable GLUE-format task and a tiny trained teacher, for distillation tests."""
from __future__ import annotations

import random
from pathlib import Path

WORDS = ("the a movie film plot actor scene story music ending cast director script camera light sound day night "
         "long short slow fast old new red blue city house road river table chair window door book paper").split()
POSITIVE = ("great", "excellent", "wonderful")


def write_task(folder: Path, n_train: int = 480, n_dev: int = 120, seed: int = 0) -> tuple[Path, Path]:
    """SST-2 layout: label 1 iff the sentence contains a positive word."""
    rng = random.Random(seed)

    def rows(n: int) -> list[str]:
        out = ["sentence\tlabel"]
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(4, 12))]
            label = i % 2
            if label:
                words.insert(rng.randrange(len(words)), rng.choice(POSITIVE))
            out.append(f"{' '.join(words)}\t{label}")
        return out

    folder.mkdir(parents=True, exist_ok=True)
    train, dev = folder / "train.tsv", folder / "dev.tsv"
    train.write_text("\n".join(rows(n_train)) + "\n")
    dev.write_text("\n".join(rows(n_dev)) + "\n")
    return train, dev


def finetuned_teacher(root: Path, train: Path) -> Path:
    """A tiny 4-layer BERT fine-tuned on the synthetic task by `edgebert finetune`'s own loop."""
    import torch
    from transformers import AutoConfig, AutoModel

    from edgebert.distill.config import TrainConfig
    from edgebert.distill.finetune import finetune
    from edgebert.tokenizer import packaged_tokenizer

    torch.manual_seed(0)
    cfg = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64)
    AutoModel.from_config(cfg).save_pretrained(root / "base")
    packaged_tokenizer().save_pretrained(root / "base")
    finetune(str(root / "base"), root / "teacher", data=train, eval_data=None, task="sst2",
             cfg=TrainConfig(steps=120, batch_size=32, lr=2e-3, max_len=64, seed=0))
    return root / "teacher"
