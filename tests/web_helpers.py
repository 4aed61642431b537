"""A loopback static server (optionally cross-origin isolated) and a headless Debian chromium driven by Playwright."""
from __future__ import annotations

import contextlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

CHROMIUM = "/usr/bin/chromium"


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
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def evaluate(browser_, url: str, script: str, arg: object = None, timeout_ms: int = 60_000) -> object:
    """Open `url` (a site folder) in a fresh page and evaluate an async function of (edgebert module, arg) there."""
    page = browser_.new_page()
    try:
        page.set_default_timeout(timeout_ms)
        page.goto(url + "manifest.json")  # same origin as the site, without running the demo page
        return page.evaluate(f"async (arg) => {{ const edgebert = await import('{url}edgebert.mjs'); {script} }}", arg)
    finally:
        page.close()
