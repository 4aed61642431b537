"""`edgebert export`: model -> format bundle, gated on parity with PyTorch, written atomically.

The artifact must pass twice: the parity gate (several batch sizes and lengths, or raw text for graphs that
tokenize) and its own golden set (each text alone), which is written into the bundle so a device can repeat the
check with `edgebert verify`. A miss raises ParityError and leaves nothing behind.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from edgebert import __version__, golden
from edgebert.arch import attention_width, model_shape
from edgebert.bundle import Bundle, check_out_dir, staged_dir, write_manifest
from edgebert.errors import ParityError, UsageError
from edgebert.formats import FORMATS, FormatSpec, get_format
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.inputs import hostile_feeds, parity_batches
from edgebert.models import LoadedModel, load_model
from edgebert.parity import Gate, apply_gate, compare, run_artifact, torch_reference
from edgebert.runner import Runner
from edgebert.tokenizer import save_for_apps

TOKENIZER_FILE = "tokenizer.json"
MODEL_SUFFIXES = {".onnx", ".ort", ".tflite", ".bin", ".xml", ".pte"}  # what --max-fp32-growth measures
# Longer than any BERT's 512 positions: the in-graph tokenizer must truncate exactly as the Python one does.
LONG_TEXT = "The committee reviewed every proposal carefully before the final vote was taken. " * 60


def _io_spec(model: LoadedModel) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inputs = [{"name": n, "dtype": "int64", "axes": ["batch", "sequence"]} for n in model.input_names]
    out_axes = {"last_hidden_state": ["batch", "sequence", "hidden"], "embedding": ["batch", "hidden"]}.get(
        model.output_kind, ["batch", "labels"])
    return inputs, [{"name": model.output_name, "dtype": "float32", "axes": out_axes, "kind": model.output_kind}]


def _reference(model: LoadedModel, texts: list[str] | None, max_len: int, session: ExportSession,
               buckets: list[int] | None = None) -> tuple:
    """Gate batches and golden samples with PyTorch's outputs; computed once per model, texts, length and buckets
    (static lengths held side by side: each gets a golden sample)."""
    def build() -> tuple:
        feeds = parity_batches(model.tokenizer, model.input_names, model.vocab_size, texts, max_len) + \
            hostile_feeds(model.tokenizer, model.input_names, max_len)
        gold = golden.golden_feeds(model.tokenizer, model.input_names, model.vocab_size, max_len,
                                   golden.choose_texts(texts), buckets)
        return (feeds, torch_reference(model.module, feeds, model.input_names),
                gold, torch_reference(model.module, gold, model.input_names))

    return session.once((id(model.module), "reference", tuple(texts or ()), max_len, tuple(buckets or ())), build)


def _gate_length(model: LoadedModel, info: dict[str, Any]) -> int:
    """Static-shape artifacts are gated at their largest length, dynamic ones at the model's max positions."""
    shapes = info.get("shapes") or {}
    longest = max(shapes["seq_lens"]) if shapes.get("static") and shapes.get("seq_lens") else model.max_length
    return min(longest, model.max_length)


def _manifest(fmt: FormatSpec, model: LoadedModel, info: dict[str, Any], gate: Gate, golden_section: dict[str, Any],
              work: Path) -> dict[str, Any]:
    inputs, outputs = _io_spec(model)
    return {
        "format": fmt.name, "edgebert_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "source": model.source.to_dict(), "task": model.task, "labels": model.labels,
        "parameters": model.parameters, "max_positions": model.max_positions, "vocab_size": model.vocab_size,
        "max_length": model.max_length,  # texts are cut here: the model's own max_seq_length, else max positions
        **({"pooling": model.head.to_manifest()} if model.head is not None else {}),
        "architecture": _architecture(model), "inputs": inputs, "outputs": outputs,
        "tokenizer_file": TOKENIZER_FILE if (work / TOKENIZER_FILE).is_file() else None,
        "lossy": fmt.lossy, "app_sdk": fmt.app_sdk, **info, "golden": golden_section,
        "python": platform.python_version(),
    }


