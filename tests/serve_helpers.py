"""Helpers for the serve tests: an in-process server on a free port, and a small HTTP client."""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The one-line message of an error body (edgebert's or OpenAI's shape)."""
        err = self.json["error"]
        return err["message"] if isinstance(err, dict) else err


class Client:
    def __init__(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        self.url, self.host, self.port = url, u.hostname, u.port

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        conn.close()
        return reply

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.call("POST", path, body, headers)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.call("GET", path, None, headers)

    def metric(self, name: str, labels: str = "") -> float:
        """A sample from /metrics (0 when the series is absent)."""
        key = f"{name}{{{labels}}}" if labels else name
        for line in self.get("/metrics").body.decode().splitlines():
            if line.startswith(key + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@contextmanager
def served(bundles: list[Path], **options: Any) -> Iterator[Client]:
    """`edgebert serve` in a thread of this process on a free port; stopped (drained) on exit."""
    from edgebert.serve.app import Limits
    from edgebert.serve.batcher import BatchConfig
    from edgebert.serve.server import Running, ServeConfig

    batch = BatchConfig(**{k: options.pop(k) for k in list(options) if k in BatchConfig.__dataclass_fields__})
    limits = Limits(**{k: options.pop(k) for k in list(options) if k in Limits.__dataclass_fields__})
    cfg = ServeConfig(port=0, batch=batch, limits=limits, **options)
    running = Running(list(bundles), cfg, say=lambda m: None)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    client = Client(running.url)
    deadline = time.monotonic() + 60
    while client.get("/readyz").status != 200:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server did not get ready: {running.failure}")
        time.sleep(0.02)
    try:
        yield client
    finally:
        running.stop()
        thread.join(30)
