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

Flow-Judge's `<feedback>…</feedback>\\n<score>N</score>` is
`AnswerShape(Lit("<feedback>"), Text("feedback", "<"), Lit("</feedback>"), Lit("\\n"),
Lit("<score>"), Score(), Lit("</score>"))`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from edgejudge.core.metrics import Metric
from edgejudge.errors import ParseError

# llama.cpp expands `x{0,n}` into n nested helper rules and refuses n >= 2000 (a maximum above
# 2000 silently becomes "unbounded"), so long bounds are built from blocks of this size.
REPEAT_BLOCK = 1000
LEAD_WHITESPACE = 8  # blank characters the grammar lets a model put before its feedback


@dataclass(frozen=True)
class Lit:
    """Fixed text the answer contains: a tag or a separator (blank: any whitespace parses)."""

    text: str


@dataclass(frozen=True)
class Text:
    """Free text, never blank, that never contains `stop`: the character that ends it."""

    name: str
    stop: str


@dataclass(frozen=True)
class Score:
    """A whole number from the metric's rubric."""

    name: str = "score"


@dataclass(frozen=True)
class Label:
    """One of a fixed set of words: Yes/No, PASS/FAIL, A/B."""

    name: str
    values: tuple[str, ...]


Section = Lit | Text | Score | Label
Value = str | int


class AnswerShape:
    """A judge's answer as sections; see the module's docstring for what derives from it.

    The first `Text` is the feedback: it streams, and the close-out keeps it. The first
    `Score` or `Label` is the decision; it, the fixed text just before it and everything
    after are the grammar's `tail`.
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
        # The tail is the decision's own opening text (`<score>`), the decision, and the rest.
        opened = isinstance(sections[self._decision - 1], Lit)
        self._tail = self._decision - 1 if opened else self._decision
        feedback = sections[self._text]
        assert isinstance(feedback, Text)
        self.feedback: Text = feedback
        self._opening = _literal(sections[: self._text])
        between = sections[self._text + 1 : self._decision]
        self._closing = _literal(between) if all(isinstance(s, Lit) for s in between) else None
        self._close = next((s.text for s in between if isinstance(s, Lit) and s.text), "")
        self._regex = re.compile(
            r"\A\s*" + "".join(_pattern(s) for s in sections) + r"\s*\Z", re.DOTALL
        )

    # -- grammar ------------------------------------------------------------------------

    def grammar(self, metric: Metric, *, max_text_chars: int) -> str:
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

    def tail_grammar(self, metric: Metric) -> str:
        """GBNF for what follows `close_out`: the decision and the fixed text after it."""
        rest = " ".join(_terms(self.sections[self._decision :]))
        return f"root ::= {rest}\n" + self._tail_rules(metric)

    def _tail_rules(self, metric: Metric) -> str:
        rules = ["tail ::= " + " ".join(_terms(self.sections[self._tail :]))]
        for section in self.sections[self._tail :]:
            if isinstance(section, Score):
                rules.append(f"{section.name} ::= " + _choices(str(s) for s in metric.scores))
            elif isinstance(section, Label):
                rules.append(f"{section.name} ::= " + _choices(section.values))
        return "\n".join(rules) + "\n"

    # -- parsing ------------------------------------------------------------------------

    def parse(self, raw: str, metric: Metric) -> dict[str, Value]:
        """The answer's values by section name, strictly; `ParseError` with `raw` otherwise."""
        match = self._regex.match(raw)
        if match is None:
            raise ParseError(self._problem(raw), raw)
        values: dict[str, Value] = {}
        for section in self.sections:
            if isinstance(section, Text):
                text = match.group(section.name).strip()
                if not text:
                    raise ParseError(f"the {section.name} is empty", raw)
                values[section.name] = text
            elif isinstance(section, Score):
                values[section.name] = _score(match.group(section.name).strip(), metric, raw)
            elif isinstance(section, Label):
                word = match.group(section.name).strip()
                if word not in section.values:
                    allowed = ", ".join(section.values)
                    raise ParseError(f"the {section.name} {word!r} is not one of {allowed}", raw)
                values[section.name] = word
        return values

    def _problem(self, raw: str) -> str:
        """What is wrong with an answer the pattern refused, in the shape's own terms."""
        text = raw.strip()
        if not text:
            return "the judge wrote nothing"
        fixed = [s.text for s in self.sections if isinstance(s, Lit) and s.text.strip()]
        if not text.startswith(fixed[0]):
            return f"the answer does not start with {fixed[0]}"
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
        return FeedbackFilter(self._opening, self._close)

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """Cut an answer stopped by the token budget back to its feedback, and close it.

        Returns the answer up to the decision, ready for the decision alone, and whether
        the feedback itself was cut short; None when there is no feedback to keep. The
        feedback cannot contain its stop character, so the first one after the opening is
        where it ended, whatever part of the closing text the budget stopped in.
        """
        text = partial.lstrip()
        if self._closing is None or not text.startswith(self._opening):
            return None
        body = text[len(self._opening) :]
        end = body.find(self.feedback.stop)
        feedback = body if end < 0 else body[:end]
        if not feedback.strip():
            return None
        cut = end < 0 or not self._closing.startswith(body[end : end + len(self._close)])
        return self._opening + feedback + self._closing, cut


