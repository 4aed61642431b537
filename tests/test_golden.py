"""Self-verifying bundles: the golden set every bundle carries, `edgebert verify`, and the bundle's boundary."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgebert.bundle import write_manifest
from edgebert.runner import Runner
from edgebert.formats import FORMATS, installed
from tests.cli_helpers import run_cli
from tests.conftest import read_manifest


def _one_line(res) -> str:
    """The one error line (bench's progress bar shares stderr)."""
    lines = [ln for ln in res.err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    return lines[0]


def _rewrite_manifest(bundle: Path, **changes) -> None:
    """Rewrite manifest.json with fresh checksums (as a careful tamperer would)."""
    m = {k: v for k, v in read_manifest(bundle).items() if k not in ("files", "manifest_version")}
    write_manifest(bundle, {**m, **changes})


@pytest.fixture()
def copy(tiny_onnx, tmp_path):
    dest = tmp_path / "bundle"
    shutil.copytree(tiny_onnx, dest)
    return dest


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f not in ("onnx",)])
def test_golden_round_trip_every_installed_format(capsys, fmt, tiny_distilbert, tmp_path):
    spec = FORMATS[fmt]
    if not installed(spec):
        pytest.skip(f"{fmt} exporter not installed")
    out = tmp_path / fmt
    res = run_cli(capsys, "export", tiny_distilbert, "--format", fmt, "--out", out)
    assert res.code == 0, res.err
    _check_golden(capsys, out)


def test_golden_round_trip_onnx(capsys, tiny_onnx):
    _check_golden(capsys, tiny_onnx)


def _check_golden(capsys, bundle: Path) -> None:
    m = read_manifest(bundle)
    g = m["golden"]
    assert g["file"] == "golden.npz" and g["file"] in m["files"]
    assert (bundle / "golden.npz").stat().st_size < 1_000_000
    assert g["samples"] == 6 and len(g["texts"]) == 6 and "Café Zürich" in g["texts"][-1]
    assert g["gate"]["lossy"] == m["lossy"] and g["gate"]["atol"] == 1e-4
    # static shapes: each golden text is checked at every bucket it fits, not only its smallest
    buckets = m["shapes"]["seq_lens"] if (m.get("shapes") or {}).get("static") else []
    checks = sum(sum(1 for b in buckets if b >= n) for n in g["lengths"]) if buckets else 6
    assert g["at_export"]["samples"] == checks
    with np.load(bundle / "golden.npz", allow_pickle=False) as data:
        assert list(data["lengths"]) == g["lengths"] and data["reference"].dtype == np.float32
    res = run_cli(capsys, "verify", bundle, "--json")
    assert res.code == 0, res.err
    (row,) = json.loads(res.out)
    assert row["status"] == "pass" and row["samples"] == checks
    assert row["gate"].startswith("mean_cosine >= 0.99" if m["lossy"] else "max_abs <= 0.0001")
    # the same runtime, machine and threads compute the same numbers: verify's max_abs equalled the one recorded
    # at export for all 18 formats (3 verifies each, 2026-11-30); 1e-6 (1% of the gate's atol) admits a last-bit
    # difference should a runtime schedule its threads differently
    assert row["max_abs"] == pytest.approx(g["at_export"]["max_abs"], rel=0, abs=1e-6)


def test_verify_table_and_exit_code(capsys, tiny_onnx, copy):
    res = run_cli(capsys, "verify", tiny_onnx, copy)
    assert res.code == 0, res.err
    assert res.out.count("PASS") == 2 and "max_abs <= 0.0001" in res.out


def test_verify_fails_on_a_changed_model_file(capsys, tiny_onnx, copy):
    with open(copy / "model.onnx", "r+b") as fh:
        fh.seek(200)
        b = fh.read(1)
        fh.seek(200)
        fh.write(bytes([b[0] ^ 0x01]))
    res = run_cli(capsys, "verify", tiny_onnx, copy)
    assert res.code == 1
    line = _one_line(res)
    assert line.startswith("error: 1 of 2 bundles failed verification") and "does not match the sha256" in line
    assert "PASS" in res.out and "ERROR" in res.out


