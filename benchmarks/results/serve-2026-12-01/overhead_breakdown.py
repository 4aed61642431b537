"""Where a c1 request's in-server time goes (issue 24's 0.72 ms over the model): stage timers patched around the
serve app's own functions, one short text, 2000 sequential requests after 200 warm-up ones.
    flock /tmp/edgebert-measure.lock python benchmarks/results/serve-2026-12-01/overhead_breakdown.py BUNDLE [N] >/dev/null
Indicative only: the server runs in a thread of this process (tests/serve_helpers.served), so the client shares its
GIL; stdout (the request log) goes to /dev/null. Results: overhead_breakdown.json."""
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.serve_helpers
from edgebert.serve import app as appmod, batcher as bmod, model as mmod
from tests.serve_helpers import served

T = {k: [] for k in ("parse", "read_body", "choose", "total", "encode", "queue_wait", "model_run", "loop_hop", "body", "metrics", "log")}
marks = {}

orig_encode = mmod.ServedModel.encode
def encode(self, texts):
    t = time.perf_counter(); r = orig_encode(self, texts); T["encode"].append(time.perf_counter() - t); return r
mmod.ServedModel.encode = encode

orig_run_model = mmod.ServedModel.run
def run_model(self, worker, items):
    t = time.perf_counter(); r = orig_run_model(self, worker, items); T["model_run"].append(time.perf_counter() - t); return r
mmod.ServedModel.run = run_model

orig_brun = bmod.Batcher._run
def brun(self, worker, group):
    T["queue_wait"].append(time.perf_counter() - group[0].enqueued)
    orig_brun(self, worker, group)
    marks["resolved_at"] = time.perf_counter()
bmod.Batcher._run = brun

orig_resolve = bmod._resolve
def resolve(pairs):
    T["loop_hop"].append(time.perf_counter() - marks.get("resolved_at", time.perf_counter()))
    orig_resolve(pairs)
bmod._resolve = resolve

orig_body = appmod.predict_body
def body(*a, **k):
    t = time.perf_counter(); r = orig_body(*a, **k); T["body"].append(time.perf_counter() - t); return r
appmod.predict_body = body

cls = appmod.App
orig_http = cls._http
async def http(self, scope, receive, send):
    t = time.perf_counter(); await orig_http(self, scope, receive, send)
    if scope["path"] == "/predict":
        T["total"].append(time.perf_counter() - t)
cls._http = http

from edgebert.serve import metrics as metmod
orig_obs = metmod.Metrics.observe_request
def obs(self, *a, **k):
    t = time.perf_counter(); orig_obs(self, *a, **k); T["metrics"].append(time.perf_counter() - t)
metmod.Metrics.observe_request = obs
orig_log = appmod.RequestLog.__call__
def logc(self, rec):
    t = time.perf_counter(); orig_log(self, rec); T["log"].append(time.perf_counter() - t)
appmod.RequestLog.__call__ = logc

orig_texts_of = appmod.texts_of
def texts_of(*a, **k):
    t = time.perf_counter(); r = orig_texts_of(*a, **k); T["parse"].append(time.perf_counter() - t); return r
appmod.texts_of = texts_of
orig_bodyread = appmod.App._body
async def bodyread(self, scope, receive):
    t = time.perf_counter(); r = await orig_bodyread(self, scope, receive); T["read_body"].append(time.perf_counter() - t); return r
appmod.App._body = bodyread
orig_choose = appmod.App._choose
def choose(self, *a):
    t = time.perf_counter(); r = orig_choose(self, *a); T["choose"].append(time.perf_counter() - t); return r
appmod.App._choose = choose

bundle = Path(sys.argv[1])
with served([bundle]) as c:
    for _ in range(200):
        c.post("/predict", {"texts": ["How do I reset my password?"]})
    for k in T: T[k].clear()
    for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2000):
        c.post("/predict", {"texts": ["How do I reset my password?"]})
out = {k: round(statistics.mean(v) * 1e3, 4) for k, v in T.items() if v}
out["n"] = len(T["total"])
out["total_minus_model"] = round(out["total"] - out["model_run"], 4)
print(json.dumps(out, indent=1), file=sys.stderr)
