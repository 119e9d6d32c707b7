"""The edgejudge command run as a user runs it: a subprocess with its own cache, and a batch
interrupted part-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edgejudge.paths import CACHE_ENV


def run_cli(args: list[str], cache: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **{CACHE_ENV: str(cache)})
    return subprocess.run(
        [sys.executable, "-m", "edgejudge", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
        **kwargs,
    )  # type: ignore[call-overload]


def interrupt_batch(args: list[str], cache: Path, out: Path, *, rows: int) -> str:
    """Run `edgejudge batch` as a process and press Ctrl-C once `out` holds `rows` rows;
    check it exits 130 and return its stderr."""
    env = dict(os.environ, **{CACHE_ENV: str(cache)})
    process = subprocess.Popen(
        [sys.executable, "-m", "edgejudge", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= rows:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    return err
