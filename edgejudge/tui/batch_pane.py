"""The Batch tab: judge a JSONL file row by row, with the same resume rules as `edgejudge batch`.

Rows are judged by `edgejudge.judging.batch.run_batch`, which appends each verdict to the output as
one whole line, so stopping (or quitting) never loses a finished row and the next run skips it;
the output is locked for the run, as the CLI locks it. Besides the Judge tab's metric, more
metrics may be named: each row is then judged on each (one table line and one histogram per
metric), a row's metrics one after another, as `edgejudge batch -m A -m B` does. `ctrl+d`
compares the output with an earlier run's journal (`edgejudge diff`): each metric's change
and the rows that got worse, each row's two feedbacks side by side. Where the
rows carry conversations (`messages`), a "per turn" box appears: checked, each assistant
turn is judged in the context of the turns before it, keyed (id, turn), as `--per-turn`.
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
from textual.widgets import Button, Checkbox, DataTable, Input, ProgressBar, Static

from edgejudge.core.conversation import has_conversation
from edgejudge.core.formats.base import DECISION_KINDS
from edgejudge.core.metrics import AnyMetric, Metric
from edgejudge.core.rows import parse_map
from edgejudge.errors import Cancelled, EdgeJudgeError, InputError
from edgejudge.judging import batch
from edgejudge.judging.choices import resolve_metrics
from edgejudge.judging.pairs import pair_lines
from edgejudge.judging.rows import RowSource
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


def table_key(row: batch.Row, metric: str | None, first: str | None) -> str:
    """The table's key for a row judged on `metric`: the row's own for the first metric."""
    return row.key if metric == first else f"{row.key}\t{metric}"


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


class _Unmapped(Exception):
    """A table with no column for a field the metrics read."""


class BatchPane(Vertical):
    """Input and output files, run/stop, a progress bar, the results table and a histogram.

    It judges with the Judge tab's model and metric, which it reads through `choice`, the
    function it is given (attributes down); it never names the app or the other tabs.
    """

    BINDINGS = [
        Binding("ctrl+o", "open", "Open"),
        Binding("ctrl+r", "run", "Run"),
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+d", "compare", "Compare"),
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
        self.results: dict[batch.Done, dict[str, Any]] = {}  # by (row key, metric)
        self.metric_names: list[str] = []  # those of the last run or load; first: Judge tab's
        self.running = False
        self.stop_requested = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="batch-files"):
            yield Input(placeholder="IN (.jsonl .csv .parquet…)", id="batch-input")
            yield Button("Open", id="open", tooltip="ctrl+o")
            yield Input(placeholder="OUT (default IN.verdicts.jsonl)", id="batch-output")
            yield Input(placeholder="more metrics: name, name", id="batch-metrics")
            # Shown where the rows carry conversations.
            yield Checkbox("per turn", id="batch-per-turn", tooltip="judge each assistant turn")
            yield Button("Run", id="batch-run", variant="primary", tooltip="ctrl+r")
        # Shown where a table's columns are not the metric's fields (or a mapping is given).
        yield Input(
            placeholder="map the metric's fields to your columns: query=question, response=answer",
            id="batch-map",
        )
        yield Static(
            "open a file of rows: JSONL, JSON, CSV/TSV, Parquet or a dataset folder",
            id="batch-info",
        )
        yield ProgressBar(id="batch-progress", show_eta=True)
        with Horizontal(id="batch-body"):
            yield DataTable(id="batch-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="histograms"):
                yield Histogram(id="histogram")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id", width=8)
        table.add_column("metric", key="metric", width=16)
        table.add_column("score", key="score", width=5)
        table.add_column("feedback", key="feedback")
        self.query_one(ProgressBar).display = False
        self.query_one("#batch-map", Input).display = False
        self.query_one("#batch-per-turn", Checkbox).display = False
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
        if event.input.id in {"batch-input", "batch-output", "batch-metrics", "batch-map"} and (
            self.load()
        ):
            self.query_one(DataTable).focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "batch-per-turn" and not self.running:
            self.load()

    def action_compare(self) -> None:
        """Compare the output with an earlier run's (`edgejudge diff`): pick its journal."""
        out = self.output_path
        if out is None or not out.is_file():
            self.say("judge a file first: Compare sets its output against an earlier run's",
                     error=True)  # fmt: skip
            return

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.compare_with(path)

        self.app.push_screen(PickFile(Path.cwd()), chosen)

    def compare_with(self, base: Path) -> None:
        """Show `base` (the run before) against this output (the run after)."""
        from edgejudge.regression.compare import diff
        from edgejudge.tui.diff_view import DiffView

        out = self.output_path
        assert out is not None
        given = self.input_path
        mapping = self._mapping()
        try:
            source = RowSource(given, mapping=mapping, per_turn=self.per_turn) if given else None
            found = diff(base, out, inputs=(source, source) if source is not None else None)
        except EdgeJudgeError as exc:
            self.say(f"{type(exc).__name__}: {exc}", error=True)
            return
        self.app.push_screen(DiffView(found))

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
            self.rows = self._read(source)
        except _Unmapped as exc:
            self.say(f"{exc}: type it in the box above and press enter", error=True)
            self.query_one("#batch-map", Input).focus()
            return False
        except Exception as exc:  # noqa: BLE001 - ours or unforeseen: shown, the app stays up
            self.say(f"{type(exc).__name__}: {exc}", error=True)
            return False
        self.results = batch.read_records(out)
        self.settings.batch_input = str(self.query_one("#batch-input", Input).value)
        self.settings.batch_output = str(self.query_one("#batch-output", Input).value)
        self.settings.save()
        try:
            self.metric_names = [m.name for m in self.metrics()]
        except EdgeJudgeError:  # the Judge tab's metric is being edited: show what is there
            self.metric_names = []
        names: list[str | None] = [*self.metric_names] or [None]
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            for name in names:
                record = self.record(row, name)
                score = "" if record is None else _decision_cell(record)
                text = PENDING if record is None else first_line(record)
                label = name or (record or {}).get("metric", "")
                table.add_row(_row_label(row), _short(str(label)), score, text,
                              key=table_key(row, name, names[0]))  # fmt: skip
        self.redraw_histogram()
        done = sum(self.record(row, name) is not None for row in self.rows for name in names)
        total = len(self.rows) * len(names)
        unit = "turns" if any(row.turn is not None for row in self.rows) else "rows"
        what = f"{len(self.rows)} {unit}" + (f" x {len(names)} metrics" if len(names) > 1 else "")
        self.say(f"{what} in {source}, {done} already in {out}")
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        return True

    def _read(self, source: Path) -> list[batch.Row]:
        """The input's rows, read through the mapping typed in the map box; `_Unmapped`
        (and the box shown) where a table lacks a column for the metrics' fields."""
        box = self.query_one("#batch-map", Input)
        mapping = self._mapping()
        try:
            metrics = self.metrics()
        except EdgeJudgeError:  # the Judge tab's metric is being edited: rows read as they are
            metrics = []
        try:
            RowSource(source, mapping=mapping).check(metrics)
        except InputError as exc:
            if "has no column for" not in str(exc):
                raise
            box.display = True
            raise _Unmapped(str(exc).split("; name the column")[0]) from None
        box.display = box.display or bool(mapping)
        rows = batch.read_rows(source, mapping=mapping, per_turn=self.per_turn)
        talks = any(row.turn is not None or has_conversation(row.data) for row in rows)
        self.query_one("#batch-per-turn", Checkbox).display = talks
        return rows

    def _mapping(self) -> dict[str, str]:
        """The mapping typed in the map box (`query=question, response=answer`)."""
        box = self.query_one("#batch-map", Input)
        return parse_map(part for part in box.value.split(",") if part.strip())

    @property
    def per_turn(self) -> bool:
        """Whether each assistant turn is judged (the box, where it is shown, is checked)."""
        box = self.query_one("#batch-per-turn", Checkbox)
        return bool(box.value)

    def metrics(self) -> list[AnyMetric]:
        """The Judge tab's metric, then those named in the metrics field."""
        field = self.query_one("#batch-metrics", Input).value
        more = [name.strip() for name in field.split(",") if name.strip()]
        return resolve_metrics([self.choice().metric, *more])

    def record(self, row: batch.Row, metric: str | None) -> dict[str, Any] | None:
        """The output's line for `row` on `metric` (a line naming no metric stands for any;
        with no metric known, the row's first line)."""
        if metric is None:
            return next((r for (key, _), r in self.results.items() if key == row.key), None)
        return self.results.get((row.key, metric)) or self.results.get((row.key, None))

    def redraw_histogram(self) -> None:
        """One histogram per metric: its verdicts, on the values its judge can give."""
        names: list[str | None] = [*self.metric_names] or [None]
        box = self.query_one("#histograms", Vertical)
        shown = list(box.query(Histogram))
        for extra in shown[len(names) :]:
            extra.remove()
        for index in range(len(shown), len(names)):
            box.mount(Histogram(id=f"histogram-{index}"))
        try:
            chosen = self.metrics() if self.metric_names else []
        except EdgeJudgeError:
            chosen = []
        for index, name in enumerate(names):
            histogram = self.histogram(index)
            histogram.border_title = _short(name) if len(names) > 1 and name else None
            scale: tuple[int | str, ...] = ()
            if index == 0:
                try:
                    scale = self.choice().values
                except EdgeJudgeError:
                    scale = ()
            elif index < len(chosen) and isinstance(metric := chosen[index], Metric):
                scale = tuple(metric.scores)
            records = [r for r in (self.record(row, name) for row in self.rows) if r]
            found = [batch.row_decision(r) for r in records]
            histogram.reset(scale_with(scale, [v for v in found if v is not None]))
            for record in records:
                histogram.add(batch.row_decision(record), _expected(record), _consistent(record))

    def histogram(self, index: int) -> Histogram:
        """The histogram of the `index`th metric."""
        return self.query_one("#histogram" if index == 0 else f"#histogram-{index}", Histogram)

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
            metrics = self.metrics()
        except EdgeJudgeError as exc:
            self.say(f"{type(exc).__name__}: {exc}", error=True)
            return
        assert self.output_path is not None
        self.running, self.stop_requested = True, False
        self.batch_worker(choice.model, metrics, self.rows, self.output_path)

    @work(thread=True, group="model")
    def batch_worker(
        self, model: str, metrics: list[AnyMetric], rows: list[batch.Row], out: Path
    ) -> None:
        """Judge the rows not yet in `out`, one flushed line per row, until done or stopped.

        The output is locked for the run, as `edgejudge batch` locks it: a batch of the same
        file in another process is refused here, in words, and that run goes on untouched.
        """
        call = self.app.call_from_thread
        written = failed = pairs = 0
        todo: list[batch.Row] = []
        try:
            inputs = [self.input_path] if self.input_path else []
            with batch.BatchOutput(out, inputs=inputs) as output:  # repairs a torn last line
                names = [m.name for m in metrics]
                todo = output.pending(rows, names)
                if not todo:
                    call(self.say, f"nothing to do: all {len(rows)} rows are in {out}")
                    return
                pairs = sum(not output.has(row, name) for row in todo for name in names)
                call(self.query_one(ProgressBar).update, total=pairs, progress=0)
                call(self.say, f"judging {len(todo)} rows with {model} · {', '.join(names)} …")
                judge = self.session.judge(model, metrics[0]).with_metrics(metrics)
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
        left = pairs - written
        how = f"stopped: {left} judgments left; Run resumes" if left else "done"
        call(self.say, f"{how} · {written - failed} judged, {failed} failed this run -> {out}")

    def action_stop(self) -> None:
        """Stop after (or, if it is generating, during) the current row."""
        if self.running:
            self.stop_requested = True
            self.session.cancel()
            self.say("stopping…")

    def add_record(self, record: dict[str, Any]) -> None:
        """Show one row the batch has written."""
        key, metric = batch.done_key(record)
        self.results[(key, metric)] = record
        names: list[str | None] = [*self.metric_names] or [metric]
        index = names.index(metric) if metric in names else 0
        row = next((r for r in self.rows if r.key == key), None)
        if row is None:
            return
        cell = table_key(row, names[index], names[0])
        table = self.query_one(DataTable)
        table.update_cell(cell, "score", _decision_cell(record))
        table.update_cell(cell, "feedback", first_line(record), update_width=True)
        self.histogram(index).add(
            batch.row_decision(record), _expected(record), _consistent(record)
        )
        self.query_one(ProgressBar).advance(1)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key, _, metric = str(event.row_key.value).partition("\t")
        row = next((r for r in self.rows if r.key == key), None)
        if row is None:
            return
        names: list[str | None] = [*self.metric_names] or [None]
        record = self.record(row, metric or names[0])
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
        self.app.push_screen(TextView(f"row {_row_label(row)}", texts))

    def main_widget(self) -> Widget:
        """The widget to focus on arriving at the tab: the table, or the file name."""
        return self.query_one(DataTable) if self.rows else self.query_one("#batch-input", Input)

    def say(self, text: str, error: bool = False) -> None:
        """A line of status under the file names."""
        info = self.query_one("#batch-info", Static)
        info.set_class(error, "error")
        info.update(text)


def _row_label(row: batch.Row) -> str:
    """A row's id as the table shows it: `7`, or `7 #2` for its second assistant turn."""
    return str(row.id) if row.turn is None else f"{row.id} #{row.turn}"


def _expected(record: dict[str, Any]) -> float | None:
    """A result row's expected score, where its probabilities were measured."""
    value = record.get("expected_score")
    return float(value) if isinstance(value, int | float) else None


def _consistent(record: dict[str, Any]) -> bool | None:
    """Whether a pairwise row's two orders agreed; None for other rows or one order."""
    value = record.get("consistent")
    return value if isinstance(value, bool) else None


def _short(metric: str) -> str:
    """A metric's name for the table and the histograms' titles."""
    return metric.removeprefix("response-")


def _decision_cell(record: dict[str, Any]) -> str:
    """The table's verdict cell: the score, label or choice, or `err` for a failed row."""
    decision = batch.row_decision(record)
    return "err" if decision is None else str(decision)
