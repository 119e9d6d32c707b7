"""Pair inputs: what two responses answer, and the two responses, for a pairwise metric.

A pair is a flat JSON object whose keys are the metric's inputs and the two responses:
``{"query": "…", "context": "…", "response_a": "…", "response_b": "…"}``. An optional
``"id"`` key is carried along for batches and ignored otherwise.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from edgejudge.core.inputs import ID_KEY
from edgejudge.core.metrics import PAIR_OUTPUTS, PairwiseMetric
from edgejudge.errors import InputError

TIE = "tie"
# Each response's letter, and the other's.
OTHER = {"A": "B", "B": "A"}
# Every verdict a pair can get, A's win first: the two letters, or a tie when the judge's two
# orders disagree (the TUI's badge and histogram rows, meta-evaluation's human preferences).
VERDICTS = ("A", TIE, "B")


class PairInput(BaseModel):
    """The named inputs both responses answer, in the metric's order, and the two responses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: tuple[tuple[str, str], ...] = ()
    response_a: str
    response_b: str

    def swapped(self) -> PairInput:
        """The same pair with the responses in the other order."""
        return PairInput(inputs=self.inputs, response_a=self.response_b, response_b=self.response_a)

    def fields(self) -> dict[str, str]:
        """The pair as the flat object it is read from."""
        return {**dict(self.inputs), "response_a": self.response_a, "response_b": self.response_b}


def coerce_pair(data: Any, metric: PairwiseMetric) -> PairInput:
    """A checked `PairInput` from a `PairInput` or a parsed flat JSON object."""
    if isinstance(data, PairInput):
        data = data.fields()
    if not isinstance(data, dict):
        raise InputError(f"a pair must be a JSON object, got {type(data).__name__}")
    body = {k: v for k, v in data.items() if k != ID_KEY}
    expected = [*metric.required_inputs, *PAIR_OUTPUTS]
    missing = [k for k in expected if k not in body]
    unexpected = sorted(set(body) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected)}")
        raise InputError(
            f"pair does not fit metric {metric.name}: {'; '.join(parts)} "
            f"(it needs: {', '.join(expected)})",
            missing=tuple(missing),
            unexpected=tuple(unexpected),
        )
    texts = {k: _text(k, body[k]) for k in expected}
    return PairInput(
        inputs=tuple((k, texts[k]) for k in metric.required_inputs),
        response_a=texts["response_a"],
        response_b=texts["response_b"],
    )


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value
