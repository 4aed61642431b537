"""`tflite-fp16`: TFLite with fp16 weights (ai-edge-quantizer float casting)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.tflite import export_variant, load
from edgebert.models import LoadedModel

__all__ = ["export", "load"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, "fp16")
