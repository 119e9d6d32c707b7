"""Facts about this machine: cores, memory, disk and GPU (runtime defaults, `doctor`)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

from edgejudge.paths import AMX_ENV, env_flag


def physical_cores() -> int:
    """Physical (not hyper-threaded) CPU cores; llama.cpp runs best with one thread each.

    On Apple Silicon this is the performance cores, where llama.cpp's threads belong.
    """
    count = _macos_cores() if platform.system() == "Darwin" else _linux_cores()
    return count or max(1, (os.cpu_count() or 2) // 2)


def _linux_cores() -> int | None:
    cores = set()
    for cpu in Path("/sys/devices/system/cpu").glob("cpu[0-9]*"):
        siblings = cpu / "topology" / "core_cpus_list"
        if not siblings.exists():
            siblings = cpu / "topology" / "thread_siblings_list"
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            continue
    if not cores:
        return None
    # A container may be limited to fewer CPUs than the host has cores.
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else len(cores)
    return max(1, min(len(cores), allowed))


def _macos_cores() -> int | None:
    for key in ("hw.perflevel0.physicalcpu", "hw.physicalcpu"):
        out = _sysctl(key)
        if out and out.isdigit():
            return int(out)
    return None


def busy_cores(sample: float = 0.3) -> float | None:
    """How many cores other work keeps busy now: Linux's CPU counters over `sample` seconds
    (every core's share of time not idle, summed); elsewhere the load average of the last
    minute; None where neither can be read."""
    import time

    first = _cpu_times()
    if first is None:
        try:
            return os.getloadavg()[0]
        except (OSError, AttributeError):
            return None
    time.sleep(sample)
    second = _cpu_times()
    return None if second is None else busy_between(first, second, os.cpu_count() or 1)


def busy_between(first: list[int], second: list[int], cpus: int) -> float:
    """Cores busy between two readings of /proc/stat's `cpu` line (idle and iowait are the
    4th and 5th counters)."""
    deltas = [b - a for a, b in zip(first, second, strict=False)]
    total = sum(deltas)
    if total <= 0:
        return 0.0
    idle = sum(deltas[3:5])
    return cpus * (total - idle) / total


def _cpu_times() -> list[int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    return [int(value) for value in fields[1:9]]  # user … steal (guest is counted in user)


def total_memory() -> int | None:
    """Installed memory in bytes (on Apple Silicon, shared by the CPU and the GPU)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    out = _sysctl("hw.memsize")
    return int(out) if out and out.isdigit() else None


def available_memory() -> int | None:
    """Memory free for a new process now, in bytes (Linux only; None elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def free_disk(path: Path) -> int:
    """Free bytes on the disk that holds `path` (or its nearest existing parent)."""
    import shutil

    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def detect_gpu() -> str | None:
    """The GPU llama.cpp could use here: 'apple', 'nvidia', 'amd', or None."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "apple"
    if Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists():
        return "nvidia"
    if Path("/dev/kfd").exists():
        return "amd"
    return None


@functools.lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """Whether this CPU has Intel AMX (Sapphire Rapids and later Xeons); Linux only."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return any(
        line.startswith("flags") and "amx_int8" in line.split() for line in text.splitlines()
    )


def avoid_weight_repacking() -> bool:
    """Whether llama.cpp must keep the weights as they are in the file (no repacking).

    On a CPU with AMX, llama.cpp repacks the weights for its AMX kernels, and on some
    machines (Sapphire Rapids under KVM here) `ggml_backend_amx_mul_mat` then crashes the
    process with a segmentation fault at the first judgment (llama.cpp issue 20824, open).
    Both runtimes follow this, so their verdicts stay equal; `EDGEJUDGE_AMX=1` opts back in.
    """
    return cpu_has_amx() and not env_flag(AMX_ENV)


def _sysctl(key: str) -> str | None:
    try:
        return subprocess.run(
            ["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
