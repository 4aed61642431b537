"""Build the static site from gated ONNX bundles. Reusing the bundles (not a new export path) means the browser runs
the very bytes that passed the PyTorch gate at export, and their recorded gate is the one the page re-applies."""
from __future__ import annotations

import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgebert import __version__
from edgebert.bundle import Bundle, file_table, staged_dir
from edgebert.errors import UsageError
from edgebert.golden import MAX_TOKENS, load_arrays, samples
from edgebert.runtime import max_tokens, output_kind

# format -> the precision a site calls it and where transformers.js looks for that file
VARIANTS = {"onnx": ("fp32", "onnx/model.onnx"), "onnx-int8": ("int8", "onnx/model_quantized.onnx")}
POOLING_MODES = {"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"}
# onnxruntime-web's build with the WASM (SIMD, threads) and WebGPU backends in one module
ORT_FILES = ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
ASSETS = ("edgebert.mjs", "tokenizer.mjs", "gate.mjs", "bench.mjs", "index.html")
REPO_ORT = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "onnxruntime-web"


def ort_package(given: Path | None) -> tuple[Path, str]:
    """onnxruntime-web's package folder (--ort-web, $EDGEBERT_ORT_WEB, or the repo's web/node_modules) and version."""
    pkg = given or Path(os.environ.get("EDGEBERT_ORT_WEB") or REPO_ORT)
    missing = [f for f in ORT_FILES if not (pkg / "dist" / f).is_file()]
    if missing:
        raise UsageError(f"onnxruntime-web not found at '{pkg}' (no dist/{missing[0]}). Fix: run `npm ci "
                         "--ignore-scripts` in the repo's web/ folder, or pass --ort-web node_modules/onnxruntime-web")
    return pkg, json.loads((pkg / "package.json").read_text())["version"]


def open_bundles(paths: list[Path]) -> dict[str, Bundle]:
    """precision -> bundle, refusing what a page cannot run the way the bundle was gated."""
    chosen: dict[str, Bundle] = {}
    for path in paths:
        bundle = Bundle.open(path)
        if bundle.format not in VARIANTS:
            raise UsageError(f"Format '{bundle.format}' is not supported for web (bundle '{path}'). Valid: "
                             f"{', '.join(VARIANTS)} (onnxruntime-web's WASM backend lacks some fused ops)")
        if (bundle.manifest.get("shapes") or {}).get("static"):
            raise UsageError(f"Bundle '{path}' has static shapes; the page runs each text at its own length. Fix: "
                             "export without --static-shape")
        if not bundle.tokenizer_file or bundle.tokenizer_file.name != "tokenizer.json":
            raise UsageError(f"Bundle '{path}' has no tokenizer.json; the page tokenizes in JavaScript from it. "
                             "Fix: export from a model folder with a fast tokenizer")
        precision = VARIANTS[bundle.format][0]
        if precision in chosen:
            raise UsageError(f"Two {precision} bundles given ('{chosen[precision].path}', '{path}'): pass one "
                             "onnx and/or one onnx-int8 bundle")
        chosen[precision] = bundle
    first, *rest = chosen.values()
    for other in rest:
        for key in ("task", "labels", "max_length", "pooling"):
            if other.manifest.get(key) != first.manifest.get(key):
                raise UsageError(f"Bundles '{first.path}' and '{other.path}' differ in {key}: pass exports of one model")
    check_tokenizer(json.loads(first.tokenizer_file.read_text(encoding="utf-8")), first.path)
    check_pooling(first.manifest.get("pooling"), first.path)
    return chosen


def check_tokenizer(spec: dict[str, Any], where: Path) -> None:
    """The JavaScript tokenizer implements BERT WordPiece only (what edgebert's students use)."""
    parts = {"model": (spec.get("model") or {}).get("type"), "normalizer": (spec.get("normalizer") or {}).get("type"),
             "pre_tokenizer": (spec.get("pre_tokenizer") or {}).get("type"),
             "post_processor": (spec.get("post_processor") or {}).get("type", "TemplateProcessing")}
    want = {"model": "WordPiece", "normalizer": "BertNormalizer", "pre_tokenizer": "BertPreTokenizer"}
    for key, value in want.items():
        if parts[key] != value:
            raise UsageError(f"Bundle '{where}': the web page tokenizes BERT WordPiece only; tokenizer.json's {key} "
                             f"is {parts[key]} (want {value})")
    if parts["post_processor"] not in ("TemplateProcessing", "BertProcessing"):
        raise UsageError(f"Bundle '{where}': tokenizer.json's post_processor {parts['post_processor']} is not supported")


def check_pooling(entry: dict[str, Any] | None, where: Path) -> None:
    if entry and (entry.get("dense") or not set(entry.get("modes") or []) <= POOLING_MODES):
        raise UsageError(f"Bundle '{where}': the web page pools with {', '.join(sorted(POOLING_MODES))} and no Dense "
                         "layer; this model's sentence head has a Dense layer")


