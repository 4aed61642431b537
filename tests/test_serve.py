"""`edgebert serve` in-process: routes answer what `predict` answers, metrics and logs count what happened, bad input
gets a one-line 4xx, overload a 429, a failing batch fails only its own texts, non-invariant bundles never mix."""
from __future__ import annotations

import base64
import concurrent.futures as cf
import http.client
import json
import random
import threading
import time

import numpy as np
import pytest

from tests.serve_helpers import served

TEXTS = ["The movie was wonderful.", "I would not go back to that restaurant, the service was slow and rude.",
         "How do I reset my password?", "Short.", "A much longer sentence that keeps going with many more words in "
         "it than any of the others, so that its padding would matter if it were batched with them."]


@pytest.fixture(scope="module")
def bundles(tiny_bert, tmp_path_factory) -> dict[str, object]:
    """fp32 and dynamic-INT8 bundles of the tiny classifier and of a tiny sentence-transformers encoder whose head
    is CLS pooling, a Dense (Tanh, 32 -> 16) and Normalize (not the mean pool a server might assume)."""
    import torch

    from edgebert.export import export
    from tests.st_folders import tiny_st_dir

    root = tmp_path_factory.mktemp("serve-bundles")
    encoder = tiny_st_dir(root / "st-cls", pooling="cls", dense=(16, "torch.nn.modules.activation.Tanh"),
                          normalize=True)
    out, threads = {}, torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is as fast, and a busy machine does not stall it 5x
    try:
        for src, kind in ((tiny_bert, "cls"), (encoder, "enc")):
            for fmt in ("onnx", "onnx-int8"):
                out[f"{kind}-{fmt}"] = root / f"{kind}-{fmt}"
                export(str(src), fmt, out[f"{kind}-{fmt}"])
    finally:
        torch.set_num_threads(threads)
    return out


def _predict(bundle, texts):
    import edgebert

    return edgebert.load(bundle).predict(texts)


def test_routes_answer_what_predict_answers(bundles):
    want_cls, want_enc = _predict(bundles["cls-onnx"], TEXTS), _predict(bundles["enc-onnx"], TEXTS)
    with served([bundles["cls-onnx"], bundles["enc-onnx"]], weights=(1.0, 0.0)) as c:
        assert c.get("/healthz").json == {"status": "ok"}
        assert c.get("/readyz").json == {"status": "ready", "models": ["cls-onnx", "enc-onnx"]}
        got = c.post("/predict", {"texts": TEXTS}).json
        assert got["model"] == "cls-onnx"
        assert [r["label"] for r in got["results"]] == [w["label"] for w in want_cls]
        for r, w in zip(got["results"], want_cls):  # batched with other lengths: equal within fp32 noise
            assert r["scores"] == pytest.approx(w["scores"], abs=2e-6)
        alone = [c.post("/predict", {"texts": [t]}).json["results"][0] for t in TEXTS]
        assert alone == [{k: v for k, v in _predict(bundles["cls-onnx"], [t])[0].items() if k != "text"}
                         for t in TEXTS]  # one text a request: exactly predict's label, score and scores
        emb = c.post("/predict", {"texts": TEXTS}, {"X-Edgebert-Model": "enc-onnx"}).json["results"]
        assert np.allclose([e["embedding"] for e in emb], [w["embedding"] for w in want_enc], atol=2e-6)
        oai = c.post("/v1/embeddings", {"input": TEXTS[:2], "model": "enc-onnx", "encoding_format": "base64"}).json
        vecs = [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in oai["data"]]
        assert np.allclose(vecs, [w["embedding"] for w in want_enc[:2]], atol=2e-6)
        import edgebert

        tok = edgebert.load(bundles["enc-onnx"]).tokenizer
        assert oai["usage"]["prompt_tokens"] == sum(len(tok.encode(t).ids) for t in TEXTS[:2])
        one = c.post("/v1/embeddings", {"input": TEXTS[0], "model": "enc-onnx"}).json
        assert one["object"] == "list" and one["data"][0]["index"] == 0 and len(one["data"][0]["embedding"]) == 16
        models = {m["id"]: m["edgebert"] for m in c.get("/v1/models").json["data"]}
        manifest = json.loads((bundles["enc-onnx"] / "manifest.json").read_text())
        assert models["enc-onnx"]["format"] == "onnx" and models["enc-onnx"]["golden"]["status"] == "pass"
        assert models["enc-onnx"]["model_sha256"] == manifest["files"][manifest["model_file"]]["sha256"]