def _parity(fmt: FormatSpec, model: LoadedModel, runner: Runner, reference: tuple, texts: list[str] | None,
            max_len: int, gate: Gate) -> dict[str, Any]:
    """Run the gate's inputs through the artifact: token batches, or raw text (one per run) for text-in graphs."""
    if fmt.caps.takes_text:
        feeds, ref, actual = _text_parity(model, runner, texts, max_len)
        used = "raw text, one per run (the hostile corpus included) vs PyTorch on the Python tokenizer's ids"
    else:
        feeds, ref = reference[0], reference[1]
        actual = run_artifact(runner.run, feeds)
        used = "tokenized sentences and the hostile corpus" if model.tokenizer else "random ids, mixed lengths"
    parity = apply_gate(compare(feeds, ref, actual, model.task, gate.min_margin), gate).to_dict()
    return {**parity, "inputs": used}


def export_model(model: LoadedModel, fmt_name: str, out: Path, opts: ExportOptions | None = None,
                 force: bool = False, texts: list[str] | None = None,
                 session: ExportSession | None = None) -> dict[str, Any]:
    """Export an already-loaded model; returns the manifest. Raises ParityError (nothing left) on a gate miss."""
    fmt, opts, session = get_format(fmt_name), opts or ExportOptions(), session or ExportSession()
    if opts.static_shape and fmt.caps.static_shapes == "no":
        takes = [f.name for f in FORMATS.values() if f.caps.static_shapes == "optional"]
        raise UsageError(f"--static-shape does not apply to {fmt.name}. Formats that take it: {', '.join(takes)}")
    opts = _with_buckets(fmt, model, opts)
    model = fmt.reference_model(model, opts, session)  # what the artifact computes, in PyTorch
    gate = opts.gate(fmt.lossy, random_weights=model.source.kind == "random")
    with staged_dir(out, force) as work:
        return _with_fp32_fallback(fmt, model, work, opts, session, gate, texts)


def _with_buckets(fmt: FormatSpec, model: LoadedModel, opts: ExportOptions) -> ExportOptions:
    """Static-shape exports get their lengths now, before anything is written: the given list checked against the
    model, a ladder (or MediaPipe's one length) from the user's texts, or the default ladder."""
    static = fmt.caps.static_shapes == "always" or (fmt.caps.static_shapes == "optional" and opts.static_shape)
    if not static:
        return opts
    from edgebert import buckets

    choice = buckets.choose(opts.seq_lens, opts.seq_auto, fmt.caps.one_length, model.max_length, model.tokenizer,
                            opts.seq_texts)
    return dataclasses.replace(opts, seq_lens=choice.seq_lens, seq_auto=False, seq_choice=choice)


