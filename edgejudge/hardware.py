"""Facts about this machine that pick runtime defaults."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


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
        try:
            out = subprocess.run(
                ["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=True
            ).stdout
            return int(out.strip())
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
    return None
