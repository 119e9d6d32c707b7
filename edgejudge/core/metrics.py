"""Metrics: the criteria and rubric a judge scores against.

A `Metric` is what the reference `flow-judge` package calls a metric (name, criteria,
rubric, required inputs, required output), validated harder: a rubric has 2 to 11 items
with unique integer scores, and input/output names are usable as prompt tags.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from edgejudge.errors import MetricError

MIN_RUBRIC_ITEMS = 2
MAX_RUBRIC_ITEMS = 11
# The highest rubric score: a 0-100 scale is the widest anyone writes, and every family's
# close-out reserve has room for three digits after its answer is cut by the token budget.
MAX_SCORE = 100

# A metric's name is also a file name (`CONFIG/metrics/NAME.toml`, meta-eval's verdict
# files): letters, digits and `_ . -`, starting with a letter or digit, so never a path.
METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

# A name becomes an XML-ish tag in the prompt (`<reference_answer>`), exactly as the reference
# lower-cases it and turns spaces into underscores; reject anything that would not be a tag.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]*$")


class RubricItem(BaseModel):
    """One score on the rubric and what earns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: StrictInt
    description: str = Field(min_length=1)


class Metric(BaseModel):
    """An evaluation metric: criteria, a rubric of 2–11 scores, and the fields it reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    title: str | None = None
    criteria: str = Field(min_length=1)
    rubric: tuple[RubricItem, ...]
    required_inputs: tuple[str, ...] = ()
    required_output: str

    @field_validator("rubric")
    @classmethod
    def _check_rubric(cls, rubric: tuple[RubricItem, ...]) -> tuple[RubricItem, ...]:
        if not MIN_RUBRIC_ITEMS <= len(rubric) <= MAX_RUBRIC_ITEMS:
            raise ValueError(
                f"needs {MIN_RUBRIC_ITEMS} to {MAX_RUBRIC_ITEMS} items, got {len(rubric)}"
            )
        scores = [item.score for item in rubric]
        duplicates = sorted({s for s in scores if scores.count(s) > 1})
        if duplicates:
            raise ValueError(f"scores must be unique; repeated: {duplicates}")
        if min(scores) < 0:
            raise ValueError("scores must be non-negative integers")
        if max(scores) > MAX_SCORE:
            raise ValueError(f"scores must be at most {MAX_SCORE}, got {max(scores)}")
        return rubric

    @field_validator("name")
    @classmethod
    def _check_metric_name(cls, name: str) -> str:
        return check_metric_name(name)

    @field_validator("required_inputs")
    @classmethod
    def _check_inputs(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        _check_input_names(names)
        return names

    @field_validator("required_output")
    @classmethod
    def _check_output(cls, name: str) -> str:
        return _check_name(name)

    @model_validator(mode="after")
    def _output_not_an_input(self) -> Metric:
        if tag_name(self.required_output) in {tag_name(n) for n in self.required_inputs}:
            raise ValueError(f"output {self.required_output!r} is also listed as an input")
        return self

    @property
    def scores(self) -> tuple[int, ...]:
        """The allowed scores, lowest first."""
        return tuple(sorted(item.score for item in self.rubric))

    @property
    def scale(self) -> str:
        """A short label for the scale, like `1-5` or `0-1`."""
        return f"{self.scores[0]}-{self.scores[-1]}"


def check_metric_name(name: str) -> str:
    """`name` if it can name a metric (and its file); else `ValueError` saying why."""
    if not METRIC_NAME_RE.match(name) or name.endswith("."):
        raise ValueError(
            f"{name!r} is not a usable metric name (letters, digits and _ . -, starting with "
            "a letter or digit, at most 100 characters; it also names files)"
        )
    return name


def _check_input_names(names: tuple[str, ...]) -> list[str]:
    """Each name usable as a field, and all distinct as prompt tags; returns the tags."""
    for name in names:
        _check_name(name)
    tags = [tag_name(n) for n in names]
    if len(set(tags)) != len(tags):
        raise ValueError(f"input names must be distinct as tags: {list(names)}")
    return tags


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"{name!r} is not a usable field name (letters, digits, _ . - and spaces; "
            "starting with a letter or _)"
        )
    return name


def tag_name(name: str) -> str:
    """The prompt tag for a field name, as the reference formats it."""
    return name.lower().replace(" ", "_")


def first_problem(exc: ValidationError) -> str:
    """`field 'a.0.b': what is wrong` for the first error pydantic found, and how many more."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "tuple_type":  # fields held as tuples are lists in TOML and JSON
        message = f"Input should be a list, got {type(first['input']).__name__}"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"field '{field}': {message}{more}"


