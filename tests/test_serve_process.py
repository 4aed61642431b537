"""`edgebert serve` as its own process: runtime only (no torch), SIGTERM drains, two replicas behind nginx survive
losing one, and `bench --serve` writes rows the report draws."""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serve_helpers import Client

HEAVY = ("torch", "transformers", "tensorflow", "jax")
# The server process, reporting at exit which heavy modules it had loaded (tests/test_lean_imports.py's idea).
PROBE = ("import atexit, sys\n"
         f"atexit.register(lambda: print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr))\n"
         "from edgebert.cli import main\n"
         "main(sys.argv[1:])\n")


@pytest.fixture(scope="module")
def int8_encoder(tiny_encoder, tmp_path_factory) -> Path:
    import torch

    from edgebert.export import export

    out, threads = tmp_path_factory.mktemp("serve-proc") / "enc-int8", torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is as fast, and a busy machine does not stall it
    try:
        export(str(tiny_encoder), "onnx-int8", out)
    finally:
        torch.set_num_threads(threads)
    return out


class Proc:
    """A server process and what it wrote on stderr."""

    def __init__(self, args: list[str], stdout: object = subprocess.DEVNULL) -> None:
        self.p = subprocess.Popen([sys.executable, "-c", PROBE, "serve", *args], stdout=stdout,
                                  stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            self.p.kill()
            raise RuntimeError("server not ready: " + " | ".join(self.lines[-5:]))
        self.url = next(ln for ln in self.lines if "ready on" in ln).split("ready on ")[1].split()[0]

    def _read(self) -> None:
        for line in self.p.stderr:
            self.lines.append(line.rstrip())
            if "ready on http://" in line:
                self.ready.set()


def test_server_is_lean_binds_loopback_and_drains_on_sigterm(int8_encoder, tmp_path):
    log = open(tmp_path / "requests.log", "w")
    srv = Proc([str(int8_encoder), "--port", "0", "--workers", "1", "--max-queue", "100000"], stdout=log)
    assert srv.url.startswith("http://127.0.0.1:")
    c = Client(srv.url)
    texts = ["word " * 600 + str(i) for i in range(32)]  # cut to 512 tokens each: ~2 s of queued work here
    try:
        with cf.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(c.post, "/predict", {"texts": texts}) for _ in range(8)]
            deadline = time.monotonic() + 30
            while c.metric("edgebert_requests_in_flight") < 9:  # all 8 accepted (the /metrics request is the 9th)
                assert time.monotonic() < deadline, "the 8 requests never were in flight together"
                time.sleep(0.01)
            killed = time.time()
            srv.p.send_signal(signal.SIGTERM)
            replies = [f.result() for f in futures]
        code = srv.p.wait(60)
    finally:
        srv.p.kill()
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "requests.log").read_text().splitlines()]
    assert [(r.status, len(r.json["results"])) for r in replies] == [(200, 32)] * 8
    assert code == 0 and "edgebert serve: stopped (drained)" in srv.lines
    assert "HEAVY []" in srv.lines  # the server process never imported torch, transformers or TensorFlow
    assert sum(1 for r in lines if r["status"] == 200 and r["ts"] >= killed) >= 1  # answered after SIGTERM
    with pytest.raises(ConnectionRefusedError):
        c.get("/healthz")


