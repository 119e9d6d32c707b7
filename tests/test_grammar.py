"""The verdict grammar: its shape, and what llama.cpp's own grammar engine admits."""

from __future__ import annotations

import pytest

from edgejudge.core import PRESETS, Metric, RubricItem, get_preset
from edgejudge.core.formats.flow_judge import FLOW_JUDGE
from edgejudge.errors import GenerationError
from tests.support.grammar import admits

TEN = Metric(
    name="ten",
    criteria="c",
    required_output="response",
    rubric=tuple(RubricItem(score=s, description=f"d{s}") for s in range(11)),
)


def test_scores_are_exactly_the_rubric() -> None:
    grammar = FLOW_JUDGE.grammar(get_preset("response-relevance-3point"), max_feedback_chars=100)
    assert 'score ::= "1" | "2" | "3"\n' in grammar
    assert 'score ::= "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10"' in (
        FLOW_JUDGE.grammar(TEN, max_feedback_chars=100)
    )


def test_long_bounds_are_built_from_small_repetitions() -> None:
    grammar = FLOW_JUDGE.grammar(TEN, max_feedback_chars=4500)
    # llama.cpp refuses a repetition of 2000 or more; none may appear.
    counts = [int(n) for part in grammar.split("{")[1:] for n in part.split("}")[0].split(",")]
    assert max(counts) < 2000
    assert "rest-block ::= char{1000}" in grammar and "rest-4 ::= char{0,499}" in grammar


def test_zero_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        FLOW_JUDGE.grammar(TEN, max_feedback_chars=0)


# --- llama.cpp's own grammar engine ------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_llama_cpp_parses_every_preset_grammar(demo_runtime: object, name: str) -> None:
    demo_runtime.check_grammar(  # type: ignore[attr-defined]
        FLOW_JUDGE.grammar(PRESETS[name], max_feedback_chars=4096)
    )


@pytest.mark.model
def test_llama_cpp_refuses_a_broken_grammar_with_a_reason(demo_runtime: object) -> None:
    with pytest.raises(GenerationError, match="Undefined rule"):
        demo_runtime.check_grammar('root ::= "a" missing')  # type: ignore[attr-defined]


@pytest.mark.model
@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<feedback>Fine answer.</feedback>\n<score>10</score>", True),
        ("<feedback>\nMulti\n\nline.\n</feedback>\n<score>0</score>", True),
        ("<feedback>Quotes the answer's <score>5</score></feedback>\n<score>3</score>", False),
        ("<feedback>   </feedback>\n<score>3</score>", False),
        ("<feedback></feedback>\n<score>3</score>", False),
        ("<feedback>Good.</feedback>\n<score>11</score>", False),
        ("<feedback>Good.</feedback>\n<score>-1</score>", False),
        ("<feedback>Good.</feedback><score>3</score>", False),
        ("<feedback>Good.</feedback>\n<score>3</score> and more", False),
        ("Sure! <feedback>Good.</feedback>\n<score>3</score>", False),
    ],
)
def test_llama_cpp_admits_only_verdicts(demo_runtime: object, text: str, ok: bool) -> None:
    grammar = FLOW_JUDGE.grammar(TEN, max_feedback_chars=200)
    assert admits(demo_runtime, grammar, text) is ok


@pytest.mark.model
def test_feedback_length_bound_is_enforced(demo_runtime: object) -> None:
    grammar = FLOW_JUDGE.grammar(TEN, max_feedback_chars=1500)
    fits = "<feedback>" + "a" * 1500 + "</feedback>\n<score>1</score>"
    too_long = "<feedback>" + "a" * 1501 + "</feedback>\n<score>1</score>"
    assert admits(demo_runtime, grammar, fits)
    assert not admits(demo_runtime, grammar, too_long)
