"""A site in a real browser: a loopback static server (optionally cross-origin isolated, for WASM threads) and a
headless chromium driven by Playwright (Debian's, or $EDGEBERT_CHROMIUM; Playwright never downloads one here)."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

from edgebert.errors import MissingRuntime, UsageError


def chromium_path() -> str:
    return os.environ.get("EDGEBERT_CHROMIUM", "/usr/bin/chromium")


class _Handler(SimpleHTTPRequestHandler):
    isolated = False
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def end_headers(self) -> None:
        if self.isolated:  # what makes a page crossOriginIsolated (SharedArrayBuffer, so WASM threads)
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path, isolated: bool = False) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving `folder` from a thread (127.0.0.1 is a secure context: SubtleCrypto works)."""
    handler = type("H", (_Handler,), {"isolated": isolated})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium (closed on exit)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise MissingRuntime("playwright", "dev") from err
    if not Path(chromium_path()).is_file():
        raise UsageError(f"No chromium at {chromium_path()}. Fix: apt-get install chromium (or set EDGEBERT_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def evaluate(browser_: Any, url: str, script: str, arg: object = None, timeout_ms: float = 60_000) -> Any:
    """Open `url` (a site folder) in a fresh page and evaluate an async function body there, with `edgebert` (the
    site's module) and `arg` in scope; its return value comes back as JSON."""
    page = browser_.new_page()
    try:
        page.set_default_timeout(timeout_ms)
        page.goto(url + "manifest.json")  # same origin as the site, without running the demo page
        return page.evaluate(f"async (arg) => {{ const edgebert = await import({json.dumps(url + 'edgebert.mjs')}); "
                             f"{script} }}", arg)
    finally:
        page.close()
