"""The TUI driven by `App.run_test()` pilots: real flows through the real core.

Tests marked `model` judge with the real demo model in llama.cpp; the others exercise the
metric editor, settings, the prompt view and pulls from the local hub (tests/hub_server).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Select, Static, TextArea

from edgejudge.core import get_format, get_preset
from edgejudge.io.files import output_lock
from edgejudge.io.metric_files import resolve_metric, user_metrics_dir
from edgejudge.models.catalog import load_catalog
from edgejudge.tui import EdgeJudgeApp
from edgejudge.tui.batch_pane import BatchPane
from edgejudge.tui.dialogs import TextView
from edgejudge.tui.histogram import histogram_lines
from edgejudge.tui.rubric_editor import RubricEditor, RubricRow
from edgejudge.tui.score_badge import ScoreBadge, scale_position
from edgejudge.tui.settings import TuiSettings
from tests.support.hub_server import DATA, FakeHub, register
from tests.support.tui import CASE, drive, fields, settle, type_into

METRIC = "response-faithfulness-5point"


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], seconds: float = 60) -> None:
    """Let the app run until `condition` holds (fails the test after `seconds`)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app never reached the expected state")


def text_of(app: EdgeJudgeApp, selector: str) -> str:
    """What a Static shows now."""
    return str(app.query_one(selector, Static).render())


# -- judging with the real model ------------------------------------------------------------


@pytest.mark.model
def test_pick_demo_fill_run_see_score_and_feedback(use_demo_cache: Path) -> None:
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        pane = app.judge_pane
        app.query_one("#model", Select).value = "demo"
        app.query_one("#metric", Select).value = METRIC
        await pilot.pause()
        areas = fields(app)
        assert list(areas) == ["query", "context", "response"]
        for name, text in CASE.items():
            await type_into(pilot, areas[name], text)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen["result"] = pane.last_result
        seen["badge"] = str(app.query_one(ScoreBadge).render())
        seen["feedback"] = text_of(app, "#feedback")
        seen["stats"] = text_of(app, "#stats")
        seen["error"] = app.query_one("#judge-error").display
        seen["bars"] = str(app.query_one("#probabilities", Static).render())

    drive(scenario)
    result = seen["result"]
    assert result is not None and result.model == "demo"
    assert result.score in get_preset(METRIC).scores
    assert seen["badge"] == f"{result.score} / 1-5"
    assert seen["feedback"].strip() and seen["feedback"] == result.feedback
    assert "tok/s" in seen["stats"] and f"{result.prompt_tokens} prompt" in seen["stats"]
    assert seen["error"] is False
    # A bar per value under the badge, with the measured numbers.
    bars = seen["bars"].splitlines()
    assert [line.split()[0] for line in bars[:5]] == ["1", "2", "3", "4", "5"]
    assert bars[3].endswith(f"{result.probabilities[4]:.2f}")
    assert bars[-1].startswith(f"expected {result.expected_score:.2f}")


@pytest.mark.model
def test_errors_show_in_place_and_the_app_stays_usable(use_demo_cache: Path) -> None:
    seen: list[tuple[bool, str]] = []
    scores: list[int] = []

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        areas = fields(app)
        areas["query"].text = CASE["query"]
        areas["response"].text = CASE["response"]
        await pilot.press("ctrl+r")  # the context is left empty
        await settle(app, pilot)
        seen.append((app.query_one("#judge-error").display, text_of(app, "#judge-error")))
        areas["context"].text = "Paris is lovely in spring. " * 2000  # far past the context
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen.append((app.query_one("#judge-error").display, text_of(app, "#judge-error")))
        areas["context"].text = CASE["context"]
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen.append((app.query_one("#judge-error").display, text_of(app, "#judge-error")))
        assert app.judge_pane.last_result is not None
        scores.append(app.judge_pane.last_result.score)

    drive(scenario, model="demo", metric=METRIC)
    (shown1, missing), (shown2, overflow), (shown3, _) = seen
    assert shown1 and missing.startswith("InputError") and "context" in missing
    assert shown2 and overflow.startswith("ContextOverflowError") and "context holds" in overflow
    assert not shown3 and scores[0] in (1, 2, 3, 4, 5)


