"""Giving back a thread's OpenMP workers when it runs out of work, and waiting without
spinning.

llama.cpp built with OpenMP (llama-cpp-python's builds on Linux, and llama-server's) runs
each step on a team of OpenMP threads, and libgomp (GCC's OpenMP) keeps the team of every
thread that ran one for as long as that thread lives. It also counts them: once it manages
more threads than the machine has cores, its barriers stop spinning and put threads to sleep,
and a llama.cpp step crosses a barrier at every node of its graph. So one judge sitting idle
in a process slowed another: measured on a 2-core machine, a judgment's decode went from 24
to 37 ms a token while a second loaded judge did nothing (scripts/bench.py measures it).

The decoder's worker therefore gives its team back whenever it runs out of work, through
OpenMP 5's `omp_pause_resource_all`, which in libgomp frees the calling thread's team only;
its next step makes a new one (microseconds, against a judgment's seconds). Where llama.cpp
runs without libgomp (Apple's builds: its own thread pool; LLVM's libomp, whose pause stops
every thread's work) nothing is done.

Between barriers an OpenMP thread waits by spinning first (libgomp: 300,000 turns), which
costs nothing on an idle machine and a great deal on a busy one: a spinning thread holds a
core that another process's thread, or the other judge's, needs to reach the same barrier.
`passive_waiting` asks OpenMP to put waiting threads to sleep at once (OMP_WAIT_POLICY=
passive), in this process before llama.cpp loads and in the llama-servers edgejudge starts,
unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. Measured by scripts/busy_bench.py
(README, "A busy machine"): the same speed alone, and a busy core beside the judge costs
about its share.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import MutableMapping
from functools import cache
from typing import Any

OMP_PAUSE_HARD = 2  # omp_pause_resource_t: free the resources, not just idle them
WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
SPIN_COUNT_ENV = "GOMP_SPINCOUNT"  # libgomp's own knob for the same thing


def passive_waiting(environ: MutableMapping[str, str]) -> None:
    """Have OpenMP's waiting threads sleep instead of spin (`environ`: the environment of
    this process before llama.cpp loads, or of a server about to start), unless the user
    chose a wait policy. libgomp reads it once, when it loads."""
    if WAIT_POLICY_ENV not in environ and SPIN_COUNT_ENV not in environ:
        environ[WAIT_POLICY_ENV] = "passive"


@cache
def _libgomp() -> Any:
    """libgomp's pause function, if libgomp is loaded in this process; else None."""
    noload = getattr(os, "RTLD_NOLOAD", None)
    if noload is None:  # not a system with dlopen's RTLD_NOLOAD (Windows)
        return None
    try:
        library = ctypes.CDLL("libgomp.so.1", mode=noload)
    except OSError:  # not loaded: llama.cpp runs without OpenMP, or not yet
        return None
    if hasattr(library, "__kmpc_fork_call"):  # LLVM's libomp under libgomp's name
        return None
    pause = getattr(library, "omp_pause_resource_all", None)
    if pause is not None:
        pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
    return pause


def release_team() -> bool:
    """Free the calling thread's OpenMP team, if libgomp keeps one; whether it could."""
    pause = _libgomp()
    if pause is None:
        _libgomp.cache_clear()  # llama.cpp may load it later
        return False
    return bool(pause(OMP_PAUSE_HARD) == 0)
