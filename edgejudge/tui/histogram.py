"""A histogram of the verdicts a batch has produced so far: one bar per score on the scale,
or per label (PASS, FAIL) or choice (A, B); for pairs, also one bar of wins, ties and
losses and the rate at which the two orders agreed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from textual.widgets import Static

from edgejudge.judging.pairs import VERDICTS

BAR = "█"


def histogram_lines(
    counts: Counter[int | str], scores: Sequence[int | str], width: int
) -> list[str]:
    """`value │████ count` for each value (score, label), bars scaled to `width` columns."""
    biggest = max((counts[s] for s in scores), default=0)
    label = max(len(str(s)) for s in scores) if scores else 1
    room = max(width - label - len(str(biggest)) - 4, 1)
    lines = []
    for score in scores:
        n = counts[score]
        bar = BAR * (round(n / biggest * room) if biggest else 0)
        lines.append(f"{score:>{label}} │{bar} {n}")
    return lines


WIN, TIE_MARK, LOSS = "█", "▒", "░"


def pair_bar(wins: int, ties: int, losses: int, width: int) -> str:
    """One bar of `width` cells: A's wins (█), ties (▒), B's wins (░), in proportion."""
    total = wins + ties + losses
    if not total:
        return ""
    a = round(wins / total * width)
    t = round((wins + ties) / total * width) - a
    return WIN * a + TIE_MARK * t + LOSS * (width - a - t)


def scale_with(scale: Sequence[int | str], found: Iterable[int | str]) -> tuple[int | str, ...]:
    """The histogram's rows: the values the judge can give, and any others the results
    hold (a file judged with another metric); scores in numeric order."""
    values = [*scale, *(v for v in dict.fromkeys(found) if v not in scale)]
    if all(isinstance(v, int) for v in values):
        return tuple(sorted(values, key=int))
    return tuple(values)


class Histogram(Static):
    """Counts of each score (or label), redrawn whenever a verdict arrives."""

    DEFAULT_CSS = "Histogram { width: 26; padding: 0 1; border: round $primary-darken-2; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.counts: Counter[int | str] = Counter()
        self.scores: tuple[int | str, ...] = ()
        self.errors = 0
        self.expected: list[float] = []  # the rows' expected scores, where measured
        self.agreed: list[bool] = []  # for pairs judged in both orders: did they agree

    def reset(self, scores: Sequence[int | str]) -> None:
        """Start again for verdicts that take the values `scores`."""
        self.counts, self.scores, self.errors = Counter(), tuple(scores), 0
        self.expected, self.agreed = [], []
        self._draw()

    def add(
        self,
        score: int | str | None,
        expected: float | None = None,
        consistent: bool | None = None,
    ) -> None:
        """Count one verdict (None: a row that failed), with its expected score if any and,
        for a pair judged in both orders, whether they agreed."""
        if score is None:
            self.errors += 1
        else:
            self.counts[score] += 1
        if expected is not None:
            self.expected.append(expected)
        if consistent is not None:
            self.agreed.append(consistent)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.content_size.width or 20
        lines = histogram_lines(self.counts, self.scores, width)
        scored = [(s, n) for s, n in self.counts.items() if isinstance(s, int)]
        if scored:
            total = sum(n for _, n in scored)
            lines.append(f"mean {sum(s * n for s, n in scored) / total:.2f}")
        if self.expected:
            lines.append(f"expected {sum(self.expected) / len(self.expected):.2f}")
        if set(self.scores) >= set(VERDICTS) and self.counts.total():
            wins, ties, losses = (self.counts[v] for v in VERDICTS)
            lines.append("A " + pair_bar(wins, ties, losses, max(width - 4, 1)) + " B")
        if self.agreed:
            agreed = sum(self.agreed)
            lines.append(
                f"consistency {agreed / len(self.agreed):.2f} ({agreed}/{len(self.agreed)})"
            )
        if self.errors:
            lines.append(f"errors: {self.errors}")
        self.border_title = "scores" if all(isinstance(v, int) for v in self.scores) else "verdicts"
        self.update("\n".join(lines) or "no scores yet")
