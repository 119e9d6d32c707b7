"""What a batch of pairwise verdicts adds up to: wins, losses and ties, the win rate with its
95% confidence interval, and how often the two orders agreed.

The win rate is response A's share of the pairs the judge decided (ties left out, as in
Chatbot Arena's head-to-head win fractions), with the Wilson score interval (scipy), which
stays inside [0, 1] and is sound for small counts. The consistency rate is the share of the
pairs judged in both orders whose two orders preferred the same response; a judge led by
position alone scores 0, one that sees only the answers 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edgejudge.judging.pairs import TIE, VERDICTS

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairTally:
    """The counts over a batch's pairwise rows (error rows are not counted)."""

    wins: int = 0  # response A preferred
    losses: int = 0  # response B preferred
    ties: int = 0  # the two orders disagreed
    swapped: int = 0  # pairs judged in both orders
    consistent: int = 0  # of those, pairs whose orders agreed

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]]) -> PairTally:
        """Count the rows that hold a pairwise `verdict`."""
        counts = dict.fromkeys(VERDICTS, 0)
        swapped = consistent = 0
        for record in records:
            verdict = record.get("verdict")
            if verdict not in counts:
                continue
            counts[verdict] += 1
            if isinstance(record.get("consistent"), bool):
                swapped += 1
                consistent += record["consistent"]
        return cls(counts["A"], counts["B"], counts[TIE], swapped, consistent)

    @property
    def pairs(self) -> int:
        """Every pair counted."""
        return self.wins + self.losses + self.ties

    @property
    def decided(self) -> int:
        """The pairs with a winner."""
        return self.wins + self.losses

    @property
    def win_rate(self) -> float | None:
        """A's share of the decided pairs; None when none was decided."""
        return self.wins / self.decided if self.decided else None

    def interval(self) -> tuple[float, float] | None:
        """The win rate's 95% Wilson score interval; None when no pair was decided."""
        if not self.decided:
            return None
        from scipy.stats import binomtest

        ci = binomtest(self.wins, self.decided).proportion_ci(CONFIDENCE, method="wilson")
        return float(ci.low), float(ci.high)

    @property
    def consistency(self) -> float | None:
        """The share of the pairs judged in both orders that agreed; None if there were none."""
        return self.consistent / self.swapped if self.swapped else None

    def describe(self, names: tuple[str, str] = ("A", "B")) -> str:
        """`new 12 wins · old 5 wins · 3 ties; win rate of new 0.71 (95% CI 0.47-0.87, 17
        decided) · consistency 0.85 (17 of 20 pairs)`."""
        a, b = names
        text = f"{a} {self.wins} wins · {b} {self.losses} wins · {self.ties} ties"
        rate, interval = self.win_rate, self.interval()
        if rate is not None and interval is not None:
            text += (
                f"; win rate of {a} {rate:.2f} (95% CI {interval[0]:.2f}-{interval[1]:.2f}, "
                f"{self.decided} decided)"
            )
        else:
            text += "; no win rate: no pair was decided"
        if self.consistency is not None:
            text += (
                f" · consistency {self.consistency:.2f} ({self.consistent} of {self.swapped} pairs)"
            )
        else:
            text += " · consistency not measured (one order judged)"
        return text
