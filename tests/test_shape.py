"""Answer shapes: what derives from a declared answer, for shapes other than Flow-Judge's.

Flow-Judge's own shape is held to its old hand-written grammar, parser, filter and close-out
by tests/test_grammar.py and tests/test_parse.py, unchanged. These shapes are stand-ins in
the manner of Root Judge's JSON and Selene's Markdown answers, to show the derivations are
general; the families' own formats come with their own issue."""

from __future__ import annotations

import pytest

from edgejudge.core import get_preset
from edgejudge.core.formats.shape import AnswerShape, JsonText, Label, Lit, Score, Text
from edgejudge.errors import ParseError
from tests.support.grammar import admits

FIVE = get_preset("response-faithfulness-5point")
JSON_VERDICT = AnswerShape(
    Lit('{"REASONING": "'),
    Text("reasoning", stop='"'),
    Lit('", "VERDICT": "'),
    Label("verdict", ("PASS", "FAIL")),
    Lit('"}'),
)
JSON_STRING = AnswerShape(
    Lit('{"REASONING": "'),
    JsonText("reasoning"),
    Lit('", "VERDICT": "'),
    Label("verdict", ("PASS", "FAIL")),
    Lit('"}'),
)
ESCAPED = r'{"REASONING": "Says \"Paris\" \u00e9\\.\nDone", "VERDICT": "FAIL"}'
MARKDOWN = AnswerShape(
    Lit("**Reasoning:** "),
    Text("reasoning", stop="*"),
    Lit("\n\n"),
    Lit("**Result:** "),
    Score("result"),
)


def test_a_label_shape_parses_and_names_what_is_wrong() -> None:
    raw = '{"REASONING": "The answer is in the context.", "VERDICT": "PASS"}'
    assert JSON_VERDICT.parse(raw, FIVE) == {
        "reasoning": "The answer is in the context.",
        "verdict": "PASS",
    }
    problems = {
        '{"REASONING": "Fine.", "VERDICT": "NO"}': "the verdict 'NO' is not one of PASS, FAIL",
        '{"VERDICT": "PASS"}': 'the answer does not start with {"REASONING": "',
        '{"REASONING": "Fine.': 'the reasoning is never closed with ", "VERDICT": "',
        '{"REASONING": "Fine.", "VERDICT": "PASS"': 'the answer does not end with "}',
        '{"REASONING": " ", "VERDICT": "FAIL"}': "the reasoning is empty",
    }
    for text, message in problems.items():
        with pytest.raises(ParseError) as caught:
            JSON_VERDICT.parse(text, FIVE)
        assert str(caught.value) == message and caught.value.raw == text


def test_a_label_shapes_grammar_quotes_its_fixed_text_and_lists_the_labels() -> None:
    grammar = JSON_VERDICT.grammar(FIVE, max_text_chars=50)
    lines = grammar.splitlines()
    assert lines[0] == r'root ::= "{\"REASONING\": \"" reasoning tail'
    assert 'char ::= [^"]' in lines
    assert r'tail ::= "\", \"VERDICT\": \"" verdict "\"}"' in lines
    assert 'verdict ::= "PASS" | "FAIL"' in lines
    assert JSON_VERDICT.tail_grammar(FIVE).splitlines()[0] == r'root ::= verdict "\"}"'
    assert JSON_VERDICT.describe() == '{"REASONING": "…", "VERDICT": "PASS/FAIL"}'


