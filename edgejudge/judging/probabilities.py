"""The verdict's probabilities: the search of `edgejudge.core.probabilities`, run at the
verdict position of a kept generation.

The verdict position is found from the end of the generation: the answer's text from the
decision on (`4</score>`) is what its last tokens spell, so walking back over their bytes
until they cover it gives the point just before the decision, and the few bytes of fixed
text the token there spells before the value (a token may hold `>4`). Only those last
tokens' bytes are asked for, which keeps a server's answer cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgejudge.core.formats.base import Answer
from edgejudge.core.probabilities import Distribution, NextTokens, ValueSearch
from edgejudge.runtime.base import Kept


class _At:
    """The search's oracle: a kept generation, at one point of it."""

    def __init__(self, kept: Kept, at: int) -> None:
        self._kept = kept
        self._at = at
        self._asked: dict[tuple[tuple[int, ...], int], NextTokens] = {}

    def next(
        self, path: Sequence[int], wanted: frozenset[bytes], *, end: bool, top: int
    ) -> NextTokens:
        """The kept generation's next tokens after the point and `path` (asked once)."""
        key = (tuple(path), top)
        if key not in self._asked:
            self._asked[key] = self._kept.next(self._at, path, wanted, end=end, top=top)
        return self._asked[key]


def decision_distribution(
    answer: Answer, raw: str, written: int, kept: Kept
) -> Distribution | None:
    """The judge's probability for each value its decision could take in `raw`, whose text
    from character `written` on is what `kept` generated. None when the decision does not
    stand in that generation (it cannot be placed on its tokens)."""
    site = answer.decision_site(raw)
    if site.start < written:
        return None
    suffix = raw[site.start :].encode("utf-8")
    spelled, at = b"", len(kept.tokens)
    while at > 0 and len(spelled) < len(suffix):
        at -= 1
        spelled = kept.piece(at) + spelled
    lead = spelled[: len(spelled) - len(suffix)]
    if len(spelled) < len(suffix) or lead + suffix != spelled:
        return None
    search = ValueSearch(site.values, lead=lead, after=site.after.encode("utf-8"))
    return search.distribution(_At(kept, at), tops=kept.tops)
