"""`edgebert web` in a real browser (Debian's chromium via Playwright) and in transformers.js (Node): the JS
tokenizer against `tokenizers`, selfTest, predict against PyTorch, refusal of corrupt/missing files and bad input,
WASM without and with cross-origin isolation (threads), and the folder as a transformers.js local model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import run_cli
from tests.web_helpers import CHROMIUM, browser, evaluate, serve

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
TEXTS = ["The movie was an absolute delight.", "Café Zürich's crème brûlée — naïve, but GREAT!!!", "",
         "我喜欢这部电影", "emoji 😀 and a\u200bzero width", "word " * 80]


def _need(tool: str) -> None:
    if not (shutil.which(tool) or Path(tool).exists()):
        pytest.skip(f"{tool} is not installed (scripts/test-deps.sh installs it)")
    if tool == "node" and not (WEB / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("web/node_modules is missing (scripts/test-deps.sh runs `npm ci --ignore-scripts` in web/)")


def _export(model: Path, root: Path, fmt: str) -> Path:
    from edgebert.export import export

    export(str(model), fmt, root / fmt)
    return root / fmt


@pytest.fixture(scope="module")
def sites(tiny_encoder, tiny_bert, tmp_path_factory) -> dict[str, Path]:
    """An encoder site (fp32 + int8) and a classifier site (fp32 + int8), built through the CLI's core."""
    _need("node")
    from edgebert.web import build_site

    root = tmp_path_factory.mktemp("web")
    enc = [_export(tiny_encoder, root / "enc", f) for f in ("onnx", "onnx-int8")]
    cls = [_export(tiny_bert, root / "cls", f) for f in ("onnx", "onnx-int8")]
    build_site(enc, root / "site-enc")
    build_site(cls, root / "site-cls")
    return {"encoder": root / "site-enc", "classifier": root / "site-cls", "enc-onnx": enc[0], "enc-int8": enc[1],
            "cls-onnx": cls[0]}


@pytest.fixture(scope="module")
def chrome():
    _need(CHROMIUM)
    with browser() as b:
        yield b