class FeedbackFilter:
    """Streams the feedback: drops the opening text, stops at the closing text.

    A chunk may end in the middle of a tag, so text that could still turn out to be the start
    of the closing text is held back until the next chunk decides it.
    """

    def __init__(self, opening: str, closing: str) -> None:
        self._start, self._end = opening, closing
        self._buffer = ""
        self._opened = False
        self._closed = False

    def feed(self, chunk: str) -> str:
        """Take the next raw chunk; return the feedback text that is now certain."""
        if self._closed:
            return ""
        self._buffer += chunk
        if not self._opened:
            stripped = self._buffer.lstrip()
            if len(stripped) < len(self._start):
                return ""
            if not stripped.startswith(self._start):
                self._closed = True  # not an answer of this shape; the parser will say so
                return ""
            self._opened = True
            self._buffer = stripped[len(self._start) :]
        end = self._buffer.find(self._end)
        if end >= 0:
            self._closed = True
            out, self._buffer = self._buffer[:end], ""
            return out
        keep = _partial_suffix(self._buffer, self._end)
        out = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(out) :]
        return out


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
            terms.append(_quote(fixed))
            fixed = ""
        terms.append(section.name)
    if fixed:
        terms.append(_quote(fixed))
    return terms


def _text_rules(section: Text, maximum: int, *, prefix: str) -> list[str]:
    """Rules for free text: a little leading whitespace, a visible first character, then up
    to `maximum - 1` more, none of them the stop character."""
    p = f"{prefix}-" if prefix else ""
    stop = _class_char(section.stop)
    return [
        f"{section.name} ::= {p}lead {p}first-char {p}rest-0",
        rf"{p}lead ::= [ \t\r\n]{{0,{LEAD_WHITESPACE}}}",
        rf"{p}first-char ::= [^{stop}\x00-\x20]",
        f"{p}char ::= [^{stop}]",
        *_bounded_repeat(f"{p}rest", f"{p}char", maximum - 1),
    ]


def _bounded_repeat(name: str, item: str, maximum: int) -> list[str]:
    """Rules `name-0` ... that match 0..maximum copies of `item` without huge repetitions."""
    rules: list[str] = []
    level = 0
    remaining = maximum
    while remaining >= REPEAT_BLOCK:
        # Either finish within this block, or take a whole block and go on.
        rules.append(
            f"{name}-{level} ::= {item}{{0,{REPEAT_BLOCK - 1}}} | {name}-block {name}-{level + 1}"
        )
        remaining -= REPEAT_BLOCK
        level += 1
    rules.append(f"{name}-{level} ::= {item}{{0,{remaining}}}")
    if level:
        rules.append(f"{name}-block ::= {item}{{{REPEAT_BLOCK}}}")
    return rules


def _pattern(section: Section) -> str:
    if isinstance(section, Lit):
        return re.escape(section.text) if section.text.strip() else r"\s*"
    return f"(?P<{section.name}>.*?)"


def _score(text: str, metric: Metric, raw: str) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]*", text):
        raise ParseError(f"the score {text!r} is not a whole number", raw)
    score = int(text)
    if score not in metric.scores:
        allowed = ", ".join(str(s) for s in metric.scores)
        raise ParseError(f"the score {score} is not on the rubric (allowed: {allowed})", raw)
    return score


def _choices(values: Iterable[str]) -> str:
    return " | ".join(_quote(v) for v in values)


_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(text: str) -> str:
    """A GBNF string literal."""
    return '"' + "".join(_GBNF_ESCAPES.get(c, c) for c in text) + '"'


def _class_char(char: str) -> str:
    """`char` inside a GBNF character class."""
    return {"]": r"\]", "^": r"\^", "\\": "\\\\", "-": r"\-", "\n": r"\n"}.get(char, char)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
