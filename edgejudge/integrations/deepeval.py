"""edgejudge as a DeepEval metric (`pip install 'edgejudge[deepeval]'`).

    from deepeval import assert_test, evaluate
    from deepeval.test_case import LLMTestCase
    from edgejudge.integrations.deepeval import EdgeJudgeMetric

    faithful = EdgeJudgeMetric("response-faithfulness-5point", judge_model="flow-judge-v0.1",
                               at_least=4)
    evaluate([LLMTestCase(input=q, actual_output=a, retrieval_context=[c])], [faithful])

A test case's fields become the metric's inputs: `input` is the query, `actual_output` the
response, `retrieval_context` (else `context`) the context, joined by blank lines, and
`expected_output` the reference answer; an input of another name comes from the case's
`metadata`. The score is the verdict on DeepEval's 0–1 scale (the rubric's lowest score 0,
its highest 1), the reason is the judge's feedback, and `success` is the score against
`threshold` (or `at_least`, a rubric score). The model loads once, when the metric is made,
and the copies DeepEval makes of it share it. Nothing is sent anywhere: the judgment runs
here (set DEEPEVAL_TELEMETRY_OPT_OUT=1 to keep DeepEval's own telemetry off too).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from deepeval.metrics import BaseMetric

from edgejudge.core.metrics import Metric
from edgejudge.integrations.common import open_judge, scaled, unit_score
from edgejudge.judging.judge import Judge

# edgejudge's input names and the LLMTestCase fields they come from.
FIELDS = {
    "query": ("input",),
    "response": ("actual_output",),
    "context": ("retrieval_context", "context"),
    "reference_answer": ("expected_output",),
}


class EdgeJudgeMetric(BaseMetric):
    """A local edgejudge judge as a DeepEval metric (see the module's docstring)."""

    def __init__(
        self,
        metric: str | os.PathLike[str] | Metric = "response-faithfulness-5point",
        judge_model: str | os.PathLike[str] | None = None,
        *,
        threshold: float | None = None,
        at_least: int | None = None,
        judge: Judge | None = None,
        max_tokens: int = 256,
        server_url: str | None = None,
        include_reason: bool = True,
        async_mode: bool = True,
    ) -> None:
        judge, chosen = open_judge("EdgeJudgeMetric", judge_model, metric, judge,
                                   max_tokens=max_tokens, server_url=server_url,
                                   model_option="judge_model")  # fmt: skip
        self.judge = judge
        # DeepEval copies a metric by passing these back to __init__ (the judge is shared).
        self.metric, self.judge_model, self.max_tokens = metric, judge_model, max_tokens
        self.server_url, self.at_least = server_url, at_least
        if at_least is not None:
            threshold = scaled(at_least, chosen)
        self.threshold = 0.5 if threshold is None else threshold
        self.include_reason = include_reason
        self.async_mode = async_mode
        self.evaluation_model = f"edgejudge: {judge.runtime.model_name}"
        self.evaluation_cost = 0.0  # nothing is paid for: it runs here

    @property
    def __name__(self) -> str:  # DeepEval's name for the metric in its reports
        return f"edgejudge {self.judge.metric.name}"

    def measure(self, test_case: Any, *args: Any, **kwargs: Any) -> float:
        """Judge the test case; sets and returns `score`, and sets `reason` and `success`."""
        metric = self.judge.metric
        assert isinstance(metric, Metric)
        self.error = None
        result = self.judge.evaluate(case_inputs(test_case, metric))
        self.score = unit_score(result, metric)
        self.reason = result.feedback if self.include_reason else None
        self.is_successful()
        breakdown: dict[str, Any] = {"decision": result.decision}
        if result.probabilities is not None:
            breakdown["probabilities"] = dict(result.probabilities)
        self.score_breakdown = breakdown
        self.verbose_logs = result.stats()
        return self.score

    async def a_measure(self, test_case: Any, *args: Any, **kwargs: Any) -> float:
        """`measure` on a worker thread: DeepEval's async test cases run in the judge's
        slots side by side."""
        return await asyncio.to_thread(self.measure, test_case)

    def is_successful(self) -> bool:
        """Whether the last judgment met the threshold (False after an error)."""
        met = self.error is None and self.score is not None and self.score >= self._bar()
        self.success = met
        return met

    def _bar(self) -> float:
        return 0.5 if self.threshold is None else self.threshold


def case_inputs(test_case: Any, metric: Metric) -> dict[str, str]:
    """The metric's inputs from a DeepEval test case (see the module's docstring); a
    ValueError names the field a missing input comes from."""
    inputs = {}
    metadata = getattr(test_case, "metadata", None) or {}
    for name in (*metric.required_inputs, metric.required_output):
        value = None
        for attribute in FIELDS.get(name, ()):
            value = _text(getattr(test_case, attribute, None))
            if value:
                break
        if not value and name in metadata:
            value = _text(metadata[name])
        if not value:
            where = " or ".join(FIELDS.get(name, ())) or f"metadata[{name!r}]"
            raise ValueError(f"{metric.name} needs {name}: the test case has no {where}")
        inputs[name] = value
    return inputs


def _text(value: Any) -> str | None:
    """A field as text: lists (retrieval context) joined by blank lines."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        parts = [part if isinstance(part, str) else getattr(part, "context", str(part))
                 for part in value]  # fmt: skip
        return "\n\n".join(parts)
    return str(value)