def test_embedding_is_predicts_through_the_models_own_head(bundles):
    """The CLS-pooled encoder with a Dense (Tanh, 32 -> 16) and Normalize: the server answers each text exactly what
    `Predictor.predict` answers (the bundle's own head, not a mean pool of the token states)."""
    import edgebert

    bundle = bundles["enc-onnx"]
    predictor = edgebert.load(bundle)
    assert (predictor.head.modes, len(predictor.head.dense)) == (("cls",), 1)
    want = [{k: v for k, v in predictor.predict([t])[0].items() if k != "text"} for t in TEXTS]
    with served([bundle]) as c:
        got = [c.post("/predict", {"texts": [t]}).json["results"][0] for t in TEXTS]
        oai = c.post("/v1/embeddings", {"input": TEXTS[0], "encoding_format": "base64"}).json["data"][0]
    assert got == want and len(got[0]["embedding"]) == 16
    assert np.allclose(np.frombuffer(base64.b64decode(oai["embedding"]), "<f4"), want[0]["embedding"], atol=1e-6)


def test_metrics_and_one_log_line_per_request(bundles, capsys):
    with served([bundles["enc-onnx"]]) as c:
        capsys.readouterr()
        assert c.post("/predict", {"texts": TEXTS[:3]}).status == 200
        assert c.post("/v1/embeddings", {"input": "hello there"}).status == 200
        assert c.post("/predict", b"{nope").status == 400
        text = c.get("/metrics").body.decode()
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]  # flushed
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples['edgebert_request_duration_seconds_count{route="/predict",bundle="enc-onnx",code="2xx"}'] == "1"
    assert samples['edgebert_requests_total{route="/predict",status="400"}'] == "1"
    assert samples['edgebert_request_errors_total{cause="bad_json"}'] == "1"
    assert samples['edgebert_texts_total{bundle="enc-onnx"}'] == "4"
    assert samples['edgebert_batch_size_sum{bundle="enc-onnx"}'] == "4"  # 4 texts run, however batched
    assert samples['edgebert_queue_depth{bundle="enc-onnx"}'] == "0"
    assert int(samples["process_resident_memory_bytes"]) > 10_000_000
    assert "# TYPE edgebert_request_duration_seconds histogram" in text
    assert [(r["route"], r["status"], r["texts"], r["cause"]) for r in logged] == [
        ("/predict", 200, 3, None), ("/v1/embeddings", 200, 1, None), ("/predict", 400, 0, "bad_json")]
    assert logged[0]["tokens"] == int(samples['edgebert_tokens_total{bundle="enc-onnx"}']) - logged[1]["tokens"]
    # what a Prometheus server reads: its own client library's parser takes the exposition, families and types intact
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(text)}
    duration = families["edgebert_request_duration_seconds"]
    assert duration.type == "histogram"
    buckets = [s for s in duration.samples if s.name.endswith("_bucket")
               and (s.labels.get("route"), s.labels.get("code")) == ("/predict", "2xx")]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 1
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
    assert families["edgebert_requests"].type == "counter" and families["edgebert_queue_depth"].type == "gauge"


BAD = [
    ("/predict", b"{bad", 400, "malformed JSON body"),
    ("/predict", b"[1, 2]", 400, "body must be a JSON object"),
    ("/predict", b'{"texts": []}', 400, "'texts' must be a non-empty list of strings"),
    ("/predict", b'{"texts": "one"}', 400, "'texts' must be a non-empty list of strings"),
    ("/predict", b'{"texts": ["ok", 3]}', 400, "'texts[1]' is a number, not a string"),
    ("/predict", b'{"texts": [null]}', 400, "'texts[0]' is null, not a string"),
    ("/predict", b'{"texts": ["  "]}', 400, "'texts[0]' is empty"),
    ("/predict", b'{"texts": ["\\ud800"]}', 400, "malformed JSON body"),
    ("/predict", json.dumps({"texts": ["x"] * 65}).encode(), 413, "at most 64 texts per request (got 65)"),
    ("/predict", b'{"texts": ["' + b"a" * 8_000_000 + b'"]}', 413, "body over 1048576 bytes"),
    ("/v1/embeddings", b'{"input": "x", "encoding_format": "hex"}', 400, "encoding_format must be 'float' or 'base64'"),
    ("/v1/embeddings", b'{"input": [""]}', 400, "'input[0]' is empty"),
    ("/nowhere", b"{}", 404, "no route /nowhere"),
]


