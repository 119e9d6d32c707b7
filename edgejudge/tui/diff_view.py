"""The Batch tab's comparison: this output against an earlier run's (`edgejudge diff`), as
a modal screen: the table of each metric's change, and the rows that got worse; enter on a
row opens its two feedbacks side by side."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static, TextArea

from edgejudge.regression.compare import Diff, Worse
from edgejudge.regression.report import as_text, one_line, rich_table

FEEDBACK_CHARS = 80


class DiffView(ModalScreen[None]):
    """A diff: its table, then every metric's worse rows (enter: both feedbacks)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, diff: Diff) -> None:
        super().__init__()
        self.diff = diff
        self.rows: dict[str, tuple[str, Worse]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(
                f"{self.diff.base.name} → {self.diff.new.name}: did it get worse?",
                classes="dialog-title",
            )
            yield Static(rich_table(self.diff), id="diff-table")
            yield Label("got worse, largest drop first (enter: both feedbacks)")
            yield DataTable(id="diff-worse", cursor_type="row", zebra_stripes=True)
            yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        table = self.query_one("#diff-worse", DataTable)
        for name in ("metric", "id", "base → new", "new feedback"):
            table.add_column(name, key=name)
        for metric in self.diff.metrics:
            for number, row in enumerate(metric.worst):
                key = f"{metric.metric}\t{number}"
                self.rows[key] = (metric.metric, row)
                table.add_row(metric.metric, row.label, f"{row.base} → {row.new}",
                              one_line(row.new_feedback, FEEDBACK_CHARS), key=key)  # fmt: skip
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        found = self.rows.get(str(event.row_key.value))
        if found is not None:
            self.app.push_screen(SideBySide(*found))

    def on_button_pressed(self) -> None:
        self.dismiss()


class SideBySide(ModalScreen[None]):
    """One worse row: its inputs, then BASE's feedback and NEW's side by side."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, metric: str, row: Worse) -> None:
        super().__init__()
        self.metric, self.row = metric, row

    def compose(self) -> ComposeResult:
        row = self.row
        said = [f"{k}: {as_text(v)}" for k, v in (row.inputs or {}).items()]
        said += [f"{k} (NEW): {as_text(v)}" for k, v in (row.new_inputs or {}).items()]
        with Vertical(classes="dialog wide"):
            yield Label(f"{self.metric} · row {row.label}: {row.base} → {row.new}",
                        classes="dialog-title")  # fmt: skip
            if said:
                yield Static("\n".join(said), id="side-inputs", markup=False)
            with Horizontal(id="side-by-side"):
                with Vertical():
                    yield Label(f"BASE ({row.base})")
                    yield TextArea(row.base_feedback, read_only=True, soft_wrap=True,
                                   id="base-feedback")  # fmt: skip
                with Vertical():
                    yield Label(f"NEW ({row.new})")
                    yield TextArea(row.new_feedback, read_only=True, soft_wrap=True,
                                   id="new-feedback")  # fmt: skip
            yield Button("Close (esc)", id="close")

    def on_button_pressed(self) -> None:
        self.dismiss()