@pytest.mark.model
def test_quitting_mid_judgment_stops_the_worker_and_frees_the_model(
    use_demo_cache: Path,
) -> None:
    states: list[str | None] = []

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        for name, area in fields(app).items():
            area.text = CASE[name]
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(app.judge_pane.feedback))  # it is generating
        states.append(app.session.loaded)

    app = drive(scenario, model="demo", metric=METRIC)
    assert states == ["demo"]
    assert app.session.loaded is None  # closed by quit, after the worker stopped
    assert not any(w.is_running for w in app.workers)


def write_cases(folder: Path, count: int) -> Path:
    cases = folder / "cases.jsonl"
    lines = [json.dumps({"id": f"c{i}", **CASE}) for i in range(count)]
    cases.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cases


@pytest.mark.model
def test_batch_runs_to_completion_and_resumes_after_a_stop(
    use_demo_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 4)
    out = tmp_path / "cases.verdicts.jsonl"
    after_stop: list[list[dict[str, Any]]] = []
    counts: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        pane = app.query_one(BatchPane)
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        assert app.query_one("#batch-table", DataTable).row_count == 4
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(pane.results) >= 1)
        await pilot.press("escape")  # stop: the row being judged is cancelled, not recorded
        await settle(app, pilot)
        after_stop.append([json.loads(line) for line in out.read_text().splitlines()])
        assert "stopped" in text_of(app, "#batch-info")
        await pilot.press("ctrl+r")  # resume
        await settle(app, pilot)
        counts["info"] = text_of(app, "#batch-info")
        counts["histogram"] = sum(pane.query_one("#histogram").counts.values())  # type: ignore[attr-defined]
        counts["table"] = [
            app.query_one("#batch-table", DataTable).get_cell(key, "score")
            for key in ('"c0"', '"c3"')
        ]

    drive(scenario, model="demo", metric=METRIC)
    [stopped] = after_stop
    assert 1 <= len(stopped) < 4
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in final) == ["c0", "c1", "c2", "c3"]  # none twice, none lost
    assert final[: len(stopped)] == stopped  # the rows saved before the stop were kept
    assert all(r["score"] in (1, 2, 3, 4, 5) for r in final)
    assert counts["info"].startswith("done")
    assert counts["histogram"] == 4
    assert counts["table"] == [str(final[0]["score"]), str(final[3]["score"])]


@pytest.mark.model
def test_batch_judges_each_row_on_several_metrics_with_a_histogram_each(
    use_demo_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 2)
    out = tmp_path / "cases.verdicts.jsonl"
    other = "response-relevance-5point"
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        pane = app.query_one(BatchPane)
        await type_into(pilot, app.query_one("#batch-metrics", Input), other)
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        seen["rows"] = app.query_one("#batch-table", DataTable).row_count
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen["info"] = text_of(app, "#batch-info")
        seen["counts"] = [
            sum(h.counts.values())  # type: ignore[attr-defined]
            for h in pane.query("#histograms Histogram")
        ]
        seen["cell"] = app.query_one("#batch-table", DataTable).get_cell(f'"c1"\t{other}', "score")

    drive(scenario, model="demo", metric=METRIC)
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["metric"]) for r in final] == [
        ("c0", METRIC), ("c0", other), ("c1", METRIC), ("c1", other)
    ]  # fmt: skip
    assert seen["rows"] == 4 and seen["counts"] == [2, 2]
    assert seen["info"].startswith("done")
    assert seen["cell"] == str(final[3]["score"])