def _with_fp32_fallback(fmt: FormatSpec, model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
                        gate: Gate, texts: list[str] | None) -> dict[str, Any]:
    """One export; with --fp32-layers auto, an INT8 file that misses the gate is made again with layer groups kept
    fp32: first each group alone, which ranks them by the worst-sample cosine each gives back on the gate's own
    inputs; then the worst layers together, best first, until the gate passes or the file grows past
    --max-fp32-growth x the all-INT8 file."""
    groups = fmt.fp32_groups(model) if opts.fp32_layers == "auto" else []
    tried: list[dict[str, Any]] = []

    def attempt(kept: list[str]) -> tuple[dict[str, Any] | None, ParityError | None]:
        for path in list(work.iterdir()):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        try:
            once = dataclasses.replace(opts, fp32_layers=",".join(kept) or "none") if groups else opts
            return _export_once(fmt, model, work, once, session, gate, texts), None
        except ParityError as miss:
            size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
            parity = getattr(miss, "parity", None)
            tried.append({"fp32": kept, "mb": round(size / 1e6, 2), "reason": str(miss),
                          "min_cosine": round(parity.min_cosine, 6) if parity else None})
            return None, miss

    manifest, first = attempt([])
    if manifest is None and groups:
        alone = {}
        for group in groups:
            manifest, _ = attempt([group])
            if manifest is not None:
                return _record_fp32(work, manifest, opts, [group], tried)
            alone[group] = tried[-1]["min_cosine"] if tried[-1]["min_cosine"] is not None else -1.0
        ranked = sorted(groups, key=lambda g: -alone[g])  # stable: the family's order breaks ties
        for n in range(2, len(ranked) + 1):
            manifest, miss = attempt(ranked[:n])
            if manifest is not None:
                return _record_fp32(work, manifest, opts, ranked[:n], tried)
            if tried[-1]["mb"] > opts.max_fp32_growth * tried[0]["mb"]:
                break
        raise ParityError(f"{tried[0]['reason']}; with {', '.join(tried[-1]['fp32'])} kept fp32 too "
                          f"({tried[-1]['mb']} MB): {tried[-1]['reason']}") from first
    if manifest is None:
        raise first
    return _record_fp32(work, manifest, opts, [], tried)


