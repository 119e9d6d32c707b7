"""The Batch tab: judge a JSONL file row by row, with the same resume rules as `edgejudge batch`.

Rows are judged by `edgejudge.judging.batch.run_batch`, which appends each verdict to the output as
one whole line, so stopping (or quitting) never loses a finished row and the next run skips it;
the output is locked for the run, as the CLI locks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from edgejudge.core.formats.base import DECISION_KINDS
from edgejudge.core.metrics import AnyMetric
from edgejudge.errors import Cancelled, EdgeJudgeError
from edgejudge.judging import batch
from edgejudge.judging.pairs import pair_lines
from edgejudge.tui.dialogs import PickFile, TextView
from edgejudge.tui.histogram import Histogram, scale_with
from edgejudge.tui.judge_pane import JudgeChoice, verdict_text
from edgejudge.tui.session import ModelSession, model_busy
from edgejudge.tui.settings import TuiSettings

PENDING = "·"
FEEDBACK_CHARS = 100  # of the first line, in the table; the whole is one enter away


def default_output(path: Path) -> Path:
    """`cases.jsonl` -> `cases.verdicts.jsonl`, beside it."""
    return path.with_name(f"{path.stem}.verdicts.jsonl")


def first_line(record: dict[str, Any]) -> str:
    """The table's text for an output row: the feedback's first line, or the error."""
    if batch.ERROR_KEY in record:
        text = f"error: {record[batch.ERROR_KEY]}"
    elif isinstance(record.get("orders"), list) and record["orders"]:  # a pair: order A,B's
        text = str(record["orders"][0].get("feedback", "")).strip()
    else:
        text = str(record.get("feedback", "")).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= FEEDBACK_CHARS else line[: FEEDBACK_CHARS - 1] + "…"


class BatchPane(Vertical):
    """Input and output files, run/stop, a progress bar, the results table and a histogram.

    It judges with the Judge tab's model and metric, which it reads through `choice`, the
    function it is given (attributes down); it never names the app or the other tabs.
    """

    BINDINGS = [
        Binding("ctrl+o", "open", "Open"),
        Binding("ctrl+r", "run", "Run"),
        Binding("escape", "stop", "Stop"),
    ]

    def __init__(
        self,
        session: ModelSession,
        settings: TuiSettings,
        choice: Callable[[], JudgeChoice],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.session, self.settings, self.choice = session, settings, choice
        self.rows: list[batch.Row] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.running = False
        self.stop_requested = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="batch-files"):
            yield Input(placeholder="IN.jsonl", id="batch-input")
            yield Button("Open", id="open", tooltip="ctrl+o")
            yield Input(placeholder="OUT (default IN.verdicts.jsonl)", id="batch-output")
            yield Button("Run", id="batch-run", variant="primary", tooltip="ctrl+r")
        yield Static(
            "open a JSONL file: one object per line, keys as the metric names them", id="batch-info"
        )
        yield ProgressBar(id="batch-progress", show_eta=True)
        with Horizontal(id="batch-body"):
            yield DataTable(id="batch-table", cursor_type="row", zebra_stripes=True)
            yield Histogram(id="histogram")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id", width=8)
        table.add_column("score", key="score", width=5)
        table.add_column("feedback", key="feedback")
        self.query_one(ProgressBar).display = False
        settings = self.settings
        if settings.batch_input:
            self.query_one("#batch-input", Input).value = settings.batch_input
            self.query_one("#batch-output", Input).value = settings.batch_output
            self.load()

    # -- files --------------------------------------------------------------------------

    @property
    def input_path(self) -> Path | None:
        """The input file as typed."""
        text = self.query_one("#batch-input", Input).value.strip()
        return Path(text).expanduser() if text else None

    @property
    def output_path(self) -> Path | None:
        """The output file as typed, or the default beside the input."""
        text = self.query_one("#batch-output", Input).value.strip()
        if text:
            return Path(text).expanduser()
        return default_output(self.input_path) if self.input_path else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in {"batch-input", "batch-output"} and self.load():
            self.query_one(DataTable).focus()

    def action_open(self) -> None:
        """Choose the input file from a tree of the working directory."""

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.query_one("#batch-input", Input).value = str(path)
                self.query_one("#batch-output", Input).value = ""
                if self.load():
                    self.query_one(DataTable).focus()

        self.app.push_screen(PickFile(Path.cwd()), chosen)

    def load(self) -> bool:
        """Read the input and whatever the output already holds into the table."""
        source, out = self.input_path, self.output_path
        if source is None or out is None:
            return False
        try:
            self.rows = batch.read_rows(source)
        except Exception as exc:  # noqa: BLE001 - ours or unforeseen: shown, the app stays up
            self.say(f"{type(exc).__name__}: {exc}", error=True)
            return False
        self.results = batch.read_results(out)
        self.settings.batch_input = str(self.query_one("#batch-input", Input).value)
        self.settings.batch_output = str(self.query_one("#batch-output", Input).value)
        self.settings.save()
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            record = self.results.get(row.key)
            score = "" if record is None else _decision_cell(record)
            text = PENDING if record is None else first_line(record)
            table.add_row(str(row.id), score, text, key=row.key)
        self.redraw_histogram()
        done = sum(row.key in self.results for row in self.rows)
        self.say(f"{len(self.rows)} rows in {source}, {done} already in {out}")
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=len(self.rows), progress=done)
        return True

    def redraw_histogram(self) -> None:
        """Count the verdicts in the results, on the values the current judge can give."""
        histogram = self.query_one(Histogram)
        try:
            scale = self.choice().values
        except EdgeJudgeError:
            scale = ()
        found = [batch.row_decision(r) for r in self.results.values()]
        histogram.reset(scale_with(scale, [v for v in found if v is not None]))
        for row in self.rows:
            if row.key in self.results:
                record = self.results[row.key]
                histogram.add(batch.row_decision(record), _expected(record), _consistent(record))

    # -- running ------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "open":
            self.action_open()
        elif event.button.id == "batch-run":
            self.action_run()

    def action_run(self) -> None:
        """Judge the rows not yet in the output, with the Judge tab's model and metric."""
        if model_busy(self.workers):
            self.notify("the model is busy; wait for it or cancel (esc)", severity="warning")
            return
        try:
            if not self.load():
                raise EdgeJudgeError("choose an input file first")
            choice = self.choice()
            if choice.model is None:
                raise EdgeJudgeError("choose a model on the Judge tab first")
        except EdgeJudgeError as exc:
            self.say(f"{type(exc).__name__}: {exc}", error=True)
            return
        assert self.output_path is not None
        self.running, self.stop_requested = True, False
        self.batch_worker(choice.model, choice.metric, self.rows, self.output_path)

    @work(thread=True, group="model")
    def batch_worker(self, model: str, metric: AnyMetric, rows: list[batch.Row], out: Path) -> None:
        """Judge the rows not yet in `out`, one flushed line per row, until done or stopped.

        The output is locked for the run, as `edgejudge batch` locks it: a batch of the same
        file in another process is refused here, in words, and that run goes on untouched.
        """
        call = self.app.call_from_thread
        written = failed = 0
        todo: list[batch.Row] = []
        try:
            with batch.BatchOutput(out) as output:  # also repairs a torn last line
                todo = output.pending(rows)
                if not todo:
                    call(self.say, f"nothing to do: all {len(rows)} rows are in {out}")
                    return
                call(self.query_one(ProgressBar).update, total=len(todo), progress=0)
                call(self.say, f"judging {len(todo)} rows with {model} · {metric.name} …")
                judge = self.session.judge(model, metric)
                with closing(batch.run_batch(judge, todo, output)) as records:
                    for record in records:
                        written += 1
                        failed += batch.ERROR_KEY in record
                        call(self.add_record, record)
                        if self.stop_requested:
                            break
        except Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - ours or llama.cpp's: shown, the app stays up
            call(self.say, f"{type(exc).__name__}: {exc}", True)
            return
        finally:
            call(setattr, self, "running", False)
        left = len(todo) - written
        how = f"stopped: {left} rows left; Run resumes" if left else "done"
        call(self.say, f"{how} · {written - failed} judged, {failed} failed this run -> {out}")

    def action_stop(self) -> None:
        """Stop after (or, if it is generating, during) the current row."""
        if self.running:
            self.stop_requested = True
            self.session.cancel()
            self.say("stopping…")

    def add_record(self, record: dict[str, Any]) -> None:
        """Show one row the batch has written."""
        key = batch.id_key(record[batch.ID_KEY])
        self.results[key] = record
        table = self.query_one(DataTable)
        table.update_cell(key, "score", _decision_cell(record))
        table.update_cell(key, "feedback", first_line(record), update_width=True)
        self.query_one(Histogram).add(
            batch.row_decision(record), _expected(record), _consistent(record)
        )
        self.query_one(ProgressBar).advance(1)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        row = next((r for r in self.rows if r.key == key), None)
        if row is None:
            return
        record = self.results.get(row.key)
        if record is None:
            verdict = "not judged yet"
        elif batch.ERROR_KEY in record:
            verdict = f"error ({record.get('error_type', '')}): {record[batch.ERROR_KEY]}"
        elif isinstance(record.get("orders"), list):
            verdict = "\n".join(pair_lines(record))
        else:
            kind = next((k for k in DECISION_KINDS if k in record), "score")
            text = verdict_text(str(record.get("feedback", "")), record.get("extras") or {})
            verdict = f"{kind} {batch.row_decision(record)}\n\n{text}"
        shown = row.problem or json.dumps(row.data, indent=2, ensure_ascii=False)
        texts = {"verdict": verdict, "inputs and output": shown}
        self.app.push_screen(TextView(f"row {row.id}", texts))

    def main_widget(self) -> Widget:
        """The widget to focus on arriving at the tab: the table, or the file name."""
        return self.query_one(DataTable) if self.rows else self.query_one("#batch-input", Input)

    def say(self, text: str, error: bool = False) -> None:
        """A line of status under the file names."""
        info = self.query_one("#batch-info", Static)
        info.set_class(error, "error")
        info.update(text)


def _expected(record: dict[str, Any]) -> float | None:
    """A result row's expected score, where its probabilities were measured."""
    value = record.get("expected_score")
    return float(value) if isinstance(value, int | float) else None


def _consistent(record: dict[str, Any]) -> bool | None:
    """Whether a pairwise row's two orders agreed; None for other rows or one order."""
    value = record.get("consistent")
    return value if isinstance(value, bool) else None


def _decision_cell(record: dict[str, Any]) -> str:
    """The table's verdict cell: the score, label or choice, or `err` for a failed row."""
    decision = batch.row_decision(record)
    return "err" if decision is None else str(decision)