def torch_answers(model_dir: Path, texts: list[str], task: str, max_length: int) -> np.ndarray:
    """PyTorch itself: mean-pooled L2-normalised embeddings, or softmax probabilities."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = (AutoModelForSequenceClassification if task == "classification" else AutoModel).from_pretrained(model_dir)
    rows = []
    with torch.inference_mode():
        for text in texts:
            enc = tok(text, return_tensors="pt", truncation=True, max_length=max_length)
            out = model(**enc)
            if task == "classification":
                rows.append(torch.softmax(out.logits[0], -1).numpy())
            else:
                vec = out.last_hidden_state[0].mean(0)
                rows.append((vec / vec.norm()).numpy())
    return np.array(rows, np.float64)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def assert_int8(web: np.ndarray, native_bundle: Path, ref: np.ndarray) -> None:
    """INT8 against PyTorch by the lossy gate the bundle passed at export (mean cosine >= 0.99, every sample >= 0.98:
    real MiniLM's empty text sits at 0.9815 natively too), and against native onnxruntime on the same file."""
    from edgebert.runtime import load

    cos = cosines(web, ref)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, cos
    assert cosines(web, _vectors(load(native_bundle).predict(TEXTS))).min() >= 0.9999


def _vectors(results: list[dict]) -> np.ndarray:
    return np.array([r["embedding"] if "embedding" in r else list(r["scores"].values()) for r in results])


PREDICT = ("const m = await edgebert.load(arg.url, {precision: arg.precision}); const r = await m.predict(arg.texts); "
           "return {results: r, backend: m.backend, threads: m.threads, choice: m.choice, "
           "iso: globalThis.crossOriginIsolated};")


def test_js_tokenizer_matches_python_tokenizers(sites, minilm):
    """Hostile text (controls, zero-width, accents, CJK, emoji, 3000-char words), pairs of specials, final sigma."""
    from tokenizers import Tokenizer

    from edgebert import golden, hostile

    texts = [t for _, _, t in hostile.BASE + hostile.HOLDOUT] + golden.GOLDEN_TEXTS + TEXTS + [
        "[CLS] hi [SEP] x[MASK]y", "ΣΑΣ ὈΔΥΣΣΕΎΣ", "İstanbul", "$5+3<=>^`|~", "a" * 101, "x" * 5000]
    js = ("import { WordPieceTokenizer } from " + json.dumps((REPO / "edgebert/web/assets/tokenizer.mjs").as_uri()) +
          "; import { readFileSync } from 'node:fs';"
          "const t = new WordPieceTokenizer(JSON.parse(readFileSync(process.argv[1], 'utf8')));"
          "process.stdout.write(JSON.stringify(JSON.parse(readFileSync(0, 'utf8')).map((x) => t.encode(x, 128))));")
    for tj in (sites["encoder"] / "tokenizer.json", minilm / "tokenizer.json"):
        tok = Tokenizer.from_file(str(tj))
        tok.no_padding()
        tok.enable_truncation(max_length=128)
        got = json.loads(subprocess.run(["node", "--input-type=module", "-e", js, str(tj)], input=json.dumps(texts),
                                        capture_output=True, text=True, check=True).stdout)
        wrong = [t for t, g in zip(texts, got) if tok.encode(t).ids != g]
        assert len(got) == len(texts) and wrong == [], wrong[:3]


@pytest.mark.parametrize("isolated", [False, True], ids=["single-thread", "isolated-threads"])
def test_encoder_page_self_tests_and_matches_pytorch(sites, chrome, tiny_encoder, isolated):
    manifest = json.loads((sites["encoder"] / "manifest.json").read_text())
    ref = torch_answers(tiny_encoder, TEXTS, "encoder", manifest["max_length"])
    with serve(sites["encoder"], isolated=isolated) as url:
        fp32 = evaluate(chrome, url, PREDICT, {"url": url, "precision": "fp32", "texts": TEXTS})
        int8 = evaluate(chrome, url, PREDICT, {"url": url, "precision": "int8", "texts": TEXTS})
        st = evaluate(chrome, url, "const m = await edgebert.load(arg); return await m.selfTest();", url)
    assert fp32["iso"] is isolated and fp32["backend"] == "wasm"
    assert fp32["threads"] == (min(4, os.cpu_count() or 1) if isolated else 1)
    assert cosines(_vectors(fp32["results"]), ref).min() >= 0.9999
    assert_int8(_vectors(int8["results"]), sites["enc-int8"], ref)
    wasm = fp32["choice"]["candidates"][0]
    assert wasm["backend"] == "wasm" and wasm["status"] == "pass" and wasm["p50_ms"] > 0
    assert wasm["golden"]["max_abs"] <= 1e-4 and "wasm pass p50" in fp32["choice"]["why"]
    assert st["passed"] is True and len(st["files"]) == len(manifest["files"])
    assert {(c["precision"], c["backend"]) for c in st["checks"]} >= {("fp32", "wasm"), ("int8", "wasm")}


def test_classifier_page_matches_pytorch(sites, chrome, tiny_bert):
    manifest = json.loads((sites["classifier"] / "manifest.json").read_text())
    ref = torch_answers(tiny_bert, TEXTS, "classification", manifest["max_length"])
    with serve(sites["classifier"]) as url:
        fp32 = evaluate(chrome, url, PREDICT, {"url": url, "precision": "fp32", "texts": TEXTS})
    probs = _vectors(fp32["results"])
    assert np.abs(probs - ref).max() <= 1e-4
    assert [r["label"] for r in fp32["results"]] == [manifest["labels"][i] for i in ref.argmax(-1)]


def test_corrupt_or_missing_file_and_bad_text_are_refused(sites, chrome, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(sites["encoder"], site)
    model = site / "onnx" / "model_quantized.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    load = ("try { const m = await edgebert.load(arg.url, arg.opts); "
            "if (arg.texts) await m.predict(arg.texts); return 'loaded'; } catch (e) { return String(e.message); }")
    with serve(site) as url:
        corrupt = evaluate(chrome, url, load, {"url": url, "opts": {}})
        fine = evaluate(chrome, url, load, {"url": url, "opts": {"precision": "fp32"}})
        bad_text = evaluate(chrome, url, load, {"url": url, "opts": {"precision": "fp32"}, "texts": ["ok", 42]})
        bad_backend = evaluate(chrome, url, load, {"url": url, "opts": {"backend": "cuda"}})
        (site / "tokenizer.json").unlink()
        missing = evaluate(chrome, url, load, {"url": url, "opts": {"precision": "fp32"}})
    assert corrupt == "onnx/model_quantized.onnx does not match the sha256 in manifest.json (corrupt or modified); refused"
    assert fine == "loaded"  # the fp32 file is intact: only what is used must be whole
    assert bad_text == "predict(): text 1 is number, not a string"
    assert bad_backend == "unknown backend 'cuda'. Valid: wasm, webgpu"
    assert missing == "tokenizer.json is missing (HTTP 404)"


def test_demo_page_loads_and_predicts(sites, chrome):
    with serve(sites["classifier"], isolated=True) as url:
        page = chrome.new_page()
        try:
            page.goto(url + "index.html?backend=wasm")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('Ready')", timeout=60_000)
            status = page.text_content("#status")
            page.click("#predict")
            page.wait_for_function("document.getElementById('out').textContent.length > 0")
            shown = json.loads(page.text_content("#out"))
        finally:
            page.close()
    assert status.startswith("Ready: int8 on wasm, ") and "crossOriginIsolated: true" in status and "p50" in status
    assert [r["label"] in ("LABEL_0", "LABEL_1") for r in shown] == [True, True]


def test_web_cli_refuses_bad_bundles_and_writes_nothing(sites, tmp_path, capsys):
    no_tok, fp16 = tmp_path / "no-tok", tmp_path / "fp16"
    for dest in (no_tok, fp16):
        shutil.copytree(sites["enc-onnx"], dest)
    m = json.loads((no_tok / "manifest.json").read_text())
    (no_tok / "tokenizer.json").unlink()
    del m["files"]["tokenizer.json"], m["tokenizer_file"]
    (no_tok / "manifest.json").write_text(json.dumps(m))
    m = json.loads((fp16 / "manifest.json").read_text())
    (fp16 / "manifest.json").write_text(json.dumps({**m, "format": "onnx-fp16"}))
    for bundle, message in ((no_tok, "has no tokenizer.json"), (fp16, "Format 'onnx-fp16' is not supported for web")):
        r = run_cli(capsys, "web", bundle, "--out", tmp_path / "site")
        assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fp16", "no-tok"]  # no site, no partial folder
    r = run_cli(capsys, "web", sites["enc-onnx"], "--out", tmp_path / "site")
    assert r.code == 0 and "Wrote" in r.out
    assert json.loads((tmp_path / "site" / "manifest.json").read_text())["variants"]["fp32"]["file"] == "onnx/model.onnx"


def _tjs(site: Path, task: str, dtype: str, texts: list[str]) -> list:
    proc = subprocess.run(["node", str(WEB / "tjs-predict.mjs"), str(site), task, dtype], input=json.dumps(texts),
                          capture_output=True, text=True, cwd=WEB, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_transformers_js_gives_edgebert_predicts_answers(sites):
    from edgebert.runtime import load

    enc = _tjs(sites["encoder"], "feature-extraction", "fp32", TEXTS)
    ours = [r["embedding"] for r in load(sites["enc-onnx"]).predict(TEXTS)]
    assert cosines(np.array(enc), np.array(ours)).min() >= 0.9999
    cls = _tjs(sites["classifier"], "text-classification", "fp32", TEXTS)
    ours = load(sites["cls-onnx"]).predict(TEXTS)
    for got, want in zip(cls, ours):
        assert {d["label"]: round(d["score"], 4) for d in got} == {k: round(v, 4) for k, v in want["scores"].items()}


@pytest.mark.slow
def test_real_minilm_in_the_browser_and_in_transformers_js(minilm, chrome, tmp_path):
    """Real all-MiniLM-L6-v2: its sentence head (mean, normalised, 256 tokens) in the page and in transformers.js."""
    _need("node")
    from edgebert.runtime import load
    from edgebert.web import build_site

    bundles = [_export(minilm, tmp_path, f) for f in ("onnx", "onnx-int8")]
    site = tmp_path / "minilm"
    manifest = build_site(bundles, site)
    assert manifest["pooling"]["modes"] == ["mean"] and manifest["max_length"] == 256
    ref = torch_answers(minilm, TEXTS, "encoder", manifest["max_length"])
    with serve(site, isolated=True) as url:
        fp32 = evaluate(chrome, url, PREDICT, {"url": url, "precision": "fp32", "texts": TEXTS}, timeout_ms=180_000)
        int8 = evaluate(chrome, url, PREDICT, {"url": url, "precision": "int8", "texts": TEXTS}, timeout_ms=180_000)
        st = evaluate(chrome, url, "const m = await edgebert.load(arg); return await m.selfTest();", url, 180_000)
    assert cosines(_vectors(fp32["results"]), ref).min() >= 0.9999
    assert_int8(_vectors(int8["results"]), bundles[1], ref)
    assert st["passed"] is True, [c for c in st["checks"] if not c["passed"]]
    tjs = np.array(_tjs(site, "feature-extraction", "fp32", TEXTS))
    assert cosines(tjs, np.array([r["embedding"] for r in load(bundles[0]).predict(TEXTS)])).min() >= 0.9999
    tjs8 = np.array(_tjs(site, "feature-extraction", "q8", TEXTS))
    assert cosines(tjs8, np.array([r["embedding"] for r in load(bundles[1]).predict(TEXTS)])).min() >= 0.9999


def test_bench_browser_writes_rows_like_any_other(sites, tmp_path):
    """An ONNX bundle as TARGET: built into a site, measured in a fresh chromium per row, golden-checked first. In a
    child process: Playwright's sync API refuses to start inside this module's running browser (`chrome`)."""
    _need(CHROMIUM)
    from edgebert.bench.rows import read_rows
    from edgebert.bundle import Bundle

    texts = tmp_path / "texts.txt"
    texts.write_text("A short one.\nCafé Zürich's crème brûlée was naïve — but GREAT!\n")
    dest, quick = tmp_path / "rows.jsonl", ("--runs", "3", "--min-seconds", "0", "--warmup", "1", "--threads", "1")
    for args in (("--seq", "8"), ("--texts", str(texts))):
        proc = subprocess.run([sys.executable, "-m", "edgebert.cli", "bench", str(sites["enc-int8"]), "--browser", *args,
                               *quick, "--out", str(dest)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr[-2000:]
    tensor, text = read_rows(dest)
    for row in (tensor, text):
        assert (row.status, row.device, row.runtime, row.format, row.threads) == ("ok", "browser",
                                                                                  "onnxruntime-web/wasm", "onnx-int8", 1)
        assert row.golden == "pass" and row.golden_mean_cosine >= 0.99
        assert row.model_sha256 == Bundle.open(sites["enc-int8"]).model_sha256  # the same file as native rows
        assert row.min_ms <= row.p50_ms <= row.p90_ms and row.peak_rss_mb > 0
    assert (tensor.batch, tensor.seq_len, tensor.input, tensor.runs >= 3) == (1, 8, "tensor", True)
    assert (text.input, text.texts, text.tokens, text.runs) == ("texts:texts.txt", 2, 6 + 17, 2)  # each text once