def _record_fp32(work: Path, manifest: dict[str, Any], opts: ExportOptions, kept: list[str],
                 tried: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest says which layer groups stayed fp32 and what was tried first (INT8 formats with a choice)."""
    if opts.fp32_layers == "none" or (opts.fp32_layers == "auto" and not tried):
        return manifest  # nothing was chosen: an all-INT8 file that passed at once, or a format without the choice
    listed = kept if opts.fp32_layers == "auto" else [g.strip() for g in opts.fp32_layers.split(",")]
    manifest["fp32_layers"] = {"mode": opts.fp32_layers, "kept": listed, "tried": tried}
    return write_manifest(work, {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")})


def _export_once(fmt: FormatSpec, model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
                 gate: Gate, texts: list[str] | None) -> dict[str, Any]:
    """The artifact, its golden set and manifest in `work`, gated twice (parity batches, then each golden text)."""
    info = fmt.export(model, work, opts, session)
    if opts.seq_choice is not None:
        info["shapes"]["buckets"] = opts.seq_choice.to_manifest()
    max_len = _gate_length(model, info)
    shapes = info.get("shapes") or {}
    reference = _reference(model, texts, max_len, session, shapes.get("seq_lens") if shapes.get("static") else None)
    if model.tokenizer is not None:
        save_for_apps(model.tokenizer, work, model.max_length)
    if model.head is not None:
        model.head.write_dense(work)
    arrays = golden.pack(reference[2], reference[3])
    golden.write(work, arrays)
    section = golden.section(golden.choose_texts(texts) if model.tokenizer is not None else None, arrays, gate,
                             f"PyTorch fp32 (torch {_torch_version()}), each input alone at batch 1")
    manifest = write_manifest(work, _manifest(fmt, model, info, gate, section, work))  # provisional: to load
    runner = fmt.load(Bundle(work, manifest), "cpu", None)
    manifest["parity"] = _parity(fmt, model, runner, reference, texts, max_len, gate)
    manifest["batching"] = _batch_invariance(runner, fmt, reference[2], gate.atol)
    result = golden.check(Bundle(work, manifest), runner)
    padding = result.padding  # static shapes: the check's own runs at every bucket, compared with the smallest
    del runner
    if not result.passed:
        raise ParityError(f"Golden check failed: {result.reason} (each golden text alone, batch 1); "
                          "no bundle written")
    if padding is not None:  # static shapes: a larger bucket must give a text the answer its smallest gives
        # fp32: rounding only. Dynamic int8 takes activation scales over the padded tensor, so padding may move a
        # text as far as the lossy gate lets any text move from PyTorch, no further.
        floor = (gate.min_sample_cosine or gate.min_cosine) if fmt.lossy else golden.PAD_MIN_COSINE
        manifest["pad_invariance"] = {**padding, "min_required": floor}
        if not padding["min_cosine"] >= floor:
            raise ParityError(f"Padding changes answers: a golden text's cosine at a larger bucket vs its smallest "
                              f"is {padding['min_cosine']:.6f} < {floor}; no bundle written")
    manifest["golden"]["at_export"] = {k: v for k, v in result.to_dict().items() if k not in ("status", "reason")}
    return write_manifest(work, {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")})


def _batch_invariance(runner: Runner, fmt: FormatSpec, feeds: list[dict], atol: float) -> dict[str, Any]:
    """Does a text's output depend on its batchmates? The golden texts padded into one batch vs each alone.

    Dynamic INT8 computes activation scales over the whole input tensor (padding and batchmates included), so
    there a text drifts (cosine ~0.99) with what it is batched with; the Predictor then runs one text at a time."""
    if fmt.caps.takes_text:
        return {"batch_invariant": True, "how": "one text per run (the graph tokenizes one text)"}
    width = max(f["attention_mask"].shape[1] for f in feeds)
    batch = {k: np.concatenate([np.pad(f[k], ((0, 0), (0, width - f[k].shape[1]))) for f in feeds]) for k in feeds[0]}
    together = np.asarray(runner.run(batch), np.float64)
    worst, low = 0.0, 1.0
    for i, feed in enumerate(feeds):
        alone = np.asarray(runner.run(feed), np.float64)[0]
        row = together[i, : alone.shape[0]] if alone.ndim == 2 else together[i]
        worst = max(worst, float(np.abs(row - alone).max()))
        a, b = alone.ravel(), row.ravel()
        low = min(low, float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)))
    invariant = worst <= atol
    return {"batch_invariant": invariant, "max_abs": worst, "min_cosine": low,
            "how": "any batch" if invariant else "one text per run (edgebert.load, predict, eval and verify do this)"}


def _text_parity(model: LoadedModel, runner: Runner, texts: list[str] | None, max_len: int) -> tuple[list, list, list]:
    """Each gate text alone through the artifact's own tokenizer, vs PyTorch on the Python tokenizer's ids."""
    from edgebert import hostile
    from edgebert.inputs import SENTENCES, boundary_lengths, tokenize

    gate_texts = list(texts or SENTENCES) + list(golden.GOLDEN_TEXTS) + [LONG_TEXT] + hostile.texts(
        model.tokenizer.backend_tokenizer, boundary_lengths(max_len)) + hostile.REGRESSIONS
    feeds = [tokenize(model.tokenizer, [t], None, model.input_names, max_length=max_len) for t in gate_texts]
    reference = torch_reference(model.module, feeds, model.input_names)
    return feeds, reference, [runner.run_text([t]) for t in gate_texts]


def _architecture(model: LoadedModel) -> dict[str, Any] | None:
    """Layers, hidden and intermediate sizes (and a head-pruned model's attention width): what FLOP counts
    (bench --profile) need on a device."""
    config = model.module.config.to_dict()
    shape = model_shape(config)
    if not shape:
        return None
    arch: dict[str, Any] = dict(zip(("layers", "hidden", "intermediate"), shape))
    if attention_width(config):
        arch["attention"] = attention_width(config)
    return arch


def _torch_version() -> str:
    import torch

    return torch.__version__


def export(spec: str, fmt_name: str, out: Path, *, random_weights: bool = False, task: str | None = None,
           opts: ExportOptions | None = None, force: bool = False, texts: list[str] | None = None,
           pooling: str | None = None) -> dict[str, Any]:
    """Load MODEL and export it; cheap checks (format, output folder) run before the slow load."""
    get_format(fmt_name)
    check_out_dir(out, force)
    model = load_model(spec, random_weights=random_weights, task=task, pooling=pooling)
    return export_model(model, fmt_name, out, opts or ExportOptions(), force, texts)