def test_bad_input_gets_one_line_4xx(bundles):
    with served([bundles["enc-onnx"], bundles["cls-onnx"]]) as c:
        for path, body, status, message in BAD:
            reply = c.post(path, body)
            assert (path, reply.status, reply.error) == (path, status, message)
        assert (c.get("/predict").status, c.get("/predict").headers["allow"]) == (405, "POST")
        reply = c.post("/predict", {"texts": ["x"]}, {"X-Edgebert-Model": "nope"})
        assert (reply.status, reply.error) == (400, "unknown model 'nope' in X-Edgebert-Model. Valid: enc-onnx, "
                                                    "cls-onnx")
        reply = c.post("/v1/embeddings", {"input": "x", "model": "cls-onnx"})
        assert (reply.status, reply.error) == (400, "'cls-onnx' is a classifier: /v1/embeddings needs an encoder "
                                                    "bundle (use /predict)")
        assert c.post("/predict", {"texts": ["still fine"]}).status == 200
        # a chunked body declares no length: the server finds it too big while reading, and still answers 413
        conn = http.client.HTTPConnection(c.host, c.port, timeout=60)
        conn.request("POST", "/predict", (b"a" * 65536 for _ in range(128)), {"Content-Type": "application/json"},
                     encode_chunked=True)
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())["error"]) == (413, "body over 1048576 bytes")
        conn.close()


def _fuzz_bodies(n: int) -> list[bytes]:
    rnd = random.Random(0)
    odd = [1, None, [], {}, 1.5, True, "x" * 30, ["a", 2], [["a"]], {"a": "b"}, 10 ** 30, -1e308]
    bodies = [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'{"texts":["x"],"n":1e999999}',
              b'{"texts":["x"],"n":' + b"9" * 5000 + b"}", b'{"texts":["x"],"n":NaN}', b"\xff\xfe\x00", b"",
              b'{"texts":["a\\u0000b"]}', json.dumps({"texts": ["word " * 5000]}).encode()]
    for _ in range(n):
        kind = rnd.randrange(4)
        if kind == 0:
            bodies.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))))
        elif kind == 1:
            bodies.append(json.dumps({"texts": [rnd.choice(odd) for _ in range(rnd.randrange(1, 4))]}).encode())
        elif kind == 2:
            bodies.append(b'{"texts":["' + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))) + b'"]}')
        else:
            bodies.append(json.dumps({"input": rnd.choice(odd + ["a"]), "model": rnd.choice(odd),
                                      "encoding_format": rnd.choice(["float", "base64", 3, None])}).encode())
    return bodies


def test_fuzzed_bodies_never_get_5xx(bundles):
    with served([bundles["enc-onnx"]]) as c:
        statuses = [c.post(path, body).status for body in _fuzz_bodies(150) for path in ("/predict", "/v1/embeddings")]
        assert c.get("/healthz").status == 200 and c.post("/predict", {"texts": ["alive"]}).status == 200
    assert [s for s in statuses if s >= 500] == [] and set(statuses) <= {200, 400, 413}
    assert statuses.count(200) >= 4  # the long text (truncated), the NUL, the huge number: answered


def _slowed(monkeypatch, seconds: float, poison_tokens: int | None = None) -> None:
    """Make every model run take `seconds`; a run holding a text of exactly `poison_tokens` tokens raises."""
    from edgebert.serve.model import ServedModel

    real = ServedModel.run

    def run(self, worker, items):
        time.sleep(seconds)
        if poison_tokens is not None and any(i.tokens == poison_tokens for i in items):
            raise RuntimeError("injected fault\nsecond line never shown")
        return real(self, worker, items)

    monkeypatch.setattr(ServedModel, "run", run)


