"""The judge's probability for each value of its decision, as a small bar per value under
the verdict badge; the expected score and the confidence on the last line."""

from __future__ import annotations

from textual.widgets import Static

from edgejudge.core.probabilities import Distribution

BAR, EMPTY = "█", "░"


def probability_lines(distribution: Distribution, width: int) -> list[str]:
    """`4 ██████░░░░ 0.60` for each value, bars `width` columns at most, then a summary."""
    values = distribution.probabilities
    label = max(len(str(v)) for v in values)
    room = max(width - label - 7, 4)
    lines = []
    for value, p in values.items():
        filled = round(p * room)
        lines.append(f"{value!s:>{label}} {BAR * filled}{EMPTY * (room - filled)} {p:.2f}")
    about = []
    if distribution.expected_score is not None:
        about.append(f"expected {distribution.expected_score:.2f}")
    about.append(f"confidence {distribution.confidence:.2f}")
    if not distribution.complete:
        about.append("incomplete")
    lines.append(" · ".join(about))
    return lines


class ProbabilityBars(Static):
    """The distribution of the last verdict; hidden when there is none."""

    DEFAULT_CSS = "ProbabilityBars { height: auto; padding: 0 1; color: $text-muted; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.distribution: Distribution | None = None

    def show(self, distribution: Distribution | None) -> None:
        """Draw `distribution`, or hide for None (not measured)."""
        self.distribution = distribution
        self.display = distribution is not None
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.distribution is not None:
            width = min(self.content_size.width or 30, 40)
            self.update("\n".join(probability_lines(self.distribution, width)))
