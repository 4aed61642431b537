"""`onnx-int8-static`: QDQ static INT8 calibrated on text (see onnx_int8.export_static)."""
from __future__ import annotations

from edgebert.formats.onnx_int8 import export_static as export
from edgebert.formats.onnx_int8 import load

__all__ = ["export", "load"]
