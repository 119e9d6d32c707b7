"""The bounds llama.cpp needs of its settings, checked before it sees them.

llama.cpp aborts the whole process on some settings (a context of 1 or 2 tokens), refuses
others with a bare "could not create a context" (more sequences than it can hold), and runs
others without complaint but to no end (ten thousand threads on a laptop). Each is caught
here, in one line that names the setting, before a model loads.
"""

from __future__ import annotations

import os

from edgejudge.errors import SettingsError

# No judge's prompt is shorter than a few hundred tokens; llama.cpp aborts on 1 or 2.
MIN_CONTEXT = 256
# llama.cpp's LLAMA_MAX_SEQ: the most sequences one context holds.
MAX_SEQUENCES = 256
# The in-process engine keeps two sequences of its own: the prompt head and its guard.
ENGINE_SEQUENCES = 2


def check_context(context_length: int | None) -> None:
    """`SettingsError` for a context too small to hold any judgment."""
    if context_length is not None and context_length < MIN_CONTEXT:
        raise SettingsError(
            f"--ctx {context_length} is too small for a judgment: a judge's prompt alone is a "
            f"few hundred tokens; give at least {MIN_CONTEXT} (or leave it out for the "
            "model's own)"
        )


def max_slots(*, in_process: bool) -> int:
    """The most judgments at once a llama.cpp context (or server) can hold."""
    return MAX_SEQUENCES - (ENGINE_SEQUENCES if in_process else 0)


def check_slots(slots: int | None, *, in_process: bool) -> None:
    """`SettingsError` for more slots than llama.cpp can hold, saying the most that fit."""
    if slots is None:
        return
    if slots < 1:
        raise SettingsError("--slots must be at least 1")
    most = max_slots(in_process=in_process)
    if slots > most:
        where = "in-process (edgejudge keeps 2 of llama.cpp's" if in_process else "in a"
        why = (
            f"{MAX_SEQUENCES} sequences for its prompt cache)"
            if in_process
            else f"llama-server (llama.cpp holds at most {MAX_SEQUENCES} sequences)"
        )
        raise SettingsError(f"--slots {slots} is more than fit {where} {why}: at most {most}")


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def bounded_threads(n_threads: int | None) -> tuple[int | None, str | None]:
    """`n_threads`, or the CPUs there are when it asks for more, and what was changed (a
    warning's words) or None. More threads than CPUs only wait on one another."""
    if n_threads is None:
        return None, None
    if n_threads < 1:
        raise SettingsError("--threads must be at least 1")
    cpus = usable_cpus()
    if n_threads <= cpus:
        return n_threads, None
    return cpus, f"--threads {n_threads} is more than the {cpus} CPUs here: using {cpus}"
