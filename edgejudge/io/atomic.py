"""Write a file so that readers see the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from edgejudge.errors import OutputError
from edgejudge.io.files import output_target


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` (creating its folder) through a temporary file and a rename.

    A link is followed: its target is replaced, the link stays. A special file (a device, a
    pipe) is refused (`OutputError`, exit 2), never replaced. A failure (a full disk, no
    permission) leaves the file as it was, removes the temporary file and raises
    `OutputError` naming `path` and the cause.
    """
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_file(path: Path, inputs: Iterable[Path] = ()) -> Iterator[Path]:
    """A fresh temporary file beside `path` to write, renamed over `path` when the block
    ends without error; removed, and `path` left as it was, on any error or interrupt.

    A link is followed (its target replaced, the link kept); a folder, a special file or
    one of `inputs` is refused (`OutputError`, exit 2). An `OSError` on the way (a full
    disk) becomes `OutputError` naming `path`.
    """
    target = output_target(path, inputs)
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A fresh name made with O_EXCL: never a file someone put there, never another
        # writer's.
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        os.close(fd)
        yield Path(temporary)
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(temporary, target.stat().st_mode & 0o7777)
        else:
            os.chmod(temporary, 0o644 & ~_umask())
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", str(path)) from exc
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _umask() -> int:
    """The process's umask, read without setting it (`os.umask` would change it for every
    thread for a moment); 0o022 where the system does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
