"""The `edgejudge` command's first steps: signals handled before anything slow is imported.

Importing the CLI takes a noticeable fraction of a second (pydantic, numpy, llama.cpp's
bindings); a Ctrl-C in that time must end as a Ctrl-C at any other time does, with one
line and exit 130, not a traceback. So this module imports nothing but the standard library
until its handlers are in place: during the imports a signal ends the process at once (it
has opened nothing yet); during the run it stops the run through its clean-up, as Ctrl-C
always has, SIGTERM and SIGHUP too (exit 143, 129); once the run is over it ends the
process at once. Only a signal in Python's own start-up, before any of edgejudge runs (a
few tens of milliseconds), still ends the process as it ends any Python program.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

_received: list[int] = []


def main() -> int:
    """Run the CLI; returns the exit code."""
    # While the CLI imports nothing has been opened or written: a signal ends the process
    # there and then, in one line.
    _handle(("SIGINT", "SIGTERM", "SIGHUP"), _exit_early)
    from edgejudge.cli import main as run

    # From here a signal stops the run through its clean-up (KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _handle(("SIGTERM", "SIGHUP"), _stop)
    try:
        code = run()
    except KeyboardInterrupt:
        _interrupted()
        code = 130
    code = _signal_code() or code
    _flush()
    # Nothing is left to clean up: a signal now ends the process without a traceback.
    _handle(("SIGINT", "SIGTERM", "SIGHUP"), _exit_now)
    return code


def _handle(names: tuple[str, ...], handler: Callable[[int, object], None]) -> None:
    """Handle the signals `names` that this platform has with `handler`."""
    for name in names:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def _stop(number: int, _: object) -> None:
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


def _exit_early(number: int, _: object) -> None:
    _interrupted()
    os._exit(128 + number)


def _exit_now(number: int, _: object) -> None:
    os._exit(128 + number)
