"""The pure core: metrics, inputs, and judge formats (prompt, grammar, parser).

Nothing here does I/O or knows llama.cpp, so all of it is unit-testable in microseconds.
"""

from __future__ import annotations

from edgejudge.core.formats import JudgeFormat, Message, Verdict, get_format
from edgejudge.core.inputs import EvalInput, check_input, coerce_input
from edgejudge.core.metrics import Metric, RubricItem, metric_from_dict
from edgejudge.core.presets import PAIRWISE_PRESETS, PRESETS
from edgejudge.errors import MetricError


def get_preset(name: str) -> Metric:
    """A preset metric by name, e.g. `response-faithfulness-5point`."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join([*PRESETS, *PAIRWISE_PRESETS])
        raise MetricError(f"unknown metric {name!r}; presets are: {known}") from None


__all__ = [
    "EvalInput",
    "JudgeFormat",
    "Message",
    "Metric",
    "PRESETS",
    "RubricItem",
    "Verdict",
    "check_input",
    "coerce_input",
    "get_format",
    "get_preset",
    "metric_from_dict",
]