def metric_from_dict(data: dict[str, Any], *, source: str) -> Metric:
    """Validate a parsed TOML/JSON mapping as a `Metric`; errors name `source` and the field."""
    try:
        return Metric.model_validate(data)
    except ValidationError as exc:
        raise MetricError(f"{source}: {first_problem(exc)}") from None


def describe(metric: Metric) -> str:
    """A human-readable summary of a metric, for `edgejudge metrics show`."""
    lines = [f"{metric.name}" + (f" — {metric.title}" if metric.title else "")]
    lines.append(f"inputs: {', '.join(metric.required_inputs) or '(none)'}")
    lines.append(f"output: {metric.required_output}")
    lines.append(f"scale:  {metric.scale}")
    lines.append("")
    lines.append("criteria:")
    lines.append(f"  {metric.criteria}")
    lines.append("")
    lines.append("rubric:")
    for item in sorted(metric.rubric, key=lambda i: i.score):
        lines.append(f"  {item.score}: {item.description}")
    return "\n".join(lines)


# The two answers a pairwise metric compares, under these names in every input.
RESPONSE_A = "response_a"
RESPONSE_B = "response_b"
PAIR_OUTPUTS = (RESPONSE_A, RESPONSE_B)


class PairwiseMetric(BaseModel):
    """A pairwise metric: which of two responses better meets its criteria.

    The families trained on pairs take only the criteria (Prometheus 2's bracketed criteria
    line, Selene's rubric objective), so a pairwise metric has no score rows. Its inputs are
    what both responses answer (`query`, and optionally `context` or `reference_answer`);
    the responses are always `response_a` and `response_b`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    title: str | None = None
    kind: Literal["pairwise"] = "pairwise"
    criteria: str = Field(min_length=1)
    required_inputs: tuple[str, ...] = ("query",)

    @field_validator("name")
    @classmethod
    def _check_metric_name(cls, name: str) -> str:
        return check_metric_name(name)

    @field_validator("required_inputs")
    @classmethod
    def _check_inputs(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        tags = _check_input_names(names)
        taken = sorted(set(tags) & set(PAIR_OUTPUTS))
        if taken:
            raise ValueError(f"{', '.join(taken)} names a response, not an input")
        return names

    @property
    def scale(self) -> str:
        """What the verdict is: `A/B` (a tie when the two orders disagree)."""
        return "A/B"


AnyMetric = Metric | PairwiseMetric


def any_metric_from_dict(data: dict[str, Any], *, source: str) -> AnyMetric:
    """A `Metric`, or a `PairwiseMetric` where `kind = "pairwise"`; errors name `source`."""
    if data.get("kind") != "pairwise":
        return metric_from_dict(data, source=source)
    try:
        return PairwiseMetric.model_validate(data)
    except ValidationError as exc:
        raise MetricError(f"{source}: {first_problem(exc)}") from None


def describe_pairwise(metric: PairwiseMetric) -> str:
    """A human-readable summary of a pairwise metric, for `edgejudge metrics show`."""
    lines = [f"{metric.name}" + (f" — {metric.title}" if metric.title else "")]
    lines.append(f"inputs: {', '.join(metric.required_inputs) or '(none)'}")
    lines.append(f"compares: {RESPONSE_A}, {RESPONSE_B}")
    lines.append("verdict: A, B, or tie (the two orders disagree)")
    lines.append("")
    lines.append("criteria:")
    lines.append(f"  {metric.criteria}")
    return "\n".join(lines)
