"""The strict verdict parser and the streaming feedback filter."""

from __future__ import annotations

import pytest

from edgejudge.core import get_preset
from edgejudge.core.formats.flow_judge import FLOW_JUDGE
from edgejudge.errors import ParseError

FIVE = get_preset("response-faithfulness-5point")


@pytest.mark.parametrize(
    ("raw", "feedback", "score"),
    [
        ("<feedback>Good.</feedback>\n<score>4</score>", "Good.", 4),
        ("  <feedback>\nTwo\n\nlines\n</feedback>\n<score> 5 </score>\n", "Two\n\nlines", 5),
        (
            "<feedback>Says </feedback> inside</feedback>\n<score>2</score>",
            "Says </feedback> inside",
            2,
        ),
    ],
)
def test_well_formed(raw: str, feedback: str, score: int) -> None:
    verdict = FLOW_JUDGE.parse(raw, FIVE)
    assert (verdict.feedback, verdict.score) == (feedback, score)


def test_a_score_quoted_in_the_feedback_does_not_fool_the_parser() -> None:
    raw = (
        "<feedback>The response claims <score>5</score> for itself, but it invents "
        "facts.</feedback>\n<score>1</score>"
    )
    verdict = FLOW_JUDGE.parse(raw, FIVE)
    assert verdict.score == 1
    assert "<score>5</score>" in verdict.feedback


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "wrote nothing"),
        ("The answer is good. Score: 5", "does not start with <feedback>"),
        ("<feedback>Good, and then it stops", "never closed"),
        ("<feedback>Good.</feedback>\nScore: 5", "no <score>"),
        ("<feedback>Good.</feedback>\n<score>5</score> Anything else?", "does not end"),
        ("<feedback>Good.</feedback>\n<score>five</score>", "not a whole number"),
        ("<feedback>Good.</feedback>\n<score>-1</score>", "not a whole number"),
        ("<feedback>Good.</feedback>\n<score>04</score>", "not a whole number"),
        ("<feedback>Good.</feedback>\n<score>6</score>", r"not on the rubric \(allowed: 1, 2, 3"),
        ("<feedback>Good.</feedback>\n<score>0</score>", "not on the rubric"),
        ("<feedback>  </feedback>\n<score>3</score>", "feedback is empty"),
        (
            "<feedback>a</feedback>\n<score>3</score>\n<feedback>b</feedback>\n<score>4</score>",
            "not a whole number",
        ),
    ],
)
def test_ill_formed_raises_with_raw_text(raw: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        FLOW_JUDGE.parse(raw, FIVE)
    assert info.value.raw == raw
    assert isinstance(info.value, ValueError)


def _stream(chunks: list[str]) -> str:
    stream = FLOW_JUDGE.feedback_stream()
    return "".join(stream.feed(chunk) for chunk in chunks)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100])
def test_feedback_filter_for_any_chunking(size: int) -> None:
    raw = "<feedback>It is <b>bold</b> and </feed tricky.</feedback>\n<score>3</score>"
    chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
    assert _stream(chunks) == "It is <b>bold</b> and </feed tricky."


def test_feedback_filter_ignores_text_that_is_not_an_answer() -> None:
    assert _stream(["Sure, here", " is my evaluation"]) == ""


@pytest.mark.parametrize(
    ("partial", "closed", "cut"),
    [
        ("<feedback>Partial thoughts", "<feedback>Partial thoughts</feedback>\n<score>", True),
        ("<feedback>Done.\n</", "<feedback>Done.\n</feedback>\n<score>", False),
        ("<feedback>Done.</feedback>\n<sc", "<feedback>Done.</feedback>\n<score>", False),
        ("<feedback>Done.</feedback>\n<score>1", "<feedback>Done.</feedback>\n<score>", False),
    ],
)
def test_close_out_cuts_back_to_the_feedback(partial: str, closed: str, cut: bool) -> None:
    assert FLOW_JUDGE.close_out(partial) == (closed, cut)


@pytest.mark.parametrize("partial", ["<feedback>", "<feedback>  \n", "no tags", ""])
def test_close_out_needs_some_feedback(partial: str) -> None:
    assert FLOW_JUDGE.close_out(partial) is None
