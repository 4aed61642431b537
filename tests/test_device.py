"""Device rows: CPU names and speed-deciding features from /proc/cpuinfo, emulation, and report grouping."""
from __future__ import annotations

import json

import pytest

from edgebert.bench.rows import Row
from edgebert.device_info import DeviceKey, _cpuinfo, cpu_features, cpu_name, emulation
from edgebert.report.efficiency import build_table as _build_table
from tests.cli_helpers import run_cli
from tests.row_helpers import bench_row

PI5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1
"""
GRAVITON3 = PI5.replace("0xd0b", "0xd40").replace("asimddp", "asimddp sha512 sve asimdfhm i8mm bf16 sve2")
EPYC_VNNI = ("processor\t: 0\nmodel name\t: AMD EPYC\n"
             "flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512_bf16 avx512_vnni avx512bw\n")
EPYC_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"


@pytest.mark.parametrize("text,name,features", [
    (PI5, "Cortex-A76", ["asimddp"]),
    (GRAVITON3, "Neoverse-V1", ["asimddp", "i8mm", "bf16", "sve", "sve2"]),
    (EPYC_VNNI, "AMD EPYC", ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]),
    (EPYC_AVX2, "AMD EPYC", ["avx2"]),
])
def test_cpu_name_and_features_from_cpuinfo(tmp_path, text, name, features):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    pairs = _cpuinfo(path)
    assert cpu_name(pairs) == name and cpu_features(pairs) == features


def test_unknown_arm_part_is_named_by_its_numbers():
    assert cpu_name([("cpu implementer", "0x99"), ("cpu part", "0x123")]) == "ARM implementer 0x99 part 0x123"


def test_emulation_is_detected_from_the_environment(monkeypatch):
    monkeypatch.delenv("QEMU_LD_PREFIX", raising=False)
    monkeypatch.setenv("EDGEBERT_EMULATED", "1")
    assert emulation() == "qemu-user"


def _row(model, fmt, p50, cpu="AMD EPYC", **kw):
    return bench_row(model, fmt, p50, cpu=cpu, peak_rss_mb=300.0, file_mb=1.0, **kw)


def build_table(rows):
    return _build_table([Row.from_dict(r) for r in rows])


def test_a_device_is_shown_one_way():
    pi = DeviceKey("Raspberry Pi 5", "Cortex-A76", "aarch64", ("asimddp",), "cpu", 4)
    assert str(pi) == "Raspberry Pi 5 · Cortex-A76 · aarch64 [asimddp] · cpu · 4 threads"
    emu = DeviceKey("", "Neoverse-N1", "aarch64", (), "cpu", 2, "qemu-user")
    assert str(emu) == "Neoverse-N1 · aarch64 · cpu · 2 threads · EMULATED: latency not comparable with hardware " \
                       "(qemu-user)"
    assert sorted([pi, emu]) == [emu, pi]  # devices are listed in the order of what they show


def test_a_rows_device_is_its_label_else_its_board():
    row = Row.from_dict(_row("m", "onnx", 1.0, board="Raspberry Pi 5 Model B Rev 1.0"))
    assert row.device_key.label == "Raspberry Pi 5 Model B Rev 1.0"
    assert Row.from_dict(_row("m", "onnx", 1.0, board="Pi", device_label="lab")).device_key.label == "lab"


def test_two_epycs_with_different_features_are_two_devices():
    rows = [_row("bert-base-uncased", "pytorch", 240.0), _row("distilbert-base-uncased", "onnx-int8", 55.0),
            _row("bert-base-uncased", "pytorch", 240.0, cpu_features=["avx2", "avx512f", "avx512_vnni"]),
            _row("distilbert-base-uncased", "onnx-int8", 27.0, cpu_features=["avx2", "avx512f", "avx512_vnni"])]
    table = build_table(rows)
    groups = sorted({str(t.group) for t in table})
    assert groups == ["AMD EPYC · x86_64 [avx2 avx512f avx512_vnni] · cpu · 2 threads",
                      "AMD EPYC · x86_64 [avx2] · cpu · 2 threads"]
    rel = {str(t.group): t.time_rel for t in table if t.format == "onnx-int8"}
    assert rel == {groups[0]: pytest.approx(11.25), groups[1]: pytest.approx(22.9166, rel=1e-3)}


def test_device_label_groups_and_own_baseline():
    pi = dict(cpu="Cortex-A76", machine="aarch64", cpu_features=["asimddp"], device_label="Raspberry Pi 5",
              threads=4)
    rows = [_row("bert-base-uncased", "pytorch", 200.0), _row("distilbert-base-uncased", "onnx", 60.0),
            _row("bert-base-uncased", "pytorch", 1500.0, **pi), _row("distilbert-base-uncased", "onnx", 300.0, **pi)]
    table = build_table(rows)
    pi_rows = [t for t in table if str(t.group).startswith("Raspberry Pi 5 · Cortex-A76 · aarch64 [asimddp]")]
    assert {t.format: t.time_rel for t in pi_rows} == {"pytorch": 100.0, "onnx": 20.0}


def test_emulated_rows_are_kept_apart_and_never_compared():
    emu = dict(cpu="Neoverse-N1", machine="aarch64", cpu_features=["asimddp"], emulated="qemu-user")
    rows = [_row("bert-base-uncased", "pytorch", 200.0), _row("distilbert-base-uncased", "onnx", 60.0),
            _row("distilbert-base-uncased", "onnx", 4000.0, **emu),
            _row("bert-base-uncased", "pytorch", 9000.0, **emu)]
    table = build_table(rows)
    emulated = [t for t in table if t.group.emulated]
    assert len(emulated) == 2 and all(t.time_rel is None and t.memory_rel is None for t in emulated)
    assert "EMULATED: latency not comparable with hardware (qemu-user)" in str(emulated[0].group)
    assert [t.time_rel for t in table if not t.group.emulated and t.format == "onnx"] == [30.0]


def test_a_row_whose_outputs_are_wrong_is_marked_and_not_compared(capsys, tmp_path):
    rows = [_row("bert-base-uncased", "pytorch", 200.0),
            _row("distilbert-base-uncased", "onnx-int8", 20.0, golden="fail", golden_reason="mean cosine 0.5")]
    (t_bad,) = [t for t in build_table(rows) if t.format == "onnx-int8"]
    assert t_bad.golden == "FAIL" and t_bad.time_rel is None
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = run_cli(capsys, "report", f, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "**parity FAIL**" in md and "| distilbert-base-uncased | onnx-int8 | random | – | 66 | – | 60 |" in md


def test_report_of_host_and_emulated_files(capsys, tmp_path):
    host, emu = tmp_path / "host.jsonl", tmp_path / "pi.jsonl"
    host.write_text(json.dumps(_row("bert-base-uncased", "pytorch", 200.0)) + "\n")
    emu.write_text(json.dumps(_row("distilbert-base-uncased", "onnx", 4000.0, machine="aarch64",
                                   emulated="qemu-user", cpu="Neoverse-N1")) + "\n")
    res = run_cli(capsys, "report", host, emu, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Neoverse-N1 · aarch64 [avx2] · cpu · 2 threads · EMULATED" in md
    assert "Neoverse-N1 · aarch64 [avx2] · cpu" in res.out  # data in brackets is printed, not read as rich markup
    assert "Measured under user-mode emulation: outputs and parity are real, latency and memory are not" in md


def test_machine_fields_are_what_a_row_records_about_the_machine():
    import platform

    from edgebert.bench.rows import ROW_FIELDS
    from edgebert.device_info import machine_fields

    fields = machine_fields()
    assert sorted(fields) == sorted(["cpu", "cpu_features", "machine", "board", "emulated", "cores", "host", "python",
                                     "timestamp"])
    assert set(fields) <= set(ROW_FIELDS) and fields["machine"] == platform.machine()
