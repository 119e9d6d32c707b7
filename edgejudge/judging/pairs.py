"""A pairwise judgment's result: each order's verdict, and what the two say together.

A pair is judged as given, (A, B), and with the responses swapped, (B, A), so that a judge's
taste for whichever answer comes first cancels out: the verdict is the response both orders
preferred, or `tie` when they disagree (the judge followed the position, not the answers).
Each order's verdict is kept whole, its choice read back into the pair's own letters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgejudge.core.pairs import OTHER, TIE, VERDICTS
from edgejudge.judging.result import JudgeResult

__all__ = ["OTHER", "ORDERS", "TIE", "VERDICTS", "PairResult", "pair_lines"]

# How each order showed the pair: as given, then swapped.
ORDERS = ("A,B", "B,A")


@dataclass(frozen=True)
class PairResult:
    """A pairwise verdict: `first` judged the pair as given, `second` (None with `swap=False`)
    with the responses swapped."""

    first: JudgeResult
    second: JudgeResult | None
    model: str
    metric: str

    @property
    def results(self) -> tuple[JudgeResult, ...]:
        """Each order's judgment, as given first."""
        return (self.first,) if self.second is None else (self.first, self.second)

    @property
    def preferred(self) -> tuple[str, ...]:
        """The response each order preferred, in the pair's own letters: the swapped order's
        `A` is the pair's `response_b`."""
        picks = [_choice(self.first)]
        if self.second is not None:
            picks.append(OTHER[_choice(self.second)])
        return tuple(picks)

    @property
    def verdict(self) -> str:
        """`A` or `B`, the response every order preferred; `tie` when the orders disagree."""
        picks = set(self.preferred)
        return picks.pop() if len(picks) == 1 else TIE

    @property
    def consistent(self) -> bool | None:
        """Whether the two orders agreed; None when only one order was judged."""
        return None if self.second is None else len(set(self.preferred)) == 1

    @property
    def probability_a(self) -> float | None:
        """P(response A is better), the judge's own probability averaged over the orders (in
        the swapped order, its probability for `B`); None where not measured."""
        values = []
        for result, letter in zip(self.results, ("A", "B"), strict=False):
            probabilities = result.probabilities
            if probabilities is None:
                return None
            values.append(float(probabilities.get(letter, 0.0)))
        return sum(values) / len(values)

    @property
    def probabilities(self) -> Mapping[str, float] | None:
        """`{"A": p, "B": 1 - p}` from `probability_a`; None where not measured."""
        p = self.probability_a
        return None if p is None else {"A": p, "B": 1.0 - p}

    @property
    def seconds(self) -> float:
        """The longer order's time (the two run side by side where the runtime can)."""
        return max(result.seconds for result in self.results)

    def to_dict(self, names: tuple[str, str] | None = None) -> dict[str, Any]:
        """A JSON-ready dict: `verdict`, `winner` (with `names`, the systems A and B stand
        for), `consistent`, `p_a_better`, then `orders`: each order's full result, with how
        it showed the pair and which response it preferred."""
        out: dict[str, Any] = {"verdict": self.verdict}
        if names is not None:
            out["winner"] = TIE if self.verdict == TIE else names[self.verdict == "B"]
        if self.second is not None:
            out["consistent"] = self.consistent
        if self.probability_a is not None:
            out["p_a_better"] = self.probability_a
        orders = []
        for order, result, preferred in zip(ORDERS, self.results, self.preferred, strict=False):
            entry = {"order": order, "preferred": preferred, **result.to_dict()}
            del entry["model"], entry["metric"]
            orders.append(entry)
        out["orders"] = orders
        out["model"] = self.model
        out["metric"] = self.metric
        out["seconds"] = self.seconds
        return out

    def lines(self) -> list[str]:
        """The verdict as text (see `pair_lines`)."""
        return pair_lines(self.to_dict())

    def stats(self) -> str:
        """`demo · 2 orders · 312 + 298 prompt, 45 + 51 generated tokens · 3.2 s`."""
        count = len(self.results)
        prompt = " + ".join(str(r.prompt_tokens) for r in self.results)
        generated = " + ".join(str(r.completion_tokens) for r in self.results)
        return (
            f"{self.model} · {count} order{'s' if count > 1 else ''} · {prompt} prompt, "
            f"{generated} generated tokens · {self.seconds:.1f} s"
        )


def _choice(result: JudgeResult) -> str:
    choice = result.choice
    if choice not in OTHER:
        raise ValueError(f"a pairwise judgment chose {choice!r}, not A or B")
    return choice


def pair_lines(record: Mapping[str, Any]) -> list[str]:
    """A pairwise verdict as text, from its JSON record (a `PairResult.to_dict()`, or a
    batch row): each order's feedback and choice, the verdict, and P(A better). The CLI,
    the TUI's verdict and its batch rows all show this."""
    lines = []
    for entry in record["orders"]:
        given = entry.get("order") == ORDERS[0]
        lines.append(f"Order {entry.get('order')} ({'as given' if given else 'swapped'}):")
        lines.append(f"  Feedback: {entry.get('feedback', '')}")
        read = "" if given else f" (response {entry.get('preferred')})"
        odds = entry.get("probabilities") or {}
        chance = f" · P(A) {float(odds['A']):.2f}" if "A" in odds else ""
        lines.append(f"  Choice: {entry.get('choice')}{read}{chance}")
    verdict = record.get("verdict")
    if verdict == TIE:
        lines.append("Verdict: tie (the two orders disagree: the judge followed the position)")
    elif "consistent" not in record:
        lines.append(f"Verdict: {verdict} (one order judged: --no-swap)")
    else:
        lines.append(f"Verdict: {verdict} (both orders prefer response {verdict})")
    if "p_a_better" in record:
        lines.append(f"P(A better): {float(record['p_a_better']):.2f} (averaged over the orders)")
    return lines
