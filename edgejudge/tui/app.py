"""`edgejudge tui`: the Judge, Batch and Models tabs in one Textual app.

A shell over the same core as the API and CLI: prompts, grammars and verdicts come from
`edgejudge.judging.Judge`; files, downloads and checks from `batch`, `download` and `store`.
Blocking work runs in thread workers, which report back with `call_from_thread`.

The app owns what the tabs share: the model session, the settings, the catalog and the
doctor's report. It hands them down when it makes a tab (and the catalog again whenever it
changes); a tab that needs something of the app posts a message up (`JudgePane.PullModel`,
`ModelsPane.StoreChanged`). No tab imports the app or reaches into another tab: the Batch
tab reads the Judge tab's model and metric through the `choice` function it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from edgejudge.models.catalog import ModelEntry, load_catalog
from edgejudge.runtime.options import RuntimeOptions
from edgejudge.system.doctor import Report
from edgejudge.tui.batch_pane import BatchPane
from edgejudge.tui.judge_pane import JudgePane
from edgejudge.tui.models_pane import ModelsPane
from edgejudge.tui.session import ModelSession, with_choice
from edgejudge.tui.settings import TuiSettings

TABS = ("judge", "batch", "models")
Examine = Callable[[dict[str, ModelEntry]], Report]


class EdgeJudgeApp(App[None]):
    """Judge one example, run a file of cases, manage judge models."""

    TITLE = "edgejudge"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("f1", "show_tab('judge')", "Judge", show=False),
        Binding("f2", "show_tab('batch')", "Batch", show=False),
        Binding("f3", "show_tab('models')", "Models", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        *,
        model: str | None = None,
        metric: str | None = None,
        examine: Examine | None = None,
        options: RuntimeOptions | None = None,
    ) -> None:
        """`model` and `metric` preselect; `examine` looks at the machine (doctor's, or a
        stand-in with fixed facts for snapshot tests); `options` say how to run models
        (the command line's --runtime, --slots, --server-url...), else the last choice."""
        super().__init__()
        self.settings = TuiSettings.load()
        if model:
            self.settings.model = model
        if metric:
            self.settings.metric = metric
        self.catalog = load_catalog()
        if options is None or (options.runtime is None and not options.server_url):
            options = with_choice(options or RuntimeOptions(), self.settings.runtime)
        self.session = ModelSession(options)
        self.report: Report | None = None
        self._examine = examine

    def compose(self) -> ComposeResult:
        yield Header()
        initial = self.settings.tab if self.settings.tab in TABS else "judge"
        with TabbedContent(initial=initial, id="tabs"):
            judge = JudgePane(
                self.session, self.settings, self.catalog, self.installed(), id="judge-pane"
            )
            with TabPane("Judge (F1)", id="judge"):
                yield judge
            with TabPane("Batch (F2)", id="batch"):
                yield BatchPane(self.session, self.settings, judge.choice, id="batch-pane")
            with TabPane("Models (F3)", id="models"):
                yield ModelsPane(self.session, id="models-pane")
        yield Footer()

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.refresh_report()

    # -- shared state -------------------------------------------------------------------

    @property
    def judge_pane(self) -> JudgePane:
        """The Judge tab (the Batch tab judges with its model and metric)."""
        return self.query_one(JudgePane)

    @property
    def models_pane(self) -> ModelsPane:
        """The Models tab."""
        return self.query_one(ModelsPane)

    def installed(self) -> set[str]:
        """Names of the models on disk, as the latest report saw them."""
        if self.report is not None:
            return set(self.report.installed)
        from edgejudge.models.store import installed_path

        return {name for name, entry in self.catalog.items() if installed_path(entry)}

    @work(thread=True, group="report", exclusive=True)
    def refresh_report(self) -> None:
        """Re-read the catalog and look at the machine and the store (doctor's report)."""
        from edgejudge.system.doctor import examine

        try:
            catalog = load_catalog()
            report = (self._examine or examine)(catalog)
        except Exception as exc:  # noqa: BLE001 - a broken catalog or store: said, app stays up
            self.call_from_thread(self.show_error, exc)
            return
        self.call_from_thread(self._report_ready, catalog, report)

    def show_error(self, error: BaseException) -> None:
        """An error that belongs to no pane, as a notification; the app carries on."""
        self.notify(f"{type(error).__name__}: {error}", title="error", severity="error", timeout=15)

    def _report_ready(self, catalog: dict[str, ModelEntry], report: Report) -> None:
        self.catalog, self.report = catalog, report
        installed = self.installed()
        self.judge_pane.show_models(catalog, installed)
        self.models_pane.show_report(catalog, installed, report)

    def on_judge_pane_pull_model(self, message: JudgePane.PullModel) -> None:
        self.pull(message.name)

    def on_models_pane_store_changed(self, _: ModelsPane.StoreChanged) -> None:
        self.refresh_report()

    def _remember_theme(self, theme: Any) -> None:
        self.settings.theme = theme.name
        self.settings.save()

    # -- actions ------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and focus its main widget."""
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id in TABS:
            self.settings.tab = event.pane.id
            self.settings.save()
        self._focus_tab(event.pane.id)

    def _focus_tab(self, tab: str | None) -> None:
        """Focus each tab's main widget, so that its keys show in the footer.

        Focus moves at once, in the same call as the switch, and only into the active tab:
        a widget focused in a hidden tab switches the tabs back to it.
        """
        tabs = self.query_one(TabbedContent)
        if tab != tabs.active:
            return  # the user has moved on
        focused = self.screen.focused
        if focused is not None and tabs.get_pane(tab) in focused.ancestors:
            return  # already there
        target = {
            "judge": self.judge_pane.main_widget,
            "batch": self.query_one(BatchPane).main_widget,
            "models": lambda: self.models_pane.query_one("#models-table"),
        }.get(tab or "")
        if target is not None:
            widget = target()
            if widget is not None:
                self.screen.set_focus(widget)

    def pull(self, name: str) -> None:
        """Pull a model on the Models tab."""
        self.action_show_tab("models")
        self.models_pane.select(name)
        self.models_pane.action_pull()

    async def action_quit(self) -> None:
        """Cancel running work, wait for the workers to stop, free the model, exit."""
        self.judge_pane.action_cancel()
        self.query_one(BatchPane).action_stop()
        self.models_pane.action_cancel()
        await self.workers.wait_for_complete()
        self.session.close()
        self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        judge, batch, models = self.judge_pane, self.query_one(BatchPane), self.models_pane
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            ("Go to Judge", "the Judge tab (F1)", lambda: self.action_show_tab("judge")),
            ("Go to Batch", "the Batch tab (F2)", lambda: self.action_show_tab("batch")),
            ("Go to Models", "the Models tab (F3)", lambda: self.action_show_tab("models")),
            ("Judge: run", "judge the typed input (ctrl+r)", judge.action_run),
            ("Judge: cancel", "stop the judgment (esc)", judge.action_cancel),
            (
                "Judge: show prompt and grammar",
                "exactly what the model is given (ctrl+g)",
                judge.action_show_prompt,
            ),
            (
                "Judge: save metric",
                "as CONFIG/metrics/NAME.toml (ctrl+s)",
                judge.action_save_metric,
            ),
            ("Judge: pull the chosen model", "download it (ctrl+l)", judge.action_pull_model),
            ("Batch: open file", "choose a JSONL file (ctrl+o)", batch.action_open),
            ("Batch: run", "judge the rows not yet done (ctrl+r)", batch.action_run),
            ("Batch: stop", "stop; Run resumes (esc)", batch.action_stop),
            ("Models: pull", "download the selected model (p)", models.action_pull),
            ("Models: verify", "re-hash the selected model (v)", models.action_verify),
            ("Models: remove", "delete the selected model (d)", models.action_remove),
            ("Models: refresh", "look at the store and machine again (r)", models.action_refresh),
            ("Models: cancel", "stop a pull or check (esc)", models.action_cancel),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def run_tui(
    model: str | None = None, metric: str | None = None, options: RuntimeOptions | None = None
) -> int:
    """Run the app until the user quits; returns the exit code."""
    EdgeJudgeApp(model=model, metric=metric, options=options).run()
    return 0
