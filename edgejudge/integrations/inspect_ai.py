"""edgejudge as an Inspect scorer (`pip install 'edgejudge[inspect]'`).

    from inspect_ai import Task, task
    from inspect_ai.dataset import Sample
    from inspect_ai.solver import generate
    from edgejudge.integrations.inspect_ai import edgejudge_scorer

    @task
    def faithful_answers():
        return Task(
            dataset=[Sample(input=q, metadata={"context": c}) for q, c in cases],
            solver=generate(),
            scorer=edgejudge_scorer(model="flow-judge-v0.1",
                                    metric="response-faithfulness-5point"),
        )

The sample and the solver's state become the metric's inputs: the sample's input text is
the query, the model's completion the response, the sample's target the reference answer,
and any other input (the context) comes from the sample's metadata. Each `Score` has the
verdict's rubric score (or label) as its value, the judge's feedback as its explanation,
and, where the runtime measures them, the judge's probabilities in its metadata. The model
loads once, when the scorer is made; samples scored at the same time run in its slots.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState

from edgejudge.core.metrics import Metric
from edgejudge.integrations.common import open_judge
from edgejudge.judging.judge import Judge


@scorer(metrics=[mean(), stderr()])
def edgejudge_scorer(
    model: str | os.PathLike[str] | None = None,
    metric: str | os.PathLike[str] | Metric = "response-faithfulness-5point",
    *,
    judge: Judge | None = None,
    max_tokens: int = 256,
    server_url: str | None = None,
) -> Scorer:
    """Score each sample with a local edgejudge judge (see the module's docstring)."""
    shared, chosen = open_judge("edgejudge_scorer", model, metric, judge,
                                max_tokens=max_tokens, server_url=server_url)  # fmt: skip

    async def score(state: TaskState, target: Target) -> Score:
        inputs = sample_inputs(state, target, chosen)
        result = await asyncio.to_thread(shared.evaluate, inputs)
        metadata: dict[str, Any] = {"metric": result.metric, "judge": result.model}
        if result.probabilities is not None:
            metadata["probabilities"] = {str(k): p for k, p in result.probabilities.items()}
        value = result.score if result.score is not None else str(result.decision)
        return Score(value=value, answer=inputs[chosen.required_output],
                     explanation=result.feedback, metadata=metadata)  # fmt: skip

    return score


def sample_inputs(state: TaskState, target: Target, metric: Metric) -> dict[str, str]:
    """The metric's inputs from the solver's state (see the module's docstring); a
    ValueError names what is missing."""
    found: dict[str, str | None] = {
        "query": state.input_text,
        "response": state.output.completion if state.output else None,
        "reference_answer": target.text or None,
    }
    inputs = {}
    for name in (*metric.required_inputs, metric.required_output):
        value = found.get(name)
        if not value and name in (state.metadata or {}):
            value = str(state.metadata[name])
        if not value:
            raise ValueError(
                f"{metric.name} needs {name}: the sample has no "
                + ("completion" if name == metric.required_output else f"metadata[{name!r}]")
            )
        inputs[name] = value
    return inputs
