"""`onnx-mobile-int8`: dynamic INT8 (arm64 preset unless --target) in the ORT format for ONNX Runtime Mobile."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.ort_mobile import export_variant, load
from edgebert.models import LoadedModel

__all__ = ["export", "load"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, int8=True)