def _floats(arr: np.ndarray) -> str:
    # 8 significant digits: below float32 resolution for the gate's 1e-4, half the bytes of repr()
    return "[" + ",".join(f"{x:.8g}" for x in np.asarray(arr, np.float32).ravel()) + "]"


def golden_json(bundle: Bundle) -> str:
    """The golden set as JSON the page reads: per text its Python token ids and PyTorch's output (flat + shape)."""
    meta = bundle.manifest["golden"]
    arrays = load_arrays(bundle.path / meta["file"])
    feeds, refs = samples(arrays, bundle.input_names)
    texts = meta.get("texts") or []
    if len(texts) != len(feeds):
        raise UsageError(f"Bundle '{bundle.path}': its golden set is not one sample per text. Fix: re-export it")
    rows = [f'{{"text":{json.dumps(t)},"input_ids":{json.dumps(f["input_ids"][0].tolist())},'
            f'"shape":{json.dumps(list(r.shape[1:]))},"reference":{_floats(r)}}}' for t, f, r in zip(texts, feeds, refs)]
    return "[" + ",\n".join(rows) + "]"


def config_json(bundle: Bundle) -> dict[str, Any]:
    """What transformers.js reads to pick the model class and name the labels."""
    m = bundle.manifest
    model_type = (m.get("source") or {}).get("model_type") or "bert"
    cfg: dict[str, Any] = {"model_type": model_type, "max_position_embeddings": m.get("max_positions", 512)}
    if m.get("task") == "classification":
        labels = m.get("labels") or []
        cfg |= {"architectures": [f"{'DistilBert' if model_type == 'distilbert' else 'Bert'}ForSequenceClassification"],
                "id2label": {str(i): name for i, name in enumerate(labels)},
                "label2id": {name: i for i, name in enumerate(labels)}}
    return cfg


def build_site(bundles: list[Path], out: Path, force: bool = False, ort_web: Path | None = None) -> dict[str, Any]:
    """Write the site into `out` (staged beside it, renamed into place when whole); returns its manifest."""
    if not bundles:
        raise UsageError("Pass at least one onnx or onnx-int8 bundle")
    chosen = open_bundles(bundles)
    pkg, ort_version = ort_package(ort_web)
    first = next(iter(chosen.values()))
    assets = resources.files("edgebert.web").joinpath("assets")
    with staged_dir(out, force) as work:
        (work / "onnx").mkdir()
        (work / "ort").mkdir()
        variants = {}
        for precision in ("int8", "fp32"):  # the page's default precision is the first listed
            if precision not in chosen:
                continue
            bundle = chosen[precision]
            dest = VARIANTS[bundle.format][1]
            shutil.copyfile(bundle.model_file, work / dest)
            (work / f"golden-{precision}.json").write_text(golden_json(bundle))
            meta = bundle.manifest["golden"]
            variants[precision] = {"file": dest, "golden": f"golden-{precision}.json", "gate": meta["gate"],
                                   "source_format": bundle.format, "golden_at_export": meta.get("at_export"),
                                   "source_model_sha256": bundle.model_sha256}
        shutil.copyfile(first.tokenizer_file, work / "tokenizer.json")
        tok_cfg = first.path / "tokenizer_config.json"
        # transformers.js cuts at model_max_length: the bundle's own limit, also for bundles exported before
        # export wrote it there
        tok_json = {**(json.loads(tok_cfg.read_text()) if tok_cfg.is_file() else {}),
                    "model_max_length": max_tokens(first.manifest)}
        (work / "tokenizer_config.json").write_text(json.dumps(tok_json, indent=2) + "\n")
        (work / "config.json").write_text(json.dumps(config_json(first), indent=2) + "\n")
        for name in ORT_FILES:
            shutil.copyfile(pkg / "dist" / name, work / "ort" / name)
        for name in ASSETS:
            (work / name).write_bytes(assets.joinpath(name).read_bytes())
        m = first.manifest
        manifest = {
            "edgebert_web": 1, "edgebert_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "task": m.get("task", "encoder"), "labels": m.get("labels") or [],
            "output_kind": output_kind(m), "inputs": first.input_names, "max_length": max_tokens(m),
            "pooling": m.get("pooling") or ({"modes": ["mean"], "normalize": True} if m.get("task") == "encoder" else None),
            "tokenizer": "tokenizer.json", "variants": variants,
            "golden_max_tokens": min(MAX_TOKENS, max_tokens(m)),  # golden ids were cut here at export
            "runtime": {"package": "onnxruntime-web", "version": ort_version, "module": f"ort/{ORT_FILES[0]}",
                        "wasm": f"ort/{ORT_FILES[2]}"},
            "sources": {p: str(b.path) for p, b in chosen.items()}, "source": m.get("source"),
            "parameters": m.get("parameters"),
            "files": file_table(work),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
