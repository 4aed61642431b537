"""Issue 24's serve goals, measured and recorded (a benchmark run, not a test). Run each phase under the lock:

  flock /tmp/edgebert-measure.lock python benchmarks/serve_goals.py load BUNDLE --out DIR [--rounds 3]
  flock /tmp/edgebert-measure.lock python benchmarks/serve_goals.py soak BUNDLE --out DIR --rate R [--minutes 10]
  python benchmarks/serve_goals.py summary DIR

`load`, interleaved per round: the bundle's best offline throughput on the same cores (fresh process per mode: one
text per run at 2 intra-op threads; 2 threads x 1 intra-op thread sharing one session; length-sorted batches of 8),
then the served throughput at closed-loop concurrency 1/4/16/32/64 (`edgebert serve` defaults: 2 model threads x 1
intra-op thread; this file's own asyncio client, as `bench --serve` drives it, plus wrk at c32 when installed).
After the rounds: per-request overhead at concurrency 1 (one fixed text: served p50 - model-only p50, and the
server's own request - inference time), and open-loop Poisson load at half of saturation (p99 vs the model-only
p50/p99 over the same texts). `soak`: open-loop at RATE for MINUTES, RSS sampled every 5 s from /metrics.
Every offline figure includes tokenizing and pooling (what a served text costs besides HTTP).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

FIXED = "Return the value of the least significant bit of the float x."  # 16 tokens: a typical short request
LEVELS = (1, 4, 16, 32, 64)


def _texts() -> list[str]:
    from edgebert.bench.texts import default_texts

    return default_texts()


def offline_worker(bundle: str, mode: str, seconds: float) -> dict:
    """One schedule in this (fresh) process: texts/s with tokenize + run + pool; model-only per-text times too."""
    import edgebert
    from edgebert.serve.model import answers

    kind, *args = mode.split(":")
    threads = 1 if kind in ("threads", "model") else int(args[-1])
    p = edgebert.load(bundle, threads=threads)
    tok = p.tokenizer
    names = p.bundle.input_names

    def feed(rows: list[list[int]]) -> tuple[dict, np.ndarray]:
        width = max(map(len, rows))
        ids, mask = np.zeros((len(rows), width), np.int64), np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        full = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {k: v for k, v in full.items() if k in names}, mask

    def answer(texts: list[str]) -> None:
        rows = [tok.encode(t).ids for t in texts] if len(texts) == 1 else \
            [e.ids[:sum(e.attention_mask)] for e in tok.encode_batch(texts)]
        f, mask = feed(rows)
        answers(p, np.asarray(p.runner.run(f), np.float64), {**f, "attention_mask": mask})

    texts = _texts()
    if kind == "model":  # model-only time per text (the run alone), intra 1 as the server runs it
        fixed_feed = feed([tok.encode(FIXED).ids])[0]
        feeds = [feed([tok.encode(t).ids])[0] for t in texts]
        for f in feeds[:10]:
            p.runner.run(f)
        per_text, fixed = [], []
        for _ in range(3):
            for f in feeds:
                t0 = time.perf_counter_ns(); p.runner.run(f); per_text.append((time.perf_counter_ns() - t0) / 1e6)
        for _ in range(300):
            t0 = time.perf_counter_ns(); p.runner.run(fixed_feed); fixed.append((time.perf_counter_ns() - t0) / 1e6)
        q = np.percentile(per_text, [50, 90, 99])
        return {"model_p50_ms": q[0], "model_p90_ms": q[1], "model_p99_ms": q[2],
                "fixed_model_p50_ms": statistics.median(fixed)}

    def one_pass() -> None:
        if kind == "alone":
            for t in texts:
                answer([t])
        elif kind == "threads":
            n = int(args[0])
            workers = [threading.Thread(target=lambda k=k: [answer([t]) for t in texts[k::n]]) for k in range(n)]
            [w.start() for w in workers]
            [w.join() for w in workers]
        else:  # sorted:B:T
            ordered, b = sorted(texts, key=len), int(args[0])
            for i in range(0, len(ordered), b):
                answer(ordered[i:i + b])

    one_pass()  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one_pass()
        done += len(texts)
    return {"texts_s": done / (time.perf_counter() - start)}


def offline(bundle: str, mode: str, seconds: float = 6.0) -> dict:
    out = subprocess.run([sys.executable, __file__, "offline-worker", bundle, mode, str(seconds)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def wrk(url: str, texts: list[str], connections: int, seconds: int, workdir: Path) -> dict | None:
    """wrk's view of the same load (C client: its own cost per request is ~10x below Python's)."""
    import shutil

    if not shutil.which("wrk"):
        return None
    import random

    texts = list(texts)
    random.Random(0).shuffle(texts)  # the sample is sorted by length: every stretch of the run gets the same mix
    script = workdir / "texts.lua"
    bodies = ",".join(json.dumps(json.dumps({"texts": [t]})) for t in texts)
    script.write_text(f"bodies = {{{bodies}}}\ncounter = 0\n"
                      "function setup(t) t:set('id', counter); counter = counter + 1 end\n"
                      "function init(a) i = id * 37 end\n"
                      "request = function() i = i + 1\n"
                      "  return wrk.format('POST', '/predict', {['Content-Type'] = 'application/json'}, "
                      "bodies[(i % #bodies) + 1]) end\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s",
                          str(script), url + "/predict"], capture_output=True, text=True).stdout
    import re

    def ms(v: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    non2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"texts_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": ms(lat["50"]),
            "p99_ms": ms(lat["99"]), "non2xx": int(non2.group(1)) if non2 else 0}


def served(bundle: str, out: Path, seconds: float) -> dict:
    """Closed-loop levels through `edgebert serve` defaults; rows appended to out/rows.jsonl."""
    from edgebert.bench.load import Endpoint, drive, get_json, metric
    from edgebert.bench.rows import append_rows
    from edgebert.bench.serve_sweep import serve_row, started_server

    texts, found = _texts(), {}
    with started_server(Path(bundle), []) as url:
        endpoint = Endpoint.parse(url)
        info = get_json(endpoint, "/v1/models")
        for c in LEVELS:
            o = drive(endpoint, texts, c, seconds)
            hwm = metric(endpoint, "edgebert_process_peak_resident_memory_bytes")
            row = serve_row(info, o, c, 0, len(texts), "sample", peak_rss_mb=round(hwm / 1e6, 1))
            append_rows(out / "rows.jsonl", [row.to_dict()])
            found[f"c{c}"] = {"texts_s": o.throughput, "p50_ms": row.p50_ms, "p99_ms": row.p99_ms,
                              "errors": dict(o.errors)}
        found["wrk_c32"] = wrk(url, texts, 32, int(seconds), out)
    return found


def overhead(bundle: str, out: Path) -> dict:
    """Concurrency 1, one fixed text: client p50 (Python client and wrk) and the server's own split."""
    from edgebert.bench.load import Endpoint, drive, metric

    with_texts = [FIXED]
    found: dict = {}
    from edgebert.bench.serve_sweep import started_server

    with started_server(Path(bundle), []) as url:
        endpoint = Endpoint.parse(url)
        drive(endpoint, with_texts, 1, 2.0, 0.0)
        req0, inf0 = (metric(endpoint, f"edgebert_{n}_duration_seconds_sum") for n in ("request", "inference"))
        n0 = metric(endpoint, "edgebert_inference_duration_seconds_count")
        o = drive(endpoint, with_texts, 1, 10.0, 1.0)
        req1, inf1 = (metric(endpoint, f"edgebert_{n}_duration_seconds_sum") for n in ("request", "inference"))
        n1 = metric(endpoint, "edgebert_inference_duration_seconds_count")
        found["client_p50_ms"] = float(np.percentile(np.array(o.latencies_ns) / 1e6, 50))
        found["server_request_mean_ms"] = (req1 - req0) / (n1 - n0) * 1e3
        found["server_inference_mean_ms"] = (inf1 - inf0) / (n1 - n0) * 1e3
        found["wrk_c1"] = wrk(url, with_texts, 1, 10, out)
    return found


