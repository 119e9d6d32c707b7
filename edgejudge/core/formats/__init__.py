"""Judge families: each a prompt template, a grammar and a parser behind `JudgeFormat`."""

from __future__ import annotations

from edgejudge.core.formats.base import FeedbackStream, JudgeFormat, Message, Verdict
from edgejudge.core.formats.flow_judge import FLOW_JUDGE, FlowJudgeFormat
from edgejudge.errors import FamilyError

FORMATS: dict[str, JudgeFormat] = {FLOW_JUDGE.family: FLOW_JUDGE}
# Families the catalog may name whose own prompt, grammar and parser are not built yet.
# Their models can still judge in Flow-Judge's format by passing family="flow-judge".
PLANNED_FAMILIES: tuple[str, ...] = ("prometheus", "selene", "glider", "root-judge")
KNOWN_FAMILIES: tuple[str, ...] = (*FORMATS, *PLANNED_FAMILIES)


def get_format(family: str) -> JudgeFormat:
    """The format for a judge family name, e.g. `flow-judge`."""
    try:
        return FORMATS[family]
    except KeyError:
        pass
    if family in PLANNED_FAMILIES:
        raise FamilyError(
            f"the {family!r} judge format is not built yet; judge in Flow-Judge's format "
            f"with --family flow-judge (Python: family='flow-judge')"
        )
    known = ", ".join(sorted(FORMATS))
    raise FamilyError(f"unknown judge family {family!r} (known: {known})")


__all__ = [
    "FORMATS",
    "KNOWN_FAMILIES",
    "PLANNED_FAMILIES",
    "FeedbackStream",
    "FlowJudgeFormat",
    "JudgeFormat",
    "Message",
    "Verdict",
    "get_format",
]
