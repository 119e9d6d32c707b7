"""The shape every judge family shares: a prompt template, a grammar, and a strict parser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric
from edgejudge.core.probabilities import Distribution

# The kinds of decision a verdict can hold, and so the JSON key that holds it in a result,
# in the order a row's decision is read (a label may carry a score beside it).
DECISION_KINDS = ("choice", "label", "score")


@dataclass(frozen=True)
class Verdict:
    """What a judge said: its feedback and its decision, plus any named extras.

    The decision is what the family's format defines, one of: a `score` from the rubric
    (Flow-Judge, Prometheus absolute), a `label` such as Yes/No or PASS/FAIL (Selene's
    binary tasks, Root Judge), or a `choice` between two answers, A or B (pairwise). A label
    may also carry the score of the rubric row it stands for (Selene's Yes on a 0/1 metric
    is 1). `extras` holds further free text the format names, such as Glider's highlight.
    """

    feedback: str
    score: int | None = None
    label: str | None = None
    choice: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)
    # The judge's probability for each value the decision could take, where measured.
    distribution: Distribution | None = None

    def __post_init__(self) -> None:
        given = [kind for kind, value in self._given() if value is not None]
        if given not in (["score"], ["label"], ["choice"], ["score", "label"]):
            raise ValueError(
                f"a verdict holds one score, label or choice (a label may carry the score it "
                f"stands for), not {given or 'none'}"
            )

    def _given(self) -> tuple[tuple[str, int | str | None], ...]:
        return (("score", self.score), ("label", self.label), ("choice", self.choice))

    @property
    def decision_kind(self) -> str:
        """`score`, `label` or `choice`: a label that carries a score is a label."""
        if self.choice is not None:
            return "choice"
        return "label" if self.label is not None else "score"

    @property
    def decision(self) -> int | str:
        """The score, label or choice: whichever this verdict holds (the label, if it
        carries a score too)."""
        value = {"score": self.score, "label": self.label, "choice": self.choice}[
            self.decision_kind
        ]
        assert value is not None
        return value

    def fields(self) -> dict[str, Any]:
        """The verdict as JSON keys: `feedback`, then its decision under its kind's name (and
        `score` after a label that stands for one), then `extras` when there are any.
        Flow-Judge's verdicts are `feedback` and `score`."""
        out: dict[str, Any] = {"feedback": self.feedback, self.decision_kind: self.decision}
        if self.label is not None and self.score is not None:
            out["score"] = self.score
        if self.extras:
            out["extras"] = dict(self.extras)
        return out

    def distribution_fields(self) -> dict[str, Any]:
        """`probabilities`, `expected_score` (a numeric scale) and `confidence`, where the
        distribution was measured; nothing otherwise."""
        return self.distribution.fields() if self.distribution is not None else {}


@dataclass(frozen=True)
class DecisionSite:
    """Where an answer's decision stands, for scoring what else the judge could have put
    there: its first character in the raw answer, every value the grammar allows, and the
    fixed text the grammar writes right after it (empty: the answer ends with it)."""

    start: int
    values: tuple[int | str, ...]
    after: str


def row_verdict(feedback: str, label: str, passed: bool, metric: Metric) -> Verdict:
    """A two-way label (Yes/No, PASS/FAIL) with the score of the rubric row it stands for:
    the higher row when `passed`, else the lower."""
    score = metric.scores[-1] if passed else metric.scores[0]
    return Verdict(feedback, label=label, score=score)


# The families (not their variants) that take a rubric of any integer scale, for the errors
# of those that take one scale only: filled once by the registry (`formats/__init__`) from
# each format's `any_scale`, so a new family is named there by declaring it.
ANY_SCALE: list[str] = []


@dataclass(frozen=True)
class PublishedSampling:
    """A family's sampling settings as its authors published them (`--sampling authors`);
    `source` says where. edgejudge's default is greedy, whatever a family publishes."""

    temperature: float
    top_p: float = 1.0
    repeat_penalty: float = 1.0
    source: str = ""

    def settings(self) -> str:
        """`temperature 1.0, top_p 0.9, repeat penalty 1.03` (what is not neutral)."""
        said = [f"temperature {self.temperature}"]
        if self.top_p != 1.0:
            said.append(f"top_p {self.top_p}")
        if self.repeat_penalty != 1.0:
            said.append(f"repeat penalty {self.repeat_penalty}")
        return ", ".join(said)


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
    # The authors' sampling settings, where they published any.
    authors_sampling: PublishedSampling | None
    # Whether `check` takes a rubric of any integer scale (Flow-Judge, Glider).
    any_scale: bool

    def check(self, metric: Metric) -> None:
        """Raise `FamilyError` (one line, naming the families that can) if this family
        cannot express `metric`: a scale it was not trained on, an input it has no slot for.
        Called before any model loads."""
        ...

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
        """An answer stopped by the token budget, cut back to whole text and closed up to
        what the model must still write, and whether a text was cut; None if it can't be
        saved."""
        ...

    def tail_grammar(self, metric: Metric, closed: str = "") -> str:
        """The grammar for what must follow the answer `close_out` closed (`closed`): the
        decision and its fixed text, with any free text still missing before it."""
        ...

    def decision_values(self, metric: Metric) -> tuple[int | str, ...]:
        """Every value a verdict's decision can take for `metric`, in the scale's order:
        the rubric's scores, or the labels (Yes, No) or choices (A, B) of the format."""
        ...

    def decision_site(self, raw: str, metric: Metric) -> DecisionSite:
        """Where the decision of `raw`, an answer `parse` accepts, stands (`ParseError`
        otherwise)."""
        ...

    def feedback_stream(self) -> FeedbackStream:
        """A fresh filter that extracts streamed feedback text."""
        ...


class Answer(Protocol):
    """What turns one judgment's generated text into a verdict: a format bound to what it
    judges (a metric, or a pairwise format, whose answer no metric changes). The pipeline
    asks only this."""

    @property
    def close_out_reserve(self) -> int:
        """Tokens kept free for finishing an answer the budget cut (see `JudgeFormat`)."""
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