def test_bounded_queue_answers_429_with_retry_after(bundles, monkeypatch):
    _slowed(monkeypatch, 0.3)  # 12 requests reach the server long before 4 runs of 0.3 s drain its queue, loaded or not
    with served([bundles["enc-onnx-int8"]], workers=1, max_queue=4) as c:
        with cf.ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(lambda i: c.post("/predict", {"texts": [f"text number {i}"]}), range(12)))
        later = c.post("/predict", {"texts": ["after the rush"]})
        rejected = c.metric("edgebert_request_errors_total", 'cause="overloaded"')
    busy = [r for r in replies if r.status == 429]
    assert busy and len(busy) + sum(r.status == 200 for r in replies) == 12 and later.status == 200
    assert all(int(r.headers["retry-after"]) >= 1 and r.error.startswith("queue full (") for r in busy)
    assert rejected == len(busy)


def test_a_failing_run_fails_only_its_own_text(bundles, monkeypatch):
    import edgebert

    poison = "a poisoned text of a length no other text here has at all, with more words"
    tokens = len(edgebert.load(bundles["enc-onnx"]).tokenizer.encode(poison).ids)
    assert tokens not in {len(edgebert.load(bundles["enc-onnx"]).tokenizer.encode(t).ids) for t in TEXTS}
    _slowed(monkeypatch, 0.02, poison_tokens=tokens)  # runs queue up behind the slow one: batches form
    with served([bundles["enc-onnx"]], workers=1, window_s=0.2) as c:
        with cf.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(c.post, "/predict", {"texts": [t]}) for t in TEXTS[:3] + [poison] + TEXTS[3:]]
            replies = [f.result() for f in futures]
        failed = c.metric("edgebert_batch_failures_total", 'bundle="enc-onnx"')
        assert c.post("/predict", {"texts": ["the server still answers"]}).status == 200
    assert [r.status for r in replies] == [200, 200, 200, 500, 200, 200]
    assert replies[3].error == "model error: RuntimeError: injected fault"
    assert failed >= 1


def test_batcher_groups_by_length_under_the_token_budget():
    """Jobs queued together run in length-sorted groups: padding under 2x, padded tokens under the budget."""
    from edgebert.serve.batcher import BatchConfig, Batcher
    from edgebert.serve.metrics import Metrics
    from edgebert.serve.model import Item

    gate, seen = threading.Event(), []

    class Fake:
        name, mixes = "fake", True

        def run(self, worker, items):
            if items[0].tokens == 1:
                gate.wait(5)
            seen.append([i.tokens for i in items])
            return np.zeros((len(items), 2), np.float32), max(i.tokens for i in items) * len(items)

    import asyncio

    async def main():
        batcher = Batcher(Fake(), Metrics(), BatchConfig(window_s=0.0, max_batch=32, max_batch_tokens=64, workers=1))
        loop = asyncio.get_running_loop()
        blocker = batcher.submit([Item((0,), 1)], loop)  # holds the model thread while the rest queue up
        await asyncio.sleep(0.05)
        rest = batcher.submit([Item((0,) * n, n) for n in (20, 3, 5, 4, 12, 6, 30, 10)], loop)
        gate.set()
        await asyncio.gather(*blocker, *rest)
        batcher.close(1.0)

    asyncio.run(main())
    # taken: 20, 3, 5, 4, 12, 6 (50 real tokens; 30 would pass 64), run as [3..12] (5 x 12 = 60 padded) and [20];
    # then 30 and 10, apart (30 > 2 x 10 + 8)
    assert seen == [[1], [3, 4, 5, 6, 12], [20], [10], [30]]


def test_non_invariant_bundle_answers_never_depend_on_batchmates(bundles):
    """Dynamic INT8: a text's answer is bit-identical alone and among 15 concurrent others (run at its own length,
    one text per run); batched together, the same runtime gives a different answer -- mixing would show."""
    import edgebert

    bundle = bundles["enc-onnx-int8"]
    target = TEXTS[2]
    predictor = edgebert.load(bundle)
    feed = predictor.encode([target] + TEXTS[:2] + TEXTS[3:])
    together = predictor.runner.run(feed)[0, : int(feed["attention_mask"][0].sum())]
    alone = predictor.runner.run(predictor.encode([target]))[0]
    assert not np.array_equal(together, alone)  # the bundle really is batch-dependent

    def emb(c, text):
        data = c.post("/v1/embeddings", {"input": text, "encoding_format": "base64"}).json["data"][0]
        return np.frombuffer(base64.b64decode(data["embedding"]), "<f4")

    with served([bundle], workers=1, window_s=0.05) as c:
        first = emb(c, target)
        mix = [target if i % 4 == 0 else TEXTS[i % len(TEXTS)] + f" number {i}" for i in range(16)]
        with cf.ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda t: emb(c, t), mix))
        biggest = c.get("/metrics").body.decode()
    assert all(np.array_equal(first, g) for g, t in zip(got, mix) if t == target)
    assert 'edgebert_batch_size_bucket{bundle="enc-onnx-int8",le="1"} 17' in biggest  # every run held one text


