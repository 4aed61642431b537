"""`edgebert bench --browser`: rows from onnxruntime-web in headless chromium, like any other rows (device "browser").

Each row launches a fresh browser (a fresh renderer process), loads the site with the backend forced (so the row's
golden check is that backend's), and times it in the page (assets/bench.mjs). Threads > 1 serve the site with
COOP/COEP so the page is crossOriginIsolated; 1 thread serves it plainly. Memory is the chromium processes' summed
VmHWM/VmRSS (an upper bound: their peaks need not coincide)."""
from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from edgebert import __version__
from edgebert.bench.rows import Row, append_rows
from edgebert.bench.stats import Latency, percentile
from edgebert.bench.sweep import SweepConfig
from edgebert.bench.targets import model_name
from edgebert.device_info import machine_fields
from edgebert.errors import UsageError, first_line
from edgebert.web.page import browser, evaluate, serve

PROBE = "return (globalThis.navigator?.gpu && await navigator.gpu.requestAdapter()) ? ['wasm', 'webgpu'] : ['wasm'];"
ROW = ("const t0 = performance.now(); const m = await edgebert.load(arg.url, arg.opts);"
       "const load_ms = performance.now() - t0; const b = await import(arg.url + 'bench.mjs');"
       "const t = arg.spec.texts ? await b.benchTexts(m, arg.spec) : await b.benchTensor(m, arg.spec);"
       "return {...t, load_ms, threads: m.threads, golden: m.choice.candidates[0].golden};")


def site_for(target: str, tmp: Path) -> Path:
    """A web folder as it is; an onnx / onnx-int8 bundle built into a site under `tmp` first."""
    path = Path(target)
    manifest = path / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("edgebert_web"):
        return path
    from edgebert.web import build_site

    site = tmp / f"site-{len(list(tmp.iterdir()))}"
    build_site([path], site)
    return site


def _chromium_kb(field: str) -> float:
    """`field` (VmHWM or VmRSS) summed over this process's chromium descendants, in MB."""
    import psutil

    total = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" not in proc.name():
                continue
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except (psutil.Error, OSError):
            continue
    return total / 1e3


def _rows(site: Path, cfg: SweepConfig, backends: list[str]) -> Iterator[tuple[str, str, int, int, int]]:
    variants = json.loads((site / "manifest.json").read_text())["variants"]
    grid = [(1, 0)] if cfg.texts else [(b, s) for b in cfg.batches for s in cfg.seq_lens]
    for repeat in range(cfg.repeats):
        for batch, seq in grid:
            for precision in variants:
                for backend in backends:
                    yield precision, backend, batch, seq, repeat


def _row_base(site: Path, precision: str, backend: str, version: str, cfg: SweepConfig) -> Row:
    m = json.loads((site / "manifest.json").read_text())
    v = m["variants"][precision]
    src = m.get("source") or {}
    label = f"{cfg.device_label or version} · {backend}"  # one device per backend in reports
    return Row(model=model_name(src.get("spec") or site.name), model_sha256=m["files"][v["file"]]["sha256"],
               weights="random" if src.get("kind") == "random" else "real", format=v["source_format"],
               runtime=f"onnxruntime-web/{backend}", runtime_version=m["runtime"]["version"], device="browser",
               threads=1, batch=1, seq_len=0, repeat=0, status="failed", reason="not measured",
               device_label=label, file_mb=round(m["files"][v["file"]]["bytes"] / 1e6, 3),
               parameters=m.get("parameters"), edgebert_version=__version__, app_sdk="onnxruntime-web (edgebert web)",
               bundle=site.resolve().name,
               **{k: val for k, val in machine_fields().items() if k in Row.__dataclass_fields__})


def measure_row(site: Path, precision: str, backend: str, batch: int, seq: int, repeat: int,
                cfg: SweepConfig) -> Row:
    """One row in a fresh browser; load_ms is load() in the page: fetch, sha256, golden check, backend timing."""
    with browser() as b:
        base = replace(_row_base(site, precision, backend, f"chromium {b.version}", cfg), batch=batch, seq_len=seq,
                       repeat=repeat, input=f"texts:{cfg.texts_name}" if cfg.texts else "tensor")
        with serve(site, isolated=cfg.threads > 1) as url:
            spec = {"batch": batch, "seq": seq, "warmup": cfg.warmup, "minRuns": cfg.min_runs,
                    "minSeconds": cfg.min_seconds, "texts": cfg.texts}
            opts = {"backend": backend, "precision": precision, "threads": cfg.threads}
            before = _chromium_kb("VmRSS")
            try:
                got = evaluate(b, url, ROW, {"url": url, "opts": opts, "spec": spec}, cfg.timeout_s * 1e3)
            except Exception as err:  # noqa: BLE001 - a refused load or a crashed page is a failed row
                return replace(base, reason=first_line(err), golden="fail" if "golden" in str(err) else "error")
            peak = _chromium_kb("VmHWM")
    lat = Latency.from_ns([int(ms * 1e6) for ms in got["ms"]])
    g = got["golden"]
    row = replace(base, status="ok", reason="", threads=got["threads"], golden="pass", golden_max_abs=g["max_abs"],
                  golden_mean_cosine=g["mean_cosine"], golden_agreement=g.get("agreement"),
                  load_ms=round(got["load_ms"], 1), warmup=cfg.warmup,
                  rss_before_mb=round(before, 1), peak_rss_mb=round(peak, 1), model_rss_mb=round(peak - before, 1),
                  **lat.to_fields(batch))
    if cfg.texts:
        model, tokens = Latency.from_ns([int(ms * 1e6) for ms in got["model_ms"]]), sorted(got["tokens"])
        row = replace(row, texts=len(cfg.texts), model_p50_ms=round(model.p50_ms, 4),
                      model_p90_ms=round(model.p90_ms, 4), tokens_p50=percentile(tokens, 50),
                      tokens_p90=percentile(tokens, 90), padded_tokens_p50=percentile(tokens, 50),
                      padded_tokens_p90=percentile(tokens, 90), tokens=sum(tokens), padding_tokens=0)
    return row


def browser_sweep(targets: list[str], cfg: SweepConfig, out: Path, log: Any = None) -> list[Row]:
    """Every (precision, backend the browser has, shape, repeat) of every target; rows appended to `out`."""
    if not targets:
        raise UsageError("--browser takes web folders (edgebert web) or onnx / onnx-int8 bundles as TARGETs")
    written = []
    with tempfile.TemporaryDirectory(prefix="edgebert-web-bench-") as tmp:
        sites = [site_for(t, Path(tmp)) for t in targets]
        with browser() as b, serve(sites[0]) as url:
            backends = evaluate(b, url, PROBE)
        for site in sites:
            for precision, backend, batch, seq, repeat in _rows(site, cfg, backends):
                if log:
                    log(f"{site.name} {precision} {backend} b{batch} s{seq} r{repeat}")
                row = measure_row(site, precision, backend, batch, seq, repeat, cfg)
                append_rows(out, [row.to_dict()])
                written.append(row)
    return written
