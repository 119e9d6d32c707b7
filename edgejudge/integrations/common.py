"""What the framework shells share: a verdict as a 0–1 score."""

from __future__ import annotations

from edgejudge.core.labels import LabelError, read_label
from edgejudge.core.metrics import Metric
from edgejudge.judging.result import JudgeResult


def unit_score(result: JudgeResult, metric: Metric) -> float:
    """The verdict on a 0–1 scale: the rubric's lowest score is 0, its highest 1 (a label
    counts as the rubric row it stands for: PASS, Yes are the higher row)."""
    score: int | None = result.score
    if score is None and result.label is not None:
        try:
            value = read_label(result.label, metric)
        except LabelError:
            value = None
        score = value if isinstance(value, int) else None
    if score is None:
        raise ValueError(f"{metric.name} gave no score: {result.decision!r}")
    low, high = min(metric.scores), max(metric.scores)
    return (score - low) / (high - low) if high > low else 1.0


def scaled(at_least: int, metric: Metric) -> float:
    """A rubric score as a 0–1 threshold (`unit_score`'s scale); ValueError off the rubric."""
    if at_least not in metric.scores:
        allowed = ", ".join(str(s) for s in metric.scores)
        raise ValueError(f"at_least={at_least} is not a score of {metric.name} ({allowed})")
    low, high = min(metric.scores), max(metric.scores)
    return (at_least - low) / (high - low) if high > low else 1.0
