"""Progress bars on stderr for the commands: rich bars where stderr is a terminal, nothing
elsewhere (a pipe, a log file, CI) or with --no-progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from edgejudge.models.download import QuietProgress
from edgejudge.models.store import HashProgress


def on_terminal(enabled: bool, columns: list[Any], *, transient: bool = False) -> Any:
    """A rich `Progress` with `columns` on stderr, or None where stderr is no terminal (a
    pipe, a log file, CI) or bars are off: the one place that decides."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        return None
    return Progress(*columns, console=console, transient=transient)


@contextmanager
def batch_bar(
    enabled: bool, total: int, skipped: int
) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Rows judged of `total`, errors so far, time and ETA; yields an `advance(record)`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("errors: {task.fields[errors]}"), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn()]  # fmt: skip
    progress = on_terminal(enabled, columns)
    if progress is None:
        yield lambda record: None
        return
    label = f"judging ({skipped} done before)" if skipped else "judging"
    with progress:
        task = progress.add_task(label, total=total, errors=0)
        errors = 0

        def advance(record: dict[str, Any]) -> None:
            nonlocal errors
            errors += "error" in record
            progress.update(task, advance=1, errors=errors)

        yield advance


@contextmanager
def working(enabled: bool, what: str) -> Iterator[None]:
    """A transient spinner with the time elapsed, on a terminal, while `what` runs."""
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    progress = on_terminal(enabled, columns, transient=True)
    if progress is None:
        yield
        return
    with progress:
        progress.add_task(what, total=None)
        yield


@contextmanager
def download_bar(enabled: bool, check_label: str) -> Iterator[tuple[Any, HashProgress | None]]:
    """A tqdm-shaped class driving a rich bar (bytes, rate, time left) on stderr, and a
    callback that shows the sha256 check on the same display once it starts."""
    progress = stderr_progress(enabled, download=True)
    if progress is None:
        yield QuietProgress, None
        return
    with progress:

        class Bar(QuietProgress):
            def __init__(
                self, *, total: int | None = None, initial: int = 0, desc: str = "", **_: Any
            ) -> None:
                self.task = progress.add_task(desc, total=total, completed=initial)

            def update(self, n: float = 1) -> None:
                progress.advance(self.task, n)

        check_task: list[Any] = []

        def check(done: int, total: int) -> None:
            if not check_task:
                check_task.append(progress.add_task(check_label, total=total))
            progress.update(check_task[0], completed=done)

        yield Bar, check


@contextmanager
def hash_bar(label: str, enabled: bool) -> Iterator[HashProgress | None]:
    progress = stderr_progress(enabled, download=False)
    if progress is None:
        yield None
        return
    with progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def stderr_progress(enabled: bool, *, download: bool) -> Any:
    """A bar for bytes (and, downloading, rate and time left) on stderr, or None."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), DownloadColumn()]
    if download:
        columns += [TransferSpeedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    return on_terminal(enabled, columns, transient=not download)
