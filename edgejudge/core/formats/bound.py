"""A judge format bound to one metric: everything a judgment of that metric needs, as one
object, whether the metric scores one response or compares two.

`bind(judge_format, metric)` (in the registry, `formats/__init__`) checks that the family
can express the metric (its pairwise format for a pairwise metric: `FamilyError` in one line
otherwise) and returns a `Bound`:
the input read for the metric, the messages, the grammar for a token budget, the parse and
close-out of the answer, and the values the decision can take. This is the one place that
tells a single-answer metric from a pairwise one; the API, the CLI and the TUI ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from edgejudge.core.formats.base import (
    DecisionSite,
    FeedbackStream,
    JudgeFormat,
    Message,
    Verdict,
)
from edgejudge.core.formats.pairwise import PairwiseFormat
from edgejudge.core.inputs import EvalInput, coerce_input
from edgejudge.core.metrics import AnyMetric, Metric, PairwiseMetric
from edgejudge.core.pairs import PairInput, coerce_pair

# Characters the grammar allows in the feedback per token of budget; generous on purpose,
# since the token budget (not this) is meant to be what ends an over-long feedback.
CHARS_PER_TOKEN_BOUND = 8


class Bound(Protocol):
    """A format bound to a metric: the `Answer` the pipeline parses, and what comes before."""

    @property
    def metric(self) -> AnyMetric:
        """The metric bound."""
        ...

    @property
    def family(self) -> str:
        """The family whose format is bound."""
        ...

    @property
    def pairwise(self) -> bool:
        """Whether the metric compares two responses."""
        ...

    @property
    def close_out_reserve(self) -> int:
        """Tokens kept free for finishing an answer the budget cut (see `JudgeFormat`)."""
        ...

    def read(self, item: Any) -> EvalInput | PairInput:
        """`item` (a dict, an `EvalInput`, a `PairInput`) as the metric's input; `InputError`
        naming what is missing or unexpected."""
        ...

    def render_prompt(self, item: Any) -> str:
        """The user message for `item`, exactly as the family was trained on it (a pair in
        the order given)."""
        ...

    def messages(self, item: Any) -> list[Message]:
        """What the judge is sent for `item`: the family's system prompt, if it has one, then
        the user message."""
        ...

    def grammar(self, max_tokens: int) -> str:
        """The GBNF grammar that forces the answer, its feedback sized to `max_tokens`."""
        ...

    def decision_values(self) -> tuple[int | str, ...]:
        """Every value the decision can take: the rubric's scores, labels or A and B."""
        ...

    def feedback_stream(self) -> FeedbackStream:
        """A fresh filter that extracts streamed feedback text."""
        ...

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """See `JudgeFormat.close_out`."""
        ...

    def tail_grammar(self, closed: str = "") -> str:
        """See `JudgeFormat.tail_grammar`."""
        ...

    def parse(self, raw: str) -> Verdict:
        """See `JudgeFormat.parse`."""
        ...

    def decision_site(self, raw: str) -> DecisionSite:
        """See `JudgeFormat.decision_site`."""
        ...


class _Shared:
    """What a bound format takes from its format whatever the metric: the family, the
    close-out and the feedback filter."""

    format: JudgeFormat | PairwiseFormat

    @property
    def family(self) -> str:
        """The format's family."""
        return self.format.family

    @property
    def close_out_reserve(self) -> int:
        """The format's close-out reserve."""
        return self.format.close_out_reserve

    def feedback_stream(self) -> FeedbackStream:
        """The format's feedback filter."""
        return self.format.feedback_stream()

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """The format's close-out."""
        return self.format.close_out(partial)


@dataclass(frozen=True)
class BoundSingle(_Shared):
    """A family's format bound to a metric that scores one response."""

    format: JudgeFormat
    metric: Metric
    pairwise = False

    def read(self, item: Any) -> EvalInput:
        """`item` as the metric's input."""
        return coerce_input(item, self.metric)

    def render_prompt(self, item: Any) -> str:
        """The format's user message for the metric."""
        return self.format.render_prompt(self.metric, self.read(item))

    def messages(self, item: Any) -> list[Message]:
        """The format's messages for the metric."""
        return self.format.messages(self.metric, self.read(item))

    def grammar(self, max_tokens: int) -> str:
        """The format's grammar for the metric."""
        chars = max_tokens * CHARS_PER_TOKEN_BOUND
        return self.format.grammar(self.metric, max_feedback_chars=chars)

    def decision_values(self) -> tuple[int | str, ...]:
        """The format's decision values for the metric."""
        return self.format.decision_values(self.metric)

    def tail_grammar(self, closed: str = "") -> str:
        """The format's tail grammar for the metric."""
        return self.format.tail_grammar(self.metric, closed)

    def parse(self, raw: str) -> Verdict:
        """The format's parser for the metric."""
        return self.format.parse(raw, self.metric)

    def decision_site(self, raw: str) -> DecisionSite:
        """Where the decision stands in `raw`, for the metric."""
        return self.format.decision_site(raw, self.metric)


@dataclass(frozen=True)
class BoundPair(_Shared):
    """A family's pairwise format bound to a metric that compares two responses."""

    format: PairwiseFormat
    metric: PairwiseMetric
    pairwise = True

    def read(self, item: Any) -> PairInput:
        """`item` as the metric's pair."""
        return coerce_pair(item, self.metric)

    def render_prompt(self, item: Any) -> str:
        """The pairwise user message, the responses in the order given."""
        return self.format.render_prompt(self.metric, self.read(item))

    def messages(self, item: Any) -> list[Message]:
        """The pairwise messages, the responses in the order given."""
        return self.format.messages(self.metric, self.read(item))

    def grammar(self, max_tokens: int) -> str:
        """The A/B grammar."""
        return self.format.grammar(max_feedback_chars=max_tokens * CHARS_PER_TOKEN_BOUND)

    def decision_values(self) -> tuple[int | str, ...]:
        """A and B."""
        return self.format.decision_values()

    def tail_grammar(self, closed: str = "") -> str:
        """The choice's grammar after an answer closed early."""
        return self.format.tail_grammar(closed)

    def parse(self, raw: str) -> Verdict:
        """The feedback and the choice."""
        return self.format.parse(raw)

    def decision_site(self, raw: str) -> DecisionSite:
        """Where the choice stands in `raw`."""
        return self.format.decision_site(raw)
