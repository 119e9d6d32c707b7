"""Answer shapes: a judge's trained answer declared once, as a list of sections.

A family's answer is fixed text (tags, separators), free text (the feedback or reasoning),
and the decision (a score from the rubric, or a label such as Yes/No or PASS/FAIL). From the
declaration this module derives, once for every family:

* the GBNF grammar that admits only well-formed answers (free text bounded in length, never
  containing the one character that ends it, never blank);
* the strict parser, with messages that say what is wrong in the family's own words;
* the streaming filter that yields the feedback while it is being written;
* the close-out of an answer cut by the token budget: cut back to the end of its feedback,
  closed up to the decision, and the grammar for the decision alone.

The GBNF pieces are written by `gbnf.py`, the streaming filters live in `streaming.py`.

A JSON answer is fixed text around `JsonText` and a `Label`: Root Judge's
`{"REASONING": "…", "VERDICT": "PASS"}` is `AnswerShape(Lit('{"REASONING": "'),
JsonText("feedback"), Lit('", "VERDICT": "'), Label("verdict", ("PASS", "FAIL")), Lit('"}'))`,
whose grammar writes the object in that one spelling.

Flow-Judge's `<feedback>…</feedback>\\n<score>N</score>` is
`AnswerShape(Lit("<feedback>"), Text("feedback", "<"), Lit("</feedback>"), Lit("\\n"),
Lit("<score>"), Score(), Lit("</score>"))`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from edgejudge.core.formats.base import DecisionSite, Message, PublishedSampling, Verdict
from edgejudge.core.formats.gbnf import bounded_repeat, choices, class_char, quote
from edgejudge.core.formats.streaming import (
    FeedbackFilter,
    JsonFeedbackFilter,
    unescaped_quote,
    whole_escapes,
)
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric
from edgejudge.errors import ParseError

LEAD_WHITESPACE = 8  # blank characters the grammar lets a model put before its feedback
# The most characters a free text gets when the close-out's tail writes it (Glider's
# highlight after a reasoning the budget cut); a family with such a text reserves for it.
TAIL_TEXT_CHARS = 120


@dataclass(frozen=True)
class Lit:
    """Fixed text the answer contains: a tag or a separator (blank: any whitespace parses)."""

    text: str


@dataclass(frozen=True)
class Text:
    """Free text, never blank, that never contains `stop`: the character that ends it.

    `drop` is a label some models write at the start of the text although the prompt does
    not ask for it (Prometheus' `Feedback:`): the parser and the stream leave it out.
    """

    name: str
    stop: str
    drop: str = ""


@dataclass(frozen=True)
class JsonText(Text):
    """Free text written as the inside of a JSON string (Root Judge's `"REASONING": "…"`):
    escapes such as `\\"`, `\\n` and `\\u00e9` are allowed, and decoded by the parser and the
    streaming filter; the text ends at the first quote that is not escaped."""

    stop: str = '"'


@dataclass(frozen=True)
class Score:
    """A whole number from the metric's rubric."""

    name: str = "score"


@dataclass(frozen=True)
class Label:
    """One of a fixed set of words: Yes/No, PASS/FAIL, A/B."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Choice(Label):
    """Which of two answers is better (pairwise): a label the verdict reports as a choice."""

    name: str = "choice"
    values: tuple[str, ...] = ("A", "B")


Section = Lit | Text | Score | Label
Value = str | int


class AnswerShape:
    """A judge's answer as sections; see the module's docstring for what derives from it.

    The first `Text` is the feedback: it streams, and the close-out keeps it; later texts
    are the verdict's named extras. The first `Score`, `Label` or `Choice` is the decision;
    it, the fixed text just before it and everything after are the grammar's `tail`.
    """

    def __init__(self, *sections: Section) -> None:
        self.sections = sections
        texts = [i for i, s in enumerate(sections) if isinstance(s, Text)]
        decisions = [i for i, s in enumerate(sections) if isinstance(s, Score | Label)]
        if not texts or not decisions or texts[0] > decisions[0]:
            raise ValueError("a shape needs free text, then a decision")
        if not isinstance(sections[0], Lit):
            raise ValueError("a shape starts with fixed text")
        self._text = texts[0]
        self._decision = decisions[0]
        decision = sections[self._decision]
        assert isinstance(decision, Score | Label)
        self.decision: Score | Label = decision
        # The tail is the decision's own opening text (`<score>`), the decision, and the rest.
        opened = isinstance(sections[self._decision - 1], Lit)
        self._tail = self._decision - 1 if opened else self._decision
        feedback = sections[self._text]
        assert isinstance(feedback, Text)
        self.feedback: Text = feedback
        self._opening = _literal(sections[: self._text])
        between = sections[self._text + 1 : self._decision]
        self._close = next((s.text for s in between if isinstance(s, Lit) and s.text.strip()), "")
        self._regex = re.compile(
            r"\A\s*" + "".join(_pattern(s) for s in sections) + r"\s*\Z", re.DOTALL
        )

    # -- grammar ------------------------------------------------------------------------

    def grammar(self, metric: Metric | None, *, max_text_chars: int) -> str:
        """GBNF for a whole answer, each free text 1..`max_text_chars` characters long."""
        if max_text_chars < 1:
            raise ValueError("max_text_chars must be at least 1")
        head = self.sections[: self._tail]
        rules = ["root ::= " + " ".join([*_terms(head), "tail"])]
        for number, section in enumerate(s for s in head if isinstance(s, Text)):
            rules += _text_rules(
                section, max_text_chars, prefix="" if number == 0 else section.name
            )
        return "\n".join(rules) + "\n" + self._tail_rules(metric)

    def tail_grammar(self, metric: Metric | None, closed: str = "") -> str:
        """GBNF for what follows the answer `close_out` closed: the decision and the fixed
        text after it, with any free text before the decision that `closed` does not hold
        yet (each up to TAIL_TEXT_CHARS)."""
        walked = self._walk(closed.lstrip()) if closed else None
        start = self._decision if walked is None else walked[1]
        while start < self._decision and isinstance(self.sections[start], Lit):
            start += 1
        rest = " ".join(_terms(self.sections[start:]))
        rules = [f"root ::= {rest}"]
        for section in self.sections[start : self._decision]:
            if isinstance(section, Text):
                rules += _text_rules(section, TAIL_TEXT_CHARS, prefix=section.name)
        return "\n".join(rules) + "\n" + self._tail_rules(metric)

    def decision_values(self, metric: Metric | None) -> tuple[int | str, ...]:
        """The values the decision can take: the rubric's scores, or the label's words."""
        if isinstance(self.decision, Score):
            return tuple(_scored(metric).scores)
        return self.decision.values

    def decision_site(self, raw: str, metric: Metric | None) -> DecisionSite:
        """Where the decision of `raw` stands: its first character, its possible values,
        and the fixed text after it. `ParseError` if `raw` does not parse."""
        self.parse(raw, metric)
        match = self._regex.match(raw)
        assert match is not None
        name = self.decision.name
        written = match.group(name)
        start = match.start(name) + len(written) - len(written.lstrip())
        after = ""
        for section in self.sections[self._decision + 1 :]:
            if not isinstance(section, Lit):
                break
            after += section.text
        return DecisionSite(start, self.decision_values(metric), after)

    def _tail_rules(self, metric: Metric | None) -> str:
        rules = ["tail ::= " + " ".join(_terms(self.sections[self._tail :]))]
        for section in self.sections[self._tail :]:
            if isinstance(section, Score):
                scores = _scored(metric).scores
                rules.append(f"{section.name} ::= " + choices(str(s) for s in scores))
            elif isinstance(section, Label):
                rules.append(f"{section.name} ::= " + choices(section.values))
        return "\n".join(rules) + "\n"

    # -- parsing ------------------------------------------------------------------------

    def parse(self, raw: str, metric: Metric | None) -> dict[str, Value]:
        """The answer's values by section name, strictly; `ParseError` with `raw` otherwise."""
        match = self._regex.match(raw)
        if match is None:
            raise ParseError(self._problem(raw), raw)
        values: dict[str, Value] = {}
        for section in self.sections:
            if isinstance(section, Text):
                text = _dropped(section, _decoded(section, match.group(section.name), raw))
                if not text:
                    raise ParseError(f"the {section.name} is empty", raw)
                values[section.name] = text
            elif isinstance(section, Score):
                scored = _scored(metric)
                values[section.name] = _score(match.group(section.name).strip(), scored, raw)
            elif isinstance(section, Label):
                word = match.group(section.name).strip()
                if word not in section.values:
                    allowed = ", ".join(section.values)
                    raise ParseError(f"the {section.name} {word!r} is not one of {allowed}", raw)
                values[section.name] = word
        return values

    def verdict(self, raw: str, metric: Metric | None) -> Verdict:
        """Parse `raw` strictly into a `Verdict`: the feedback, the decision as its kind
        (score, label or choice), and every other section as a named extra."""
        values = self.parse(raw, metric)
        decision = self.decision
        extras = {
            s.name: str(values[s.name])
            for s in self.sections
            if isinstance(s, Text | Score | Label) and s not in (self.feedback, decision)
        }
        feedback = str(values[self.feedback.name])
        value = values[decision.name]
        if isinstance(decision, Score):
            return Verdict(feedback, score=int(value), extras=extras)
        if isinstance(decision, Choice):
            return Verdict(feedback, choice=str(value), extras=extras)
        return Verdict(feedback, label=str(value), extras=extras)

    def _problem(self, raw: str) -> str:
        """What is wrong with an answer the pattern refused, in the shape's own terms."""
        text = raw.strip()
        if not text:
            return "the judge wrote nothing"
        first = self.sections[0]
        if isinstance(first, Lit) and first.text.strip() and not text.startswith(first.text):
            return f"the answer does not start with {first.text}"
        for index, section in enumerate(self.sections):
            if not isinstance(section, Text):
                continue
            # The fixed text between this and the next section: its closing and the next
            # section's opening, where they are two.
            after = []
            for following in self.sections[index + 1 :]:
                if not isinstance(following, Lit):
                    break
                if following.text.strip():
                    after.append(following.text)
            if after and after[0] not in text:
                return f"the {section.name} is never closed with {after[0]}"
            if len(after) > 1 and after[1] not in text.split(after[0], 1)[1]:
                return f"no {after[1]} after the {section.name}"
        last = self.sections[-1]
        if isinstance(last, Lit) and last.text.strip() and not text.endswith(last.text):
            return f"the answer does not end with {last.text}"
        return f"the answer is not {self.describe()}"

    def describe(self) -> str:
        """The shape in words: `<feedback>…</feedback> then <score>N</score>`."""
        return "".join(_word(section) for section in self.sections)

    # -- streaming and close-out --------------------------------------------------------

    def feedback_stream(self) -> FeedbackFilter:
        """A fresh filter that yields the feedback text from streamed raw text."""
        if isinstance(self.feedback, JsonText):
            return JsonFeedbackFilter(self._opening, self._close, drop=self.feedback.drop)
        return FeedbackFilter(self._opening, self._close, drop=self.feedback.drop)

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """Cut an answer stopped by the token budget back to whole text, and close it.

        Returns the answer closed up to the next section the model must still write (the
        decision, or a free text such as Glider's highlight), and whether a free text was
        cut short; None when it cannot be saved (no feedback, or not this shape). The answer
        is read section by section: a free text cannot contain its stop character, so the
        first one is where it ended, whatever part of the fixed text after it the budget
        stopped in. The free text the budget stopped in is kept as it is (a JSON string
        without a half-written escape) and closed. `tail_grammar(metric, closed)` is the
        grammar for the rest.
        """
        walked = self._walk(partial.lstrip())
        if walked is None:
            return None
        kept, index, cut = walked
        end = index
        while end < self._decision and isinstance(self.sections[end], Lit):
            end += 1
        fixed = self.sections[index:end]
        if fixed and isinstance(fixed[0], Lit) and not fixed[0].text.strip():
            kept = kept.rstrip()  # the blank that follows is written once, as the shape has it
        return kept + _literal(fixed), cut

    def _walk(self, text: str) -> tuple[str, int, bool] | None:
        """Read `text` section by section up to the decision: what of it to keep, the
        section to go on from, and whether a free text was cut."""
        if not text.startswith(self._opening):
            return None
        pos, index = len(self._opening), self._text
        while index < self._decision:
            section, rest = self.sections[index], text[pos:]
            if isinstance(section, Lit):
                fixed = section.text
                if not fixed.strip():
                    if not rest:  # stopped just before it
                        return text[:pos], index, False
                    pos += len(rest) - len(rest.lstrip())
                elif rest.startswith(fixed):
                    pos += len(fixed)
                else:
                    # Stopped inside the fixed text, or something else follows the free
                    # text before it: that text is cut there.
                    return text[:pos], index, not fixed.startswith(rest)
                index += 1
                continue
            if isinstance(section, JsonText):
                end = unescaped_quote(rest)
                kept = rest[:end] if end >= 0 else whole_escapes(rest)
            elif isinstance(section, Text):
                end = rest.find(section.stop)
                kept = rest[:end] if end >= 0 else rest
            else:
                return None  # a decision before the main one: no close-out serves
            if not kept.strip():
                # Nothing of this text yet: the feedback cannot be made up; a later text is
                # written by the tail.
                return None if index == self._text else (text[:pos], index, False)
            if end < 0:
                return text[:pos] + kept, index + 1, True
            pos += end
            index += 1
        return text[:pos], index, False


class ShapedFormat:
    """A judge format whose answer is an `AnswerShape`: grammar, parser, streaming filter and
    close-out all come from `shape`, so a family writes only its prompt (`render_prompt`
    and `messages`) and says how many tokens its close-out keeps free."""

    family: str
    shape: AnswerShape
    close_out_reserve: int
    authors_sampling: PublishedSampling | None = None
    any_scale = True

    def shape_for(self, metric: Metric) -> AnswerShape:
        """The shape of the answer for `metric` (a family whose decision depends on the
        metric, a score or Yes/No, has one per kind; they agree up to the decision, so the
        stream and the close-out, which see no metric, use `shape`)."""
        return self.shape

    def check(self, metric: Metric) -> None:
        """Every metric can be expressed, unless a family says otherwise."""

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message, exactly as the family was trained on it."""
        raise NotImplementedError

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """The family's system prompt, if it has one, then the user message."""
        raise NotImplementedError

    def grammar(self, metric: Metric, *, max_feedback_chars: int) -> str:
        """GBNF for a whole answer, each free text at most `max_feedback_chars` long."""
        return self.shape_for(metric).grammar(metric, max_text_chars=max_feedback_chars)

    def tail_grammar(self, metric: Metric, closed: str = "") -> str:
        """GBNF for what follows the answer `close_out` closed (see AnswerShape)."""
        return self.shape_for(metric).tail_grammar(metric, closed)

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """See `AnswerShape.close_out`."""
        return self.shape.close_out(partial)

    def parse(self, raw: str, metric: Metric) -> Verdict:
        """Parse `raw` strictly into a verdict; `ParseError` naming the problem otherwise."""
        return self.shape_for(metric).verdict(raw, metric)

    def decision_values(self, metric: Metric) -> tuple[int | str, ...]:
        """The rubric's scores, or the labels or choices the shape allows."""
        return self.shape_for(metric).decision_values(metric)

    def decision_site(self, raw: str, metric: Metric) -> DecisionSite:
        """See `AnswerShape.decision_site`."""
        return self.shape_for(metric).decision_site(raw, metric)

    def feedback_stream(self) -> FeedbackFilter:
        """A fresh filter that yields the feedback text from streamed raw text."""
        return self.shape.feedback_stream()


# -- pieces -------------------------------------------------------------------------------


def _word(section: Section) -> str:
    """A section as `describe` shows it."""
    if isinstance(section, Lit):
        return section.text if section.text.strip() else " then "
    if isinstance(section, Label):
        return "/".join(section.values)
    return "…" if isinstance(section, Text) else "N"


def _literal(sections: tuple[Section, ...]) -> str:
    return "".join(s.text for s in sections if isinstance(s, Lit))


def _terms(sections: tuple[Section, ...]) -> list[str]:
    """GBNF terms for `sections`, adjacent fixed texts merged into one string."""
    terms: list[str] = []
    fixed = ""
    for section in sections:
        if isinstance(section, Lit):
            fixed += section.text
            continue
        if fixed:
            terms.append(quote(fixed))
            fixed = ""
        terms.append(section.name)
    if fixed:
        terms.append(quote(fixed))
    return terms


def _text_rules(section: Text, maximum: int, *, prefix: str) -> list[str]:
    """Rules for free text: a little leading whitespace, a visible first character, then up
    to `maximum - 1` more, none of them the stop character."""
    p = f"{prefix}-" if prefix else ""
    if isinstance(section, JsonText):
        return [
            f"{section.name} ::= {p}first-char {p}rest-0",
            rf'{p}first-char ::= [^"\\\x00-\x20] | {p}escape',
            rf'{p}char ::= [^"\\\x00-\x1f] | {p}escape',
            rf'{p}escape ::= "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{{4}})',
            *bounded_repeat(f"{p}rest", f"{p}char", maximum - 1),
        ]
    stop = class_char(section.stop)
    return [
        f"{section.name} ::= {p}lead {p}first-char {p}rest-0",
        rf"{p}lead ::= [{_lead_class(section.stop)}]{{0,{LEAD_WHITESPACE}}}",
        rf"{p}first-char ::= [^{stop}\x00-\x20]",
        f"{p}char ::= [^{stop}]",
        *bounded_repeat(f"{p}rest", f"{p}char", maximum - 1),
    ]


def _lead_class(stop: str) -> str:
    """The blanks a text may start with, as a GBNF class: never its stop character (a text
    that ends at a newline cannot start with one)."""
    return "".join(
        e for c, e in ((" ", " "), ("\t", r"\t"), ("\r", r"\r"), ("\n", r"\n")) if c != stop
    )


def _pattern(section: Section) -> str:
    if isinstance(section, Lit):
        return re.escape(section.text) if section.text.strip() else r"\s*"
    if isinstance(section, JsonText):
        return f'(?P<{section.name}>(?:[^"\\\\]|\\\\.)*?)'
    return f"(?P<{section.name}>.*?)"


def _decoded(section: Text, text: str, raw: str) -> str:
    """The text as the judge meant it: a JSON string's escapes decoded."""
    if not isinstance(section, JsonText):
        return text
    try:
        decoded: str = json.loads(f'"{text}"')
    except json.JSONDecodeError as exc:
        raise ParseError(f"the {section.name} is not a valid JSON string: {exc.msg}", raw) from None
    return decoded


def _dropped(section: Text, text: str) -> str:
    """The text, stripped, without the label the section drops (any case)."""
    text = text.strip()
    if section.drop and text[: len(section.drop)].lower() == section.drop.lower():
        text = text[len(section.drop) :].strip()
    return text


def _score(text: str, metric: Metric, raw: str) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]*", text):
        raise ParseError(f"the score {text!r} is not a whole number", raw)
    score = int(text)
    if score not in metric.scores:
        allowed = ", ".join(str(s) for s in metric.scores)
        raise ParseError(f"the score {score} is not on the rubric (allowed: {allowed})", raw)
    return score


def _scored(metric: Metric | None) -> Metric:
    """The metric whose rubric a score comes from: a shape with a score needs one."""
    if metric is None:
        raise ValueError("a shape with a score needs the metric whose rubric it scores")
    return metric
