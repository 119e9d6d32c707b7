"""Pairwise formats: a family's prompt for two responses, and its answer, A or B.

A pairwise format is an `AnswerShape` whose decision is a `Choice`, so its grammar, parser,
stream and close-out come from the shape exactly as a single-answer family's do; no metric
changes the answer (the criteria go in the prompt only), so the format is itself the
`Answer` the pipeline parses with. The family modules hold the prompts (Prometheus 2's
relative grading in `prometheus`, Selene's pairwise template in `selene`); which order the
responses are shown in is the caller's (`PairInput.swapped`).
"""

from __future__ import annotations

from edgejudge.core.formats.base import DecisionSite, Message, PublishedSampling, Verdict
from edgejudge.core.formats.shape import AnswerShape
from edgejudge.core.formats.streaming import FeedbackFilter
from edgejudge.core.metrics import PairwiseMetric
from edgejudge.core.pairs import PairInput


class PairwiseFormat:
    """A family's trained pairwise prompt and the shape of its A/B answer."""

    family: str
    shape: AnswerShape
    close_out_reserve: int
    authors_sampling: PublishedSampling | None = None

    def check(self, metric: PairwiseMetric) -> None:
        """Raise `FamilyError` (one line) if this family cannot express `metric`."""

    def render_prompt(self, metric: PairwiseMetric, pair: PairInput) -> str:
        """The user message for `pair` in the order given, exactly as the family was
        trained on it."""
        raise NotImplementedError

    def messages(self, metric: PairwiseMetric, pair: PairInput) -> list[Message]:
        """The family's system prompt, if it has one, then the user message."""
        raise NotImplementedError

    def grammar(self, *, max_feedback_chars: int) -> str:
        """GBNF for a whole answer, the feedback at most `max_feedback_chars` long."""
        return self.shape.grammar(None, max_text_chars=max_feedback_chars)

    def decision_values(self) -> tuple[int | str, ...]:
        """The choices, A and B."""
        return self.shape.decision_values(None)

    # -- the Answer protocol ------------------------------------------------------------

    def feedback_stream(self) -> FeedbackFilter:
        """A fresh filter that yields the feedback text from streamed raw text."""
        return self.shape.feedback_stream()

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """See `AnswerShape.close_out`."""
        return self.shape.close_out(partial)

    def tail_grammar(self, closed: str = "") -> str:
        """GBNF for the choice after an answer closed early."""
        return self.shape.tail_grammar(None, closed)

    def parse(self, raw: str) -> Verdict:
        """The feedback and the choice, strictly; `ParseError` naming the problem otherwise."""
        return self.shape.verdict(raw, None)

    def decision_site(self, raw: str) -> DecisionSite:
        """Where the choice stands in `raw`."""
        return self.shape.decision_site(raw, None)
