"""`tflite-int8`: TFLite with dynamic-range int8 weights (ai-edge-quantizer dynamic_wi8_afp32)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.tflite import export_variant, load
from edgebert.models import LoadedModel

__all__ = ["export", "load"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, "int8")
