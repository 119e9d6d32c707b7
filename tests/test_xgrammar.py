"""The grammars the engine profiles send compile in xgrammar, the grammar engine of vLLM
(`structured_outputs.grammar`) and SGLang (`ebnf`), and admit exactly the family's answers.

Every family's verdict grammar for every metric it can express (and each pairwise format's),
its close-out tail, and the connect probe are compiled with xgrammar's `GrammarCompiler` over
a byte vocabulary and matched: a well-formed answer (built from the family's answer shape and
checked with its own parser) is accepted through to the end, and the same answer with a value
off the rubric, its fixed text broken, or plain prose is rejected. The same cases hold for the
regular expression TGI is sent, so the three dialects agree.

xgrammar comes from PyPI with the CPU build of torch (which it imports); CI installs both and
sets EDGEJUDGE_REQUIRE_XGRAMMAR=1, so there a missing xgrammar fails instead of skipping.
"""

from __future__ import annotations

import os
import re

import pytest

from edgejudge.core import formats as F
from edgejudge.core.formats.regex import gbnf_to_regex
from edgejudge.core.formats.shape import AnswerShape, JsonText, Label, Lit, Score, Text
from edgejudge.core.metrics import Metric
from edgejudge.core.presets import PRESETS
from edgejudge.errors import FamilyError, MetricError
from edgejudge.runtime.serving.remote import PROBE_GRAMMAR, PROBE_TEXT

if os.environ.get("EDGEJUDGE_REQUIRE_XGRAMMAR") == "1":
    import xgrammar as xgr
else:
    xgr = pytest.importorskip("xgrammar")

BUDGET = 256  # tokens: the grammars' text bounds scale with it
STOP = 0  # the byte vocabulary's token 0 stands for end-of-text


@pytest.fixture(scope="module")
def compiler() -> object:
    vocab = [bytes([i]).decode("latin-1") for i in range(256)]
    info = xgr.TokenizerInfo(vocab, vocab_type=xgr.VocabType.RAW, stop_token_ids=[STOP])
    return xgr.GrammarCompiler(info)


def accepts(compiler: object, grammar: str, text: str) -> bool:
    """Whether xgrammar lets `text` through and then lets the answer end."""
    compiled = compiler.compile_grammar(grammar)  # type: ignore[attr-defined]
    matcher = xgr.GrammarMatcher(compiled)
    return bool(matcher.accept_string(text) and matcher.accept_token(STOP))


def sample(shape: AnswerShape, metric: Metric | None) -> str:
    """A well-formed answer of `shape`: each free text a short sentence, the first value."""
    out = ""
    for section in shape.sections:
        if isinstance(section, Lit):
            out += section.text
        elif isinstance(section, JsonText):
            out += 'It says \\"yes\\" \\u00e9.'
        elif isinstance(section, Text):
            out += "The answer is supported, mostly."
        elif isinstance(section, Label):
            out += section.values[-1]
        elif isinstance(section, Score):
            assert metric is not None
            out += str(max(metric.scores))
    return out


def cases() -> list[tuple[str, str, AnswerShape, Metric | None]]:
    """(family, metric name, shape, metric) for every pairing a family can express."""
    found: list[tuple[str, str, AnswerShape, Metric | None]] = []
    for family, judge_format in F.FORMATS.items():
        for name, metric in sorted(PRESETS.items()):
            try:
                judge_format.check(metric)
            except (FamilyError, MetricError, ValueError):
                continue
            found.append((family, name, judge_format.shape_for(metric), metric))  # type: ignore[attr-defined]
    for family, pair_format in F.PAIRWISE_FORMATS.items():
        found.append((family, "pairwise", pair_format.shape, None))
    return found


CASES = cases()


def decision_text(shape: AnswerShape, metric: Metric | None) -> tuple[str, str, str]:
    """The sample's decision, the fixed text just before it, and the fixed text after it."""
    index = shape.sections.index(shape.decision)
    opening = ""
    for section in reversed(shape.sections[:index]):
        if not isinstance(section, Lit):
            break
        opening = section.text + opening
    after = ""
    for section in shape.sections[index + 1 :]:
        assert isinstance(section, Lit)
        after += section.text
    if isinstance(shape.decision, Score):
        assert metric is not None
        return str(max(metric.scores)), opening, after
    return shape.decision.values[-1], opening, after


@pytest.mark.parametrize(
    ("family", "name", "shape", "metric"), CASES, ids=[f"{f}-{n}" for f, n, *_ in CASES]
)
def test_every_family_grammar_compiles_in_xgrammar_and_admits_only_its_answers(
    compiler: object, family: str, name: str, shape: AnswerShape, metric: Metric | None
) -> None:
    grammar = shape.grammar(metric, max_text_chars=BUDGET * F.CHARS_PER_TOKEN_BOUND)
    good = sample(shape, metric)
    shape.parse(good, metric)  # the family's own parser takes it
    value, opening, after = decision_text(shape, metric)
    assert good.endswith(opening + value + after) and opening.strip()
    head = good[: len(good) - len(opening + value + after)]
    off = head + opening + ("99" if isinstance(shape.decision, Score) else "MAYBE") + after
    broken = head + opening[1:] + value + after  # the decision's own tag, cut
    pattern = gbnf_to_regex(grammar)
    for text, ok in ((good, True), (off, False), (broken, False), ("Yes, it is.", False)):
        assert accepts(compiler, grammar, text) is ok, (family, name, text)
        assert bool(re.fullmatch(pattern, text)) is ok, (family, name, text)
    # The close-out: an answer cut in its feedback is closed up to the decision, and the
    # tail grammar then writes the decision and what follows it, nothing else.
    closed = shape.close_out(good[: len(good) // 3])
    assert closed is not None
    tail = shape.tail_grammar(metric, closed[0])
    if closed[0].endswith(opening):
        assert accepts(compiler, tail, value + after), (family, name)
        assert not accepts(compiler, tail, "Yes, it is.")
    else:  # a tail that still writes a free text first (Glider's highlight)
        compiler.compile_grammar(tail)  # type: ignore[attr-defined]


def test_the_probe_grammar_forces_its_text_in_xgrammar_and_as_a_regex(compiler: object) -> None:
    assert accepts(compiler, PROBE_GRAMMAR, PROBE_TEXT)
    assert not accepts(compiler, PROBE_GRAMMAR, "Yes.")
    assert re.fullmatch(gbnf_to_regex(PROBE_GRAMMAR), PROBE_TEXT)
