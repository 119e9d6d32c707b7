"""Judge families: each a prompt template, a grammar and a parser behind `JudgeFormat`."""

from __future__ import annotations

from edgejudge.core.formats.base import FeedbackStream, JudgeFormat, Verdict
from edgejudge.core.formats.flow_judge import FLOW_JUDGE, FlowJudgeFormat

FORMATS: dict[str, JudgeFormat] = {FLOW_JUDGE.family: FLOW_JUDGE}


def get_format(family: str) -> JudgeFormat:
    """The format for a judge family name, e.g. `flow-judge`."""
    try:
        return FORMATS[family]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown judge family {family!r} (known: {known})") from None


__all__ = ["FORMATS", "FeedbackStream", "FlowJudgeFormat", "JudgeFormat", "Verdict", "get_format"]
