"""The metric editor: name, criteria and rubric rows (add, remove, reorder), as a `Metric`.

It only collects text; `Metric` validation (the core's) decides what is a valid metric, and
its one-line `MetricError` is what the user sees.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Collapsible, Input, Label, TextArea

from edgejudge.core import Metric, RubricItem, metric_from_dict
from edgejudge.errors import MetricError


class RubricRow(Horizontal):
    """One score and its description."""

    def __init__(self, item: RubricItem | None = None) -> None:
        super().__init__(classes="rubric-row")
        self.item = item

    def compose(self) -> ComposeResult:
        score = "" if self.item is None else str(self.item.score)
        yield Input(score, type="integer", placeholder="score", classes="score")
        yield Input(
            "" if self.item is None else self.item.description,
            placeholder="what earns this score",
            classes="description",
        )

    def values(self) -> tuple[str, str]:
        """The score and description as typed."""
        return self.query_one(".score", Input).value, self.query_one(".description", Input).value


class RubricEditor(Vertical):
    """Edits a metric's name, criteria and rubric; the fields it reads stay the metric's."""

    BINDINGS = [
        Binding("ctrl+n", "add_row", "Add score"),
        Binding("ctrl+k", "remove_row", "Remove score"),
        Binding("alt+up", "move_row(-1)", "Move up", show=False),
        Binding("alt+down", "move_row(1)", "Move down", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base: Metric | None = None

    def compose(self) -> ComposeResult:
        yield Label("name")
        yield Input(id="metric-name", placeholder="a name to save it under")
        yield Label("criteria")
        yield TextArea(id="criteria", soft_wrap=True)
        yield Label("rubric  (ctrl+n add · ctrl+k remove · alt+↑/↓ move)")
        yield Vertical(id="rubric-rows")
        with Horizontal(classes="buttons"):
            yield Button("+ score", id="add-score")
            yield Button("Save metric (ctrl+s)", id="save-metric")

    def load(self, metric: Metric) -> None:
        """Show `metric` for editing."""
        self.base = metric
        self.query_one("#metric-name", Input).value = metric.name
        self.query_one("#criteria", TextArea).text = metric.criteria
        rows = self.query_one("#rubric-rows", Vertical)
        rows.remove_children()
        rows.mount_all(RubricRow(item) for item in metric.rubric)

    def metric(self) -> Metric:
        """The metric as edited now; `MetricError` says what is wrong with it."""
        if self.base is None:
            raise MetricError("choose a metric first")
        rubric = []
        for number, row in enumerate(self.query(RubricRow), start=1):
            score, description = row.values()
            try:
                value = int(score)
            except ValueError:
                raise MetricError(f"rubric row {number}: {score!r} is not a whole number") from None
            rubric.append({"score": value, "description": description.strip()})
        data = self.base.model_dump(exclude_none=True)
        data.update(
            name=self.query_one("#metric-name", Input).value.strip(),
            criteria=self.query_one("#criteria", TextArea).text.strip(),
            rubric=rubric,
        )
        return metric_from_dict(data, source="the metric editor")

    def on_descendant_focus(self) -> None:
        """Open the collapsed section this editor sits in, so the focused row is seen."""
        for node in self.ancestors:
            if isinstance(node, Collapsible):
                node.collapsed = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add-score":
            event.stop()
            self.action_add_row()

    def action_add_row(self) -> None:
        """Add an empty score row and focus it."""
        row = RubricRow()
        self.query_one("#rubric-rows", Vertical).mount(row)
        self.call_after_refresh(lambda: row.query_one(".score", Input).focus())

    def action_remove_row(self) -> None:
        """Remove the row that has focus."""
        row = self._focused_row()
        if row is not None:
            row.remove()

    def action_move_row(self, step: int) -> None:
        """Move the focused row up (-1) or down (1)."""
        row = self._focused_row()
        if row is None:
            return
        rows = list(self.query(RubricRow))
        index = rows.index(row)
        target = index + step
        if 0 <= target < len(rows):
            container = self.query_one("#rubric-rows", Vertical)
            if step < 0:
                container.move_child(row, before=rows[target])
            else:
                container.move_child(row, after=rows[target])

    def _focused_row(self) -> RubricRow | None:
        node: Widget | None = self.screen.focused
        while node is not None and not isinstance(node, RubricRow):
            node = node.parent if isinstance(node.parent, Widget) else None
        return node