def test_verify_fails_when_the_golden_checksum_differs(capsys, copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["files"]["golden.npz"]["sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(m))
    res = run_cli(capsys, "verify", copy)
    assert res.code == 1 and "golden.npz' does not match the sha256" in _one_line(res)


def test_verify_fails_when_golden_file_is_missing(capsys, copy):
    (copy / "golden.npz").unlink()
    res = run_cli(capsys, "verify", copy)
    assert res.code == 1 and "golden.npz' is missing" in _one_line(res)


def test_verify_fails_on_altered_reference_with_consistent_checksums(capsys, copy):
    """Tamper the golden reference and re-checksum the manifest: the outputs no longer agree -> FAIL, exit 3."""
    with np.load(copy / "golden.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["reference"] = arrays["reference"] + 0.5
    np.savez(copy / "golden.npz", **arrays)
    _rewrite_manifest(copy)
    res = run_cli(capsys, "verify", copy, "--json")
    assert res.code == 3
    (row,) = json.loads(res.out)
    assert row["status"] == "fail" and "exceeds --atol 0.0001" in row["reason"]
    assert row["max_abs"] == pytest.approx(0.5, abs=1e-3)


class _WrongRunner(Runner):
    """A runtime that returns wrong numbers: the real runner's output plus an offset."""

    def __init__(self, inner, offset: float) -> None:
        self.inner, self.offset = inner, offset
        self.runtime, self.runtime_version, self.device = inner.runtime, inner.runtime_version, inner.device
        self.input_names = inner.input_names

    def run(self, feed):
        return self.inner.run(feed) + self.offset


def test_verify_fails_on_a_runtime_that_returns_wrong_numbers(capsys, monkeypatch, copy):
    import edgebert.formats.onnx as onnx_fmt

    real = onnx_fmt.load
    monkeypatch.setattr(onnx_fmt, "load", lambda b, d="cpu", t=None: _WrongRunner(real(b, d, t), 1e-3))
    res = run_cli(capsys, "verify", copy, "--json")
    (row,) = json.loads(res.out)
    assert res.code == 3 and row["status"] == "fail"
    assert row["max_abs"] == pytest.approx(1e-3, rel=1e-3) and "exceeds --atol 0.0001" in row["reason"]
    assert "1 of 1 bundles failed verification" in _one_line(res)


def test_lossy_gate_on_device_uses_the_recorded_cosine(tiny_onnx, tmp_path):
    """A lossy bundle's golden check applies mean cosine, as recorded: a small error passes, a big one fails."""
    from edgebert.bundle import Bundle
    from edgebert.golden import check
    from edgebert.runtime import load

    dest = tmp_path / "lossy"
    shutil.copytree(tiny_onnx, dest)
    m = read_manifest(dest)
    _rewrite_manifest(dest, golden={**m["golden"], "gate": {**m["golden"]["gate"], "lossy": True,
                                                             "use_agreement": False}})
    bundle = Bundle.open(dest)
    runner = load(dest).runner
    assert check(bundle, _WrongRunner(runner, 1e-3)).status == "pass"  # tiny logits shift: cosine ~1
    rng = np.random.default_rng(0)

    class Noisy(_WrongRunner):
        def run(self, feed):
            out = self.inner.run(feed)
            return rng.normal(size=out.shape).astype(np.float32)

    result = check(bundle, Noisy(runner, 0))
    assert result.status == "fail" and "mean cosine" in result.reason


def test_bundle_from_a_newer_manifest_version_is_refused(capsys, copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["manifest_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(m))
    for cmd in (("verify", copy), ("predict", copy, "hi")):
        res = run_cli(capsys, *cmd)
        assert res.code == 1 and "written by a newer edgebert (manifest version 99" in res.err


def test_bundle_without_golden_set_cannot_pass_verify(capsys, copy):
    m = {k: v for k, v in read_manifest(copy).items() if k not in ("files", "manifest_version", "golden")}
    (copy / "golden.npz").unlink()
    write_manifest(copy, m)
    res = run_cli(capsys, "verify", copy)
    assert res.code == 1 and "has no golden set" in res.err
    assert run_cli(capsys, "predict", copy, "hi").code == 0  # still usable, just not self-checking


@pytest.mark.parametrize("field,value,message", [
    ("model_file", "/etc/hostname", "names a file outside the bundle ('/etc/hostname')"),
    ("model_file", "../outside.onnx", "names a file outside the bundle ('../outside.onnx')"),
    ("model_file", "other.onnx", "model_file 'other.onnx' is not one of the bundle's checksummed files"),
    ("tokenizer_file", "../../tok.json", "names a file outside the bundle ('../../tok.json')"),
])
def test_manifest_names_stay_inside_the_bundle(capsys, copy, field, value, message):
    shutil.copy(copy / "model.onnx", copy.parent / "outside.onnx")
    shutil.copy(copy / "model.onnx", copy / "other.onnx")
    m = json.loads((copy / "manifest.json").read_text())
    m[field] = value
    (copy / "manifest.json").write_text(json.dumps(m))
    for cmd in (("predict", copy, "hi"), ("verify", copy)):
        res = run_cli(capsys, *cmd)
        assert res.code == 1 and message in res.err, res.err


def test_files_listing_a_parent_path_is_refused(capsys, copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["files"]["../model.onnx"] = m["files"].pop("model.onnx")
    m["model_file"] = "../model.onnx"
    (copy / "manifest.json").write_text(json.dumps(m))
    res = run_cli(capsys, "predict", copy, "hi")
    assert res.code == 1 and "names a file outside the bundle ('../model.onnx')" in _one_line(res)


def test_a_link_leading_out_of_the_bundle_is_refused(capsys, copy, tmp_path):
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(copy / "model.onnx", outside)
    os.symlink(outside, copy / "model.onnx")
    res = run_cli(capsys, "predict", copy, "hi")
    assert res.code == 1 and "links outside the bundle; refused" in _one_line(res)


def _speed_flags_in_cpuinfo() -> list[str]:
    """The speed-deciding flags /proc/cpuinfo lists, read here without edgebert's parser (x86 'flags', ARM
    'Features'), in the order rows record them."""
    known = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8",
             "asimddp", "i8mm", "bf16", "sve", "sve2"]
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    line = next((ln for ln in text.splitlines() if ln.split(":")[0].strip().lower() in ("flags", "features")), ":")
    return [f for f in known if f in line.split(":", 1)[1].split()]


def test_bench_row_records_golden_check_and_device(capsys, tiny_onnx, tmp_path):
    import platform

    from edgebert.bench.rows import read_rows

    out = tmp_path / "r.jsonl"
    res = run_cli(capsys, "bench", tiny_onnx, "--runs", "3", "--min-seconds", "0", "--warmup", "1", "--seq", "16",
                  "--threads", "1", "--out", out, "--device-label", "Lab box (x86) #2")
    assert res.code == 0, res.err
    (row,) = read_rows(out)  # read back through the schema check
    assert row.golden == "pass" and row.golden_max_abs < 1e-5
    assert row.golden_agreement is None  # a random-weight classifier: no golden text has a decisive top-1
    assert row.device_label == "Lab box (x86) #2" and row.machine == platform.machine() and row.emulated == ""
    assert row.cpu_features == _speed_flags_in_cpuinfo()


def test_bench_marks_rows_whose_outputs_are_wrong_and_exits_3(capsys, copy, tmp_path):
    from edgebert.bench.rows import read_rows

    with np.load(copy / "golden.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["reference"] = -arrays["reference"]
    np.savez(copy / "golden.npz", **arrays)
    _rewrite_manifest(copy)
    out = tmp_path / "r.jsonl"
    res = run_cli(capsys, "bench", copy, "--runs", "3", "--min-seconds", "0", "--warmup", "1", "--seq", "16",
                  "--threads", "1", "--out", out)
    assert res.code == 3 and "1 of 1 rows failed their golden check" in _one_line(res)
    (row,) = read_rows(out)
    assert row.status == "ok" and row.golden == "fail" and "exceeds --atol" in row.golden_reason
