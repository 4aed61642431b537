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


def train_teacher(folder: Path, train: Path, layers: int = 4, steps: int = 120, seed: int = 0) -> Path:
    """A tiny BERT classifier trained with plain cross-entropy on the synthetic task; saved as an HF folder."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from edgebert.distill.data import read_tsv
    from edgebert.models import packaged_tokenizer

    torch.manual_seed(seed)
    cfg = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                               intermediate_size=64, num_labels=2, max_position_embeddings=64)
    model = AutoModelForSequenceClassification.from_config(cfg)
    tok = packaged_tokenizer()
    ds = read_tsv(train, "sst2")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(ds), (32,), generator=g).tolist()
        enc = tok([ds.text_a[i] for i in idx], padding=True, return_tensors="pt")
        loss = model(**enc, labels=torch.as_tensor(ds.labels[idx])).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    out = folder / "teacher"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
