"""Pairwise judging: the families' pairwise prompts byte for byte, the A/B answer, both
orders and what they say together, on the scripted runtime (fast).

The real model proves the same path in tests/test_pairwise_model.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgejudge import Judge
from edgejudge.core import Message
from edgejudge.core.formats import PAIRWISE_FORMATS, get_pairwise_format
from edgejudge.core.formats.templates import template
from edgejudge.core.metrics import PairwiseMetric
from edgejudge.core.pairs import coerce_pair
from edgejudge.core.presets import PAIRWISE_PRESETS
from edgejudge.errors import FamilyError, InputError, MetricError, ParseError
from edgejudge.io.metric_files import load_metric_file, resolve_any_metric, resolve_metric
from edgejudge.judging.pairs import PairResult
from tests.support.fake_runtime import FakeRuntime
from tests.support.pairs import (
    BAD,
    CONTEXT,
    FAITHFUL,
    GOOD,
    QUESTION,
    faithful_pair,
    judge,
    prefers_good,
)
from tests.support.references import reference_module

HELPFUL = PAIRWISE_PRESETS["pairwise-helpfulness"]
CORRECT = PAIRWISE_PRESETS["pairwise-correctness"]


def test_prometheus_relative_is_the_training_prompt_and_the_packages_rewrite() -> None:
    system = template("prometheus/system-relative.txt")
    training = template("prometheus/relative.training.txt")
    rubric = f"[{FAITHFUL.criteria}]"
    instruction = f"{QUESTION}\n\nContext:\n{CONTEXT}"
    body = training.format(
        orig_instruction=instruction, response_A=GOOD, response_B=BAD, score_rubric=rubric
    )
    assert body.startswith("\n###Task Description:")  # the literal's newline, left out
    prompt = get_pairwise_format("prometheus").render_prompt(FAITHFUL, faithful_pair())
    assert prompt == system + "\n\n" + body[1:]
    assert prompt.count(GOOD) == 1 and prompt.count(BAD) == 1  # braces in text stay text
    # prometheus-eval 0.1.20 ships this prompt without `Feedback: ` in step 3, under its
    # library placeholder names: the package itself confirms the rest, byte for byte.
    package = reference_module("prompts")
    assert package.REL_SYSTEM_PROMPT == system
    rewritten = (
        training.lstrip("\n")
        .replace("{orig_instruction}", "{instruction}")
        .replace("{score_rubric}", "{rubric}")
        .replace('"Feedback: (write', '"(write')
    )
    assert rewritten == package.RELATIVE_PROMPT_WO_REF


def test_prometheus_relative_library_wording_and_the_reference_prompt() -> None:
    system = template("prometheus/system-relative.txt")
    rubric = f"[{HELPFUL.criteria}]"
    pair = coerce_pair({"query": QUESTION, "response_a": GOOD, "response_b": BAD}, HELPFUL)
    library = template("prometheus/relative.library.txt").format(
        instruction=QUESTION, response_A=GOOD, response_B=BAD, rubric=rubric
    )
    assert get_pairwise_format("prometheus@library").render_prompt(HELPFUL, pair) == (
        system + "\n\n" + library
    )
    # With a reference answer both wordings use the library's one relative prompt with one.
    reference = "Paris {is} the capital."
    pair = coerce_pair(
        {"query": QUESTION, "reference_answer": reference, "response_a": GOOD, "response_b": BAD},
        CORRECT,
    )
    expected = template("prometheus/relative-with-reference.library.txt").format(
        instruction=QUESTION,
        response_A=GOOD,
        response_B=BAD,
        reference_answer=reference,
        rubric=f"[{CORRECT.criteria}]",
    )
    for family in ("prometheus", "prometheus@library"):
        messages = get_pairwise_format(family).messages(CORRECT, pair)
        assert messages == [Message("user", system + "\n\n" + expected)]


def test_selene_pairwise_is_atlas_template_and_refuses_a_reference() -> None:
    expected = template("selene/pairwise.txt").format(
        user_input=f"{QUESTION}\n\nContext:\n{CONTEXT}",
        assistant_response_a=GOOD,
        assistant_response_b=BAD,
        rubric_objective=FAITHFUL.criteria,
    )
    selene = get_pairwise_format("selene")
    assert selene.messages(FAITHFUL, faithful_pair()) == [Message("user", expected)]
    with pytest.raises(FamilyError, match="no reference answer.*prometheus"):
        selene.check(CORRECT)


@pytest.mark.parametrize("family", ["flow-judge", "flow-judge@harness", "glider", "root-judge"])
def test_families_without_a_pairwise_prompt_name_those_with_one(family: str) -> None:
    with pytest.raises(FamilyError) as caught:
        get_pairwise_format(family)
    message = str(caught.value)
    assert "\n" not in message and "no pairwise prompt" in message
    assert all(name in message for name in PAIRWISE_FORMATS)
    with pytest.raises(FamilyError, match="no pairwise prompt"):
        Judge(None, "pairwise-helpfulness", runtime=FakeRuntime("x"), family=family)


@pytest.mark.parametrize(
    ("family", "answer", "feedback"),
    [
        ("prometheus", "Feedback: A is right. [RESULT] B", "A is right."),
        ("selene", "**Reasoning:** A is right.\n\n**Result:** B", "A is right."),
    ],
)
def test_the_answer_is_a_choice_and_nothing_else(family: str, answer: str, feedback: str) -> None:
    pair_format = get_pairwise_format(family)
    verdict = pair_format.parse(answer)
    assert (verdict.feedback, verdict.choice, verdict.score) == (feedback, "B", None)
    assert pair_format.decision_values() == ("A", "B")
    assert pair_format.decision_site(answer).start == len(answer) - 1
    grammar = pair_format.grammar(max_feedback_chars=100)
    assert grammar.splitlines()[-1] in ('choice ::= "A" | "B"', 'result ::= "A" | "B"')
    with pytest.raises(ParseError):
        pair_format.parse(answer[:-1] + "tie")
    # An answer cut by the budget is closed, and only the choice is left to generate.
    closed = pair_format.close_out(answer[: answer.index("right") + 3])
    assert closed is not None and closed[1]
    assert pair_format.tail_grammar(closed[0]).splitlines()[-1].endswith('"A" | "B"')


def test_a_pair_must_fit_the_metric_in_one_line() -> None:
    with pytest.raises(InputError) as caught:
        coerce_pair({"query": "q", "context": "c", "response_a": "x"}, FAITHFUL)
    assert str(caught.value) == (
        "pair does not fit metric pairwise-faithfulness: missing response_b "
        "(it needs: query, context, response_a, response_b)"
    )
    with pytest.raises(InputError, match="'response_b' must be a string"):
        coerce_pair({"query": "q", "context": "c", "response_a": "x", "response_b": 2}, FAITHFUL)
    assert faithful_pair().swapped().response_a == BAD


def test_pairwise_metrics_resolve_by_name_and_from_toml(tmp_path: Path) -> None:
    assert resolve_any_metric("pairwise-faithfulness") == FAITHFUL
    with pytest.raises(MetricError, match="compares two responses"):
        resolve_metric("pairwise-faithfulness")
    path = tmp_path / "mine.toml"
    path.write_text('kind = "pairwise"\nname = "mine"\ncriteria = "Which is kinder?"\n')
    assert load_metric_file(path) == PairwiseMetric(name="mine", criteria="Which is kinder?")
    path.write_text(
        'kind = "pairwise"\nname = "mine"\ncriteria = "x"\nrequired_inputs = ["response_a"]\n'
    )
    with pytest.raises(MetricError, match="names a response"):
        load_metric_file(path)


# -- both orders, on the scripted runtime ---------------------------------------------------


def prefers_first(prompt: str, grammar: str | None) -> str:
    """A judge with pure position bias."""
    return "Feedback: the first reads better. [RESULT] A"


def test_both_orders_agree_on_the_better_response() -> None:
    with judge(prefers_good) as j:
        result = j.compare(faithful_pair())
        mirror = j.compare(faithful_pair(BAD, GOOD))
    assert (result.verdict, result.preferred, result.consistent) == ("A", ("A", "A"), True)
    assert [r.choice for r in result.results] == ["A", "B"]
    assert (mirror.verdict, mirror.preferred) == ("B", ("B", "B"))
    # The (A, B) run of one is the (B, A) run of the other.
    assert result.first.raw == mirror.second.raw  # type: ignore[union-attr]
    # P(A better): P(A) in the order given, P(B) in the swapped one, averaged.
    assert result.probability_a == pytest.approx((0.8 + 0.2) / 2)
    row = result.to_dict(("new", "old"))
    assert list(row)[:5] == ["verdict", "winner", "consistent", "p_a_better", "orders"]
    assert (row["winner"], [o["order"] for o in row["orders"]]) == ("new", ["A,B", "B,A"])
    assert row["orders"][1]["preferred"] == "A" and row["orders"][1]["choice"] == "B"
    json.dumps(row)


def test_position_bias_is_a_tie_and_no_swap_keeps_it() -> None:
    with judge(prefers_first) as j:
        result = j.compare(faithful_pair())
        single = j.compare(faithful_pair(), swap=False)
    assert (result.verdict, result.preferred, result.consistent) == ("tie", ("A", "B"), False)
    assert result.probabilities == pytest.approx({"A": 0.5, "B": 0.5})
    assert (single.verdict, single.second, single.consistent) == ("A", None, None)
    assert "consistent" not in single.to_dict()
    assert single.probability_a == pytest.approx(0.8)


def test_compare_many_keeps_order_and_makes_a_bad_pair_its_error() -> None:
    pairs = [
        faithful_pair().fields(),
        {"query": "q", "context": "c", "response_a": "x"},
        faithful_pair(BAD, GOOD).fields(),
    ]
    with judge(prefers_good, slots=3) as j:
        got = list(j.compare_many(pairs, return_exceptions=True))
        with pytest.raises(InputError, match="missing response_b"):
            list(j.compare_many(pairs))
        with pytest.raises(MetricError, match="compares two responses"):
            j.evaluate({"query": "q"})
        single = j.with_metric("response-faithfulness-5point")
        with pytest.raises(MetricError, match="scores one response"):
            single.compare(pairs[0])
    assert isinstance(got[0], PairResult) and got[0].verdict == "A"
    assert isinstance(got[1], InputError)
    assert isinstance(got[2], PairResult) and got[2].verdict == "B"


# -- batches of pairs -----------------------------------------------------------------------


def test_the_tally_gives_a_wilson_interval_and_the_consistency_rate() -> None:
    from edgejudge.judging.pair_stats import PairTally

    rows = (
        [{"verdict": "A", "consistent": True}] * 12
        + [{"verdict": "B", "consistent": True}] * 5
        + [{"verdict": "tie", "consistent": False}] * 3
        + [{"error": "bad"}]
    )
    tally = PairTally.of(rows)
    assert (tally.wins, tally.losses, tally.ties, tally.consistent, tally.swapped) == (
        12, 5, 3, 17, 20
    )  # fmt: skip
    assert tally.win_rate == pytest.approx(12 / 17)
    low, high = tally.interval()  # type: ignore[misc]
    # The Wilson score interval by its formula: (p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    z, n, p = 1.959963984540054, 17, 12 / 17
    centre, spread = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    assert (low, high) == pytest.approx(
        ((centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n))
    )
    text = tally.describe(("new", "old"))
    assert text.startswith("new 12 wins · old 5 wins · 3 ties; win rate of new 0.71 (95% CI")
    assert text.endswith("consistency 0.85 (17 of 20 pairs)")
    one_order = PairTally.of([{"verdict": "A"}])
    assert one_order.consistency is None and "not measured" in one_order.describe()
    assert "no win rate" in PairTally.of([{"verdict": "tie", "consistent": False}]).describe()


def test_two_files_of_answers_join_by_id(tmp_path: Path) -> None:
    from edgejudge.judging.batch import joined_pairs

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    lines_a = [
        {"id": 1, "query": "q1", "context": "c1", "response": "a1"},
        {"id": 2, "query": "q2", "context": "c2", "response": "a2"},
        {"id": 3, "query": "q3", "context": "c3", "response": "a3"},
        {"id": 5, "query": "q5", "context": "c5"},
    ]
    lines_b = [
        {"id": 2, "response": "b2", "query": "other"},
        {"id": 1, "response": "b1", "context": "c1"},
        {"id": 4, "response": "b4"},
        {"id": 5, "response": "b5"},
    ]
    a.write_text("".join(json.dumps(line) + "\n" for line in lines_a))
    b.write_text("".join(json.dumps(line) + "\n" for line in lines_b))
    rows = joined_pairs(a, b, FAITHFUL.required_inputs)
    assert [row.id for row in rows] == [1, 2, 3, 5, 4]
    assert rows[0].data == {
        "id": 1, "query": "q1", "context": "c1", "response_a": "a1", "response_b": "b1"
    }  # fmt: skip
    assert rows[1].problem == "the two files give different 'query' for this id"
    assert rows[2].problem == f"id 3 has no answer in {b}"
    assert rows[3].problem == f"{a} line 4 has no 'response' key"
    assert rows[4].problem == f"id 4 has no answer in {a}"


# -- the CLI, where no model is loaded ------------------------------------------------------


def test_prompt_and_grammar_show_a_pair_in_either_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgejudge.cli import main

    case = tmp_path / "pair.json"
    case.write_text(json.dumps(faithful_pair().fields()))
    common = ["-m", "pairwise-faithfulness", "-i", str(case), "--family", "selene"]
    selene = get_pairwise_format("selene")
    assert main(["prompt", *common]) == 0
    assert capsys.readouterr().out == selene.render_prompt(FAITHFUL, faithful_pair()) + "\n"
    assert main(["prompt", *common, "--swapped"]) == 0
    swapped = selene.render_prompt(FAITHFUL, faithful_pair(BAD, GOOD))
    assert capsys.readouterr().out == swapped + "\n"
    assert main(["grammar", "-m", "pairwise-faithfulness", "--family", "prometheus"]) == 0
    assert capsys.readouterr().out.endswith('choice ::= "A" | "B"\n')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "-m", "response-faithfulness-5point", "--family", "prometheus"],
         "scores one response: compare needs a pairwise metric"),
        (["compare", "-m", "pairwise-faithfulness", "--family", "glider"],
         "glider publishes no pairwise prompt"),
        (["judge", "-m", "pairwise-faithfulness"], "compares two responses: use `edgejudge"),
        (["batch", "--a", "a.jsonl", "--b", "b.jsonl", "-o", "o.jsonl", "-m",
          "response-faithfulness-5point"], "--a and --b compare two systems"),
        (["batch", "--a", "a.jsonl", "-o", "o.jsonl", "-m", "pairwise-faithfulness"],
         "--a and --b go together"),
    ],
)  # fmt: skip
def test_pairwise_mistakes_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    from edgejudge.cli import main

    case = tmp_path / "pair.json"
    case.write_text(json.dumps(faithful_pair().fields()))
    inputs = ["-i", str(case), "--model", "demo"] if argv[0] != "batch" else ["--model", "demo"]
    assert main([*argv, *inputs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
