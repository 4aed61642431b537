"""What machine a row was measured on: CPU name, the features that decide its speed, emulation; `machine_fields`
(what every bench row records, in the worker and in the parent alike) and `DeviceKey` (one device, as reports, the
regression gate and resumed sweeps match and show it). Runtime-safe.

Two "AMD EPYC" VMs here differ by 2x in INT8 (one has AVX-512 VNNI, one does not), so a row records the
features, not just the name. ARM boards print no "model name": the name comes from the CPU part number.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

# The flags that decide BERT speed: wide SIMD, int8 dot products, bf16, matrix engines.
X86_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
ARM_FEATURES = ("asimddp", "i8mm", "bf16", "sve", "sve2")
# (implementer, part) -> core name, for the boards edge users run (Pi 4/5, Jetson, Graviton, Ampere).
ARM_PARTS = {
    ("0x41", "0xd03"): "Cortex-A53", ("0x41", "0xd04"): "Cortex-A35", ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57", ("0x41", "0xd08"): "Cortex-A72", ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75", ("0x41", "0xd0b"): "Cortex-A76", ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd0d"): "Cortex-A77", ("0x41", "0xd40"): "Neoverse-V1", ("0x41", "0xd41"): "Cortex-A78",
    ("0x41", "0xd42"): "Cortex-A78AE", ("0x41", "0xd44"): "Cortex-X1", ("0x41", "0xd46"): "Cortex-A510",
    ("0x41", "0xd47"): "Cortex-A710", ("0x41", "0xd48"): "Cortex-X2", ("0x41", "0xd49"): "Neoverse-N2",
    ("0x41", "0xd4b"): "Cortex-A78C", ("0x41", "0xd4f"): "Neoverse-V2", ("0x41", "0xd80"): "Cortex-A520",
    ("0x41", "0xd81"): "Cortex-A720", ("0x41", "0xd82"): "Cortex-X4", ("0x4e", "0x004"): "NVIDIA Carmel",
    ("0xc0", "0xac3"): "Ampere-1", ("0xc0", "0xac4"): "Ampere-1a", ("0x61", "0x022"): "Apple M1",
}


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> list[tuple[str, str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    pairs = []
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            pairs.append((key.strip().lower(), value.strip()))
    return pairs


def _first(pairs: list[tuple[str, str]], *keys: str) -> str:
    return next((v for k, v in pairs if k in keys and v), "")


def cpu_name(pairs: list[tuple[str, str]] | None = None) -> str:
    """x86: the model name. ARM: the core from implementer/part (e.g. 'Cortex-A76'), else the hardware line."""
    pairs = _cpuinfo() if pairs is None else pairs
    name = _first(pairs, "model name", "cpu model")
    if name:
        return name
    impl, part = _first(pairs, "cpu implementer").lower(), _first(pairs, "cpu part").lower()
    if part:
        return ARM_PARTS.get((impl, part), f"ARM implementer {impl} part {part}")
    return _first(pairs, "hardware") or platform.processor() or platform.machine()


def cpu_features(pairs: list[tuple[str, str]] | None = None) -> list[str]:
    """The speed-deciding flags this CPU reports, in a fixed order (x86 'flags' or ARM 'Features')."""
    pairs = _cpuinfo() if pairs is None else pairs
    flags = set(_first(pairs, "flags", "features").split())
    return [f for f in X86_FEATURES + ARM_FEATURES if f in flags]


def board() -> str:
    """The board's own name where the firmware gives one ('Raspberry Pi 5 Model B Rev 1.0', Jetson), else ''."""
    for path in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            return Path(path).read_bytes().rstrip(b"\0").decode(errors="replace").strip()
        except OSError:
            continue
    return ""


def emulation() -> str:
    """'qemu-user' when this process runs under user-mode emulation, else ''.

    Signs, any of: EDGEBERT_EMULATED set; QEMU_LD_PREFIX in the environment (qemu-user passes it to the guest);
    a binfmt_misc handler registered for this very architecture (a real board never runs its own ISA through qemu).
    """
    if os.environ.get("EDGEBERT_EMULATED") or os.environ.get("QEMU_LD_PREFIX"):
        return "qemu-user"
    handler = Path(f"/proc/sys/fs/binfmt_misc/qemu-{platform.machine()}")
    try:
        if handler.read_text().startswith("enabled"):
            return "qemu-user"
    except OSError:
        pass
    return ""


def describe() -> dict[str, object]:
    """The fields every bench row records about the machine."""
    pairs = _cpuinfo()
    return {"cpu": cpu_name(pairs), "cpu_features": cpu_features(pairs), "machine": platform.machine(),
            "board": board(), "emulated": emulation(), "cores": os.cpu_count() or 0}


def machine_fields() -> dict[str, object]:
    """`describe()` plus the host, the Python and the UTC time: what a bench row records about where and when."""
    return {**describe(), "host": socket.gethostname(), "python": platform.python_version(),
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


EMULATED_NOTE = "EMULATED: latency not comparable with hardware"


@functools.total_ordering
@dataclass(frozen=True)
class DeviceKey:
    """Which device a row was measured on: reports group by it, the regression gate and resumed sweeps match on it.
    Two "AMD EPYC" VMs with and without AVX-512 VNNI are two devices; an emulated one is never hardware."""

    label: str  # --device-label, else the board's own name, else ""
    cpu: str
    machine: str  # x86_64, aarch64, ...
    features: tuple[str, ...]  # the speed-deciding CPU features
    device: str  # cpu | cuda | tensorrt
    threads: int
    emulated: str = ""  # "qemu-user" under user-mode emulation

    def __str__(self) -> str:
        """The one display of a device (report headings, table cells, gate lines)."""
        isa = " ".join(x for x in (self.machine, f"[{' '.join(self.features)}]" if self.features else "") if x)
        parts = [self.label, self.cpu, isa, self.device, f"{self.threads} threads"]
        if self.emulated:
            parts.append(f"{EMULATED_NOTE} ({self.emulated})")
        return " · ".join(p for p in parts if p)

    def __lt__(self, other: "DeviceKey") -> bool:
        return str(self) < str(other)  # reports list devices in the order of what they show


def detect_target() -> str:
    """This machine's ISA class for INT8 presets: arm64, avx512-vnni, avx512 or avx2."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm64"
    flags = set(cpu_features())
    if "avx512_vnni" in flags:
        return "avx512-vnni"
    return "avx512" if "avx512f" in flags else "avx2"
