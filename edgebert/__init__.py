"""edgebert: distilled BERT students to edge targets, with measurements. Importing it loads no runtime."""
from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["__version__", "load"]


def load(path: Any, device: str = "cpu", threads: int | None = None) -> Any:
    """Load an exported bundle and return a Predictor (see edgebert.runtime)."""
    from edgebert.runtime import load as _load

    return _load(path, device=device, threads=threads)
