"""Score probabilities, fast: the search over the token sequences that spell each value, on
scripted oracles, and the probabilities through the judge, result, JSON and CLI on the
scripted runtime. tests/test_probabilities_model.py proves them on real llama.cpp."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest

from edgejudge import Judge
from edgejudge.core import Metric, RubricItem
from edgejudge.core.formats import BoundSingle
from edgejudge.core.probabilities import (
    END,
    Candidate,
    Distribution,
    NextTokens,
    ValueSearch,
)
from tests.support.fake_runtime import FakeRuntime

# A vocabulary for the scripted oracles: each piece is one token, its id its index here.
PIECES = [b"0", b"1", b"2", b"3", b"4", b"5", b"10", b"<", b"</", b"</score>", b">", b">4",
          b"P", b"PA", b"PASS", b"ASS", b"SS", b"S", b"F", b"FAIL", b"AIL", b"\"", b"\"P",
          b"\"F", b"\"}", b"}", END]  # fmt: skip


class TableOracle:
    """The "model": the probability of each next piece after the text so far."""

    def __init__(self, table: dict[bytes, dict[bytes, float]], *, top: int | None = None) -> None:
        self.table = table
        self.top = top  # lists only the `top` likeliest, like a server
        self.asked: list[tuple[bytes, int]] = []

    def next(
        self, path: Sequence[int], wanted: frozenset[bytes], *, end: bool, top: int
    ) -> NextTokens:
        text = b"".join(PIECES[t] for t in path)
        self.asked.append((text, top))
        chances = sorted(self.table.get(text, {}).items(), key=lambda kv: -kv[1])
        floor = 0.0
        if self.top is not None:
            floor = chances[top - 1][1] if len(chances) > top else 0.0
            chances = chances[:top]
        found = tuple(
            Candidate(PIECES.index(piece), piece, p)
            for piece, p in chances
            if piece in wanted or (piece == END and end)
        )
        return NextTokens(found, floor)


def test_single_token_values_are_the_softmax_renormalised_over_the_values() -> None:
    # Most of the mass is on tokens that are not values; what is left is renormalised.
    oracle = TableOracle({b"": {b"3": 0.1, b"4": 0.3, b"5": 0.05, b"x": 0.55}})
    dist = ValueSearch((1, 2, 3, 4, 5), after=b"</score>").distribution(oracle)
    expected = {1: 0, 2: 0, 3: 0.1 / 0.45, 4: 0.3 / 0.45, 5: 0.05 / 0.45}
    assert dist.probabilities == pytest.approx(expected)
    assert sum(dist.probabilities.values()) == pytest.approx(1.0)
    assert dist.expected_score == pytest.approx(sum(v * p for v, p in expected.items()))
    assert dist.confidence == pytest.approx(0.3 / 0.45)
    assert dist.likeliest == 4
    assert len(oracle.asked) == 1  # one question for single-token values


def test_one_and_ten_are_told_apart_by_what_follows_the_one() -> None:
    # p(1)=0.5 then p(0|1)=0.2 (-> 10) and p(</|1)=0.6 (-> 1, the rest is not a value);
    # "10" as one token carries 0.1 more.
    table = {
        b"": {b"1": 0.5, b"10": 0.1, b"4": 0.2},
        b"1": {b"0": 0.2, b"</": 0.6, b"<": 0.1, b"5": 0.1},
    }
    dist = ValueSearch(tuple(range(11)), after=b"</score>").distribution(TableOracle(table))
    raw = {1: 0.5 * (0.6 + 0.1), 10: 0.1 + 0.5 * 0.2, 4: 0.2}
    total = sum(raw.values())
    assert dist.probabilities[1] == pytest.approx(raw[1] / total)
    assert dist.probabilities[10] == pytest.approx(raw[10] / total)
    assert dist.probabilities[4] == pytest.approx(raw[4] / total)
    assert set(dist.probabilities) == set(range(11))


def test_a_value_at_the_end_of_the_answer_is_decided_by_the_end() -> None:
    table = {b"": {b"1": 0.5, b"4": 0.5}, b"1": {b"0": 0.25, END: 0.5, b"x": 0.25}}
    dist = ValueSearch((1, 4, 10)).distribution(TableOracle(table))
    raw = {1: 0.25, 4: 0.5, 10: 0.125}
    assert dist.probabilities == pytest.approx({v: p / 0.875 for v, p in raw.items()})


def test_non_contiguous_scores_get_exactly_their_own_values() -> None:
    table = {b"": {b"0": 0.2, b"1": 0.3, b"2": 0.1, b"5": 0.4}}
    dist = ValueSearch((0, 2, 5), after=b"</score>").distribution(TableOracle(table))
    assert list(dist.probabilities) == [0, 2, 5]
    assert dist.probabilities == pytest.approx({0: 2 / 7, 2: 1 / 7, 5: 4 / 7})
    assert dist.expected_score == pytest.approx((0 * 2 + 2 * 1 + 5 * 4) / 7)


def test_multi_token_labels_sum_every_spelling_and_the_lead_inside_a_token() -> None:
    # The verdict position falls inside a token: `"` is still to write before the label.
    table = {
        b"": {b'"P': 0.3, b'"': 0.5, b'"F': 0.1, b"x": 0.1},
        b'"P': {b"ASS": 0.9, b"SS": 0.1},  # reached as `"P`, and as `"` then `P`
        b'"': {b"PASS": 0.4, b"P": 0.2, b"FAIL": 0.4},
        b'"F': {b"AIL": 0.5},
    }
    dist = ValueSearch(("PASS", "FAIL"), lead=b'"', after=b'"}').distribution(TableOracle(table))
    passed = 0.3 * 0.9 + 0.5 * 0.4 + 0.5 * 0.2 * 0.9
    failed = 0.1 * 0.5 + 0.5 * 0.4
    assert dist.probabilities["PASS"] == pytest.approx(passed / (passed + failed))
    assert dist.expected_score is None
    assert Distribution({"PASS": 0.7, "FAIL": 0.3}).fields() == {
        "probabilities": {"PASS": 0.7, "FAIL": 0.3},
        "confidence": 0.7,
    }


def test_a_server_that_lists_too_few_tokens_is_asked_again_then_reported_incomplete() -> None:
    chances = {b"4": 0.5, b"3": 0.2, b"x": 0.1, b"y": 0.1, b"z": 0.09, b"1": 0.01}
    oracle = TableOracle({b"": chances}, top=2)
    dist = ValueSearch((1, 3, 4)).distribution(oracle, tops=(2, 100))
    assert [top for _, top in oracle.asked] == [2, 100]  # 1 was missing and could matter
    assert dist.complete
    assert dist.probabilities[1] == pytest.approx(0.01 / 0.71)

    oracle = TableOracle({b"": chances}, top=2)
    dist = ValueSearch((1, 3, 4)).distribution(oracle, tops=(2, 3))
    assert not dist.complete
    assert dist.probabilities == pytest.approx({1: 0.0, 3: 0.2 / 0.7, 4: 0.5 / 0.7})
    assert dist.fields()["probabilities_complete"] is False


# -- through the judge, on the scripted runtime -------------------------------------------

VERDICT = "<feedback>Faithful.</feedback>\n<score>4</score>"
ROW = {"query": "q", "context": "c", "response": "r"}
CHANCES = {"1": 0.05, "2": 0.05, "3": 0.2, "4": 0.6, "5": 0.1}


def scripted(text: str) -> dict[str, float]:
    """Digits after `<score>`; anything else is not asked about."""
    assert text.endswith("<score>"), text
    return CHANCES


def test_the_result_carries_probabilities_expected_score_and_confidence() -> None:
    runtime = FakeRuntime(VERDICT, next_chars=scripted)
    with Judge(None, "response-faithfulness-5point", runtime=runtime) as judge:
        result = judge.evaluate(ROW)
    assert result.score == 4
    assert result.probabilities == pytest.approx({1: 0.05, 2: 0.05, 3: 0.2, 4: 0.6, 5: 0.1})
    assert result.expected_score == pytest.approx(0.05 + 0.1 + 0.6 + 2.4 + 0.5)
    assert result.confidence == pytest.approx(0.6)
    assert runtime.kept and all(k.closed for k in runtime.kept)
    data = result.to_dict()
    # Flow-Judge's keys first, as before; the distribution after everything else.
    assert list(data)[:2] == ["feedback", "score"]
    assert list(data)[-3:] == ["probabilities", "expected_score", "confidence"]
    assert json.loads(json.dumps(data))["probabilities"]["4"] == 0.6


def test_no_probabilities_when_turned_off_or_the_runtime_cannot() -> None:
    runtime = FakeRuntime(VERDICT, next_chars=scripted)
    with Judge(None, "response-faithfulness-5point", runtime=runtime, probabilities=False) as j:
        result = j.evaluate(ROW)
    assert result.probabilities is None and result.expected_score is None
    assert "probabilities" not in result.to_dict()
    assert not runtime.kept
    with Judge(None, "response-faithfulness-5point", runtime=FakeRuntime(VERDICT)) as judge:
        assert judge.evaluate(ROW).probabilities is None


def test_a_cut_answer_measures_the_decision_the_close_out_generated() -> None:
    long = "<feedback>" + "word " * 50 + "</feedback>\n<score>4</score>"

    def answer(prompt: str, grammar: str | None) -> str:
        return "2</score>" if prompt.endswith("<score>") else long

    runtime = FakeRuntime(answer, next_chars=lambda text: {"2": 0.7, "4": 0.3})
    with Judge(None, "response-faithfulness-5point", runtime=runtime, max_tokens=30) as judge:
        result = judge.evaluate(ROW)
    assert result.truncated and result.score == 2
    assert result.probabilities == pytest.approx({1: 0, 2: 0.7, 3: 0, 4: 0.3, 5: 0})
    assert runtime.kept[-1].asked == [""]  # at the start of the close-out's generation
    assert all(k.closed for k in runtime.kept)


def test_a_non_contiguous_rubric_through_the_judge() -> None:
    metric = Metric(
        name="sparse",
        criteria="Is it right?",
        rubric=(
            RubricItem(score=0, description="no"),
            RubricItem(score=2, description="partly"),
            RubricItem(score=5, description="yes"),
        ),  # fmt: skip
        required_inputs=("query",),
        required_output="response",
    )
    answer = "<feedback>ok</feedback>\n<score>5</score>"
    chances = {"0": 0.1, "1": 0.3, "2": 0.2, "5": 0.4}
    with Judge(None, metric, runtime=FakeRuntime(answer, next_chars=lambda _: chances)) as j:
        result = j.evaluate({"query": "q", "response": "r"})
    assert result.probabilities == pytest.approx({0: 1 / 7, 2: 2 / 7, 5: 4 / 7})
    assert result.probabilities is not None
    assert math.isclose(sum(result.probabilities.values()), 1.0)


# -- how the shells show it ---------------------------------------------------------------


def test_the_cli_line_the_batch_summary_and_the_tui_bars() -> None:
    from edgejudge.cli.judging import probability_line
    from edgejudge.judging.batch import summary
    from edgejudge.tui.probability_bars import probability_lines

    with Judge(None, "response-faithfulness-5point",
               runtime=FakeRuntime(VERDICT, next_chars=scripted)) as judge:  # fmt: skip
        result = judge.evaluate(ROW)
    assert probability_line(result) == (
        "Probabilities: 1 0.05 · 2 0.05 · 3 0.20 · 4 0.60 · 5 0.10 (expected 3.65, confidence 0.60)"
    )
    incomplete = Distribution({"PASS": 1.0, "FAIL": 0.0}, complete=False)
    bars = probability_lines(incomplete, 20)
    assert bars == ["PASS █████████ 1.00", "FAIL ░░░░░░░░░ 0.00", "confidence 1.00 · incomplete"]
    assert result.distribution is not None
    assert probability_lines(result.distribution, 18)[3] == "4 ██████░░░░ 0.60"
    rows = [{"score": 4, "expected_score": 3.5}, {"score": 2, "expected_score": 2.25},
            {"error": "bad"}, {"label": "PASS"}]  # fmt: skip
    assert summary(rows) == "mean score 3.00 · mean expected score 2.88 (2 rows)"
    assert summary([{"score": 1}]) == "mean score 1.00 (1 rows)"
    assert summary([{"label": "PASS"}]) is None


class MergedKept:
    """A kept generation whose last tokens merge fixed text and the value (`>4`)."""

    tops = (0,)

    def __init__(self, pieces: list[bytes], table: dict[tuple[int, ...], dict[bytes, float]]):
        self.pieces = pieces
        self.tokens = tuple(range(len(pieces)))
        self.table = table
        self.asked: list[tuple[int, tuple[int, ...]]] = []

    def piece(self, index: int) -> bytes:
        return self.pieces[index]

    def next(
        self, at: int, path: Sequence[int], wanted: frozenset[bytes], *, end: bool, top: int
    ) -> NextTokens:
        self.asked.append((at, tuple(path)))
        chances = self.table[tuple(path)]
        return NextTokens(
            tuple(
                Candidate(100 + i, p, q) for i, (p, q) in enumerate(chances.items()) if p in wanted
            )
        )

    def close(self) -> None:
        pass


def test_the_verdict_position_can_fall_inside_a_token() -> None:
    from edgejudge.core import get_format, get_preset
    from edgejudge.judging.probabilities import decision_distribution

    pieces = [b"<feedback>ok</feedback>\n<score", b">4", b"</score>"]
    raw = b"".join(pieces).decode()
    # At the point after `<score`: `>4` or `>3` at once, or `>` and then the digit.
    table = {(): {b">4": 0.5, b">3": 0.3, b">": 0.2, b"x": 0.1}, (102,): {b"4": 0.5, b"5": 0.5}}
    kept = MergedKept(pieces, table)
    metric = get_preset("response-faithfulness-5point")
    dist = decision_distribution(BoundSingle(get_format("flow-judge"), metric), raw, 0, kept)  # type: ignore[arg-type]
    assert dist is not None
    assert dist.probabilities == pytest.approx({1: 0, 2: 0, 3: 0.3, 4: 0.6, 5: 0.1})
    assert kept.asked == [(1, ()), (1, (102,))]
    # A decision written before this generation started cannot be placed on its tokens.
    assert (
        decision_distribution(BoundSingle(get_format("flow-judge"), metric), raw, len(raw), kept)
        is None
    )