@pytest.mark.model
def test_batch_tab_maps_a_csv_whose_columns_are_not_the_metric_fields(
    use_demo_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    header = "id,question,context,answer\n"
    lines = [f'r{i},"{CASE["query"]}","{CASE["context"]}","{CASE["response"]}"\n' for i in (1, 2)]
    (tmp_path / "cases.csv").write_text(header + "".join(lines), encoding="utf-8")
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        box = app.query_one("#batch-map", Input)
        seen["hidden"] = not box.display
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.csv")
        await pilot.press("enter")
        seen["unmapped"] = text_of(app, "#batch-info")
        seen["shown"], seen["focused"] = box.display, app.focused is box
        await type_into(pilot, box, "query=question, response=answer")
        await pilot.press("enter")
        seen["rows"] = app.query_one("#batch-table", DataTable).row_count
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen["info"] = text_of(app, "#batch-info")

    drive(scenario, model="demo", metric=METRIC)
    assert seen["hidden"] and seen["shown"] and seen["focused"]
    assert seen["unmapped"].startswith("cases.csv has no column for query, response (its columns: ")
    assert seen["rows"] == 2 and seen["info"].startswith("done")
    final = [
        json.loads(line) for line in (tmp_path / "cases.verdicts.jsonl").read_text().splitlines()
    ]
    assert [r["id"] for r in final] == ["r1", "r2"]
    assert all(r["score"] in (1, 2, 3, 4, 5) for r in final)


# -- no model needed ------------------------------------------------------------------------


def test_batch_tab_refuses_an_output_another_run_is_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 2)
    out = tmp_path / "cases.verdicts.jsonl"
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        with output_lock(out):  # as `edgejudge batch` in another terminal holds it
            await pilot.press("ctrl+r")
            await settle(app, pilot)
            seen["busy"] = text_of(app, "#batch-info")
            seen["error"] = app.query_one("#batch-info").has_class("error")
        await pilot.press("f1")  # the app carries on
        seen["tab"] = app.query_one("#tabs").active  # type: ignore[attr-defined]

    drive(scenario, model="demo", metric=METRIC)
    assert seen["busy"] == (
        f"OutputBusyError: cases.verdicts.jsonl is in use by another edgejudge run "
        f"(pid {os.getpid()}); wait for it to finish or write to another file"
    )
    assert seen["error"] and seen["tab"] == "judge"
    assert not out.exists()  # refused before anything was written


def test_batch_tab_offers_per_turn_where_the_rows_are_conversations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 1)
    said = [("user", "hi"), ("assistant", "Hello!"), ("user", "bye"), ("assistant", "Bye!")]
    talk = {"id": "t", "messages": [{"role": r, "content": c} for r, c in said]}
    (tmp_path / "talks.jsonl").write_text(json.dumps(talk) + "\n")
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        box = app.query_one("#batch-per-turn", Checkbox)
        table = app.query_one("#batch-table", DataTable)
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        seen["flat"] = box.display  # plain rows: no box
        await type_into(pilot, app.query_one("#batch-input", Input), "talks.jsonl")
        await pilot.press("enter")
        seen["talks"] = box.display, table.row_count
        box.value = True  # as a click does
        await pilot.pause()
        seen["ids"] = [table.get_row_at(i)[0] for i in range(table.row_count)]
        seen["info"] = text_of(app, "#batch-info")

    drive(scenario, model="demo", metric="conversation-helpfulness-5point")
    assert seen["flat"] is False
    assert seen["talks"] == (True, 1)
    assert seen["ids"] == ["t #1", "t #2"]
    assert seen["info"].startswith("2 turns in talks.jsonl, 0 already in ")


