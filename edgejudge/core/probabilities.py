"""The judge's own distribution over its decision: every value the grammar allows, with the
probability the model gives its whole token sequence.

At the verdict position the model could write any of the decision's values (`1`..`5`,
`PASS`/`FAIL`, `A`/`B`). A value may take several tokens (`10` after `1` in a 0-10 rubric,
`"PASS` inside JSON), and several token sequences may spell it; its probability is the sum,
over every sequence that spells it, of the product of the model's next-token probabilities
along that sequence. The search below walks those sequences as a tree. It asks an `Oracle`
(a runtime, at the kept generation) for the next-token probabilities at each node, only
for the tokens whose bytes continue some value, so a 1-5 rubric in a vocabulary of single
digits costs one question, and a 0-10 rubric one more (is `1` followed by `0`?).

Where one value's text is the start of another's (`1` and `10`), the value is only decided
by what follows: the fixed text after it (`</score>`) or the end of the answer. The search
follows a sequence until exactly one value fits it.

Probabilities are the model's own (softmax of its logits, temperature 1), not the
grammar-masked sampler's: the grammar only decides which values exist. They are
renormalised over the values at the end. A branch whose probability falls below `NEGLIGIBLE`
is not followed: what it could add is far below anything a report shows.

Nothing here does I/O; `edgejudge.judging.probabilities` runs it against a runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Value = int | str

# A branch less likely than this is not followed (its mass is at most this, per branch).
NEGLIGIBLE = 1e-9
# The most tree nodes one distribution asks about: a bound on work for odd vocabularies.
MAX_NODES = 64
# What a piece is when the token ends the generation (end of turn, end of text).
END = b""


@dataclass(frozen=True)
class Candidate:
    """A next token the oracle reports: its id, its bytes (`END` for an end-of-generation
    token) and its probability."""

    token: int
    piece: bytes
    p: float


@dataclass(frozen=True)
class NextTokens:
    """The oracle's answer at one node: the candidates it found, and `floor`, an upper bound
    on the probability of any token it did not list (0 when it lists every token asked for;
    the smallest listed probability when it only sees the likeliest ones)."""

    candidates: tuple[Candidate, ...]
    floor: float = 0.0


class Oracle(Protocol):
    """Next-token probabilities after the verdict position plus `path` (token ids)."""

    def next(
        self, path: Sequence[int], wanted: frozenset[bytes], *, end: bool, top: int
    ) -> NextTokens:
        """The tokens after `path` whose bytes are one of `wanted` (and the end-of-generation
        tokens when `end`), with their probabilities. An oracle that only sees the `top`
        likeliest tokens lists those of them that match."""
        ...


@dataclass(frozen=True)
class Distribution:
    """The probability of each value the decision can take, summing to 1 over exactly those
    values; `complete` is False when some value could not be found in what the runtime
    reported (its probability is then 0 here, and the rest is renormalised without it)."""

    probabilities: Mapping[Value, float]
    complete: bool = True

    @property
    def confidence(self) -> float:
        """The top probability."""
        return max(self.probabilities.values())

    @property
    def likeliest(self) -> Value:
        """The value with the top probability (the first in scale order on a tie)."""
        return max(self.probabilities, key=lambda v: self.probabilities[v])

    @property
    def expected_score(self) -> float | None:
        """Σ p(s)·s for a numeric scale; None when the values are labels or choices."""
        if not all(isinstance(v, int) for v in self.probabilities):
            return None
        return sum(float(v) * p for v, p in self.probabilities.items())

    def fields(self) -> dict[str, object]:
        """JSON keys: `probabilities` (value as text -> p), `expected_score` on a numeric
        scale, `confidence`, and `probabilities_complete` only when it is False."""
        out: dict[str, object] = {
            "probabilities": {str(v): round(p, 6) for v, p in self.probabilities.items()}
        }
        expected = self.expected_score
        if expected is not None:
            out["expected_score"] = round(expected, 6)
        out["confidence"] = round(self.confidence, 6)
        if not self.complete:
            out["probabilities_complete"] = False
        return out


class ValueSearch:
    """The tree search over the token sequences that spell each value (see the module)."""

    def __init__(self, values: Sequence[Value], *, lead: bytes = b"", after: bytes = b"") -> None:
        """`lead`: fixed text still to write before the value (the verdict position can fall
        inside a token); `after`: the fixed text the grammar writes after it (empty: the
        answer ends there)."""
        if not values:
            raise ValueError("a decision needs at least one value")
        self.values = tuple(values)
        self.after = after
        self._spelled = {v: lead + str(v).encode("utf-8") for v in self.values}
        # Each value's full text: a sequence is decided once it fits exactly one of these.
        self._full = {v: s + after for v, s in self._spelled.items()}

    def run(self, oracle: Oracle, *, top: int) -> tuple[dict[Value, float], float]:
        """The probability mass found for each value (before renormalising), and the largest
        mass that a token the oracle did not list could have carried (0 for an oracle that
        lists every token asked for)."""
        mass = dict.fromkeys(self.values, 0.0)
        unseen = 0.0
        stack: list[tuple[tuple[int, ...], bytes, float]] = [((), b"", 1.0)]
        nodes = 0
        while stack:
            path, text, p = stack.pop()
            live = [v for v in self.values if self._full[v].startswith(text)]
            if len(live) == 1 and text.startswith(self._spelled[live[0]]):
                mass[live[0]] += p
                continue
            nodes += 1
            if nodes > MAX_NODES:
                unseen = max(unseen, p)
                continue
            wanted = frozenset(
                self._full[v][len(text) : end]
                for v in live
                for end in range(len(text) + 1, len(self._full[v]) + 1)
            )
            ending = [v for v in live if self._full[v] == text]  # only the end decides it
            answer = oracle.next(path, wanted, end=bool(ending), top=top)
            unseen = max(unseen, p * answer.floor)
            for candidate in answer.candidates:
                q = p * candidate.p
                if q < NEGLIGIBLE:
                    continue
                if candidate.piece == END:
                    if ending:
                        mass[ending[0]] += q
                    continue
                if candidate.piece in wanted:
                    stack.append(((*path, candidate.token), text + candidate.piece, q))
        return mass, unseen

    def distribution(self, oracle: Oracle, *, tops: Iterable[int] = (0,)) -> Distribution:
        """Search with each `top` in turn (an oracle that sees only the likeliest tokens is
        asked for more while a value is missing and could matter), then renormalise."""
        mass: dict[Value, float] = {}
        unseen = 0.0
        for top in tops:
            mass, unseen = self.run(oracle, top=top)
            if all(mass.values()) or unseen < NEGLIGIBLE:
                break
        total = sum(mass.values())
        if total <= 0:
            raise ValueError("the runtime reported no probability for any value")
        complete = all(mass.values()) or unseen < NEGLIGIBLE
        return Distribution({v: m / total for v, m in mass.items()}, complete=complete)
