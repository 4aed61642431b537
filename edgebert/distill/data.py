"""GLUE-format TSV data (header row; named columns) and the GLUE metrics, in numpy."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgebert.errors import UsageError


@dataclass(frozen=True)
class Task:
    text_a: tuple[str, ...]  # accepted column names for the first text
    text_b: tuple[str, ...] | None  # second text (pair tasks)
    label: tuple[str, ...]
    labels: tuple[str, ...] | None  # class names in index order; None = regression
    metric: str  # primary metric


TASKS: dict[str, Task] = {
    "sst2": Task(("sentence",), None, ("label",), ("0", "1"), "accuracy"),
    "cola": Task(("sentence",), None, ("label", "acceptability"), ("0", "1"), "matthews"),
    "mrpc": Task(("sentence1", "#1 String"), ("sentence2", "#2 String"), ("label", "Quality"), ("0", "1"), "f1"),
    "qqp": Task(("question1", "sentence1"), ("question2", "sentence2"), ("is_duplicate", "label"), ("0", "1"), "f1"),
    "mnli": Task(("sentence1", "premise"), ("sentence2", "hypothesis"), ("gold_label", "label"),
                 ("contradiction", "entailment", "neutral"), "accuracy"),
    "qnli": Task(("question", "sentence1"), ("sentence", "sentence2"), ("label",), ("entailment", "not_entailment"),
                 "accuracy"),
    "rte": Task(("sentence1",), ("sentence2",), ("label",), ("entailment", "not_entailment"), "accuracy"),
    "stsb": Task(("sentence1",), ("sentence2",), ("score", "label"), None, "pearson"),
    "wnli": Task(("sentence1",), ("sentence2",), ("label",), ("0", "1"), "accuracy"),
}


class DataError(UsageError):
    """A data file that cannot be read as the task's layout; the message names file and line."""


@dataclass
class Dataset:
    task: str
    text_a: list[str]
    text_b: list[str] | None
    labels: np.ndarray  # int64 class ids, or float32 scores for regression
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.text_a)

    @property
    def num_labels(self) -> int:
        spec = TASKS[self.task]
        return len(spec.labels) if spec.labels else 1


def get_task(name: str) -> Task:
    key = name.lower().replace("-", "")
    if key not in TASKS:
        raise UsageError(f"Unknown task '{name}'. Valid: {', '.join(TASKS)}")
    return TASKS[key]


def _column(header: list[str], names: tuple[str, ...], path: Path, what: str) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise DataError(f"{path}:1: no {what} column (expected one of: {', '.join(names)}; header has: "
                    f"{', '.join(header)})")


def read_tsv(path: Path, task: str, skip_bad_rows: bool = False) -> Dataset:
    """Read a GLUE TSV with a header row. Bad rows raise DataError naming file:line, or are skipped and counted."""
    spec = get_task(task)
    task = task.lower().replace("-", "")
    if not path.is_file():
        raise UsageError(f"Data file '{path}' does not exist")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise DataError(f"{path}:1: empty file (a header row is required)")
    header = [h.strip() for h in rows[0]]
    ia = _column(header, spec.text_a, path, "text")
    ib = _column(header, spec.text_b, path, "second text") if spec.text_b else None
    il = _column(header, spec.label, path, "label")
    need = max(i for i in (ia, ib, il) if i is not None) + 1
    texts_a, texts_b, labels, skipped = [], [], [], 0
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        problem = None
        if len(row) < need:
            problem = f"{len(row)} columns, the header needs {need}"
        elif not row[ia].strip() or (ib is not None and not row[ib].strip()):
            problem = "empty text"
        else:
            raw = row[il].strip()
            if spec.labels is None:
                try:
                    label = float(raw)
                except ValueError:
                    problem = f"label '{raw}' is not a number"
            elif raw in spec.labels:
                label = spec.labels.index(raw)
            else:
                problem = f"unknown label '{raw}' (valid: {', '.join(spec.labels)})"
        if problem:
            if skip_bad_rows:
                skipped += 1
                continue
            raise DataError(f"{path}:{lineno}: {problem}. Fix the row, or pass --skip-bad-rows")
        texts_a.append(row[ia].strip())
        if ib is not None:
            texts_b.append(row[ib].strip())
        labels.append(label)
    if not texts_a:
        raise DataError(f"{path}: no usable rows" + (f" ({skipped} skipped)" if skipped else ""))
    dtype = np.float32 if spec.labels is None else np.int64
    return Dataset(task, texts_a, texts_b if ib is not None else None, np.asarray(labels, dtype=dtype), skipped)


def read_text(path: Path) -> list[str]:
    """Plain text for general distillation: one passage per non-empty line."""
    from edgebert.inputs import read_text_file

    return read_text_file(path)


# --- metrics -------------------------------------------------------------------------------------------------

def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float((pred == gold).mean())


def f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float(((pred == 1) & (gold == 1)).sum())
    fp = float(((pred == 1) & (gold == 0)).sum())
    fn = float(((pred == 0) & (gold == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def matthews(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float(((pred == 1) & (gold == 1)).sum())
    tn = float(((pred == 0) & (gold == 0)).sum())
    fp = float(((pred == 1) & (gold == 0)).sum())
    fn = float(((pred == 0) & (gold == 1)).sum())
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if den == 0 else float((tp * tn - fp * fn) / den)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as scipy.stats.rankdata."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return ranks


def pearson(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(np.corrcoef(pred.astype(np.float64), gold.astype(np.float64))[0, 1])


def spearman(pred: np.ndarray, gold: np.ndarray) -> float:
    return pearson(_ranks(np.asarray(pred, np.float64)), _ranks(np.asarray(gold, np.float64)))


def glue_metrics(task: str, outputs: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """GLUE's metrics for a task from model outputs (logits (N, C), or scores (N,) / (N, 1) for STS-B)."""
    spec = get_task(task)
    if spec.labels is None:
        scores = outputs.reshape(-1)
        return {"pearson": pearson(scores, gold), "spearman": spearman(scores, gold)}
    pred = outputs.argmax(-1)
    if spec.metric == "matthews":
        return {"matthews": matthews(pred, gold), "accuracy": accuracy(pred, gold)}
    if spec.metric == "f1":
        return {"f1": f1(pred, gold), "accuracy": accuracy(pred, gold)}
    return {"accuracy": accuracy(pred, gold)}
