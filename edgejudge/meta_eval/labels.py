"""Human labels, read strictly: what a person said a verdict should be, for meta-evaluation.

A label is read for a metric's kind of verdict:

* a numeric scale: a whole number on the rubric (`4`, `"4"`, `4.0`);
* a two-row rubric (pass/fail, yes/no, 0/1): the row it names, as the row's score (`"PASS"`,
  `"yes"`, `true` and the higher score are the higher row; `"FAIL"`, `"no"`, `false` and the
  lower score the lower row);
* a pairwise metric: `A`, `B` or `tie`.

Anything else is a `LabelError` naming the value and what was expected, so a meta-evaluation
can list the rows whose labels it could not read instead of dropping them.
"""

from __future__ import annotations

from typing import Any

from edgejudge.core.metrics import AnyMetric, Metric, PairwiseMetric
from edgejudge.core.pairs import VERDICTS

HIGH_WORDS = ("pass", "yes", "true")
LOW_WORDS = ("fail", "no", "false")


class LabelError(ValueError):
    """A human label that does not fit the metric."""


def read_label(value: Any, metric: AnyMetric) -> int | str:
    """`value` as a label for `metric`: a score on its rubric, or A, B or tie for a pair."""
    if isinstance(metric, PairwiseMetric):
        return _choice(value)
    return _score(value, metric)


def _choice(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    for choice in VERDICTS:
        if text is not None and text.lower() == choice.lower():
            return choice
    raise LabelError(f"label {value!r} is not A, B or tie")


def _score(value: Any, metric: Metric) -> int:
    scores = metric.scores
    binary = len(scores) == 2
    if isinstance(value, bool):
        if binary:
            return scores[-1] if value else scores[0]
        raise LabelError(f"label {value!r} is not a score on the rubric ({metric.scale})")
    if isinstance(value, str):
        word = value.strip().lower()
        if binary and word in HIGH_WORDS:
            return scores[-1]
        if binary and word in LOW_WORDS:
            return scores[0]
        try:
            value = int(word)
        except ValueError:
            raise LabelError(_expected(value, metric)) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value not in scores:
        raise LabelError(_expected(value, metric))
    return value


def _expected(value: Any, metric: Metric) -> str:
    words = " or pass/fail, yes/no" if len(metric.scores) == 2 else ""
    allowed = ", ".join(str(s) for s in metric.scores)
    return f"label {value!r} is not a score on the rubric ({allowed}{words})"