def test_batch_tab_compares_its_output_with_an_earlier_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from edgejudge.tui.diff_view import DiffView, SideBySide

    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 3)

    def journal(name: str, scores: list[int], said: str) -> None:
        rows = [{"id": f"c{i}", "metric": METRIC, "model": "demo", "score": s,
                 "feedback": f"{said} {i}"} for i, s in enumerate(scores)]  # fmt: skip
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    journal("base.jsonl", [4, 4, 3], "before")
    journal("cases.verdicts.jsonl", [4, 2, 1], "after")
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        await pilot.press("ctrl+d")  # pick the earlier run's journal
        await pilot.pause()
        seen["picker"] = type(app.screen).__name__
        app.screen.dismiss(tmp_path / "base.jsonl")
        await pilot.pause()
        view = app.screen
        seen["view"] = isinstance(view, DiffView)
        worse = view.query_one("#diff-worse", DataTable)
        seen["worse"] = [worse.get_row_at(i)[1:3] for i in range(worse.row_count)]
        shown = view.query_one("#diff-table", Static).content  # the rich table itself
        recorder = Console(record=True, width=160)
        recorder.print(shown)
        seen["table"] = recorder.export_text()
        await pilot.press("enter")  # the first worse row: both feedbacks side by side
        await pilot.pause()
        side = app.screen
        seen["side"] = isinstance(side, SideBySide)
        seen["feedbacks"] = [
            side.query_one(f"#{k}-feedback", TextArea).text for k in ("base", "new")
        ]
        seen["inputs"] = str(side.query_one("#side-inputs", Static).render())

    drive(scenario, model="demo", metric=METRIC)
    assert seen["picker"] == "PickFile" and seen["view"] and seen["side"]
    assert seen["worse"] == [["c1", "4 → 2"], ["c2", "3 → 1"]]  # largest drop first, then order
    assert "mean_change" in seen["table"] and "-1.333" in seen["table"]
    assert seen["feedbacks"] == ["before 1", "after 1"]
    assert "query: " + CASE["query"] in seen["inputs"]


def test_an_unexpected_error_shows_in_place_and_the_app_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgejudge.judging.batch

    monkeypatch.chdir(tmp_path)
    write_cases(tmp_path, 3)
    real_read_rows = edgejudge.judging.batch.read_rows
    seen: dict[str, Any] = {}

    def broken(path: Path, **reading: Any) -> Any:
        raise RuntimeError("a bug nobody planned for")

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        monkeypatch.setattr(edgejudge.judging.batch, "read_rows", broken)
        await type_into(pilot, app.query_one("#batch-input", Input), "cases.jsonl")
        await pilot.press("enter")
        await pilot.pause()
        seen["error"] = text_of(app, "#batch-info")
        monkeypatch.setattr(edgejudge.judging.batch, "read_rows", real_read_rows)
        app.query_one("#batch-input", Input).focus()
        await pilot.press("enter")  # the same tab, working again
        await pilot.pause()
        seen["rows"] = app.query_one("#batch-table", DataTable).row_count

    drive(scenario, model="demo", metric=METRIC)
    assert seen["error"] == "RuntimeError: a bug nobody planned for"
    assert seen["rows"] == 3


def test_metric_editor_edits_reorders_validates_and_saves() -> None:
    errors: list[str] = []

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        app.query_one("#metric", Select).value = "response-correctness-binary"
        await pilot.pause()
        editor = app.query_one(RubricEditor)
        rows = list(app.query(RubricRow))
        assert [r.values()[0] for r in rows] == ["0", "1"]
        rows[1].query_one(".score", Input).focus()
        await pilot.press("alt+up")  # the score-1 row moves above score 0
        await pilot.pause()
        assert [r.values()[0] for r in app.query(RubricRow)] == ["1", "0"]
        await pilot.press("ctrl+n")  # a third, empty row; saving it must fail
        await pilot.pause()
        await pilot.press("2", "tab", *"Half right.")
        app.query_one("#metric-name", Input).value = "half-credit"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert editor.metric().scores == (0, 1, 2)
        app.query_one(RubricRow).query_one(".score", Input).value = "2"  # a repeated score
        await pilot.press("ctrl+s")
        await pilot.pause()
        errors.append(text_of(app, "#judge-error"))

    drive(scenario)
    saved = resolve_metric("half-credit")  # saved metrics resolve by name, like presets
    assert saved.scores == (0, 1, 2) and saved.rubric[0].score == 1  # the order was kept
    assert saved.required_inputs == ("query", "reference_answer")
    assert (user_metrics_dir() / "half-credit.toml").is_file()
    assert errors[0].startswith("MetricError") and "repeated: [2]" in errors[0]


