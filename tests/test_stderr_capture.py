"""The in-process runtime borrows file descriptor 2 for a moment to read what llama.cpp's C
code prints there (a grammar it refuses). Judgments run in threads, so two of them can check
a grammar at the same moment: each capture must leave fd 2 where it found it, or every later
error message of the process goes into a deleted temporary file (a batch that stopped on a
full disk once exited 1 with nothing on stderr that way)."""

from __future__ import annotations

import os
import threading
import time

from edgejudge.runtime.inprocess.llama_cpp import _stderr_lines


def where(fd: int) -> tuple[int, int]:
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


def test_captures_at_the_same_time_leave_stderr_where_it_was() -> None:
    before = where(2)
    start = threading.Barrier(8)
    seen: list[list[str]] = []

    def capture(n: int) -> None:
        start.wait()
        with _stderr_lines() as lines:
            os.write(2, f"line {n}\n".encode())
            time.sleep(0.002 * (n % 3))
        seen.append(lines)

    threads = [threading.Thread(target=capture, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert where(2) == before
    assert sorted(line for lines in seen for line in lines) == [f"line {n}" for n in range(8)]
    assert all(len(lines) == 1 for lines in seen)  # each capture got its own line only
