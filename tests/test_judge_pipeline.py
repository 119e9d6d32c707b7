"""The verdict pipeline and the scheduler on a scripted runtime (tests/support/fake_runtime):
streaming, the close-out of an answer cut by the budget, cancel, input order with several
slots, and the restart of a server that dies mid-batch, each in milliseconds.

The same paths run on the real demo model in tests/test_judge_model.py, test_fast_paths.py
and test_server.py; here the model's words are scripted so each case is exact."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from edgejudge import ContextOverflowError, Judge, JudgeResult
from edgejudge.errors import (
    Cancelled,
    EdgeJudgeError,
    InputError,
    OutputError,
    ParseError,
    ServerError,
    ServerGoneError,
)
from edgejudge.judging import batch
from tests.support.cases import FAITHFUL, TEN_FAITHFULNESS
from tests.support.fake_runtime import FakeRuntime

METRIC = "response-faithfulness-5point"
VERDICT = "<feedback>The response follows the context.</feedback>\n<score>4</score>"


def is_tail(grammar: str | None) -> bool:
    """Whether the judge is asking for the score alone, after a close-out."""
    return grammar is not None and grammar.startswith("root ::= score")


def echo_query(prompt: str, grammar: str | None) -> str:
    """A verdict whose feedback names the query the prompt carries (to check order)."""
    query = re.search(r"<query>\n(.*?)\n</query>", prompt)
    assert query is not None
    return f"<feedback>About {query.group(1)}</feedback>\n<score>3</score>"


def test_a_verdict_is_streamed_then_parsed() -> None:
    runtime = FakeRuntime(VERDICT)
    with Judge(None, METRIC, runtime=runtime) as judge:
        pieces = list(judge.stream(FAITHFUL))
        prompt = judge.prompt(FAITHFUL)
    *text, result = pieces
    assert isinstance(result, JudgeResult)
    assert "".join(str(t) for t in text) == "The response follows the context."
    assert (result.score, result.raw, result.truncated) == (4, VERDICT, False)
    assert result.completion_tokens == len(VERDICT)
    assert runtime.prompts == [f"<|user|>{prompt}<|assistant|>"]
    assert result.prompt_tokens == len(runtime.prompts[0])
    assert not runtime.closed  # a runtime passed in stays open


def test_the_grammar_is_sent_unless_turned_off() -> None:
    seen: list[str | None] = []

    def answer(prompt: str, grammar: str | None) -> str:
        seen.append(grammar)
        return VERDICT

    with Judge(None, METRIC, runtime=FakeRuntime(answer)) as judge:
        judge.evaluate(FAITHFUL)
        grammar = judge.grammar
    with Judge(None, METRIC, runtime=FakeRuntime(answer), grammar=False) as judge:
        judge.evaluate(FAITHFUL)
    assert seen == [grammar, None]


def test_an_answer_cut_by_the_budget_is_closed_and_scored() -> None:
    long = "<feedback>" + "word " * 40 + "</feedback>\n<score>2</score>"

    def answer(prompt: str, grammar: str | None) -> str:
        if is_tail(grammar):
            assert prompt.endswith("</feedback>\n<score>")  # the closed answer is the prompt
            return "5</score>"
        return long

    with Judge(None, METRIC, runtime=FakeRuntime(answer), max_tokens=30) as judge:
        result = judge.evaluate(FAITHFUL)
    assert result.truncated
    assert result.raw == long[:30] + "</feedback>\n<score>5</score>"
    assert result.score == 5 and result.feedback == long[len("<feedback>") : 30].strip()
    assert result.completion_tokens == 30 + len("5</score>")


def test_a_prompt_longer_than_the_context_fails_before_generating() -> None:
    runtime = FakeRuntime(VERDICT, context_length=600)
    with Judge(None, METRIC, runtime=runtime, max_tokens=16) as judge:
        with pytest.raises(ContextOverflowError) as caught:
            judge.evaluate(FAITHFUL)
    assert caught.value.context_length == 600 and runtime.prompts == []


def test_an_answer_out_of_format_is_a_parse_error_carrying_the_text() -> None:
    with Judge(None, METRIC, runtime=FakeRuntime("I think 4."), grammar=False) as judge:
        with pytest.raises(ParseError) as caught:
            judge.evaluate(FAITHFUL)
    assert caught.value.raw == "I think 4."


def test_cancel_stops_the_judgment_and_the_next_one_runs() -> None:
    with Judge(None, METRIC, runtime=FakeRuntime(VERDICT)) as judge:
        pieces = judge.stream(FAITHFUL)
        assert next(pieces) == "T"  # the feedback has begun
        judge.cancel()
        with pytest.raises(Cancelled):
            list(pieces)
        assert judge.evaluate(FAITHFUL).score == 4  # a cancel ends what ran, not what comes


def test_verdicts_come_in_input_order_whatever_order_they_finish_in() -> None:
    def answer(prompt: str, grammar: str | None) -> str:
        if TEN_FAITHFULNESS[0]["query"] in prompt:
            time.sleep(0.05)  # the first row finishes last
        return echo_query(prompt, grammar)

    rows = TEN_FAITHFULNESS[:5]
    with Judge(None, METRIC, runtime=FakeRuntime(answer, slots=3)) as judge:
        finished = [index for index, _ in judge.evaluate_as_completed(rows)]
        ordered = list(judge.evaluate_many(rows))
    assert finished[0] != 0 and sorted(finished) == [0, 1, 2, 3, 4]
    queries = [r.feedback.removeprefix("About ") for r in ordered if isinstance(r, JudgeResult)]
    assert queries == [row["query"] for row in rows]


def test_a_failing_row_fails_alone_in_place() -> None:
    rows: list[dict[str, str]] = [FAITHFUL, {"query": "no context"}, FAITHFUL]
    with Judge(None, METRIC, runtime=FakeRuntime(VERDICT, slots=2)) as judge:
        outcomes = list(judge.evaluate_many(rows, return_exceptions=True))
        with pytest.raises(InputError):
            list(judge.evaluate_many(rows))
    assert [type(o).__name__ for o in outcomes] == ["JudgeResult", "InputError", "JudgeResult"]


# -- a server that dies mid-batch ---------------------------------------------------------


def judged(outcomes: list[tuple[int, JudgeResult | EdgeJudgeError]]) -> list[int]:
    return sorted(index for index, outcome in outcomes if isinstance(outcome, JudgeResult))


def test_a_server_that_dies_is_restarted_once_and_the_rows_in_flight_retried() -> None:
    runtime = FakeRuntime(echo_query, slots=2, can_restart=True, die_on_calls=[3])
    rows = TEN_FAITHFULNESS[:6]
    with Judge(None, METRIC, runtime=runtime) as judge:
        outcomes = list(judge.evaluate_as_completed(rows))
    assert runtime.restarts == 1
    assert judged(outcomes) == [0, 1, 2, 3, 4, 5]  # each row once, none lost
    assert len(outcomes) == 6
    by_index = dict(outcomes)
    for index, row in enumerate(rows):
        assert by_index[index].feedback == f"About {row['query']}"  # type: ignore[union-attr]


def test_a_server_that_dies_again_stops_the_batch_after_the_rows_in_flight() -> None:
    # One slot: rows 0 and 1 finish, row 2 dies (restart, retried: call 4), row 3 dies again.
    runtime = FakeRuntime(echo_query, slots=1, can_restart=True, die_on_calls=[3, 5])
    outcomes: list[tuple[int, JudgeResult | EdgeJudgeError]] = []
    with Judge(None, METRIC, runtime=runtime) as judge:
        with pytest.raises(ServerError, match="failed again after a restart"):
            for outcome in judge.evaluate_as_completed(TEN_FAITHFULNESS[:6]):
                outcomes.append(outcome)
    assert runtime.restarts == 1
    assert judged(outcomes) == [0, 1, 2]
    assert [(i, type(o)) for i, o in outcomes if not isinstance(o, JudgeResult)] == [
        (3, ServerGoneError)
    ]  # rows 4 and 5 were never started: left for a rerun
    assert len(runtime.prompts) == 5


def test_a_server_someone_else_runs_is_not_restarted() -> None:
    runtime = FakeRuntime(VERDICT, slots=1, can_restart=False, die_on_calls=[2])
    outcomes: list[tuple[int, JudgeResult | EdgeJudgeError]] = []
    with Judge(None, METRIC, runtime=runtime) as judge:
        with pytest.raises(ServerError, match="did not start this server, so it cannot restart"):
            for outcome in judge.evaluate_as_completed(TEN_FAITHFULNESS[:3]):
                outcomes.append(outcome)
    assert runtime.restarts == 0
    assert [type(o) for _, o in outcomes] == [JudgeResult, ServerGoneError]


class Tracking(FakeRuntime):
    """A scripted runtime that counts the generations running now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.active = 0
        self._count = threading.Lock()

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self._count:
            self.active += 1
        try:
            yield from super().generate(*args, **kwargs)
        finally:
            with self._count:
                self.active -= 1


