"""Labelled text data: a user's CSV, TSV or JSONL file (columns chosen by flags), the GLUE TSV layouts as presets,
and the metrics, in numpy. Every bad row is an error naming file:line, or is skipped and counted on request."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from edgebert.errors import UsageError


@dataclass(frozen=True)
class Columns:
    """Which columns hold the text, the optional second text, and the label (first name present wins)."""

    text: tuple[str, ...] = ("text", "sentence")
    pair: tuple[str, ...] | None = None
    label: tuple[str, ...] = ("label",)

    @classmethod
    def from_flags(cls, text: str | None, pair: str | None, label: str | None) -> "Columns":
        default = cls()
        return cls((text,) if text else default.text, (pair,) if pair else None, (label,) if label else default.label)


@dataclass(frozen=True)
class Task:
    """A GLUE preset: its columns, its fixed label names (None = regression) and its primary metric."""

    text_a: tuple[str, ...]
    text_b: tuple[str, ...] | None
    label: tuple[str, ...]
    labels: tuple[str, ...] | None
    metric: str

    @property
    def columns(self) -> Columns:
        return Columns(self.text_a, self.text_b, self.label)


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
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


class DataError(UsageError):
    """A data file that cannot be read as asked; the message names file and line."""


@dataclass
class Dataset:
    task: str  # a GLUE preset name, or "text-classification" for a user's file
    text_a: list[str]
    text_b: list[str] | None
    labels: np.ndarray  # int64 class ids, or float32 scores for regression
    label_names: list[str] | None = None  # class names in id order; None = regression
    skipped: int = 0
    path: str = ""
    lines: list[int] = field(default_factory=list, repr=False)  # the file line of each row

    def __len__(self) -> int:
        return len(self.text_a)

    @property
    def num_labels(self) -> int:
        return len(self.label_names) if self.label_names else 1


def get_task(name: str) -> Task:
    key = name.lower().replace("-", "")
    if key not in TASKS:
        raise UsageError(f"Unknown task '{name}'. Valid: {', '.join(TASKS)}")
    return TASKS[key]


def data_format(path: Path, fmt: str | None = None) -> str:
    found = fmt or FORMATS.get(path.suffix.lower())
    if found not in ("csv", "tsv", "tsv-raw", "jsonl"):
        raise UsageError(f"Cannot tell the layout of '{path}' from its extension. Fix: name it .csv, .tsv or .jsonl")
    return found


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; undecodable bytes are an error naming the line."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                yield lineno, raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{lineno}: not UTF-8 ({err.reason} at byte {err.start}). Fix: save the "
                                "file as UTF-8") from None


def _records(path: Path, fmt: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header (column names) and (line, {column: text}) rows of a CSV/TSV (header row) or JSONL file."""
    lines = list(_lines(path))
    if not any(text.strip() for _, text in lines):
        raise DataError(f"{path}:1: empty file")
    if fmt == "jsonl":
        rows = []
        for lineno, text in lines:
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: not a JSON object ({err.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: each line must be a JSON object, got {type(obj).__name__}")
            rows.append((lineno, {k: "" if v is None else str(v) for k, v in obj.items()}))
        header = list(dict.fromkeys(k for _, row in rows for k in row))
        return header, iter(rows)
    # GLUE's TSVs quote nothing (their texts hold bare quote characters): "tsv-raw". A user's TSV or CSV, as csv
    # and pandas write them, quotes fields that contain the delimiter or quotes.
    reader = csv.reader((text for _, text in lines), delimiter="," if fmt == "csv" else "\t",
                        quoting=csv.QUOTE_NONE if fmt == "tsv-raw" else csv.QUOTE_MINIMAL)
    numbers = [lineno for lineno, _ in lines]
    try:
        table = list(reader)
    except csv.Error as err:
        raise DataError(f"{path}:{numbers[min(reader.line_num, len(numbers)) - 1]}: {err}") from None
    header = [h.strip() for h in table[0]]
    # csv may merge physical lines (quoted newlines): map each record back to the line it starts on
    starts, line = [], 0
    for record in table:
        starts.append(numbers[min(line, len(numbers) - 1)])
        line += 1 + sum(cell.count("\n") for cell in record)
    return header, ((starts[i], dict(zip(header, rec))) for i, rec in enumerate(table[1:], start=1))


def _column(header: list[str], names: tuple[str, ...], path: Path, what: str) -> str:
    for name in names:
        if name in header:
            return name
    raise DataError(f"{path}:1: no {what} column (expected {' or '.join(repr(n) for n in names)}; the header has: "
                    f"{', '.join(repr(h) for h in header)}). Fix: name it with --{what.split()[0]}-column")


def _label_order(raw: list[str]) -> list[str]:
    """A training file's classes, in a fixed order: numerically if all are integers, else alphabetically."""
    distinct = set(raw)
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return sorted(distinct)


def read_data(path: Path, columns: Columns, *, label_names: list[str] | None = None, regression: bool = False,
              skip_bad_rows: bool = False, fmt: str | None = None, task: str = "text-classification") -> Dataset:
    """Read a labelled file. Without `label_names` (training) the classes come from the file itself; with them
    (evaluation, or a teacher's labels) a label outside them is an error naming its line."""
    if not path.is_file():
        raise UsageError(f"Data file '{path}' does not exist")
    header, rows = _records(path, data_format(path, fmt))
    ca = _column(header, columns.text, path, "text")
    cb = _column(header, columns.pair, path, "pair") if columns.pair else None
    cl = _column(header, columns.label, path, "label")
    texts_a, texts_b, raw, lines, skipped = [], [], [], [], 0
    for lineno, row in rows:
        if not any((v or "").strip() for v in row.values()):
            continue
        problem = None
        if any(c not in row or row[c] is None for c in (ca, cb, cl) if c):
            problem = f"{len(row)} fields, the header has {len(header)}"
        elif not row[ca].strip():
            problem = f"empty text in column '{ca}'"
        elif cb and not row[cb].strip():
            problem = f"empty second text in column '{cb}'"
        elif not row[cl].strip():
            problem = f"empty label in column '{cl}'"
        elif regression:
            try:
                float(row[cl])
            except ValueError:
                problem = f"label '{row[cl].strip()}' is not a number"
        elif label_names is not None and row[cl].strip() not in label_names:
            problem = (f"label '{row[cl].strip()}' is not one the model knows (valid: {', '.join(label_names)})")
        if problem:
            if skip_bad_rows:
                skipped += 1
                continue
            raise DataError(f"{path}:{lineno}: {problem}. Fix the row, or pass --skip-bad-rows")
        texts_a.append(row[ca].strip())
        if cb:
            texts_b.append(row[cb].strip())
        raw.append(row[cl].strip())
        lines.append(lineno)
    if not texts_a:
        raise DataError(f"{path}: no usable rows" + (f" ({skipped} skipped)" if skipped else ""))
    if regression:
        return Dataset(task, texts_a, texts_b if cb else None, np.asarray([float(x) for x in raw], np.float32),
                       None, skipped, str(path), lines)
    names = list(label_names) if label_names is not None else _label_order(raw)
    if label_names is None and len(names) < 2:
        raise DataError(f"{path}: only one class ('{names[0]}') in {len(raw)} rows: a classifier needs two or more")
    index = {name: i for i, name in enumerate(names)}
    return Dataset(task, texts_a, texts_b if cb else None, np.asarray([index[x] for x in raw], np.int64), names,
                   skipped, str(path), lines)


def read_tsv(path: Path, task: str, skip_bad_rows: bool = False) -> Dataset:
    """A GLUE TSV (header row) of a preset task: its columns and its fixed label names."""
    spec = get_task(task)
    names = list(spec.labels) if spec.labels else None
    return read_data(path, spec.columns, label_names=names, regression=spec.labels is None,
                     skip_bad_rows=skip_bad_rows, fmt="tsv-raw", task=task.lower().replace("-", ""))


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
    return get_task(task).metric if task.lower().replace("-", "") in TASKS else "accuracy"


def glue_metrics(task: str, outputs: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """The task's metrics from model outputs (logits (N, C), or scores (N,) / (N, 1) for STS-B); a user's
    classification file gets accuracy and macro-F1."""
    if task.lower().replace("-", "") not in TASKS:
        pred = outputs.argmax(-1)
        return {"accuracy": accuracy(pred, gold), "macro_f1": macro_f1(pred, gold, outputs.shape[-1])}
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
