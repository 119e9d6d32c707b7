"""The `edgejudge` command's first steps: signals handled before anything slow is imported.

Importing the CLI takes a noticeable fraction of a second (pydantic, numpy, llama.cpp's
bindings); a Ctrl-C in that time must end as a Ctrl-C at any other time does, with one
line and exit 130, not a traceback. So this module imports nothing but the standard library
until its handlers are in place. SIGTERM (and SIGHUP) stop the run the same way, through the
same clean-up, and exit 143 (129); a signal that comes while Python shuts down ends the
process at once with the same code.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

_received: list[int] = []


def main() -> int:
    """Run the CLI; returns the exit code."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        from edgejudge.cli import main as run

        code = run()
    except KeyboardInterrupt:
        _interrupted()
        code = 130
    code = _signal_code() or code
    _flush()
    # Nothing is left to clean up: a signal now ends the process without a traceback.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_now)
    return code


def _stop(number: int, _: FrameType | None) -> None:
    """SIGTERM or SIGHUP: stop as Ctrl-C stops (the same clean-up), remembering which."""
    _received.append(number)
    raise KeyboardInterrupt


def _signal_code() -> int | None:
    """128 + the stopping signal's number, if one came."""
    return 128 + _received[0] if _received else None


def _interrupted() -> None:
    try:
        print("edgejudge: interrupted", file=sys.stderr, flush=True)
    except (OSError, ValueError, KeyboardInterrupt):
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, KeyboardInterrupt):
            pass


def _exit_now(number: int, _: FrameType | None) -> None:
    os._exit(128 + number)
