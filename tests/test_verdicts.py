"""Verdicts that are more than an int: a score, a label (PASS/FAIL, Yes/No) or a choice (A/B),
plus named extras, carried from the shape's parser to `JudgeResult`, JSON, batch rows, the
CLI's print and the TUI's badge and histogram.

No family in the catalog gives a label yet (Selene, Glider and Root Judge come with the
families issue), so a small test format with a Glider-like answer (reasoning, highlight,
PASS/FAIL) stands in for one here, on the scripted runtime; Flow-Judge's rows must keep
exactly the keys they had.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult

from edgejudge import Judge, JudgeResult
from edgejudge.cli.judging import decision_line
from edgejudge.core import EvalInput, Message, Metric, Verdict, get_preset
from edgejudge.core.formats import FORMATS
from edgejudge.core.formats.shape import AnswerShape, Choice, Label, Lit, Score, ShapedFormat, Text
from edgejudge.errors import ParseError
from edgejudge.judging import batch
from edgejudge.tui.histogram import histogram_lines, scale_with
from edgejudge.tui.score_badge import ScoreBadge
from tests.support.cases import FAITHFUL
from tests.support.fake_runtime import FakeRuntime

METRIC = "response-faithfulness-5point"
FLOW_KEYS = [
    "feedback",
    "score",
    "raw",
    "prompt_tokens",
    "completion_tokens",
    "seconds",
    "model",
    "metric",
    "truncated",
    "enforced",
]
LABEL_SHAPE = AnswerShape(
    Lit("<reasoning>"),
    Text("reasoning", stop="<"),
    Lit("</reasoning>\n<highlight>"),
    Text("highlight", stop="<"),
    Lit("</highlight>\n<verdict>"),
    Label("verdict", ("PASS", "FAIL")),
    Lit("</verdict>"),
)
LABEL_ANSWER = (
    "<reasoning>It sticks to the context.</reasoning>\n"
    "<highlight>Paris</highlight>\n<verdict>PASS</verdict>"
)


class PassFailFormat(ShapedFormat):
    """A test family: one user message, a Glider-like answer with a PASS/FAIL verdict."""

    family = "test-pass-fail"
    shape = LABEL_SHAPE
    close_out_reserve = 64  # a highlight the tail may write, the label, `</verdict>`

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        return f"Judge: {eval_input.output_value}"

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        return [Message("user", self.render_prompt(metric, eval_input))]


@pytest.fixture
def pass_fail(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test family, registered as a format `Judge(family=...)` can name."""
    monkeypatch.setitem(FORMATS, PassFailFormat.family, PassFailFormat())
    return PassFailFormat.family


def test_a_verdict_holds_one_decision() -> None:
    assert Verdict("ok", score=4).decision == 4
    assert Verdict("ok", label="PASS").decision_kind == "label"
    assert Verdict("ok", choice="B").fields() == {"feedback": "ok", "choice": "B"}
    extra = Verdict("ok", label="No", extras={"highlight": "x"})
    assert extra.fields() == {"feedback": "ok", "label": "No", "extras": {"highlight": "x"}}
    with pytest.raises(ValueError, match="one score, label or choice"):
        Verdict("ok")
    with pytest.raises(ValueError, match="one score, label or choice"):
        Verdict("ok", score=1, choice="A")
    with pytest.raises(ValueError, match="one score, label or choice"):
        Verdict("ok", label="Yes", choice="A")
    # A label may carry the score of the rubric row it stands for (Selene's Yes on 0/1).
    mapped = Verdict("ok", label="Yes", score=1)
    assert (mapped.decision_kind, mapped.decision) == ("label", "Yes")
    assert mapped.fields() == {"feedback": "ok", "label": "Yes", "score": 1}


def test_a_shape_gives_a_label_with_extras_or_a_choice() -> None:
    metric = get_preset(METRIC)
    verdict = LABEL_SHAPE.verdict(LABEL_ANSWER, metric)
    assert verdict == Verdict(
        "It sticks to the context.", label="PASS", extras={"highlight": "Paris"}
    )
    assert LABEL_SHAPE.decision_values(metric) == ("PASS", "FAIL")
    with pytest.raises(ParseError, match="the verdict 'MAYBE' is not one of PASS, FAIL"):
        LABEL_SHAPE.verdict(LABEL_ANSWER.replace("PASS", "MAYBE"), metric)

    pairwise = AnswerShape(Lit(""), Text("feedback", stop="["), Lit("[RESULT] "), Choice())
    verdict = pairwise.verdict("B is better. [RESULT] B", metric)
    assert (verdict.choice, verdict.score, verdict.label) == ("B", None, None)
    assert pairwise.decision_values(metric) == ("A", "B")
    scored = AnswerShape(Lit("<f>"), Text("feedback", "<"), Lit("</f>"), Score())
    assert scored.decision_values(metric) == (1, 2, 3, 4, 5)


def test_flow_judge_results_keep_their_keys(tmp_path: Path) -> None:
    answer = "<feedback>Fine.</feedback>\n<score>4</score>"
    with Judge(None, METRIC, runtime=FakeRuntime(answer)) as judge:
        result = judge.evaluate(FAITHFUL)
        rows = run_batch(judge, [FAITHFUL], tmp_path / "out.jsonl")
    assert list(result.to_dict()) == FLOW_KEYS
    assert (result.score, result.decision, result.label, result.extras) == (4, 4, None, {})
    assert list(rows[0]) == ["id", *FLOW_KEYS, "judge"]  # then who judged (Judge.identity)
    assert rows[0]["judge"] == judge.identity()
    assert batch.row_decision(rows[0]) == 4


