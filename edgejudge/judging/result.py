"""A judgment's result: the verdict, the raw answer, and how it was reached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from edgejudge.core import Verdict
from edgejudge.core.probabilities import Distribution, Value


@dataclass(frozen=True)
class JudgeResult:
    """One verdict and how it was reached."""

    verdict: Verdict
    raw: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    metric: str
    truncated: bool = False  # the feedback hit the token budget and was closed early
    # The verdict grammar bound the answer; False: generated unconstrained (no grammar
    # asked for, or an engine with no grammar field) and only parsed.
    enforced: bool = True

    @property
    def feedback(self) -> str:
        """The judge's feedback (its reasoning)."""
        return self.verdict.feedback

    @property
    def score(self) -> int | None:
        """The score from the rubric, for a format whose decision is a score."""
        return self.verdict.score

    @property
    def label(self) -> str | None:
        """The label (Yes/No, PASS/FAIL), for a format whose decision is a label."""
        return self.verdict.label

    @property
    def choice(self) -> str | None:
        """A or B, for a pairwise format."""
        return self.verdict.choice

    @property
    def decision(self) -> int | str:
        """The score, label or choice: whichever the format gives."""
        return self.verdict.decision

    @property
    def extras(self) -> Mapping[str, str]:
        """Further named text the format gives (Glider's highlight); usually empty."""
        return self.verdict.extras

    @property
    def distribution(self) -> Distribution | None:
        """The judge's distribution over its decision's values, where it was measured."""
        return self.verdict.distribution

    @property
    def probabilities(self) -> Mapping[Value, float] | None:
        """The probability of each value the decision could take (summing to 1), or None
        where not measured (`probabilities=False`, or a runtime that cannot)."""
        return self.distribution.probabilities if self.distribution else None

    @property
    def expected_score(self) -> float | None:
        """Σ p(s)·s over the rubric's scores; None for labels, choices, or unmeasured."""
        return self.distribution.expected_score if self.distribution else None

    @property
    def confidence(self) -> float | None:
        """The top probability; None where not measured."""
        return self.distribution.confidence if self.distribution else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the verdict's fields (`feedback`, then `score`, `label` or
        `choice`, then `extras` if any), then how it was reached, then, where measured,
        `probabilities`, `expected_score` (a numeric scale) and `confidence`."""
        how = asdict(self)
        del how["verdict"]
        return {**self.verdict.fields(), **how, **self.verdict.distribution_fields()}

    def stats(self) -> str:
        """`demo · 312 prompt + 45 generated tokens · 28.1 tok/s · 1.6 s` (CLI and TUI)."""
        rate = self.completion_tokens / self.seconds if self.seconds > 0 else 0.0
        cut = " · feedback cut at the token budget" if self.truncated else ""
        cut += "" if self.enforced else " · no grammar bound the answer (only parsed)"
        return (
            f"{self.model} · {self.prompt_tokens} prompt + {self.completion_tokens} "
            f"generated tokens · {rate:.1f} tok/s · {self.seconds:.1f} s{cut}"
        )