def test_golden_failure_refuses_to_serve(int8_encoder, tmp_path):
    """A bundle whose golden check fails on this device never answers ready: exit 3, one line."""
    import numpy as np

    from edgebert.bundle import write_manifest

    bad = tmp_path / "bad"
    shutil.copytree(int8_encoder, bad)
    arrays = dict(np.load(bad / "golden.npz"))
    arrays["reference"] = arrays["reference"] + 1.0
    np.savez(bad / "golden.npz", **arrays)
    manifest = json.loads((bad / "manifest.json").read_text())
    write_manifest(bad, {k: v for k, v in manifest.items() if k not in ("files", "manifest_version")})
    done = subprocess.run([sys.executable, "-m", "edgebert.cli", "serve", str(bad), "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("error: bad: golden check fail on this device (")


NGINX_CONF = """daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    log_format upstreams '$status $upstream_addr $upstream_status';
    access_log {dir}/access.log upstreams;
    upstream edgebert {{
        server {a} max_fails=1 fail_timeout=10s;
        server {b} max_fails=1 fail_timeout=10s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://edgebert;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 http_429 non_idempotent;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _nginx(upstreams: list[str], tmp: Path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/test-deps.sh installs it)")
    port = _free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(dir=tmp, a=upstreams[0], b=upstreams[1], port=port))
    proc = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = Client(f"http://127.0.0.1:{port}")
    for _ in range(200):
        try:
            if client.get("/healthz").status == 200:
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield client
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop
        proc.wait(10)


def test_two_replicas_behind_nginx_lose_nothing_when_one_dies(int8_encoder, tmp_path):
    from edgebert.bench.load import Endpoint, drive

    replicas = [Proc([str(int8_encoder), "--port", "0", "--workers", "1", "--no-log-requests"]) for _ in range(2)]
    try:
        with _nginx([r.url[len("http://"):] for r in replicas], tmp_path) as front:
            texts = [f"request {i}: the quick brown fox jumps over the lazy dog" for i in range(50)]
            result: list = []
            load = threading.Thread(target=lambda: result.append(
                drive(Endpoint.parse(front.url + "/predict"), texts, 8, 2.5, warmup_s=0.0)))
            load.start()
            time.sleep(0.8)
            replicas[0].p.kill()  # SIGKILL under load: its in-flight requests die with it
            load.join(30)
            after = Client(replicas[1].url).metric("edgebert_requests_total", 'route="/predict",status="200"')
            log = (tmp_path / "access.log").read_text().splitlines()
    finally:
        for r in replicas:
            r.p.kill()
            r.p.wait(10)
    outcome = result[0]
    assert dict(outcome.errors) == {}  # in-flight requests were retried on the other replica (non_idempotent)
    assert len(outcome.latencies_ns) > 50 and after > 0
    assert all(line.startswith("200 ") for line in log)  # what nginx answered: every request 200
    retried = [line for line in log if ", " in line]  # "200 A, B 502, 200": tried on the dead replica, then the other
    assert retried and all(line.endswith(", 200") for line in retried)


def test_bench_serve_starts_a_server_and_the_report_draws_it(int8_encoder, tmp_path, capsys):
    from edgebert.bench.rows import read_rows
    from edgebert.bench.serve_sweep import serve_errors
    from tests.cli_helpers import run_cli

    out = tmp_path / "serve.jsonl"
    res = run_cli(capsys, "bench", "--serve", int8_encoder, "--concurrency", "1,4", "--min-seconds", "0.5",
                  "--slo-ms", "5000", "--out", out)
    assert res.code == 0, res.err
    rows = read_rows(out)
    manifest = json.loads((int8_encoder / "manifest.json").read_text())
    assert [(r.batch, r.seq_len, r.input, r.format, r.golden, serve_errors(r)) for r in rows] == [
        (1, 0, "serve:sample", "onnx-int8", "pass", 0), (4, 0, "serve:sample", "onnx-int8", "pass", 0)]
    assert all(r.model_sha256 == manifest["files"][manifest["model_file"]]["sha256"] for r in rows)
    assert all(r.runs > 0 and r.p50_ms <= r.p99_ms and r.throughput_seq_s > 0 and r.peak_rss_mb > 10 for r in rows)
    assert "Highest throughput with p99 <= 5000 ms and no errors: " in res.out
    rep = run_cli(capsys, "report", out, "--out", tmp_path / "rep")
    assert rep.code == 0, rep.err
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Served (`bench --serve`)" in text and (tmp_path / "rep" / "latency-throughput.png").is_file()
    assert sum(1 for line in text.splitlines() if "| onnx-int8 | sample |" in line) == 2
