"""`executorch-int8`: the ExecuTorch program with dynamic per-channel int8 Linear layers (XNNPACK quantizer)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgebert.formats.base import ExportOptions
from edgebert.formats.executorch import export_variant, load
from edgebert.models import LoadedModel

__all__ = ["export", "load"]


def export(model: LoadedModel, work: Path, opts: ExportOptions) -> dict[str, Any]:
    return export_variant(model, work, opts, int8=True)
