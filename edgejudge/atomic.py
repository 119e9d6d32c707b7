"""Write a small text file so that readers see the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from edgejudge.errors import OutputError


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` (creating its folder) through a temporary file and a rename.

    A failure (a full disk, no permission) leaves `path` as it was, removes the temporary
    file and raises `OutputError` naming `path` and the cause.
    """
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", str(path)) from exc
