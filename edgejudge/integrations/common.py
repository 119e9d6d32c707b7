"""What the framework shells share: their judge, opened once, and a verdict as a 0–1
score."""

from __future__ import annotations

import os

from edgejudge.core.metrics import Metric
from edgejudge.judging.judge import Judge
from edgejudge.judging.result import JudgeResult
from edgejudge.meta_eval.labels import LabelError, read_label
from edgejudge.runtime.options import RuntimeOptions


def open_judge(
    owner: str,
    model: str | os.PathLike[str] | None,
    metric: str | os.PathLike[str] | Metric,
    judge: Judge | None,
    *,
    max_tokens: int,
    server_url: str | None,
    model_option: str = "model",
) -> tuple[Judge, Metric]:
    """`judge`, or one opened on `model` (or `server_url`) for `metric`, and its metric; a
    ValueError, naming `owner`, for no model or a pairwise metric (a framework's case holds
    one answer)."""
    if judge is None:
        if model is None and server_url is None:
            raise ValueError(f"{owner} needs {model_option}= (or server_url=, or judge=)")
        options = RuntimeOptions(server_url=server_url)
        judge = Judge(model, metric, max_tokens=max_tokens, runtime=options)
    if not isinstance(judge.metric, Metric):
        raise ValueError(f"{judge.metric.name} compares two answers; {owner} judges one")
    return judge, judge.metric


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
    return _unit(score, metric)


def scaled(at_least: int, metric: Metric) -> float:
    """A rubric score as a 0–1 threshold (`unit_score`'s scale); ValueError off the rubric."""
    if at_least not in metric.scores:
        allowed = ", ".join(str(s) for s in metric.scores)
        raise ValueError(f"at_least={at_least} is not a score of {metric.name} ({allowed})")
    return _unit(at_least, metric)


def _unit(score: int, metric: Metric) -> float:
    """`score` on the 0–1 scale: the rubric's lowest score 0, its highest 1."""
    low, high = min(metric.scores), max(metric.scores)
    return (score - low) / (high - low) if high > low else 1.0