def test_a_label_verdict_reaches_the_result_json_and_batch_rows(
    pass_fail: str, tmp_path: Path
) -> None:
    with Judge(None, METRIC, runtime=FakeRuntime(LABEL_ANSWER), family=pass_fail) as judge:
        streamed = list(judge.stream(FAITHFUL))
        rows = run_batch(judge, [FAITHFUL, {"query": "q"}], tmp_path / "out.jsonl")
    *text, result = streamed
    assert isinstance(result, JudgeResult)
    assert "".join(map(str, text)) == "It sticks to the context."
    assert (result.score, result.label, result.decision) == (None, "PASS", "PASS")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["label"] == "PASS" and "score" not in data
    assert data["extras"] == {"highlight": "Paris"}
    assert data["feedback"] == "It sticks to the context."
    assert rows[0]["label"] == "PASS" and rows[0]["extras"] == {"highlight": "Paris"}
    assert [batch.row_decision(row) for row in rows] == ["PASS", None]  # the second: an error


def test_a_label_answer_cut_by_the_budget_is_closed_and_labelled(pass_fail: str) -> None:
    long = "<reasoning>Short.</reasoning>\n<highlight>" + "word " * 40 + "</highlight>"
    tails: list[str] = []

    def answer(prompt: str, grammar: str | None) -> str:
        if grammar is not None and grammar.startswith("root ::= verdict"):
            tails.append(prompt)
            return "FAIL</verdict>"
        return long

    runtime = FakeRuntime(answer)
    with Judge(None, METRIC, runtime=runtime, family=pass_fail, max_tokens=60) as judge:
        result = judge.evaluate(FAITHFUL)
    assert (result.label, result.truncated) == ("FAIL", True)
    assert result.extras["highlight"] == long[:60].split("<highlight>")[1].strip()
    assert tails[0].endswith(long[:60] + "</highlight>\n<verdict>")


def test_an_answer_cut_before_a_later_free_text_has_the_tail_write_it(pass_fail: str) -> None:
    # The budget stops in the reasoning: it is closed, and the tail writes the highlight
    # (bounded) and the verdict, as Glider's close-out must.
    grammars: list[str | None] = []

    def answer(prompt: str, grammar: str | None) -> str:
        grammars.append(grammar)
        if grammar is not None and grammar.startswith("root ::= highlight"):
            assert prompt.endswith("</reasoning>\n<highlight>")
            return "made up</highlight>\n<verdict>FAIL</verdict>"
        return "<reasoning>" + "word " * 40 + "</reasoning>"

    runtime = FakeRuntime(answer)
    with Judge(None, METRIC, runtime=runtime, family=pass_fail, max_tokens=30) as judge:
        result = judge.evaluate(FAITHFUL)
    assert (result.label, result.extras["highlight"], result.truncated) == (
        "FAIL",
        "made up",
        True,
    )
    tail = grammars[-1]
    assert tail is not None and "highlight-rest-0 ::= highlight-char{0,119}" in tail


def test_the_cli_prints_the_decision_as_the_format_defines_it() -> None:
    metric = get_preset(METRIC)

    def result(verdict: Verdict) -> JudgeResult:
        return JudgeResult(verdict, "", 1, 1, 0.1, "m", metric.name)

    assert decision_line(result(Verdict("f", score=4)), (1, 2, 3, 4, 5), metric) == (
        "Score: 4 (scale 1-5)"
    )
    line = decision_line(result(Verdict("f", label="PASS")), ("PASS", "FAIL"), metric)
    assert line == "Label: PASS (PASS or FAIL)"
    assert decision_line(result(Verdict("f", choice="A")), ("A", "B"), metric) == (
        "Choice: A (A or B)"
    )


def test_the_histogram_counts_labels_and_keeps_scores_in_order() -> None:
    assert scale_with((1, 2, 3), [7, 2, 10]) == (1, 2, 3, 7, 10)
    assert scale_with(("PASS", "FAIL"), ["FAIL", "MAYBE"]) == ("PASS", "FAIL", "MAYBE")
    lines = histogram_lines(Counter({"PASS": 3, "FAIL": 1}), ("PASS", "FAIL"), width=16)
    assert lines == ["PASS │███████ 3", "FAIL │██ 1"]


def test_the_badge_shows_a_label_without_a_traffic_light() -> None:
    class BadgeApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ScoreBadge()

    asyncio.run(show_badges(BadgeApp()))


async def show_badges(app: App[None]) -> None:
    async with app.run_test() as pilot:
        badge = pilot.app.query_one(ScoreBadge)
        badge.show(5, (1, 2, 3, 4, 5))
        high = badge.styles.background
        assert str(badge.render()) == "5 / 1-5"
        badge.show("FAIL", ("PASS", "FAIL"))
        assert str(badge.render()) == "FAIL"
        accent = pilot.app.current_theme.accent
        assert accent is not None and badge.styles.background.hex == accent.upper()
        assert badge.styles.background != high


def run_batch(judge: Judge, items: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Judge `items` as a batch into `out`; the rows as they were written to the file."""
    path = out.with_suffix(".in.jsonl")
    path.write_text("".join(json.dumps({"id": i, **item}) + "\n" for i, item in enumerate(items)))
    with batch.BatchOutput(out) as output:
        list(batch.run_batch(judge, batch.read_rows(path), output))
    return [json.loads(line) for line in out.read_text().splitlines()]
