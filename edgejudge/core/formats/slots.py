"""Where a metric's fields go in a family's template: the families have fixed slots (an
instruction, a document, a reference answer), metrics have named fields.

A field named like a query (`query`, `question`, `instruction`, `input`, `user_input`,
`prompt`) fills the instruction slot, one named like a reference (`reference_answer`,
`reference`, `ground_truth`, `expected_output`) the reference slot, one named like a
document (`context`, `document`, `documents`, `retrieved_context`) the context slot. Each
family's module says what it does with each slot and with fields that fit none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import AnyMetric, PairwiseMetric
from edgejudge.core.pairs import PairInput
from edgejudge.errors import FamilyError

QUERY_NAMES = ("query", "question", "instruction", "input", "user_input", "prompt")
REFERENCE_NAMES = ("reference_answer", "reference", "ground_truth", "expected_output")
CONTEXT_NAMES = ("context", "document", "documents", "retrieved_context")


@dataclass(frozen=True)
class Slots:
    """A metric's fields sorted into the families' slots (names, or values for an input)."""

    query: str | None = None
    context: str | None = None
    reference: str | None = None
    others: tuple[tuple[str, str], ...] = field(default=())


def slot_names(metric: AnyMetric) -> Slots:
    """Which of `metric`'s inputs fills which slot (the first of each kind)."""
    return _sort([(name, name) for name in metric.required_inputs])


def slot_values(eval_input: EvalInput) -> Slots:
    """An input's values sorted into the slots."""
    return _sort(eval_input.pairs())


def pair_slots(pair: PairInput) -> Slots:
    """A pair's inputs (not its responses) sorted into the slots."""
    return _sort(list(pair.inputs))


def _sort(pairs: list[tuple[str, str]]) -> Slots:
    found: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for name, value in pairs:
        kind = _kind(name)
        if kind is None or kind in found:
            others.append((name, value))
        else:
            found[kind] = value
    return Slots(others=tuple(others), **found)


def _kind(name: str) -> str | None:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    for kind, names in (
        ("query", QUERY_NAMES),
        ("reference", REFERENCE_NAMES),
        ("context", CONTEXT_NAMES),
    ):
        if key in names:
            return kind
    return None


def titled(name: str) -> str:
    """A field name as a heading: `retrieved_context` -> `Retrieved context`."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def instruction_of(slots: Slots) -> str:
    """The instruction slot: the query, then every other input but a reference under its
    name (`Context:`, a newline, the text), a blank line apart."""
    extra = list(slots.others)
    if slots.context is not None:
        extra.insert(0, ("context", slots.context))
    parts = [slots.query] if slots.query is not None else []
    parts += [f"{titled(name)}:\n{value}" for name, value in extra]
    return "\n\n".join(parts)


def require_instruction(family: str, metric: AnyMetric) -> None:
    """`FamilyError` unless `metric` has an input for the instruction slot to hold."""
    if not metric.required_inputs:
        other = "" if isinstance(metric, PairwiseMetric) else ", or use flow-judge"
        raise FamilyError(
            f"{family} needs the instruction the response answers, and metric "
            f"{metric.name!r} has no inputs: give it a `query` input{other}"
        )
