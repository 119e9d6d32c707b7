"""The user's files: read with one-line errors and a bound, written only where they should be,
appended whole lines at a time, locked per run.

Errors are raised where a file is opened, in words a user can act on: a missing file, a
folder given as a file, no permission, bytes that are not UTF-8, a full disk, a second run
on a file that another run is writing.

What is refused, and why:
- Inputs are regular files or pipes (`-`, `<(…)`): a device, a socket or a folder is refused
  in one line, and every read has a bound (`MAX_TEXT_BYTES` for a whole file, `MAX_LINE_BYTES`
  for one line of a JSONL file), so `/dev/zero` cannot fill the memory.
- Outputs are regular files. A symbolic link is followed: its target is what is written (and
  replaced whole, where a file is rewritten), and the link stays. A device, a pipe or a socket
  is refused before anything is opened for writing, so no special file is ever replaced or
  waited on; so is an output that is one of the command's inputs (by inode, through links).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from edgejudge.errors import EdgeJudgeError, InputError, OutputBusyError, OutputError
from edgejudge.util.sizes import human_size

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no O_NONBLOCK either, nothing to clear
    fcntl = None  # type: ignore[assignment]

# Opens that must not wait (a FIFO without a reader) or take a terminal (POSIX; 0 elsewhere).
_NO_WAIT = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)

UTF8_BOM = b"\xef\xbb\xbf"
# The most a whole input file (a JSON input, a metric, a catalog) may hold: far beyond any
# real one, small enough that a wrong file is refused instead of read into memory.
MAX_TEXT_BYTES = 8 * 1024 * 1024
# The most one line of a JSONL file may hold; a longer one is an error row, and the rest of
# the file is still read.
MAX_LINE_BYTES = 8 * 1024 * 1024
# What a read failure becomes, given its one-line message: `InputError`, `MetricError`...
ErrorFactory = Callable[[str], EdgeJudgeError]


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words: `a character device`..."""
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def open_input(path: Path, error: ErrorFactory = InputError, what: str = "file") -> BinaryIO:
    """Open a file the user gave for reading (binary), or raise `error` saying why not.

    A regular file or a pipe (which is waited on for its writer, as pipes are); a folder, a
    device or a socket is refused. A regular file is opened without waiting and checked once
    open, so nothing swapped in after the first look is read either.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode):
            return path.open("rb")
        if stat.S_ISREG(mode):
            fd, mode = _open_checked(path, os.O_RDONLY)
            if fd >= 0:
                return os.fdopen(fd, "rb")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path} is a folder, not a file")
    raise error(f"{path} is {file_kind(mode)}, not a file: give a regular file")


def decode_utf8(data: bytes, where: str, error: ErrorFactory = InputError) -> str:
    """`data` as text (a leading byte-order mark dropped), or `error` naming the bad byte."""
    try:
        return data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{where} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None


def read_bounded(handle: BinaryIO, where: str, error: ErrorFactory = InputError) -> bytes:
    """All of `handle`, or `error` once it holds more than `MAX_TEXT_BYTES`."""
    data = handle.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise error(
            f"{where} is larger than {human_size(MAX_TEXT_BYTES)}, the most edgejudge reads "
            "as one input; is it the right file?"
        )
    return data


def read_text(path: Path, error: ErrorFactory = InputError, what: str = "file") -> str:
    """The whole of a UTF-8 text file the user gave (at most `MAX_TEXT_BYTES`), or `error` in
    one line."""
    with open_input(path, error, what) as handle:
        return decode_utf8(read_bounded(handle, str(path), error), str(path), error)


def bounded_lines(handle: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The lines of `handle`, each with its newline; None in place of a line longer than
    `limit` bytes, whose bytes are passed over without being kept."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):  # skip to the end of the long line
            line = handle.readline(1 << 20)
        yield None


def parse_json(text: str | bytes) -> Any:
    """`json.loads`, with what a hostile line can make it raise beyond `JSONDecodeError`
    (an integer of more digits than Python converts, nesting deeper than its stack) raised
    as `ValueError` too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """Whether two stats are of one file (one inode on one device)."""
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def output_target(path: Path, inputs: Iterable[Path] = ()) -> Path:
    """The file an output named `path` writes: `path` with its links resolved. `OutputError`
    (exit 2) if that is a folder or a special file (a device, a pipe, a socket), or the same
    file as one of `inputs`."""
    real = path.resolve()
    if real == path.absolute():
        real = path  # no link on the way: the path as the user named it, for messages
    try:
        found = os.stat(real)
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}", str(path), exit_code=2
        ) from None
    if stat.S_ISDIR(found.st_mode):
        raise OutputError(
            f"{path} is a folder, not a file; name a file for the output", str(path), exit_code=2
        )
    if not stat.S_ISREG(found.st_mode):
        raise OutputError(
            f"{path} is {file_kind(found.st_mode)}: edgejudge writes its outputs to regular "
            "files only; name a file",
            str(path),
            exit_code=2,
        )
    for source in inputs:
        try:
            other = os.stat(source)
        except OSError:
            continue  # an input that is not there is not this output
        if same_file(found, other):
            raise OutputError(
                f"{path} is also the input {source}: write the output to another file",
                str(path),
                exit_code=2,
            )
    return real


