"""The shape every judge family shares: a prompt template, a grammar, and a strict parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric


@dataclass(frozen=True)
class Verdict:
    """What a judge said: its feedback and an integer score from the rubric."""

    feedback: str
    score: int


@dataclass(frozen=True)
class Message:
    """One chat message a judge is sent: a system prompt, or the user turn with the task."""

    role: Literal["system", "user"]
    content: str


class FeedbackStream(Protocol):
    """Turns raw generated text, chunk by chunk, into the feedback text alone."""

    def feed(self, chunk: str) -> str:
        """Take the next raw chunk; return the feedback text that is now certain."""
        ...


class JudgeFormat(Protocol):
    """A judge family's trained prompt, the grammar that forces its answer, and its parser."""

    family: str
    # Tokens kept free in the context for finishing an answer the budget cut: the decision
    # and the fixed text after it, a few tokens in any vocabulary.
    close_out_reserve: int

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message, exactly as the family was trained on it."""
        ...

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """What the judge is sent: the family's system prompt, if it has one, then the user
        message; the runtime puts them through the model's chat template."""
        ...

    def grammar(self, metric: Metric, *, max_feedback_chars: int) -> str:
        """A GBNF grammar that admits only well-formed verdicts for this metric."""
        ...

    def parse(self, raw: str, metric: Metric) -> Verdict:
        """Parse generated text strictly; raise `ParseError` with the raw text otherwise."""
        ...

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """An answer stopped by the token budget, cut back to its feedback and closed up to
        the score, and whether the feedback itself was cut; None if it can't be saved."""
        ...

    def tail_grammar(self, metric: Metric) -> str:
        """The grammar for what must follow `close_out`: the score and its closing tag."""
        ...

    def feedback_stream(self) -> FeedbackStream:
        """A fresh filter that extracts streamed feedback text."""
        ...