def test_close_out_and_streaming_follow_the_shape() -> None:
    assert JSON_VERDICT.close_out('{"REASONING": "It holds, but') == (
        '{"REASONING": "It holds, but", "VERDICT": "',
        True,
    )
    assert JSON_VERDICT.close_out('{"REASONING": "Done.", "VER') == (
        '{"REASONING": "Done.", "VERDICT": "',
        False,
    )
    assert MARKDOWN.close_out("**Reasoning:** Long thoughts") == (
        "**Reasoning:** Long thoughts\n\n**Result:** ",
        True,
    )
    raw = '{"REASONING": "Quoted text stops it.", "VERDICT": "FAIL"}'
    for size in (1, 2, 5, 100):
        stream = JSON_VERDICT.feedback_stream()
        pieces = [stream.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
        assert "".join(pieces) == "Quoted text stops it."


def test_a_shape_that_ends_with_its_decision() -> None:
    assert MARKDOWN.parse("**Reasoning:** Fits.\n\n**Result:** 4", FIVE) == {
        "reasoning": "Fits.",
        "result": 4,
    }
    with pytest.raises(ParseError, match="the score 9 is not on the rubric"):
        MARKDOWN.parse("**Reasoning:** Fits.\n\n**Result:** 9", FIVE)
    grammar = MARKDOWN.grammar(FIVE, max_text_chars=10)
    assert 'result ::= "1" | "2" | "3" | "4" | "5"' in grammar.splitlines()


def test_a_shape_needs_free_text_then_a_decision() -> None:
    with pytest.raises(ValueError):
        AnswerShape(Lit("<score>"), Score(), Lit("</score>"))
    with pytest.raises(ValueError):
        AnswerShape(Lit("<score>"), Score(), Text("feedback", "<"), Lit("</feedback>"))


def test_a_json_string_is_decoded_by_the_parser() -> None:
    verdict = JSON_STRING.verdict(ESCAPED, FIVE)
    assert (verdict.feedback, verdict.label) == ('Says "Paris" \u00e9\\.\nDone', "FAIL")
    with pytest.raises(ParseError, match="the reasoning is not a valid JSON string"):
        JSON_STRING.parse(r'{"REASONING": "bad \x escape", "VERDICT": "PASS"}', FIVE)
    with pytest.raises(ParseError, match="the reasoning is not a valid JSON string"):
        JSON_STRING.parse('{"REASONING": "a raw\nnewline", "VERDICT": "PASS"}', FIVE)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_json_string_streams_decoded_whatever_the_chunks(size: int) -> None:
    stream = JSON_STRING.feedback_stream()
    pieces = [stream.feed(ESCAPED[i : i + size]) for i in range(0, len(ESCAPED), size)]
    assert "".join(pieces) == 'Says "Paris" \u00e9\\.\nDone'


def test_a_json_string_cut_by_the_budget_closes_at_a_whole_escape() -> None:
    closed = JSON_STRING.close_out(r'{"REASONING": "It says \"hi\" \u00')
    assert closed == ('{"REASONING": "It says \\"hi\\" ", "VERDICT": "', True)
    closed = JSON_STRING.close_out('{"REASONING": "Whole.", "VER')
    assert closed == ('{"REASONING": "Whole.", "VERDICT": "', False)
    closed = JSON_STRING.close_out(r'{"REASONING": "ends in a backslash \\')
    assert closed == ('{"REASONING": "ends in a backslash \\\\", "VERDICT": "', True)


@pytest.mark.model
@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (ESCAPED, True),
        ('{"REASONING": "Plain.", "VERDICT": "PASS"}', True),
        ('{"REASONING": "Unescaped " quote.", "VERDICT": "PASS"}', False),
        (r'{"REASONING": "Bad \x escape.", "VERDICT": "PASS"}', False),
        ('{"REASONING": " Leading blank.", "VERDICT": "PASS"}', False),
        ('{"REASONING": "Fine.", "VERDICT": "MAYBE"}', False),
    ],
)
def test_llama_cpp_admits_only_json_verdicts(demo_runtime: object, text: str, ok: bool) -> None:
    assert admits(demo_runtime, JSON_STRING.grammar(FIVE, max_text_chars=200), text) is ok


@pytest.mark.model
def test_llama_cpp_accepts_the_derived_grammars(demo_runtime: object) -> None:
    for shape in (JSON_VERDICT, JSON_STRING, MARKDOWN):
        demo_runtime.check_grammar(shape.grammar(FIVE, max_text_chars=3000))  # type: ignore[attr-defined]
        demo_runtime.check_grammar(shape.tail_grammar(FIVE))  # type: ignore[attr-defined]
