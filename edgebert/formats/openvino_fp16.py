"""`openvino-fp16`: OpenVINO IR with fp16-compressed weights (half the size; CPU math stays f32)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.openvino import export_variant, load
from edgebert.models import LoadedModel

__all__ = ["export", "load"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, "fp16")
