"""`tflite-mediapipe-int8`: the MediaPipe text model with dynamic-range int8 weights (ai-edge-quantizer)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.mediapipe import export_variant, load, reference_model
from edgebert.models import LoadedModel

__all__ = ["export", "load", "reference_model"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, "int8")
