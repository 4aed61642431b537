"""`edgebert export`: model -> format bundle, gated on parity with PyTorch, written atomically."""
from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any

from edgebert import __version__
from edgebert.bundle import Bundle, check_out_dir, staged_dir, write_manifest
from edgebert.formats import get_format
from edgebert.formats.base import ExportOptions
from edgebert.inputs import parity_batches
from edgebert.models import LoadedModel, load_model
from edgebert.parity import apply_gate, compare, run_artifact, torch_reference

TOKENIZER_FILE = "tokenizer.json"


def _io_spec(model: LoadedModel) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inputs = [{"name": n, "dtype": "int64", "axes": ["batch", "sequence"]} for n in model.input_names]
    out_axes = ["batch", "labels"] if model.task == "classification" else ["batch", "sequence", "hidden"]
    return inputs, [{"name": model.output_name, "dtype": "float32", "axes": out_axes}]


def export_model(model: LoadedModel, fmt_name: str, out: Path, opts: ExportOptions | None = None, force: bool = False,
                 texts: list[str] | None = None) -> dict[str, Any]:
    """Export an already-loaded model; returns the manifest. Raises ParityError (nothing left) on a gate miss."""
    fmt = get_format(fmt_name)
    impl = fmt.impl()
    opts = opts or ExportOptions()
    with staged_dir(out, force) as work:
        info = impl.export(model, work, opts)
        shapes = info.get("shapes") or {}
        max_len = max(shapes["seq_lens"]) if shapes.get("static") and shapes.get("seq_lens") else model.max_positions
        max_len = min(max_len, model.max_positions)
        key = ("parity", tuple(texts or ()), max_len)
        if key not in model.cache:
            feeds = parity_batches(model.tokenizer, model.input_names, model.vocab_size, texts, max_len)
            model.cache[key] = (feeds, torch_reference(model.module, feeds, model.input_names))
        feeds, reference = model.cache[key]
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(str(work))
        inputs, outputs = _io_spec(model)
        manifest: dict[str, Any] = {
            "format": fmt.name,
            "edgebert_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source": model.source.to_dict(),
            "task": model.task,
            "labels": model.labels,
            "parameters": model.parameters,
            "max_positions": model.max_positions,
            "vocab_size": model.vocab_size,
            "inputs": inputs,
            "outputs": outputs,
            "tokenizer_file": TOKENIZER_FILE if (work / TOKENIZER_FILE).is_file() else None,
            "lossy": fmt.lossy,
            **info,
            "python": platform.python_version(),
        }
        manifest = write_manifest(work, manifest)  # provisional: the runner reads it to load
        runner = impl.load(Bundle(work, manifest), "cpu", None)
        parity = compare(feeds, reference, run_artifact(runner.run, feeds), model.task)
        del runner
        manifest["parity"] = apply_gate(
            parity, lossy=fmt.lossy, atol=opts.atol, min_agreement=opts.min_agreement,
            min_cosine=opts.min_cosine, random_weights=model.source.kind == "random",
        ).to_dict()
        manifest["parity"]["inputs"] = "tokenized English sentences" if model.tokenizer else "random ids, mixed lengths"
        manifest = write_manifest(work, {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")})
    return manifest


def export(spec: str, fmt_name: str, out: Path, *, random_weights: bool = False, task: str | None = None,
           opts: ExportOptions | None = None, force: bool = False, texts: list[str] | None = None) -> dict[str, Any]:
    """Load MODEL and export it; cheap checks (format, output folder) run before the slow load."""
    get_format(fmt_name)
    check_out_dir(out, force)
    model = load_model(spec, random_weights=random_weights, task=task)
    return export_model(model, fmt_name, out, opts or ExportOptions(), force, texts)
