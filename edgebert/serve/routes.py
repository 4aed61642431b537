"""What the routes read and write: request bodies checked into texts (or a one-line 4xx), answers into JSON.

POST /predict {"texts": [...]} answers labels + scores (classifiers) or embeddings (encoders), as `edgebert predict`
does. POST /v1/embeddings is OpenAI's shape ({"input": str | [str], "encoding_format": "float" | "base64"}), what
RAG stacks call. orjson when installed (the `serve` extra): 7x faster than json on a 384-float embedding here.
"""
from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

try:
    import orjson
except ImportError:  # the stdlib fallback answers the same JSON, slower
    orjson = None


class ApiError(Exception):
    """A request the server answers with `status` and a one-line `message`; `cause` labels /metrics and the log."""

    def __init__(self, status: int, message: str, cause: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status, self.message, self.cause, self.headers = status, message, cause, headers or []


def dumps(value: Any) -> bytes:
    """JSON bytes; numpy float32 arrays are written as shortest-repr floats."""
    if orjson is not None:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(value, separators=(",", ":"), default=lambda a: a.tolist()).encode()


def loads(raw: bytes) -> Any:
    """Parse a body; anything that is not JSON (bad bytes, NaN, 10^5 levels deep, a 5000-digit number) is a 400."""
    try:
        return orjson.loads(raw) if orjson is not None else json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError, TypeError):
        raise ApiError(400, "malformed JSON body", "bad_json") from None


def texts_of(raw: bytes, key: str, max_texts: int, allow_string: bool) -> tuple[dict[str, Any], list[str]]:
    """The request object and its texts under `key`; every way they can be wrong is a 400 naming the field."""
    doc = loads(raw)
    if not isinstance(doc, dict):
        raise ApiError(400, "body must be a JSON object", "bad_request")
    texts = doc.get(key)
    if allow_string and isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, f"'{key}' must be a non-empty list of strings", "bad_request")
    if len(texts) > max_texts:
        raise ApiError(413, f"at most {max_texts} texts per request (got {len(texts)})", "too_many_texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"'{key}[{i}]' is {_json_type(text)}, not a string", "bad_request")
        if not text.strip():
            raise ApiError(400, f"'{key}[{i}]' is empty", "bad_request")
        if not text.isascii():
            try:  # the stdlib parser lets lone surrogates ("\ud800") through; the tokenizer would raise on them
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(400, f"'{key}[{i}]' is not valid Unicode (a lone surrogate)", "bad_request") from None
    return doc, texts


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def predict_body(model: str, classifier: bool, labels: list[str], rows: list[np.ndarray]) -> bytes:
    """/predict: {"model", "results": [...]}, each result what `edgebert predict` gives for the text (label, score,
    scores | embedding, rounded to 6 digits alike) without the text echoed back."""
    if not classifier:  # numpy's rounding: 20x cheaper than round() per float, the same digits bar exact ties
        return dumps({"model": model, "results": [{"embedding": np.round(row, 6).tolist()} for row in rows]})
    names = [labels[i] if i < len(labels) else str(i) for i in range(len(rows[0]))]
    results = []
    for row in rows:
        best = int(row.argmax())
        scores = [round(float(p), 6) for p in row]
        results.append({"label": names[best], "score": scores[best], "scores": dict(zip(names, scores))})
    return dumps({"model": model, "results": results})


def embeddings_request(raw: bytes, max_texts: int) -> tuple[list[str], str, str | None]:
    """(texts, encoding_format, model) of an OpenAI embeddings request."""
    doc, texts = texts_of(raw, "input", max_texts, allow_string=True)
    fmt = doc.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise ApiError(400, "encoding_format must be 'float' or 'base64'", "bad_request")
    if doc.get("dimensions") is not None:
        raise ApiError(400, "'dimensions' is not supported: the model answers its own width", "bad_request")
    model = doc.get("model")
    return texts, fmt, model if isinstance(model, str) else None


def embeddings_body(model: str, rows: list[np.ndarray], fmt: str, tokens: int) -> bytes:
    """OpenAI's list of embedding objects, float32 (OpenAI's precision); base64 is little-endian float32 bytes, as
    OpenAI's clients decode it."""
    data = [{"object": "embedding", "index": i,
             "embedding": base64.b64encode(row.astype("<f4").tobytes()).decode() if fmt == "base64"
             else row.astype(np.float32)}
            for i, row in enumerate(rows)]
    return dumps({"object": "list", "data": data, "model": model,
                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def error_body(route: str, err: ApiError) -> bytes:
    """{"error": "..."} on edgebert's routes; OpenAI's error object on /v1/."""
    if route.startswith("/v1/"):
        return dumps({"error": {"message": err.message, "type": err.cause, "param": None, "code": err.status}})
    return dumps({"error": err.message})
