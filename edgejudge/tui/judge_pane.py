"""The Judge tab: pick a model and a metric, edit the rubric, fill the fields, run.

The feedback streams in from `Judge.stream` in a worker thread; the pane only moves text
between widgets and the core (which renders the prompt, forces and parses the verdict). A
pairwise metric shows its inputs, then the two responses side by side, and runs
`Judge.compare`: the verdict (A, B or tie) with both orders' feedback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Collapsible, Select, Static, TextArea

from edgejudge.constants import DEFAULT_MAX_TOKENS
from edgejudge.core import PRESETS, EvalInput, Metric
from edgejudge.core.formats import Bound, bind
from edgejudge.core.metrics import PAIR_OUTPUTS, AnyMetric, PairwiseMetric
from edgejudge.core.pairs import PairInput
from edgejudge.core.presets import PAIRWISE_PRESETS
from edgejudge.core.probabilities import Distribution
from edgejudge.errors import Cancelled, EdgeJudgeError
from edgejudge.io.metric_files import resolve_any_metric, save_metric, user_metrics
from edgejudge.judging.choices import format_for
from edgejudge.judging.pairs import VERDICTS, PairResult
from edgejudge.judging.result import JudgeResult
from edgejudge.models.catalog import ModelEntry
from edgejudge.runtime.open import server_urls
from edgejudge.tui.dialogs import TextView
from edgejudge.tui.probability_bars import ProbabilityBars
from edgejudge.tui.rubric_editor import RubricEditor
from edgejudge.tui.score_badge import ScoreBadge
from edgejudge.tui.session import (
    RUNTIME_CHOICES,
    ModelSession,
    model_busy,
    runtime_choice,
    with_choice,
)
from edgejudge.tui.settings import TuiSettings

DEFAULT_METRIC = "response-faithfulness-5point"
INSTALLED_MARK, MISSING_MARK = "●", "○"  # in the model picker: on disk / pull first (ctrl+l)


@dataclass(frozen=True)
class JudgeChoice:
    """What the Judge tab would judge with now: the model, the metric as edited, and the
    values a verdict can take (the rubric's scores, or the format's labels)."""

    model: str | None
    metric: AnyMetric
    values: tuple[int | str, ...]


class FieldArea(TextArea):
    """The text area for one of the metric's fields, named after it."""

    def __init__(self, field_name: str, text: str) -> None:
        super().__init__(text, soft_wrap=True, classes="field")
        self.field_name = field_name
        self.border_title = field_name


def verdict_text(feedback: str, extras: Mapping[str, str]) -> str:
    """The feedback, then each extra the format gives (Glider's highlight) under its name."""
    parts = [feedback, *(f"{name.capitalize()}: {text}" for name, text in extras.items())]
    return "\n\n".join(parts)


