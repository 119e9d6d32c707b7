"""Keeps a server edgejudge starts from outliving the Python process that started it.

    python -m edgejudge.runtime.llama_server.watchdog COMMAND [ARG ...]

runs COMMAND and waits for it, with its stdin tied to edgejudge by a pipe. When that pipe
closes (edgejudge exited, crashed or was killed with SIGKILL, which no handler can catch)
or the watchdog gets SIGTERM, it stops COMMAND: SIGTERM, a grace period, then SIGKILL. Its
exit status is COMMAND's. Process groups alone cannot do this: a killed parent leaves its
children running, and only a process that is still alive can notice and clean up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from types import FrameType

GRACE_SECONDS = 5.0


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(argv: list[str]) -> int:
    """Run `argv` until it exits, or until stdin closes or SIGTERM arrives; its status."""
    if not argv:
        print(
            "usage: python -m edgejudge.runtime.llama_server.watchdog COMMAND [ARG ...]",
            file=sys.stderr,
        )
        return 2
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"edgejudge watchdog: cannot start {argv[0]}: {exc}", file=sys.stderr, flush=True)
        return 127

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=_stop, args=(child,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is edgejudge's to handle

    def watch_parent() -> None:
        while os.read(0, 1024):  # returns b"" once every writer of the pipe is gone
            pass
        _stop(child)

    threading.Thread(target=watch_parent, daemon=True).start()
    status = child.wait()
    return 128 - status if status < 0 else status  # a signal number as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
