"""The user's data as fit reads it: labelled rows (a classifier teacher: task distillation, retention = held-out
score / the teacher's) or plain text, one passage a line (an encoder teacher: distilled on its sentence
embeddings, retention = mean embedding cosine); held-out rows from --eval-data, else the last tenth of --data."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import UsageError

HELD_OUT_FRACTION = 0.1


@dataclass
class FitData:
    objective: str  # "task" (labelled rows) | "embedding" (plain text)
    train_texts: list[str]
    dev_texts: list[str]
    train_labels: np.ndarray | None = None
    dev_labels: np.ndarray | None = None
    task: str = ""  # the metric's task name ("text-classification" for a user's file)
    label_names: list[str] | None = None
    held_out: str = ""  # where the held-out rows came from


def labelled(path: Path) -> bool:
    from edgebert.distill.data import LAYOUTS

    return path.suffix.lower() in LAYOUTS


def _split(n: int) -> int:
    if n < 2:
        raise UsageError("--data needs at least 2 rows when there is no --eval-data (one is held out)")
    return n - max(1, int(n * HELD_OUT_FRACTION))


def read(data: Path, eval_data: Path | None, label_names: list[str] | None) -> FitData:
    """Read the training and held-out rows; labelled files keep the teacher's classes (`label_names`)."""
    from edgebert.distill.data import DataFiles, read_text

    if not data.is_file():
        raise UsageError(f"--data '{data}' does not exist")
    if eval_data is not None and not eval_data.is_file():
        raise UsageError(f"--eval-data '{eval_data}' does not exist")
    if not labelled(data):
        texts = read_text(data)
        if eval_data is not None:
            return FitData("embedding", texts, read_text(eval_data), held_out=str(eval_data))
        cut = _split(len(texts))
        return FitData("embedding", texts[:cut], texts[cut:], held_out=f"last {len(texts) - cut} lines of {data}")
    train, held = DataFiles(data, eval_data).read_labelled(label_names)
    if held is not None:
        return FitData("task", train.text_a, held.text_a, train.labels, held.labels, train.task, train.label_names,
                       str(eval_data))
    cut = _split(len(train))
    return FitData("task", train.text_a[:cut], train.text_a[cut:], train.labels[:cut], train.labels[cut:],
                   train.task, train.label_names, f"last {len(train) - cut} rows of {data}")


def fingerprint(*paths: Path | None) -> str:
    """sha256 over the files' bytes (the data part of every training key)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path is not None and path.is_file() else b"-")
    return digest.hexdigest()[:16]


def teacher_task(config: dict[str, Any]) -> str:
    archs = config.get("architectures") or []
    return "classification" if any("SequenceClassification" in a for a in archs) else "encoder"