class FullDisk:
    """A batch output whose every write fails, as on a full disk."""

    def append(self, record: dict[str, Any]) -> None:
        raise OutputError("cannot write out.jsonl: No space left on device", "out.jsonl")


def test_a_batch_stopped_by_a_failed_write_stops_the_rows_in_flight_first() -> None:
    # The first row is written (and fails) while the second is still generating. By the time
    # the error reaches the caller nothing may still run: the CLI frees the model and prints
    # the error next. (run_batch closes the judgments it started, however it stops.)
    slow_started = threading.Event()

    def answer(prompt: str, grammar: str | None) -> str:
        if "slow" in prompt:
            slow_started.set()
            time.sleep(0.3)
            return "<feedback>" + "long " * 400 + "</feedback>\n<score>2</score>"
        assert slow_started.wait(5)
        return VERDICT

    runtime = Tracking(answer, slots=2)
    rows = [
        batch.Row(line=n, id=n, data=dict(FAITHFUL, query=query))
        for n, query in enumerate(["fast", "slow"], 1)
    ]
    with Judge(None, METRIC, runtime=runtime, max_tokens=4000) as judge:
        with pytest.raises(OutputError, match="No space left"):
            for _ in batch.run_batch(judge, rows, FullDisk()):  # type: ignore[arg-type]
                pass
        assert runtime.active == 0
        assert len(runtime.prompts) == 2  # the slow row had started


