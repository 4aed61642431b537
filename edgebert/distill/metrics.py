"""Task metrics in numpy: the GLUE presets' (accuracy, F1, Matthews, Pearson/Spearman) and, for a user's classes,
accuracy and macro-F1. Outputs are logits (N, C), or scores (N,) / (N, 1) for regression."""
from __future__ import annotations

import numpy as np

from edgebert.distill.data import find_task


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


def macro_f1(pred: np.ndarray, gold: np.ndarray, classes: int) -> float:
    """Unweighted mean of per-class F1 (a class never predicted nor present counts as 0 only if present)."""
    scores = []
    for c in range(classes):
        tp = float(((pred == c) & (gold == c)).sum())
        fp = float(((pred == c) & (gold != c)).sum())
        fn = float(((pred != c) & (gold == c)).sum())
        if tp + fp + fn:
            scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def task_metric(task: str) -> str:
    """The primary metric: the GLUE preset's, else accuracy."""
    preset = find_task(task)
    return preset.metric if preset else "accuracy"


def glue_metrics(task: str, outputs: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """The task's metrics from model outputs (logits (N, C), or scores (N,) / (N, 1) for STS-B); a user's
    classification file gets accuracy and macro-F1."""
    preset = find_task(task)
    if preset is None:
        pred = outputs.argmax(-1)
        return {"accuracy": accuracy(pred, gold), "macro_f1": macro_f1(pred, gold, outputs.shape[-1])}
    if preset.labels is None:
        scores = outputs.reshape(-1)
        return {"pearson": pearson(scores, gold), "spearman": spearman(scores, gold)}
    pred = outputs.argmax(-1)
    if preset.metric == "matthews":
        return {"matthews": matthews(pred, gold), "accuracy": accuracy(pred, gold)}
    if preset.metric == "f1":
        return {"f1": f1(pred, gold), "accuracy": accuracy(pred, gold)}
    return {"accuracy": accuracy(pred, gold)}