def test_prompt_view_shows_the_exact_prompt_and_grammar() -> None:
    shown: dict[str, str] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        for name, area in fields(app).items():
            area.text = CASE[name]
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, TextView)
        shown.update(app.screen.texts)
        await pilot.press("escape")

    drive(scenario, metric=METRIC)
    metric = get_preset(METRIC)
    from edgejudge.core import coerce_input

    expected = get_format("flow-judge").render_prompt(metric, coerce_input(CASE, metric))
    assert shown["prompt"] == expected
    assert "<score>" in shown["grammar"] and "root" in shown["grammar"]


def test_choices_are_remembered_between_runs() -> None:
    async def choose(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        app.query_one("#metric", Select).value = "response-relevance-3point"
        await pilot.press("f3")
        await pilot.pause()

    drive(choose)
    assert TuiSettings.load().metric == "response-relevance-3point"
    seen: list[Any] = []

    async def look(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        seen.append(app.query_one("#metric", Select).value)
        seen.append(app.query_one("#tabs").active)  # type: ignore[attr-defined]

    drive(look)
    assert seen == ["response-relevance-3point", "models"]


async def start_pull(app: EdgeJudgeApp, pilot: Pilot[Any], name: str) -> None:
    """On the Models tab, put the cursor on `name` and press p."""
    await pilot.press("f3")
    await settle(app, pilot)
    app.models_pane.select(name)
    await pilot.press("p")


def test_models_tab_pulls_from_the_hub_with_progress(hub: FakeHub) -> None:
    register("tiny")
    progress: list[float] = []

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await start_pull(app, pilot, "tiny")
        await settle(app, pilot)
        progress.append(app.models_pane.query_one("#models-progress").progress)  # type: ignore[attr-defined]
        table = app.query_one("#models-table", DataTable)
        progress.append(table.get_cell("tiny", "on disk"))  # type: ignore[arg-type]
        progress.append(text_of(app, "#models-status"))

    drive(scenario)
    from edgejudge.models.store import installed_path

    path = installed_path(load_catalog()["tiny"])
    assert path is not None and path.read_bytes() == DATA
    assert progress[0] == len(DATA)
    assert progress[1] == "yes"
    assert progress[2].startswith("pulled tiny") and "sha256 ok" in progress[2]


def test_cancelling_a_pull_keeps_its_bytes_for_the_next(hub: FakeHub) -> None:
    register("tiny")
    hub.stall_after = len(DATA) // 3
    said: list[str] = []

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        await start_pull(app, pilot, "tiny")
        await wait_until(pilot, lambda: hub.stalled.is_set())
        await pilot.press("escape")
        hub.release.set()  # the next chunk arrives and the pull sees the cancel
        await settle(app, pilot)
        said.append(text_of(app, "#models-status"))
        kept.append(partial_bytes(load_catalog()["tiny"]))
        await pilot.press("p")  # pull again: only the rest comes over the wire
        await settle(app, pilot)
        said.append(text_of(app, "#models-status"))

    from edgejudge.models.download import partial_bytes
    from edgejudge.models.store import installed_path

    kept: list[int] = []
    drive(scenario)
    assert said[0].startswith("cancelled") and "pull again to resume" in said[0]
    assert 0 < kept[0] < len(DATA)
    assert said[1].startswith("pulled tiny")
    assert installed_path(load_catalog()["tiny"]).read_bytes() == DATA  # type: ignore[union-attr]
    assert hub.served[-1].start == kept[0]


# -- pure helpers ---------------------------------------------------------------------------


def test_scale_position_and_histogram_lines() -> None:
    from collections import Counter

    assert [scale_position(s, (1, 2, 3, 4, 5)) for s in (1, 3, 5)] == [0.0, 0.5, 1.0]
    assert scale_position(1, (0, 1)) == 1.0
    lines = histogram_lines(Counter({1: 2, 3: 4}), (1, 2, 3), width=14)
    assert lines == ["1 │████ 2", "2 │ 0", "3 │████████ 4"]
    assert max(len(line) for line in lines) <= 14


def test_the_pair_bar_splits_wins_ties_and_losses() -> None:
    from edgejudge.tui.histogram import pair_bar

    assert pair_bar(2, 1, 1, width=8) == "████▒▒░░"
    assert pair_bar(0, 0, 3, width=5) == "░░░░░"
    assert pair_bar(1, 1, 1, width=10) == "███▒▒▒▒░░░"
    assert pair_bar(0, 0, 0, width=5) == ""


# -- pairwise, on demo-instruct speaking Prometheus 2's relative prompt ---------------------

PAIR = {
    "query": "Capital of France?",
    "context": "Paris is the capital.",
    "response_a": "Paris.",
    "response_b": "Lyon.",
}


def as_prometheus() -> None:
    """The user's models.toml gives `demo-instruct` Prometheus 2's prompts (family), as a
    user would for a Prometheus build of their own."""
    from edgejudge.paths import config_dir

    builtin = (Path(__file__).resolve().parent.parent / "models.toml").read_text()
    block = builtin.split("[models.demo-instruct]")[1].split("\n[")[0]
    block = block.replace('family = "flow-judge"', 'family = "prometheus"')
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "models.toml").write_text("[models.demo-instruct]" + block + "\n")


@pytest.mark.model
def test_a_pairwise_metric_shows_two_answers_and_both_orders(
    use_demo_cache: Path, instruct_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_prometheus()
    monkeypatch.chdir(tmp_path)
    pairs = [dict(PAIR, id="p1"), dict(PAIR, id="p2", response_a="Lyon.", response_b="Paris.")]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    seen: dict[str, Any] = {}

    async def scenario(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
        pane = app.judge_pane
        app.query_one("#model", Select).value = "demo-instruct"
        app.query_one("#metric", Select).value = "pairwise-faithfulness"
        await pilot.pause()
        areas = fields(app)
        assert list(areas) == ["query", "context", "response_a", "response_b"]
        side = [a.field_name for a in app.query("#pair-fields TextArea").results(TextArea)]  # type: ignore[attr-defined]
        seen["side"] = side
        seen["criteria"] = text_of(app, "#pair-criteria")
        seen["editor"] = app.query_one("#metric-box").display
        for name, text in PAIR.items():
            await type_into(pilot, areas[name], text)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen["pair"] = pane.last_pair
        seen["badge"] = str(app.query_one(ScoreBadge).render())
        seen["feedback"] = text_of(app, "#feedback")
        seen["bars"] = str(app.query_one("#probabilities", Static).render())
        seen["error"] = text_of(app, "#judge-error")

        await pilot.press("f2")
        batch_pane = app.query_one(BatchPane)
        await type_into(pilot, app.query_one("#batch-input", Input), "pairs.jsonl")
        await pilot.press("enter")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        seen["histogram"] = str(batch_pane.query_one("#histogram", Static).render())
        seen["info"] = text_of(app, "#batch-info")

    drive(scenario, size=(140, 40))
    assert seen["side"] == ["response_a", "response_b"]
    assert seen["editor"] is False and "which response is better" in seen["criteria"]
    pair = seen["pair"]
    assert pair is not None, seen["error"]
    assert seen["badge"] == pair.verdict and pair.second is not None
    assert "Order A,B (as given)" in seen["feedback"] and "Order B,A (swapped)" in seen["feedback"]
    assert pair.first.feedback.splitlines()[0] in seen["feedback"]
    bars = seen["bars"].splitlines()
    assert [line.split()[0] for line in bars[:2]] == ["A", "B"]
    assert bars[0].endswith(f"{pair.probability_a:.2f}")
    rows = [
        json.loads(line) for line in (tmp_path / "pairs.verdicts.jsonl").read_text().splitlines()
    ]
    assert sorted(r["id"] for r in rows) == ["p1", "p2"] and seen["info"].startswith("done")
    agreed = sum(r["consistent"] for r in rows)
    assert f"consistency {agreed / 2:.2f} ({agreed}/2)" in seen["histogram"]
    assert any(
        line.startswith("A ") and line.endswith(" B") for line in seen["histogram"].splitlines()
    )
