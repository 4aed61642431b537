"""Training and evaluation data: a user's CSV, TSV or JSONL file (columns chosen by flags), the GLUE TSV layouts as
presets, and plain text (one passage a line). Every bad row is an error naming file:line, or is skipped and counted
on request. The metrics are in metrics.py."""
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
LAYOUTS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


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


def find_task(name: str) -> Task | None:
    """The GLUE preset of that name ("SST-2" is sst2), or None."""
    return TASKS.get(name.lower().replace("-", ""))


def get_task(name: str) -> Task:
    """The GLUE preset of that name; an unknown name is a usage error listing the valid ones."""
    preset = find_task(name)
    if preset is None:
        raise UsageError(f"Unknown task '{name}'. Valid: {', '.join(TASKS)}")
    return preset


def data_format(path: Path, fmt: str | None = None) -> str:
    found = fmt or LAYOUTS.get(path.suffix.lower())
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
    text_col = _column(header, columns.text, path, "text")
    pair_col = _column(header, columns.pair, path, "pair") if columns.pair else None
    label_col = _column(header, columns.label, path, "label")
    texts_a, texts_b, raw, lines, skipped = [], [], [], [], 0
    for lineno, row in rows:
        if not any((v or "").strip() for v in row.values()):
            continue
        problem = None
        if any(c not in row or row[c] is None for c in (text_col, pair_col, label_col) if c):
            problem = f"{len(row)} fields, the header has {len(header)}"
        elif not row[text_col].strip():
            problem = f"empty text in column '{text_col}'"
        elif pair_col and not row[pair_col].strip():
            problem = f"empty second text in column '{pair_col}'"
        elif not row[label_col].strip():
            problem = f"empty label in column '{label_col}'"
        elif regression:
            try:
                float(row[label_col])
            except ValueError:
                problem = f"label '{row[label_col].strip()}' is not a number"
        elif label_names is not None and row[label_col].strip() not in label_names:
            problem = (f"label '{row[label_col].strip()}' is not one the model knows (valid: {', '.join(label_names)})")
        if problem:
            if skip_bad_rows:
                skipped += 1
                continue
            raise DataError(f"{path}:{lineno}: {problem}. Fix the row, or pass --skip-bad-rows")
        texts_a.append(row[text_col].strip())
        if pair_col:
            texts_b.append(row[pair_col].strip())
        raw.append(row[label_col].strip())
        lines.append(lineno)
    if not texts_a:
        raise DataError(f"{path}: no usable rows" + (f" ({skipped} skipped)" if skipped else ""))
    if regression:
        return Dataset(task, texts_a, texts_b if pair_col else None, np.asarray([float(x) for x in raw], np.float32),
                       None, skipped, str(path), lines)
    names = list(label_names) if label_names is not None else _label_order(raw)
    if label_names is None and len(names) < 2:
        raise DataError(f"{path}: only one class ('{names[0]}') in {len(raw)} rows: a classifier needs two or more")
    index = {name: i for i, name in enumerate(names)}
    return Dataset(task, texts_a, texts_b if pair_col else None, np.asarray([index[x] for x in raw], np.int64), names,
                   skipped, str(path), lines)


def read_task(path: Path, task: str, *, columns: Columns | None = None, skip_bad_rows: bool = False) -> Dataset:
    """A GLUE preset's file: its columns (unless given), its fixed label names (none: regression). GLUE's own TSVs
    quote nothing (their texts hold bare quote characters), so a .tsv is read unquoted."""
    preset = get_task(task)
    return read_data(path, columns or preset.columns, label_names=list(preset.labels) if preset.labels else None,
                     regression=preset.labels is None, skip_bad_rows=skip_bad_rows, task=task,
                     fmt="tsv-raw" if path.suffix.lower() == ".tsv" else None)


@dataclass(frozen=True)
class DataFiles:
    """A training run's data as the user named it: the files, a GLUE preset (or None), the columns, and whether a
    bad row is skipped (counted) or an error."""

    train: Path
    held_out: Path | None = None
    task: str | None = None
    columns: Columns | None = None
    skip_bad_rows: bool = False

    def read_labelled(self, label_names: list[str] | None = None) -> tuple[Dataset, Dataset | None]:
        """Training and held-out rows: a GLUE preset's (its labels), or a user's file whose classes are
        `label_names` (a teacher's) or, without them, the training file's own; held-out rows use the same classes."""
        skip = self.skip_bad_rows
        if self.task:
            train = read_task(self.train, self.task, columns=self.columns, skip_bad_rows=skip)
            held = read_task(self.held_out, self.task, columns=self.columns, skip_bad_rows=skip) if self.held_out \
                else None
            return train, held
        cols = self.columns or Columns()
        train = read_data(self.train, cols, label_names=label_names, skip_bad_rows=skip)
        held = read_data(self.held_out, cols, label_names=train.label_names, skip_bad_rows=skip) if self.held_out \
            else None
        return train, held


def read_text(path: Path) -> list[str]:
    """Plain text for general distillation: one passage per non-empty line."""
    from edgebert.inputs import read_text_file

    return read_text_file(path)