def test_invariant_bundle_batches_concurrent_texts(bundles, monkeypatch):
    _slowed(monkeypatch, 0.03)
    with served([bundles["enc-onnx"]], workers=1, window_s=0.02) as c:
        with cf.ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda i: c.post("/predict", {"texts": [f"text {i}"]}), range(16)))
        runs, texts = c.metric("edgebert_batch_size_count", 'bundle="enc-onnx"'), \
            c.metric("edgebert_batch_size_sum", 'bundle="enc-onnx"')
    assert [r.status for r in replies] == [200] * 16 and texts == 16 and runs < 16


def test_api_key_guards_everything_but_the_probes(bundles):
    with served([bundles["enc-onnx"]], api_key="s3cret") as c:
        bare = c.post("/predict", {"texts": ["x"]})
        assert (bare.status, bare.error, bare.headers["www-authenticate"]) == (
            401, "missing or wrong API key (send the header Authorization: Bearer KEY)", "Bearer")
        assert c.post("/predict", {"texts": ["x"]}, {"Authorization": "Bearer wrong"}).status == 401
        assert c.get("/metrics").status == 401 and c.get("/v1/models").status == 401
        assert c.post("/predict", {"texts": ["x"]}, {"Authorization": "Bearer s3cret"}).status == 200
        assert (c.get("/healthz").status, c.get("/readyz").status) == (200, 200)


def test_ab_weights_and_choices_route_traffic(bundles):
    with served([bundles["cls-onnx"], bundles["cls-onnx-int8"]], weights=(1.0, 1.0)) as c:
        picked = [c.post("/predict", {"texts": ["which one?"]}).json["model"] for _ in range(200)]
        by_header = {c.post("/predict", {"texts": ["x"]}, {"X-Edgebert-Model": n}).json["model"]
                     for n in ("cls-onnx", "cls-onnx-int8")}
        by_body = c.post("/predict", {"texts": ["x"], "model": "cls-onnx-int8"}).json["model"]
    assert min(picked.count("cls-onnx"), picked.count("cls-onnx-int8")) > 50  # 50/50: P(fail) ~ 1e-12
    assert by_header == {"cls-onnx", "cls-onnx-int8"} and by_body == "cls-onnx-int8"
    with served([bundles["cls-onnx"], bundles["cls-onnx-int8"]], weights=(0.0, 1.0)) as c:
        assert {c.post("/predict", {"texts": ["x"]}).json["model"] for _ in range(20)} == {"cls-onnx-int8"}


@pytest.mark.parametrize("kind", ["enc", "cls"])
def test_shadow_records_agreement_and_cosine_against_the_primary(bundles, kind, capsys):
    import edgebert

    primary, candidate = bundles[f"{kind}-onnx"], bundles[f"{kind}-onnx-int8"]
    a, b = edgebert.load(primary), edgebert.load(candidate)
    if kind == "enc":
        pa, pb = (np.array([r["embedding"] for r in p.predict(TEXTS)]) for p in (a, b))
    else:
        pa, pb = (np.array([list(r["scores"].values()) for r in p.predict(TEXTS)]) for p in (a, b))
    want = (pa * pb).sum(-1) / (np.linalg.norm(pa, axis=-1) * np.linalg.norm(pb, axis=-1))
    label = f'primary="{kind}-onnx",candidate="{kind}-onnx-int8"'
    with served([primary], shadow=candidate) as c:
        capsys.readouterr()
        answers = [c.post("/predict", {"texts": [t]}).json["model"] for t in TEXTS]
        deadline = time.monotonic() + 10
        while c.metric("edgebert_shadow_texts_total", label) < len(TEXTS) and time.monotonic() < deadline:
            time.sleep(0.02)
        agreed = c.metric("edgebert_shadow_agreements_total", label)
        counted = c.metric("edgebert_shadow_cosine_count", label)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"kind":"shadow"' in line]
    assert answers == [f"{kind}-onnx"] * len(TEXTS)  # the shadow never answers
    assert counted == len(TEXTS) and len(logged) == len(TEXTS)
    assert sorted(r["cosine_min"] for r in logged) == pytest.approx(sorted(want), abs=2e-5)
    if kind == "cls":
        assert agreed == int((pa.argmax(-1) == pb.argmax(-1)).sum())
        assert sum(r["agree"] for r in logged) == agreed