class JsonlAppender:
    """Appends JSON objects to a file, one line each, every line whole or not there at all.

    Each line goes to the kernel in one write (no buffer to flush later), so any stop leaves
    the file valid. A write that fails part-way (a full disk) is cut back off the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = open_regular(path, os.O_WRONLY | os.O_APPEND)
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


def open_regular(path: Path, flags: int, mode: int = 0o644) -> int:
    """`os.open(path, flags | O_CREAT)` for writing, refusing (exit 2) anything but a regular
    file: opened without waiting (a pipe with no reader would block forever) and checked
    once open, so nothing can be swapped in between."""
    try:
        fd, found = _open_checked(path, flags | os.O_CREAT, mode)
    except IsADirectoryError:
        raise OutputError(
            f"{path} is a folder, not a file; name a file for the output", str(path), exit_code=2
        ) from None
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}", str(path), exit_code=2
        ) from None
    if fd < 0:
        raise OutputError(
            f"{path} is {file_kind(found)}: edgejudge writes to regular files only",
            str(path),
            exit_code=2,
        )
    return fd


def _open_checked(path: Path, flags: int, mode: int = 0o644) -> tuple[int, int]:
    """`os.open` without waiting (a pipe with no reader or writer would block forever), then
    checked once open, so nothing can be swapped in between: (fd, its mode), blocking again
    for a regular file; (-1, its mode), closed, for anything else. OSError as `os.open`."""
    fd = os.open(path, flags | _NO_WAIT, mode)
    found = os.fstat(fd).st_mode
    if not stat.S_ISREG(found):
        os.close(fd)
        return -1, found
    if fcntl is not None:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return fd, found


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
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: cannot make its folder: {exc.strerror or exc}",
            str(path),
            exit_code=2,
        ) from None
    _check_lock_file(path, where)
    try:
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


def _check_lock_file(path: Path, where: Path) -> None:
    """Make sure the lock file can be had and is a plain file of ours (filelock would
    truncate whatever a link there points to): the real cause in one line, exit 2, where
    the folder cannot hold it."""
    if where.is_symlink():
        raise OutputError(
            f"cannot lock {path}: {where} is a symbolic link; remove it", str(path), exit_code=2
        )
    try:
        fd, mode = _open_checked(where, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: cannot make its lock file {where.name} there: "
            f"{exc.strerror or exc}",
            str(path),
            exit_code=2,
        ) from None
    if fd >= 0:
        os.close(fd)
        return
    raise OutputError(
        f"cannot lock {path}: {where} is {file_kind(mode)}; remove it",
        str(path),
        exit_code=2,
    )


def _holder(where: Path) -> int | None:
    """The pid recorded in a lock file, if there is one."""
    try:
        text = where.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None
