"""The user's files: read with one-line errors, appended whole lines at a time, locked per run.

Errors are raised where a file is opened, in words a user can act on: a missing file, a
folder given as a file, no permission, bytes that are not UTF-8, a full disk, a second run
on a file that another run is writing.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from edgejudge.errors import EdgeJudgeError, InputError, OutputBusyError, OutputError

UTF8_BOM = b"\xef\xbb\xbf"
# What a read failure becomes, given its one-line message: `InputError`, `MetricError`...
ErrorFactory = Callable[[str], EdgeJudgeError]


def open_input(path: Path, error: ErrorFactory = InputError, what: str = "file") -> BinaryIO:
    """Open a file the user gave for reading (binary), or raise `error` saying why not."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None


def decode_utf8(data: bytes, where: str, error: ErrorFactory = InputError) -> str:
    """`data` as text (a leading byte-order mark dropped), or `error` naming the bad byte."""
    try:
        return data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None


def read_text(path: Path, error: ErrorFactory = InputError, what: str = "file") -> str:
    """The whole of a UTF-8 text file the user gave, or `error` in one line."""
    with open_input(path, error, what) as handle:
        return decode_utf8(handle.read(), str(path), error)


class JsonlAppender:
    """Appends JSON objects to a file, one line each, every line whole or not there at all.

    Each line goes to the kernel in one write (no buffer to flush later), so any stop leaves
    the file valid. A write that fails part-way (a full disk) is cut back off the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except IsADirectoryError:
            raise OutputError(
                f"{path} is a folder; name a file for the output", str(path), exit_code=2
            ) from None
        except OSError as exc:
            raise OutputError(
                f"cannot write {path}: {exc.strerror or exc}", str(path), exit_code=2
            ) from None
        self._size = os.fstat(self._fd).st_size
        self.lines = 0

    def append(self, record: dict[str, Any]) -> None:
        """Add `record` as one line; on failure the file is left as it was before the call."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no half line left behind
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}", str(self.path)
            ) from None
        self._size += len(data)
        self.lines += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def make_executable(path: Path) -> None:
    """Give `path` execute permission for everyone who may read it (POSIX; a no-op elsewhere).

    A llamafile arrives as bytes (the hub serves no modes) and must be executable to run.
    """
    if os.name != "posix":  # pragma: no cover - Windows runs .exe names, not modes
        return
    mode = path.stat().st_mode
    wanted = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    if mode != wanted:
        path.chmod(wanted)


def lock_path(path: Path) -> Path:
    """The lock file beside an output: `OUT.jsonl.lock`."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold `OUT.lock` while a run writes `path`; another holder means `OutputBusyError`.

    The lock is the operating system's (flock on Unix, through `filelock`), so it goes away
    with its process, even one killed with SIGKILL; the file records the holder's pid.
    """
    from filelock import FileLock, Timeout

    where = lock_path(path)
    holder = _holder(where)  # filelock 3 empties the file when it tries to take it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(where), timeout=0)
        lock.acquire()
    except Timeout:
        pid = _holder(where) or holder
        who = f" (pid {pid})" if pid else ""
        raise OutputBusyError(
            f"{path} is in use by another edgejudge run{who}; wait for it to finish or "
            "write to another file",
            str(path),
            pid,
        ) from None
    except OSError as exc:
        raise OutputError(
            f"cannot lock {path} for writing ({where}): {exc.strerror or exc}",
            str(path),
            exit_code=2,
        ) from None
    try:
        with contextlib.suppress(OSError):
            # Empty, or an earlier run's pid; anything else is filelock's own marker: kept.
            if where.stat().st_size == 0 or _holder(where) is not None:
                where.write_text(f"{os.getpid()}\n", encoding="ascii")
        yield
    finally:
        lock.release()


def _holder(where: Path) -> int | None:
    """The pid recorded in a lock file, if there is one."""
    try:
        text = where.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None
