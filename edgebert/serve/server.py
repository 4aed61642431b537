"""`edgebert serve`: bind first (/healthz answers at once), load and golden-check every bundle on a thread
(/readyz answers 503 until all passed), then serve until SIGTERM/SIGINT: stop accepting, let in-flight requests
finish (up to `drain_s`), stop the model threads, exit 0.

uvicorn with httptools and uvloop when installed (the `serve` extra); its h11/asyncio fallback answers the same,
about 2x slower per request.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgebert.errors import EdgebertError, MissingRuntime, UsageError
from edgebert.serve.abtest import Router, Shadow, check_comparable
from edgebert.serve.app import App, Limits, RequestLog, Served
from edgebert.serve.batcher import BatchConfig, Batcher
from edgebert.serve.metrics import Metrics


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    device: str = "cpu"
    workers: int = 0  # model threads per bundle; 0: one per core (ONNX Runtime), else 1
    threads: int = 1  # intra-op threads per run: with one model thread per core, 1 is the fastest here
    batch: BatchConfig = field(default_factory=BatchConfig)
    limits: Limits = field(default_factory=Limits)
    weights: tuple[float, ...] = ()
    shadow: Path | None = None
    shadow_rate: float = 1.0
    log_requests: bool = True
    drain_s: float = 30.0


def bundle_names(paths: list[Path]) -> list[str]:
    """Each bundle's name: its folder's (characters outside [A-Za-z0-9._-] as _), made unique with -2, -3...
    Names route requests (header, OpenAI `model`) and label metrics, so they stay plain."""
    import re

    names: list[str] = []
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", path.resolve().name) or "bundle"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


def _workers(cfg: ServeConfig) -> int:
    """Model threads: as asked; else one per core this process may use (a container's CPU set), 1 on a GPU."""
    if cfg.workers or cfg.device != "cpu":
        return cfg.workers or 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_all(bundles: list[Path], cfg: ServeConfig, metrics: Metrics, log: Callable[[dict], None]) -> Served:
    """Every bundle (and the shadow) loaded, golden-checked and given its batcher and model threads."""
    from edgebert.device_info import machine_fields
    from edgebert.serve.model import load
    from edgebert import __version__

    workers = _workers(cfg)
    paths = list(bundles) + ([cfg.shadow] if cfg.shadow else [])
    names = bundle_names(paths)
    models = {n: load(p, n, cfg.device, cfg.threads, workers) for n, p in zip(names, paths)}
    batch = BatchConfig(**{**cfg.batch.__dict__, "workers": workers})
    batchers = {n: Batcher(m, metrics, batch) for n, m in models.items()}
    shadow = None
    if cfg.shadow:
        candidate = models.pop(names[-1])
        for primary in models.values():
            check_comparable(primary, candidate)
        shadow = Shadow(candidate, batchers[candidate.name], metrics, log, cfg.shadow_rate)
    info = {"edgebert_version": __version__, **machine_fields(), "device": cfg.device, "workers": workers,
            "threads": cfg.threads, "window_ms": cfg.batch.window_s * 1e3, "max_batch": cfg.batch.max_batch,
            "max_batch_tokens": cfg.batch.max_batch_tokens, "max_queue": cfg.batch.max_queue,
            "shadow": shadow.model.name if shadow else None}
    return Served(models, {n: b for n, b in batchers.items()}, Router(list(models), cfg.weights), shadow, info)


def _server(app: App, cfg: ServeConfig) -> Any:
    try:
        import uvicorn
    except ImportError as err:
        raise MissingRuntime("uvicorn", "serve") from err
    import importlib.util

    fast = {"http": "httptools" if importlib.util.find_spec("httptools") else "h11",
            "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"}
    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, lifespan="on", access_log=False, log_level="warning",
                            timeout_graceful_shutdown=cfg.drain_s, timeout_keep_alive=5, backlog=2048,
                            server_header=False, **fast)
    return uvicorn.Server(config)


class Running:
    """A built server: `run()` blocks until it stops (a signal, or `stop()` from another thread)."""

    def __init__(self, bundles: list[Path], cfg: ServeConfig, say: Callable[[str], None]) -> None:
        if not bundles:
            raise UsageError("Give one or more BUNDLEs to serve")
        metrics = Metrics()
        log = RequestLog(enabled=cfg.log_requests)
        self.app, self.log = App(cfg.limits, metrics, log), log
        self.server = _server(self.app, cfg)
        self.sock = listen(cfg.host, cfg.port)
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.failure: list[BaseException] = []
        self.loader = threading.Thread(target=_load, args=(self, bundles, cfg, metrics, log, say),
                                       name="edgebert-loader", daemon=True)

    def run(self) -> None:
        """Serve until stopped; a bundle that failed to load or failed its golden check is raised here."""
        self.loader.start()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.log.flush()  # the lines of the last (drained) requests
        self.loader.join(5.0)
        if self.failure:
            raise self.failure[0]

    def stop(self) -> None:
        self.server.should_exit = True


def serve(bundles: list[Path], cfg: ServeConfig, say: Callable[[str], None] = print) -> None:
    """Run the server until SIGTERM/SIGINT (then drain and return); a bundle that fails to load or fails its golden
    check stops it before it ever answers ready (the error is raised here)."""
    running = Running(bundles, cfg, say)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises the signal after draining: exit 0, not 143
            signal.signal(sig, lambda *_: None)
    running.run()
    say(f"edgebert serve: stopped ({'drained' if running.app.served else 'before ready'})")


def _load(running: Running, bundles: list[Path], cfg: ServeConfig, metrics: Metrics, log: Callable,
          say: Callable[[str], None]) -> None:
    app, server = running.app, running.server
    try:
        served = load_all(bundles, cfg, metrics, log)
    except BaseException as err:  # noqa: BLE001 - reported by serve() on the main thread, with its exit code
        running.failure.append(err if isinstance(err, EdgebertError) else EdgebertError(f"{type(err).__name__}: {err}"))
        server.should_exit = True
        return
    drain = cfg.drain_s
    app.on_shutdown.append(lambda: [b.close(drain) for b in served.batchers.values()])
    while not server.started and not server.should_exit:
        time.sleep(0.01)
    app.attach(served)
    say(f"edgebert serve: ready on {running.url} · " + " · ".join(
        f"{n} ({m.identity['format']}, golden {m.golden['status']}, "
        f"{'batched' if m.mixes else 'one text per run'})" for n, m in served.models.items())
        + (f" · shadow {served.shadow.model.name}" if served.shadow else ""))


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything loads: a taken port is a one-line error, and port 0 gets a free
    one whose number the ready line prints."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as err:
        why = (err.strerror or str(err)).split(" (while")[0]
        raise UsageError(f"Cannot listen on {host}:{port}: {why}. Fix: pick another --port, or stop "
                         "what holds it") from None


def warn_exposed(cfg: ServeConfig) -> str | None:
    """A warning when the server listens beyond this machine without an API key."""
    if cfg.host not in ("127.0.0.1", "localhost", "::1") and not cfg.limits.api_key:
        return (f"warning: listening on {cfg.host} without --api-key: anyone who reaches this port can use the "
                "model")
    return None