def test_best_under_slo_is_the_fastest_level_within_the_bound():
    from edgebert.bench.rows import Row
    from edgebert.bench.serve_sweep import best_under_slo, serve_errors

    base = dict(model="m", model_sha256="s", weights="random", format="onnx", runtime="onnxruntime",
                runtime_version="1", device="cpu", cpu="c", cores=2, machine="x86_64", host="h", threads=2, seq_len=0,
                repeat=0, status="ok", input="serve:sample", min_ms=1.0, p50_ms=2.0, p90_ms=3.0)
    rows = [Row(**base, batch=1, p99_ms=10.0, throughput_seq_s=100.0),
            Row(**base, batch=4, p99_ms=40.0, throughput_seq_s=300.0),
            Row(**base, batch=16, p99_ms=45.0, throughput_seq_s=350.0, reason="errors 3/900: http_429 x3"),
            Row(**base, batch=64, p99_ms=200.0, throughput_seq_s=380.0)]
    assert [serve_errors(r) for r in rows] == [0, 0, 3, 0]
    assert best_under_slo(rows, 50.0).batch == 4  # 16 is faster but lost requests; 64 misses the bound
    assert best_under_slo(rows, 5.0) is None


def _closing_server(replies: list[bytes]):
    """A loopback server that answers each connection's requests with `replies` in turn, then closes it without
    saying so (no `connection: close`)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def serve_forever():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                for reply in replies:
                    conn.recv(65536)
                    conn.sendall(reply)

    threading.Thread(target=serve_forever, daemon=True).start()
    return listener


OK_REPLY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


@pytest.mark.parametrize("replies", [[OK_REPLY], [OK_REPLY, b"HTTP/1.1 200 OK\r\ncontent-le"]])
def test_load_driver_resends_only_on_a_connection_closed_while_idle(replies):
    """A kept-alive connection the server closed between requests: the request is resent on a new one (no error);
    a connection cut in the middle of an answer is an error, never resent."""
    from edgebert.bench.load import Endpoint, drive

    listener = _closing_server(replies)
    try:
        out = drive(Endpoint.parse(f"http://127.0.0.1:{listener.getsockname()[1]}/predict"), ["x"], 1, 0.5, 0.0)
    finally:
        listener.close()
    if len(replies) == 1:
        assert dict(out.errors) == {} and len(out.latencies_ns) > 2
        assert out.resent - (len(out.latencies_ns) - 1) in (0, 1)  # every request after the first went twice
    else:  # each connection: one answer, then one cut short
        assert set(out.errors) == {"IncompleteReadError"} and out.resent == 0
        assert len(out.latencies_ns) - out.errors["IncompleteReadError"] in (-1, 0, 1)


def test_load_driver_sends_every_text_once_a_pass_at_any_concurrency():
    """The clients share one (shuffled) sequence: a short level or a high concurrency still sends the whole mix of
    lengths, never a stretch of the file (the shipped sample is sorted by length)."""
    import collections
    import socket

    from edgebert.bench.load import Endpoint, drive

    seen: collections.Counter = collections.Counter()
    listener = socket.create_server(("127.0.0.1", 0))

    def answer(conn):
        with conn:
            buf = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, rest = buf.split(b"\r\n\r\n", 1)
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(rest) < length:
                        break
                    seen[json.loads(rest[:length])["texts"][0]] += 1
                    buf = rest[length:]
                    conn.sendall(OK_REPLY)

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    texts = [f"text {i}" for i in range(40)]
    try:
        drive(Endpoint.parse(f"http://127.0.0.1:{listener.getsockname()[1]}/predict"), texts, 16, 1.0, 0.0)
    finally:
        listener.close()
    counts = [seen[t] for t in texts]
    assert sum(counts) >= 40 and max(counts) - min(counts) <= 1  # several passes, each text as often as any other
