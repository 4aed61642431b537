"""A device profile on this machine: run a command under a real memory limit (and an optional CPU quota) with cgroup
v1, and say whether it fit or was OOM-killed. Groups are created inside this process's own groups (read from
/proc/self/cgroup), so limits and accounting set by whoever runs us still apply; they are removed afterwards.
Where the groups cannot be written (no v1 controllers, not root, not delegated) `unavailable()` says why and the
caller falls back to an estimate from the worker's peak RSS, marked as such.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def own_group(controller: str) -> Path:
    """This process's cgroup v1 folder for `controller`."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return ROOT / controller / path.lstrip("/")
    raise OSError(f"no cgroup v1 '{controller}' controller in /proc/self/cgroup")


def unavailable(cpu: bool = False) -> str | None:
    """None when limits can be applied here, else why not."""
    try:
        for controller in ("memory", "cpu") if cpu else ("memory",):
            group = own_group(controller)
            if not (group / "cgroup.procs").exists() or not os.access(group, os.W_OK):
                return f"cannot create cgroups under {group} (needs root or a delegated subtree)"
    except OSError as err:
        return str(err)
    return None


@dataclass
class LimitedRun:
    returncode: int
    oom_killed: bool  # the kernel's OOM killer acted in the group (memory.oom_control oom_kill > 0, or SIGKILL)
    max_usage_mb: float  # memory.max_usage_in_bytes: what the group was charged at its peak (anon + its page cache)
    throttled_s: float  # cpu.stat throttled_time under the quota
    wall_s: float
    stderr: str


def _read_pairs(path: Path) -> dict[str, str]:
    try:
        return dict(line.split()[:2] for line in path.read_text().splitlines() if len(line.split()) >= 2)
    except OSError:
        return {}


def _limit(mem: Path, cpu: Path | None, memory_mb: float, cpus: float | None) -> None:
    limit = str(int(memory_mb * 2**20))
    (mem / "memory.limit_in_bytes").write_text(limit)
    memsw = mem / "memory.memsw.limit_in_bytes"
    if memsw.exists():  # with swap on, a memory limit alone pages instead of killing: cap memory + swap too
        try:
            memsw.write_text(limit)
        except OSError:
            pass
    if cpu is not None and cpus is not None:
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))


def run_limited(cmd: list[str], memory_mb: float, cpus: float | None = None, *, stdin: str = "",
                env: dict[str, str] | None = None, timeout_s: float = 600) -> LimitedRun:
    """Run `cmd` in fresh memory (+ cpu) groups: the child joins them between fork and exec, so all that it and its
    children allocate is charged there. A timeout kills it and reads as returncode -9, not an OOM kill."""
    name = f"edgebert-fit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    mem = own_group("memory") / name
    cpu = own_group("cpu") / name if cpus is not None else None
    groups = [g for g in (mem, cpu) if g is not None]
    for group in groups:
        group.mkdir()
    try:
        _limit(mem, cpu, memory_mb, cpus)

        def join() -> None:  # in the child, before exec
            for group in groups:
                (group / "cgroup.procs").write_text(str(os.getpid()))

        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, input=stdin, preexec_fn=join, capture_output=True, text=True,
                                  timeout=timeout_s, env=env)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            code, err = -9, f"timed out after {timeout_s:g} s"
        wall = time.perf_counter() - start
        oom = int(_read_pairs(mem / "memory.oom_control").get("oom_kill", "0")) > 0
        throttled = int(_read_pairs(cpu / "cpu.stat").get("throttled_time", "0")) / 1e9 if cpu else 0.0
        usage = int((mem / "memory.max_usage_in_bytes").read_text()) / 2**20
        # some kernels keep no oom_kill counter: a SIGKILL we did not send is the OOM killer's
        oom = oom or (code == -signal.SIGKILL and "timed out" not in err)
        return LimitedRun(code, oom, round(usage, 2), round(throttled, 3), round(wall, 2), err)
    finally:
        for group in groups:
            _remove(group)


def _remove(group: Path) -> None:
    """rmdir refuses while a task is inside: kill what the child left (its own children) first."""
    for _ in range(50):
        try:
            group.rmdir()
            return
        except OSError:
            try:
                for pid in (group / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
