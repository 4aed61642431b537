"""The HTTP side: a bare ASGI app (no framework: uvicorn + httptools measured 0.1 ms a request here, Starlette
added ~0.1 ms and aiohttp ~0.15 ms) that checks each request, hands its texts to a bundle's batcher, and answers.

Every request on a model route gets one JSON log line and its place in /metrics; nothing a client sends can make
it answer 5xx except a model that raises on that text (500, that request only) or a bug (500 "internal").
"""
from __future__ import annotations

import asyncio
import hmac
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from edgebert.serve.abtest import HEADER, Router, Shadow
from edgebert.serve.batcher import Batcher, ModelError, Overloaded
from edgebert.serve.metrics import CONTENT_TYPE, Metrics
from edgebert.serve.model import ServedModel
from edgebert.serve.routes import (ApiError, dumps, embeddings_body, embeddings_request, error_body, predict_body,
                                   texts_of)

JSON = (b"content-type", b"application/json")
MODEL_ROUTES = ("/predict", "/v1/embeddings")
GET_ROUTES = ("/healthz", "/readyz", "/metrics", "/v1/models")
BIG_REQUEST_CHARS = 20_000  # ~1 ms of tokenizing here: beyond it, a thread does it
DRAIN_CAP_BYTES = 64 << 20  # read at most this much of a refused body before closing (nginx lingers likewise)


@dataclass
class Limits:
    max_body_bytes: int = 1 << 20
    max_texts: int = 64
    api_key: str | None = None


@dataclass
class Served:
    """What the app answers with once loading is done."""

    models: dict[str, ServedModel]
    batchers: dict[str, Batcher]
    router: Router
    shadow: Shadow | None
    info: dict[str, Any]


class RequestLog:
    """One JSON object a line on a stream (stdout). Lines are written together at most FLUSH_S after the first of
    them (and at shutdown): writing and flushing each line cost the event loop 0.16-0.18 ms a request (issue 24's
    breakdown), a quarter of what the server added to the model; a log shipper still sees each line within 50 ms."""

    FLUSH_S = 0.05

    def __init__(self, stream: Any = None, enabled: bool = True) -> None:
        self.stream, self.enabled = stream or sys.stdout, enabled
        self.lines: list[bytes] = []
        self.lock = threading.Lock()  # the loop appends; shutdown flushes from the serving thread

    def __call__(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.lines.append(dumps(record))
            first = len(self.lines) == 1
        if first:
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_S, self.flush)
            except RuntimeError:  # no event loop (a caller outside the server): write now
                self.flush()

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
        if lines:
            self.stream.write(b"\n".join(lines).decode() + "\n")
            self.stream.flush()


@dataclass
class _Request:
    """What the log line and the metrics record about one request."""

    route: str
    bundle: str = ""
    texts: int = 0
    tokens: int = 0