GLIDER = "<reasoning>\nx\n</reasoning>\n<highlight>\ny\n</highlight>\n<score>\n4\n</score>"


class Recording(FakeRuntime):
    """A scripted runtime that keeps the sampler settings of every generation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.samplings: list[Any] = []

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.samplings.append(kwargs["sampling"])
        yield from super().generate(*args, **kwargs)


@pytest.mark.parametrize(
    ("family", "answer", "expected", "note"),
    [
        ("prometheus", "Fine. [RESULT] 4", (1.0, 0.9, 1.03), "temperature 1.0, top_p 0.9"),
        ("selene", "**Reasoning:** Fine.\n\n**Result:** 4", (0.01, 1.0, 1.0), "0.01"),
        ("flow-judge@harness", VERDICT, (0.1, 0.95, 1.0), "temperature 0.1, top_p 0.95"),
        ("glider", GLIDER, (0.0, 0.95, 1.0), "glider publishes no sampling settings: greedy"),
        ("flow-judge", VERDICT, (0.0, 0.95, 1.0), "flow-judge publishes no sampling settings"),
    ],
)  # fmt: skip
def test_authors_sampling_applies_what_each_family_published(
    family: str, answer: str, expected: tuple[float, float, float], note: str
) -> None:
    runtime = Recording(answer)
    with Judge(None, METRIC, runtime=runtime, family=family, sampling="authors") as judge:
        judge.evaluate(FAITHFUL)
        assert note in judge.sampling_note
    used = runtime.samplings[0]
    assert (used.temperature, used.top_p, used.repeat_penalty) == expected
    with Judge(None, METRIC, runtime=Recording(answer), family=family) as greedy:
        assert greedy.sampling.temperature == 0 and greedy.sampling_note == "greedy"


def test_authors_sampling_and_a_temperature_are_one_or_the_other() -> None:
    with pytest.raises(ValueError, match="give one or the other"):
        Judge(None, METRIC, runtime=FakeRuntime(""), family="prometheus", sampling="authors",
              temperature=0.7)  # fmt: skip
    with pytest.raises(ValueError, match="sampling must be one of greedy, authors"):
        Judge(None, METRIC, runtime=FakeRuntime(""), sampling="nucleus")
