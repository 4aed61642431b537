"""`edgebert eval`: GLUE metrics of PyTorch models and exported bundles, and retention against a reference."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from edgebert import __version__
from edgebert.bundle import MANIFEST
from edgebert.distill.data import get_task, glue_metrics, read_tsv

BATCH = 32


def _bundle_outputs(path: Path, texts_a: list[str], texts_b: list[str] | None) -> tuple[np.ndarray, dict[str, Any]]:
    import edgebert

    pred = edgebert.load(path)
    outs = []
    for i in range(0, len(texts_a), BATCH):
        outs.append(pred(texts_a[i:i + BATCH], texts_b[i:i + BATCH] if texts_b else None))
    m = pred.bundle.manifest
    return np.concatenate(outs), {"model": Path(m["source"]["spec"].rstrip("/")).name, "format": m["format"],
                                  "source": m["source"]["spec"]}


def _torch_outputs(spec: str, texts_a: list[str], texts_b: list[str] | None) -> tuple[np.ndarray, dict[str, Any]]:
    import torch

    from edgebert.models import load_model

    model = load_model(spec, task="classification")
    if model.tokenizer is None:
        from edgebert.errors import ModelLoadError

        raise ModelLoadError(f"'{spec}' has no tokenizer; evaluation needs one")
    outs = []
    with torch.inference_mode():
        for i in range(0, len(texts_a), BATCH):
            enc = model.tokenizer(texts_a[i:i + BATCH], texts_b[i:i + BATCH] if texts_b else None, padding=True,
                                  truncation=True, max_length=model.max_positions, return_tensors="pt")
            outs.append(model.module(*[enc[n] if n in enc else torch.zeros_like(enc["input_ids"])
                                       for n in model.input_names]).float().numpy())
    return np.concatenate(outs), {"model": model.name, "format": "pytorch", "source": spec}


def evaluate(targets: list[str], task: str, data: Path, skip_bad_rows: bool = False) -> list[dict[str, Any]]:
    """One row per target with the task's GLUE metrics; retention vs the first target (the reference)."""
    spec = get_task(task)
    ds = read_tsv(data, task, skip_bad_rows)
    rows: list[dict[str, Any]] = []
    for target in targets:
        path = Path(target)
        outputs, ident = (_bundle_outputs(path, ds.text_a, ds.text_b) if (path / MANIFEST).is_file()
                          else _torch_outputs(target, ds.text_a, ds.text_b))
        expected = len(spec.labels) if spec.labels else 1
        if outputs.shape[-1] != expected:
            from edgebert.errors import UsageError

            raise UsageError(f"'{target}' outputs {outputs.shape[-1]} values per row but {task} has {expected} "
                             "labels. Fix: evaluate a model trained for this task")
        metrics = glue_metrics(task, outputs, ds.labels)
        rows.append({"kind": "eval", **ident, "task": task, "data": str(data), "rows": len(ds),
                     "skipped_rows": ds.skipped, "metric": spec.metric, "score": metrics[spec.metric],
                     "metrics": metrics, "predictions_sha": _digest(outputs),
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