class App:
    """ASGI callable; `attach()` makes it ready (the loader thread calls it after every golden check passed)."""

    def __init__(self, limits: Limits, metrics: Metrics, log: Callable[[dict], None]) -> None:
        self.limits, self.metrics, self.log = limits, metrics, log
        self.served: Served | None = None
        self.in_flight = 0
        self.key = limits.api_key.encode() if limits.api_key else None
        self.on_shutdown: list[Callable[[], None]] = []

    def attach(self, served: Served) -> None:
        self.served = served

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":  # after uvicorn has drained in-flight requests
                loop = asyncio.get_running_loop()
                for stop in self.on_shutdown:
                    await loop.run_in_executor(None, stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        started = time.perf_counter()
        req = _Request(scope["path"] if scope["path"] in MODEL_ROUTES + GET_ROUTES else "other")
        status, cause, headers = 200, "", [JSON]
        self.in_flight += 1
        try:
            body, extra = await self._dispatch(scope, receive, req)
            headers = extra or headers
        except ApiError as err:
            status, cause, body, headers = err.status, err.cause, error_body(req.route, err), [JSON, *err.headers]
        except Exception as err:  # noqa: BLE001 - a bug answers one request 500; the server keeps serving
            status, cause = 500, "internal"
            body = dumps({"error": f"internal error: {type(err).__name__}"})
            print(f"edgebert serve: internal error on {req.route}: {type(err).__name__}: {err}", file=sys.stderr)
        finally:
            self.in_flight -= 1
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        if req.route in GET_ROUTES:
            return
        seconds = time.perf_counter() - started
        self.metrics.observe_request(req.route, req.bundle, status, cause, seconds, req.texts, req.tokens)
        self.log({"ts": round(time.time(), 3), "route": req.route, "status": status, "ms": round(seconds * 1e3, 3),
                  "model": req.bundle or None, "texts": req.texts, "tokens": req.tokens, "cause": cause or None,
                  "request_id": _header(scope, b"x-request-id")})

    async def _dispatch(self, scope: dict, receive: Callable, req: _Request) -> tuple[bytes, list | None]:
        route, method = req.route, scope["method"]
        if route == "other":
            raise ApiError(404, f"no route {scope['path'][:100]}", "not_found")
        want = "POST" if route in MODEL_ROUTES else "GET"
        if method != want and not (want == "GET" and method == "HEAD"):
            raise ApiError(405, f"{route} takes {want}", "method", [(b"allow", want.encode())])
        if route == "/healthz":
            return b'{"status":"ok"}', None
        if route == "/readyz":
            if self.served is None:
                raise ApiError(503, "loading: bundles not loaded and checked yet", "not_ready", [(b"retry-after", b"1")])
            return dumps({"status": "ready", "models": list(self.served.models)}), None
        self._auth(scope)
        if route == "/metrics":
            depths = {n: b.depth() for n, b in self.served.batchers.items()} if self.served else {}
            return self.metrics.render(depths, self.in_flight), [(b"content-type", CONTENT_TYPE)]
        if self.served is None:
            raise ApiError(503, "loading: bundles not loaded and checked yet", "not_ready", [(b"retry-after", b"1")])
        if route == "/v1/models":
            return self._models_body(), None
        raw = await self._body(scope, receive)
        if route == "/predict":
            doc, texts = texts_of(raw, "texts", self.limits.max_texts, allow_string=False)
            model = self._choose(scope, doc.get("model"), req)
            rows = await self._infer(model, texts, req)
            return predict_body(model.name, model.classifier, model.labels, rows), None
        texts, fmt, asked = embeddings_request(raw, self.limits.max_texts)
        model = self._choose(scope, asked, req)
        if model.classifier:
            raise ApiError(400, f"'{model.name}' is a classifier: /v1/embeddings needs an encoder bundle "
                                "(use /predict)", "model_type")
        rows = await self._infer(model, texts, req)
        return embeddings_body(model.name, rows, fmt, req.tokens), None

    def _auth(self, scope: dict) -> None:
        if self.key is None:
            return
        given = _header(scope, b"authorization") or ""
        if not hmac.compare_digest(given.encode("latin-1"), b"Bearer " + self.key):
            raise ApiError(401, "missing or wrong API key (send the header Authorization: Bearer KEY)", "auth",
                           [(b"www-authenticate", b"Bearer")])

    async def _body(self, scope: dict, receive: Callable) -> bytes:
        limit = self.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            # a client waiting on "Expect: 100-continue" has sent nothing yet: answer before inviting the body
            waiting = (_header(scope, b"expect") or "").lower() == "100-continue"
            await _refuse_oversized(receive, limit, 0 if waiting or int(declared) > DRAIN_CAP_BYTES else int(declared))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError(499, "client went away", "disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # chunked bodies declare no length
                await _refuse_oversized(receive, limit, DRAIN_CAP_BYTES if message.get("more_body") else 0)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _choose(self, scope: dict, asked: Any, req: _Request) -> ServedModel:
        header = next((v for k, v in scope["headers"] if k == HEADER), None)
        req.bundle = self.served.router.choose(header, asked if isinstance(asked, str) else None)
        return self.served.models[req.bundle]

    async def _infer(self, model: ServedModel, texts: list[str], req: _Request) -> list[Any]:
        try:
            if sum(len(t) for t in texts) > BIG_REQUEST_CHARS:  # tokenizing it inline would stall every other request
                items = await asyncio.get_running_loop().run_in_executor(None, model.encode, texts)
            else:
                items = model.encode(texts)
        except Exception as err:  # noqa: BLE001 - text the tokenizer refuses is the client's to fix
            raise ApiError(400, f"could not tokenize: {type(err).__name__}", "bad_request") from None
        req.texts, req.tokens = len(items), sum(i.tokens for i in items)
        try:
            futures = self.served.batchers[model.name].submit(items, asyncio.get_running_loop())
        except Overloaded as err:
            raise ApiError(429, str(err), "overloaded", [(b"retry-after", str(err.retry_after_s).encode())]) from None
        try:
            rows = [await futures[0]] if len(futures) == 1 else list(await asyncio.gather(*futures))
        except ModelError as err:
            raise ApiError(500, str(err), "model_error") from None
        shadow = self.served.shadow
        if shadow is not None:
            shadow.copy(model, texts, rows)
        return rows

    def _models_body(self) -> bytes:
        served = self.served
        data = [{"id": name, "object": "model", "owned_by": "edgebert", "edgebert": m.describe()}
                for name, m in served.models.items()]
        return dumps({"object": "list", "data": data, "edgebert": served.info})


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse_oversized(receive: Callable, limit: int, drain: int) -> None:
    """Answer 413 only after reading and dropping up to `drain` more bytes of the body.

    Closing while the client is still sending makes the kernel answer the rest with a reset, so most clients
    (Python's http.client, requests) report "broken pipe" instead of the 413; nginx's lingering close does this too.
    """
    while drain > 0:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        drain -= len(message.get("body", b""))
        if not message.get("more_body"):
            break
    raise ApiError(413, f"body over {limit} bytes", "body_too_large", [(b"connection", b"close")])
