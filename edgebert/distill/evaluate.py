"""`edgebert eval`: task metrics of PyTorch models and exported bundles, and retention against a reference.

Data is a user's CSV/TSV/JSONL (columns by flag) or a GLUE preset. The label names come from the first target
(its config or manifest); a label in the data that the model never saw is an error naming its line. Every row says
at which length the artifact saw the text and how many rows it truncated, so retention compares like with like.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgebert import __version__
from edgebert.bundle import MANIFEST, bundle_names
from edgebert.distill.data import Columns, Dataset, read_data, read_task
from edgebert.distill.metrics import glue_metrics, task_metric
from edgebert.errors import ModelLoadError, UsageError

BATCH = 32


def label_names_of(target: str) -> list[str]:
    """A target's class names in id order: a bundle's manifest labels or a model's config id2label."""
    path = Path(target)
    if (path / MANIFEST).is_file():
        from edgebert.bundle import Bundle

        names = list(Bundle.open(path, verify=False).manifest.get("labels") or [])
    else:
        from transformers import AutoConfig

        from edgebert.models import require_torch

        require_torch()
        try:
            config = AutoConfig.from_pretrained(target)
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"Could not read the config of '{target}': {err}") from err
        names = [str(config.id2label[i]) for i in range(config.num_labels)]
    # HF's placeholder names stand for the class index: LABEL_1 is the file's "1"
    if names and all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        names = [n.split("_", 1)[1] for n in names]
    return names


def _bundle_outputs(path: Path, ds: Dataset) -> tuple[np.ndarray, dict[str, Any]]:
    import warnings

    import edgebert
    from edgebert.runtime import TruncationWarning

    pred = edgebert.load(path)
    outs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)  # counted in the row instead
        for i in range(0, len(ds), BATCH):
            outs.append(pred(ds.text_a[i:i + BATCH], ds.text_b[i:i + BATCH] if ds.text_b else None))
    m = pred.bundle.manifest
    return np.concatenate(outs), {"model": Path(m["source"]["spec"].rstrip("/")).name, "format": m["format"],
                                  "source": m["source"]["spec"], "labels": m.get("labels") or [],
                                  "max_tokens": pred.max_positions, "truncated_rows": pred.truncated,
                                  "parameters": m.get("parameters"), "file_mb": round(pred.bundle.size_mb, 3)}


def _torch_outputs(target: str, ds: Dataset) -> tuple[np.ndarray, dict[str, Any]]:
    import torch

    from edgebert.models import load_model

    model = load_model(target, task="classification")
    if model.tokenizer is None:
        raise ModelLoadError(f"'{target}' has no tokenizer; evaluation needs one")
    outs, truncated = [], 0
    with torch.inference_mode():
        for i in range(0, len(ds), BATCH):
            a, b = ds.text_a[i:i + BATCH], ds.text_b[i:i + BATCH] if ds.text_b else None
            enc = model.tokenizer(a, b, padding=True, truncation=True, max_length=model.max_positions,
                                  return_tensors="pt", return_overflowing_tokens=False)
            full = model.tokenizer(a, b, truncation=False)["input_ids"]
            truncated += sum(len(ids) > model.max_positions for ids in full)
            outs.append(model.module(*[enc[n] if n in enc else torch.zeros_like(enc["input_ids"])
                                       for n in model.input_names]).float().numpy())
    from edgebert.runtimes.torch_eager import weights_mb

    return np.concatenate(outs), {"model": model.name, "format": "pytorch", "source": target, "labels": model.labels,
                                  "max_tokens": model.max_positions, "truncated_rows": truncated,
                                  "parameters": model.parameters, "file_mb": round(weights_mb(model.module), 3)}


def evaluate(targets: list[str], data: Path, task: str | None = None, columns: Columns | None = None,
             skip_bad_rows: bool = False) -> list[dict[str, Any]]:
    """One row per target with the task's metrics; retention vs the first target (the reference)."""
    if not targets:
        raise UsageError("Give one or more models or bundles to evaluate")
    if task:  # a GLUE preset: its columns (unless overridden) and its fixed label names
        ds = read_task(data, task, columns=columns, skip_bad_rows=skip_bad_rows)
    else:
        ds = read_data(data, columns or Columns(), label_names=label_names_of(targets[0]),
                       skip_bad_rows=skip_bad_rows)
    name = task or "text-classification"
    rows: list[dict[str, Any]] = []
    names = bundle_names([t for t in targets if (Path(t) / MANIFEST).is_file()])  # as bench rows name them
    for target in targets:
        path = Path(target)
        start = time.perf_counter()
        outputs, ident = (_bundle_outputs(path, ds) if (path / MANIFEST).is_file() else _torch_outputs(target, ds))
        ident["bundle"] = names.get(target, "")
        seconds = time.perf_counter() - start
        if outputs.shape[-1] != ds.num_labels:
            raise UsageError(f"'{target}' outputs {outputs.shape[-1]} values per row but the data has "
                             f"{ds.num_labels} labels. Fix: evaluate a model trained for this task")
        if ds.label_names and not task and label_names_of(target) != ds.label_names:
            raise UsageError(f"'{target}' has labels {label_names_of(target)} but '{targets[0]}' has "
                             f"{ds.label_names}: they are not evaluated on the same classes")
        metrics = glue_metrics(name, outputs, ds.labels)
        metric = task_metric(name)
        rows.append({"kind": "eval", **ident, "task": name, "data": str(data), "rows": len(ds),
                     "skipped_rows": ds.skipped, "metric": metric, "score": metrics[metric], "metrics": metrics,
                     "predictions_sha": _digest(outputs), "eval_seconds": round(seconds, 2),
                     "edgebert_version": __version__,
                     "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    base = rows[0]["score"] if rows else None
    for row in rows:
        row["reference"] = rows[0]["source"]
        row["retention_pct"] = 100.0 * row["score"] / base if base else None
    return rows


def _digest(outputs: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(outputs.argmax(-1) if outputs.shape[-1] > 1 else
                                               np.round(outputs, 4)).tobytes()).hexdigest()[:16]