class JudgePane(Vertical):
    """Model and metric pickers, the metric editor, one text area per field, the verdict.

    It is given the model session, the settings and the catalog (attributes down) and asks
    the app for a model pull with a `PullModel` message (messages up); it never names the app.
    """

    class PullModel(Message):
        """The user asked to download the chosen model (ctrl+l)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+g", "show_prompt", "Prompt"),
        Binding("ctrl+s", "save_metric", "Save metric"),
        Binding("ctrl+l", "pull_model", "Pull model", show=False),
    ]

    def __init__(
        self,
        session: ModelSession,
        settings: TuiSettings,
        catalog: dict[str, ModelEntry],
        installed: set[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.session, self.settings = session, settings
        self.catalog, self.installed = catalog, installed
        self.texts: dict[str, str] = {}  # what was typed per field name, across metrics
        self.fields: tuple[str, ...] = ()
        self.running = False
        self.feedback = ""
        self.last_result: JudgeResult | None = None
        self.last_pair: PairResult | None = None
        self.pairwise: PairwiseMetric | None = None  # the chosen metric, when pairwise

    def compose(self) -> ComposeResult:
        with Horizontal(id="judge-pickers"):
            yield Select[str]([], prompt="model", id="model", allow_blank=True)
            yield Select[str]([], prompt="metric", id="metric", allow_blank=True)
            yield Select[str](
                RUNTIME_CHOICES,
                prompt="runtime",
                id="runtime",
                allow_blank=False,
                tooltip="how the model runs: in-process (llama-cpp-python), or a llama.cpp "
                "server edgejudge starts (×N: judgments in flight); auto: a llamafile runs "
                "as a server, a GGUF in-process",
            )
            yield Button("Run", id="run", variant="primary", tooltip="ctrl+r")
        with Horizontal(id="judge-body"):
            with VerticalScroll(id="judge-form"):
                with Collapsible(title="criteria and rubric", id="metric-box"):
                    yield RubricEditor(id="editor")
                yield Static("", id="pair-criteria")
                yield Vertical(id="fields")
            with Vertical(id="judge-result"):
                with Horizontal(id="verdict-line"):
                    yield ScoreBadge(id="score")
                    yield Static("", id="stats")
                yield ProbabilityBars(id="probabilities")
                yield Static("", id="judge-error", classes="error")
                with VerticalScroll(id="feedback-box"):
                    yield Static("", id="feedback")

    def on_mount(self) -> None:
        self.query_one("#judge-error").display = False
        self.query_one("#pair-criteria").display = False
        self.query_one(ProbabilityBars).display = False
        self.refresh_runtime()
        self.refresh_metrics(self.settings.metric or DEFAULT_METRIC)
        self.show_models(self.catalog, self.installed)

    # -- choices ------------------------------------------------------------------------

    def show_models(self, catalog: dict[str, ModelEntry], installed: set[str]) -> None:
        """Fill the model picker from `catalog`: installed models first."""
        self.catalog, self.installed = catalog, installed
        options = []
        for name in sorted(catalog, key=lambda name: name not in installed):
            mark = INSTALLED_MARK if name in installed else MISSING_MARK
            options.append((f"{mark} {name}", name))
        picker = self.query_one("#model", Select)
        wanted = self.settings.model or next(iter(installed), None) or "demo"
        with picker.prevent(Select.Changed):
            picker.set_options(options)
            if wanted in catalog:
                picker.value = wanted

    def refresh_runtime(self) -> None:
        """Show how models run: the picker's choice, or the server URL the app was given."""
        picker = self.query_one("#runtime", Select)
        options = self.session.options
        choices = list(RUNTIME_CHOICES)
        if options.server_url:
            choices = [(f"URL: {', '.join(server_urls(options))}", "url")]
        value = "url" if options.server_url else runtime_choice(options)
        if value not in {choice for _, choice in choices}:
            choices.append((f"server ×{options.slots}", value))
        with picker.prevent(Select.Changed):
            picker.set_options(choices)
            picker.value = value

    def refresh_metrics(self, select: str | None = None) -> None:
        """Fill the metric picker with the presets and the user's saved metrics."""
        options = [(name, name) for name in PRESETS]
        options += [(f"{name}  (A/B)", name) for name in PAIRWISE_PRESETS]
        problems = []
        for found in user_metrics():
            if found.metric is None:
                problems.append(found.problem or found.name)
            elif found.name not in PRESETS and found.name not in PAIRWISE_PRESETS:
                options.append((f"{found.name}  (yours)", found.name))
        picker = self.query_one("#metric", Select)
        current = select or (picker.value if isinstance(picker.value, str) else None)
        picker.set_options(options)
        names = {value for _, value in options}
        picker.value = current if current in names else DEFAULT_METRIC
        for problem in problems:
            self.notify(problem, title="a saved metric does not load", severity="warning")

    def on_select_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        if event.select.id == "model":
            self.settings.model = event.value
            self.settings.save()
        elif event.select.id == "runtime" and event.value != "url":
            if model_busy(self.workers):
                self.notify("the model is busy; stop it before changing the runtime")
                self.refresh_runtime()
                return
            self.session.set_options(with_choice(self.session.options, event.value))
            self.settings.runtime = event.value
            self.settings.save()
        elif event.select.id == "metric":
            try:
                metric = resolve_any_metric(event.value)
            except EdgeJudgeError as exc:
                self.show_error(exc)
                return
            self.settings.metric = event.value
            self.settings.save()
            self.load_metric(metric)

    def load_metric(self, metric: AnyMetric) -> None:
        """Show `metric` in the editor and one text area per field it reads; a pairwise
        metric's criteria above its inputs, and the two responses side by side."""
        self._keep_texts()
        box = self.query_one("#fields", Vertical)
        box.remove_children()
        editor = self.query_one("#metric-box", Collapsible)
        criteria = self.query_one("#pair-criteria", Static)
        self.pairwise = metric if isinstance(metric, PairwiseMetric) else None
        editor.display = self.pairwise is None
        criteria.display = self.pairwise is not None
        self._empty_badge()
        if isinstance(metric, PairwiseMetric):
            criteria.update(f"{metric.name} · which response is better:\n{metric.criteria}")
            self.fields = (*metric.required_inputs, *PAIR_OUTPUTS)
            for name in metric.required_inputs:
                box.mount(FieldArea(name, self.texts.get(name, "")))
            box.mount(
                Horizontal(
                    *(FieldArea(name, self.texts.get(name, "")) for name in PAIR_OUTPUTS),
                    id="pair-fields",
                )
            )
            return
        self.query_one(RubricEditor).load(metric)
        editor.title = f"criteria and rubric · {metric.name} ({metric.scale})"
        self.fields = (*metric.required_inputs, metric.required_output)
        for name in self.fields:
            box.mount(FieldArea(name, self.texts.get(name, "")))

    def main_widget(self) -> Widget | None:
        """The widget to focus on arriving at the tab: the first text area."""
        areas = self.query("#fields TextArea")
        return areas.first() if areas else None

    def _keep_texts(self) -> None:
        for area in self.query("#fields FieldArea").results(FieldArea):
            self.texts[area.field_name] = area.text

    @property
    def model(self) -> str | None:
        """The chosen model's name."""
        value = self.query_one("#model", Select).value
        return value if isinstance(value, str) else None

    def current_metric(self) -> AnyMetric:
        """The metric as edited now (`MetricError` if it is not valid); a pairwise metric as
        chosen."""
        if self.pairwise is not None:
            return self.pairwise
        return self.query_one(RubricEditor).metric()

    def choice(self) -> JudgeChoice:
        """The model, the metric as edited now and the values a verdict can take with them
        (the Batch tab judges with these); `EdgeJudgeError` if the metric is not valid."""
        metric = self.current_metric()
        judge_format = format_for(self.model, catalog=self.catalog)
        if isinstance(metric, PairwiseMetric):
            return JudgeChoice(self.model, metric, VERDICTS)
        return JudgeChoice(self.model, metric, judge_format.decision_values(metric))

    def _typed(self) -> dict[str, str]:
        """The typed fields; an empty field counts as missing."""
        self._keep_texts()
        return {name: self.texts[name] for name in self.fields if self.texts.get(name, "").strip()}

    def current_item(self, bound: Bound) -> EvalInput | PairInput:
        """The typed fields as the bound metric's input (a pair for a pairwise metric)."""
        return bound.read(self._typed())

    # -- actions ------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_run()
        elif event.button.id == "save-metric":
            self.action_save_metric()

    def action_run(self) -> None:
        """Judge the typed input with the chosen model and the edited metric."""
        if model_busy(self.workers):
            self.notify("the model is busy (a batch is running); stop it first", severity="warning")
            return
        model = self.model
        try:
            if model is None:
                raise EdgeJudgeError("choose a model first")
            metric = self.current_metric()
            # A family that cannot express the metric, and bad input, before any loading.
            item = self.current_item(bind(format_for(model, catalog=self.catalog), metric))
        except EdgeJudgeError as exc:
            self.show_error(exc)
            return
        self.clear_result("loading the model…" if not self.session.is_loaded(model) else "")
        self.running = True
        self.judge_worker(model, metric, item)

    @work(thread=True, group="model")
    def judge_worker(self, model: str, metric: AnyMetric, item: EvalInput | PairInput) -> None:
        """Load (if needed) and judge, streaming the feedback into the pane; a pair in both
        orders, shown when both are in."""
        call = self.app.call_from_thread
        try:
            judge = self.session.judge(model, metric)
            if isinstance(metric, PairwiseMetric) and isinstance(item, PairInput):
                call(self.set_status, "judging both orders…")
                call(self.show_pair, judge.compare(item))
            elif isinstance(metric, Metric) and isinstance(item, EvalInput):
                call(self.set_status, "judging…")
                for piece in judge.stream(item):
                    if isinstance(piece, JudgeResult):
                        call(self.show_result, piece, judge.format.decision_values(metric))
                    else:
                        call(self.add_feedback, piece)
        except Cancelled:
            call(self.set_status, "cancelled")
        except Exception as exc:  # noqa: BLE001 - ours or llama.cpp's: shown, and the app goes on
            call(self.show_error, exc)
        finally:
            call(setattr, self, "running", False)

    def action_cancel(self) -> None:
        """Stop the judgment that is generating."""
        if self.running:
            self.session.cancel()

    def action_show_prompt(self) -> None:
        """Show the exact prompt and grammar the judge would be given."""
        try:
            bound = bind(format_for(self.model, catalog=self.catalog), self.current_metric())
            grammar = bound.grammar(DEFAULT_MAX_TOKENS)
            prompt = bound.render_prompt(self.current_item(bound))
        except EdgeJudgeError as exc:
            self.show_error(exc)
            return
        texts = {"prompt": prompt, "grammar": grammar}
        self.app.push_screen(TextView(f"What {self.model} is given", texts))

    def action_save_metric(self) -> None:
        """Save the edited metric as CONFIG/metrics/NAME.toml (usable as --metric NAME)."""
        try:
            metric = self.current_metric()
            path = save_metric(metric)
        except (EdgeJudgeError, OSError) as exc:
            self.show_error(exc)
            return
        self.notify(f"saved {metric.name} to {path}", title="metric saved")
        self.refresh_metrics(metric.name)

    def action_pull_model(self) -> None:
        """Pull the chosen model (on the Models tab)."""
        if self.model:
            self.post_message(self.PullModel(self.model))

    # -- showing ------------------------------------------------------------------------

    def clear_result(self, status: str = "") -> None:
        """Empty the verdict area before a run."""
        self.query_one("#judge-error").display = False
        self._empty_badge()
        self.query_one(ProbabilityBars).show(None)
        self.query_one("#stats", Static).update(status)
        self.feedback = ""
        self.query_one("#feedback", Static).update("")

    def set_status(self, text: str) -> None:
        """A word on what is happening, beside the score."""
        self.query_one("#stats", Static).update(text)

    def add_feedback(self, text: str) -> None:
        """Append streamed feedback."""
        self.feedback += text
        self.query_one("#feedback", Static).update(self.feedback)
        self.query_one("#feedback-box", VerticalScroll).scroll_end(animate=False)

    def show_result(self, result: JudgeResult, values: tuple[int | str, ...]) -> None:
        """The verdict: badge (its decision among `values`), numbers and the final feedback."""
        self.query_one(ScoreBadge).show(result.decision, values)
        self.query_one(ProbabilityBars).show(result.distribution)
        self.query_one("#stats", Static).update(result.stats())
        self.query_one("#feedback", Static).update(verdict_text(result.feedback, result.extras))
        self.last_result = result

    def _empty_badge(self) -> None:
        """The badge before a verdict: what the chosen metric's verdict will be."""
        self.query_one(ScoreBadge).clear("verdict –" if self.pairwise else "score –")

    def show_pair(self, result: PairResult) -> None:
        """A pairwise verdict: A, B or tie on the badge, P(A better) and P(B better) as bars,
        and both orders' feedback and choices."""
        self.query_one(ScoreBadge).show(result.verdict, VERDICTS)
        odds = result.probabilities
        values: dict[int | str, float] = {k: v for k, v in (odds or {}).items()}
        shown = Distribution(values, complete=True) if values else None
        self.query_one(ProbabilityBars).show(shown)
        self.query_one("#stats", Static).update(result.stats())
        self.query_one("#feedback", Static).update("\n".join(result.lines()))
        self.last_pair = result

    def show_error(self, error: BaseException) -> None:
        """An error in words, in place of the verdict; everything stays usable."""
        label = self.query_one("#judge-error", Static)
        hint = ""
        if type(error).__name__ == "ModelNotFoundError" and self.model:
            hint = "  Press ctrl+l to pull it."
        label.update(f"{type(error).__name__}: {error}{hint}")
        label.display = True
        self.query_one("#stats", Static).update("")
