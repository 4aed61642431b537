"""The browser side of tests/test_web.py: the package's own server and chromium launcher (edgebert.web.page)."""
from __future__ import annotations

from edgebert.web.page import browser, chromium_path, evaluate, serve

CHROMIUM = chromium_path()

__all__ = ["CHROMIUM", "browser", "evaluate", "serve"]
