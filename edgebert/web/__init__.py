"""`edgebert web`: an already-gated ONNX bundle (onnx and/or onnx-int8) as a static site that checks itself in the
browser: the model file(s), the tokenizer, the golden set as JSON, onnxruntime-web's files, an ES module
(assets/edgebert.mjs) and a demo page, with a manifest holding the sha256 of every file. The same folder is a local
model for transformers.js (onnx/model.onnx, onnx/model_quantized.onnx, config.json, tokenizer files).

Runtime-only: numpy and the bundle reader; no torch, no onnxruntime."""
from __future__ import annotations

from edgebert.web.build import build_site

__all__ = ["build_site"]
