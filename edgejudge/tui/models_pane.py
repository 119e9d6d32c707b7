"""The Models tab: the catalog with installed state, size and fit; pull, remove, verify; doctor.

Pulls go through `edgejudge.models.download.pull` (resumable, sha256-checked) in a worker thread;
the progress bar is driven through the tqdm-shaped class huggingface_hub reports to.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Static

from edgejudge.errors import Cancelled, EdgeJudgeError
from edgejudge.models.catalog import FITS_WORDS, ModelEntry, entry_cells
from edgejudge.models.download import QuietProgress
from edgejudge.system.doctor import Report
from edgejudge.tui.dialogs import Confirm
from edgejudge.tui.session import ModelSession
from edgejudge.util.sizes import human_size

COLUMNS = ("name", "family", "size", "RAM", "on disk", "fits")


def model_row(
    entry: ModelEntry, installed: bool, fits: bool | None, need: int | None
) -> tuple[str, ...]:
    """A catalog entry as table cells."""
    return (*entry_cells(entry, need), "yes" if installed else "no", FITS_WORDS[fits])


LEGEND = "? source not confirmed on the hub"


class ModelsPane(Vertical):
    """The catalog table, a progress bar for pulls and checks, and the doctor's summary.

    The app hands it the catalog and the doctor's report (`show_report`); when a pull, a
    removal or a check has changed the store it posts `StoreChanged`, and the app looks again.
    """

    class StoreChanged(Message):
        """Models were pulled, removed or checked: the report should be made again."""

    BINDINGS = [
        Binding("p", "pull", "Pull"),
        Binding("d", "remove", "Remove"),
        Binding("v", "verify", "Verify"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, session: ModelSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.catalog: dict[str, ModelEntry] = {}
        self.installed: set[str] = set()
        self.report: Report | None = None
        self.busy = False
        self.cancel_requested = False

    def compose(self) -> ComposeResult:
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="models-activity"):
            yield ProgressBar(id="models-progress", show_eta=True)
            yield Static(LEGEND, id="models-status")
        with VerticalScroll(id="doctor-box"):
            yield Static("looking at this machine…", id="doctor")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.query_one("#doctor-box").border_title = "doctor"
        self.query_one(ProgressBar).display = False

    def show_report(
        self, catalog: dict[str, ModelEntry], installed: set[str], report: Report | None
    ) -> None:
        """Fill the table and the doctor summary: the catalog, what is on disk, and the
        doctor's report (None while it is being made)."""
        from edgejudge.system.doctor import render

        self.catalog, self.installed, self.report = catalog, installed, report
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for name, entry in catalog.items():
            fits = report.fits.get(name) if report else None
            found = report.needs.get(name, {}).get(entry.context_length) if report else None
            need = found.total if found else None
            table.add_row(*model_row(entry, name in installed, fits, need), key=name)
        if catalog:
            table.move_cursor(row=min(cursor, len(catalog) - 1))
        if report is not None:
            self.query_one("#doctor", Static).update("\n".join(render(report)))

    @property
    def selected(self) -> ModelEntry | None:
        """The catalog entry under the cursor."""
        table = self.query_one(DataTable)
        if not self.catalog or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.catalog.get(key or "")

    def select(self, name: str) -> None:
        """Put the cursor on `name`."""
        table = self.query_one(DataTable)
        if name in self.catalog:
            table.move_cursor(row=table.get_row_index(name))

    def say(self, text: str, error: bool = False) -> None:
        """A line of status beside the progress bar."""
        status = self.query_one("#models-status", Static)
        status.set_class(error, "error")
        status.update(text)

    # -- actions ------------------------------------------------------------------------

    def _start(self) -> ModelEntry | None:
        if self.busy:
            self.notify("a pull or check is running; esc cancels it", severity="warning")
            return None
        entry = self.selected
        if entry is not None:
            self.busy, self.cancel_requested = True, False
        return entry

    def action_pull(self) -> None:
        """Download the selected model (resuming an earlier partial download)."""
        entry = self._start()
        if entry is not None:
            self.say(f"pulling {entry.name}…")
            self.pull_worker(entry)

    def action_verify(self) -> None:
        """Re-hash the selected model against its sha256."""
        entry = self._start()
        if entry is not None:
            self.say(f"hashing {entry.filename}…")
            self.verify_worker(entry)

    def action_cancel(self) -> None:
        """Stop the pull or check; a pull keeps its bytes for the next one."""
        if self.busy:
            self.cancel_requested = True
            self.say("cancelling…")

    def action_refresh(self) -> None:
        """Look at the machine and the store again."""
        self.post_message(self.StoreChanged())

    def action_remove(self) -> None:
        """Delete the selected model's files (an imported one is only unregistered)."""
        entry = self.selected
        if entry is None or self.busy:
            return
        if self.session.loaded == entry.name:
            self.say(f"{entry.name} is loaded for judging; quit or load another first", True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(entry)

        what = "unregister" if entry.source == "path" else "delete the downloaded files of"
        self.app.push_screen(Confirm(f"Really {what} {entry.name}?"), answered)

    def _remove(self, entry: ModelEntry) -> None:
        from edgejudge.models.store import remove

        try:
            removed = remove(entry)
        except (EdgeJudgeError, OSError) as exc:
            self.say(f"{type(exc).__name__}: {exc}", True)
            return
        self.say(f"removed {entry.name}" if removed else f"{entry.name}: nothing of ours to remove")
        self.post_message(self.StoreChanged())

    # -- workers ------------------------------------------------------------------------

    def _progress(self, total: float | None, done: float) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)

    def _tqdm_class(self) -> type:
        """A tqdm-shaped class that moves the progress bar and raises `Cancelled` on esc."""
        pane = self

        class Bar(QuietProgress):
            def __init__(self, *, total: int | None = None, initial: int = 0, **_: Any) -> None:
                self.total, self.done = total, float(initial)
                pane.app.call_from_thread(pane._progress, total, initial)

            def update(self, n: float = 1) -> None:
                if pane.cancel_requested:
                    raise Cancelled("the download was cancelled")
                self.done += n
                pane.app.call_from_thread(pane._progress, self.total, self.done)

        return Bar

    def _waiting(self, text: str) -> None:
        """While another process pulls the same model: say so once, and stop on esc."""
        if self.cancel_requested:
            raise Cancelled("the download was cancelled")
        if text:
            self.app.call_from_thread(self.say, text)

    def _hash_progress(self, done: int, total: int) -> None:
        if self.cancel_requested:
            raise Cancelled("the check was cancelled")
        self.app.call_from_thread(self._progress, total, done)

    @work(thread=True, group="download")
    def pull_worker(self, entry: ModelEntry) -> None:
        """Pull `entry`, reporting progress, then refresh the catalog."""
        from edgejudge.models.download import partial_bytes, pull

        call = self.app.call_from_thread
        try:
            result = pull(
                entry,
                tqdm_class=self._tqdm_class(),
                on_verify=self._hash_progress,
                on_wait=self._waiting,
            )
            if result.already_installed:
                call(self.say, f"{entry.name} is installed: {result.path}")
            else:
                check = "sha256 ok" if result.sha256 else "no sha256 to check"
                call(self.say, f"pulled {entry.name}: {human_size(result.size)}, {check}")
        except Cancelled:
            kept = human_size(partial_bytes(entry))
            call(self.say, f"cancelled; {kept} kept, pull again to resume")
        except Exception as exc:  # noqa: BLE001 - ours or the hub's: shown, the app stays up
            call(self.say, f"{type(exc).__name__}: {exc}", True)
        finally:
            call(self._finish)

    @work(thread=True, group="download")
    def verify_worker(self, entry: ModelEntry) -> None:
        """Hash `entry`'s file and say whether it matches."""
        from edgejudge.models.store import verify

        call = self.app.call_from_thread
        try:
            result = verify(entry, self._hash_progress)
            messages = {
                "ok": (f"{entry.name}: sha256 ok", False),
                "mismatch": (f"{entry.name}: sha256 MISMATCH; pull it again (p)", True),
                "missing": (f"{entry.name} is not installed", True),
            }
            text, bad = messages.get(result.status, (f"{entry.name}: no sha256 known", False))
            call(self.say, text, bad)
        except Cancelled:
            call(self.say, "check cancelled")
        except Exception as exc:  # noqa: BLE001 - ours or the hub's: shown, the app stays up
            call(self.say, f"{type(exc).__name__}: {exc}", True)
        finally:
            call(self._finish)

    def _finish(self) -> None:
        self.busy = False
        self.query_one(ProgressBar).display = False
        self.post_message(self.StoreChanged())
