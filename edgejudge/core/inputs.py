"""Evaluation inputs: the named inputs of a task and its named output.

Two JSON shapes are accepted:

* the reference package's: ``{"inputs": [{"query": "…"}, {"context": "…"}],
  "output": {"response": "…"}}``
* a flat object whose keys are the metric's inputs and output:
  ``{"query": "…", "context": "…", "response": "…"}``

An optional ``"id"`` key is carried along for batches and ignored otherwise. A flat object
may give a conversation as ``"messages"`` (and ``"tools"``) in the OpenAI chat shape in place
of the fields it fills (`conversation`, `response`, `tool_call`, `tools`: see
`core.conversation`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edgejudge.core.conversation import (
    CONVERSATION_FIELDS,
    MESSAGES_KEY,
    TOOLS_KEY,
    Conversation,
    fields,
)
from edgejudge.core.metrics import Metric
from edgejudge.errors import InputError

ID_KEY = "id"


class EvalInput(BaseModel):
    """An ordered list of named inputs and one named output (the reference shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inputs: tuple[dict[str, str], ...] = Field(default=())
    output: dict[str, str]

    @classmethod
    def of(cls, metric: Metric, **fields: str) -> EvalInput:
        """Build an input from keyword fields named as the metric names them."""
        return coerce_input(dict(fields), metric)

    def pairs(self) -> list[tuple[str, str]]:
        """The inputs as (name, value) pairs, in order."""
        return [(key, value) for item in self.inputs for key, value in item.items()]

    @property
    def output_name(self) -> str:
        """The output's field name."""
        return next(iter(self.output))

    @property
    def output_value(self) -> str:
        """The output's text."""
        return next(iter(self.output.values()))


def coerce_input(data: Any, metric: Metric) -> EvalInput:
    """Turn an `EvalInput` or a parsed JSON object (either shape) into a checked `EvalInput`."""
    if isinstance(data, EvalInput):
        check_input(data, metric)
        return data
    if not isinstance(data, dict):
        raise InputError(f"an input must be a JSON object, got {type(data).__name__}")
    body = {k: v for k, v in data.items() if k != ID_KEY}
    if "output" in body and isinstance(body["output"], dict):
        eval_input = _from_reference_shape(body)
    else:
        eval_input = _from_flat(body, metric)
    check_input(eval_input, metric)
    return eval_input


def _from_reference_shape(body: dict[str, Any]) -> EvalInput:
    unexpected = sorted(set(body) - {"inputs", "output"})
    if unexpected:
        raise InputError(
            f"unexpected keys beside 'inputs' and 'output': {', '.join(unexpected)}",
            unexpected=tuple(unexpected),
        )
    raw_inputs = body.get("inputs", [])
    if not isinstance(raw_inputs, list) or not all(isinstance(i, dict) for i in raw_inputs):
        raise InputError('\'inputs\' must be a list of objects like {"query": "..."}')
    inputs: list[dict[str, str]] = []
    for item in raw_inputs:
        if len(item) != 1:
            raise InputError(f"each entry of 'inputs' must have exactly one key, got {list(item)}")
        inputs.append({k: _text(k, v) for k, v in item.items()})
    output = body["output"]
    if len(output) != 1:
        raise InputError(f"'output' must have exactly one key, got {list(output)}")
    return EvalInput(inputs=tuple(inputs), output={k: _text(k, v) for k, v in output.items()})


def _from_flat(body: dict[str, Any], metric: Metric) -> EvalInput:
    expected = [*metric.required_inputs, metric.required_output]
    if MESSAGES_KEY in body:
        body = with_conversation(body, expected)
    missing = [k for k in expected if k not in body]
    unexpected = sorted(set(body) - set(expected))
    if missing or unexpected:
        raise InputError(
            _mismatch(metric, missing, unexpected),
            missing=tuple(missing),
            unexpected=tuple(unexpected),
        )
    return EvalInput(
        inputs=tuple({k: _text(k, body[k])} for k in metric.required_inputs),
        output={
            metric.required_output: _text(metric.required_output, body[metric.required_output])
        },
    )


def with_conversation(
    body: dict[str, Any],
    expected: list[str],
    *,
    last_turns: int | None = None,
    judged_last: bool = False,
) -> dict[str, Any]:
    """`body` with its `messages` (and `tools`) read into the conversation fields the metric
    names that it does not give itself (`core.conversation.fields`)."""
    rest = {k: v for k, v in body.items() if k not in (MESSAGES_KEY, TOOLS_KEY)}
    conversation = Conversation.read(body[MESSAGES_KEY], body.get(TOOLS_KEY))
    wanted = [name for name in expected if name in CONVERSATION_FIELDS and name not in rest]
    found = fields(conversation, wanted, last_turns=last_turns, judged_last=judged_last)
    return {**rest, **found}


def check_input(eval_input: EvalInput, metric: Metric) -> None:
    """Raise `InputError` naming every missing or unexpected field."""
    names = [k for k, _ in eval_input.pairs()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"input given more than once: {', '.join(repeated)}")
    given = [*names, eval_input.output_name]
    expected = [*metric.required_inputs, metric.required_output]
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    if eval_input.output_name != metric.required_output and not missing and not unexpected:
        # Right names, wrong places: the output was given as an input or vice versa.
        missing, unexpected = [metric.required_output], [eval_input.output_name]
    if missing or unexpected:
        raise InputError(
            _mismatch(metric, missing, unexpected),
            missing=tuple(missing),
            unexpected=tuple(unexpected),
        )


def _mismatch(metric: Metric, missing: list[str], unexpected: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected {', '.join(unexpected)}")
    wanted = ", ".join([*metric.required_inputs, metric.required_output])
    return f"input does not fit metric {metric.name}: {'; '.join(parts)} (it needs: {wanted})"


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value