def half_load(bundle: str, rate: float, seconds: float) -> dict:
    from edgebert.bench.load import Endpoint, drive, drive_rate
    from edgebert.bench.serve_sweep import started_server

    texts = _texts()
    with started_server(Path(bundle), []) as url:
        endpoint = Endpoint.parse(url)
        drive(endpoint, texts, 4, 3.0, 0.0)  # warm
        o = drive_rate(endpoint, texts, rate, seconds)
    lat = np.array(o.latencies_ns) / 1e6
    return {"rate": rate, "texts_s": o.throughput, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "errors": dict(o.errors), "resent": o.resent}


def soak(bundle: str, rate: float, minutes: float, out: Path) -> dict:
    """Open loop at `rate` for `minutes`, one-minute slices; RSS from /metrics every 5 s."""
    from edgebert.bench.load import Endpoint, drive_rate, metric
    from edgebert.bench.serve_sweep import started_server

    texts, slices, rss = _texts(), [], []
    with started_server(Path(bundle), []) as url:
        endpoint = Endpoint.parse(url)
        stop = threading.Event()

        def sample() -> None:
            t0 = time.time()
            while not stop.wait(5.0):
                rss.append((round(time.time() - t0, 1), metric(endpoint, "process_resident_memory_bytes") / 1e6))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for minute in range(int(minutes)):
            o = drive_rate(endpoint, texts, rate, 60.0, seed=minute)
            lat = np.array(o.latencies_ns) / 1e6
            slices.append({"minute": minute + 1, "texts_s": o.throughput, "ok": len(lat), "errors": dict(o.errors),
                           "resent": o.resent, "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))})
            print(json.dumps(slices[-1]), flush=True)
        stop.set()
        sampler.join(10)
        cpu = metric(endpoint, "process_cpu_seconds_total")
    warm = [m for t, m in rss if t >= 60.0]  # after the first minute
    return {"rate": rate, "minutes": minutes, "slices": slices, "rss_mb": rss, "server_cpu_s": cpu,
            "errors": sum(sum(s["errors"].values()) for s in slices),
            "rss_after_warmup_mb": warm[0], "rss_end_mb": warm[-1], "rss_max_after_warmup_mb": max(warm),
            "rss_growth_pct": 100.0 * (warm[-1] / warm[0] - 1), "rss_max_growth_pct": 100.0 * (max(warm) / warm[0] - 1)}


def machine() -> dict:
    from edgebert.device_info import machine_fields

    return machine_fields()


def run_load(bundle: str, out: Path, rounds: int, seconds: float) -> None:
    modes = ["alone:2", "threads:2", "sorted:8:2"]
    result: dict = {"bundle": bundle, "machine": machine(), "rounds": []}
    for r in range(rounds):
        rnd = {"offline": {m: offline(bundle, m, seconds)["texts_s"] for m in modes},
               "served": served(bundle, out, seconds)}
        result["rounds"].append(rnd)
        print(json.dumps({"round": r, **rnd}), flush=True)
    result["model"] = offline(bundle, "model")
    result["overhead"] = overhead(bundle, out)
    sat = statistics.median(max(v["texts_s"] for k, v in rnd["served"].items() if k.startswith("c"))
                            for rnd in result["rounds"])
    result["saturation_texts_s"] = sat
    result["half"] = half_load(bundle, sat / 2, 30.0)
    name = Path(bundle).name
    (out / f"{name}-load.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("model", "overhead", "saturation_texts_s", "half")}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["load", "soak", "summary", "offline-worker"])
    ap.add_argument("target")
    ap.add_argument("extra", nargs="*")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=float)
    ap.add_argument("--minutes", type=float, default=10.0)
    a = ap.parse_args()
    if a.phase == "offline-worker":
        print(json.dumps(offline_worker(a.target, a.extra[0], float(a.extra[1]))))
        return
    if a.phase == "summary":
        sys.path.insert(0, str(Path(__file__).parent))
        from serve_summary import write_summary

        print(write_summary(Path(a.target)))
        return
    a.out.mkdir(parents=True, exist_ok=True)
    if a.phase == "load":
        run_load(a.target, a.out, a.rounds, a.seconds)
    else:
        result = {"bundle": a.target, "machine": machine(), **soak(a.target, a.rate, a.minutes, a.out)}
        (a.out / f"{Path(a.target).name}-soak.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k not in ("slices", "rss_mb")}, indent=1))


if __name__ == "__main__":
    main()
