"""A row of the user's table as a metric's input: columns mapped onto the metric's fields
(`--map query=question`), each cell as text.

A cell is text as it stands; a number (or true/false) becomes its text; null, NaN or an
empty cell is an error naming the field and its column; a list or an object is an error
too. A `messages` column (the OpenAI chat shape) gives the conversation fields a metric
names (`core.conversation`). Columns the metric does not name are left for the export,
never sent to the judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgejudge.core.conversation import CONVERSATION_FIELDS, MESSAGES_KEY, TOOLS_KEY
from edgejudge.core.metrics import PAIR_OUTPUTS, AnyMetric, PairwiseMetric
from edgejudge.errors import InputError

DEFAULT_ID_COLUMN = "id"


def parse_map(items: Iterable[str] | None) -> dict[str, str]:
    """`--map FIELD=COLUMN` options as {field: column}; an `InputError` for one that is not
    of that form, or a field mapped twice."""
    mapping: dict[str, str] = {}
    for item in items or ():
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise InputError(
                f"--map {item!r} is not FIELD=COLUMN (for example --map query=question: the "
                "metric's field query is read from the file's column question)"
            )
        if field in mapping:
            raise InputError(f"--map gives the field {field!r} twice")
        mapping[field] = column
    return mapping


def metric_fields(metric: AnyMetric) -> tuple[str, ...]:
    """The fields a metric reads from a row: its inputs, then its output (a pair's two)."""
    if isinstance(metric, PairwiseMetric):
        return (*metric.required_inputs, *PAIR_OUTPUTS)
    return (*metric.required_inputs, metric.required_output)


def every_field(metrics: Iterable[AnyMetric]) -> list[str]:
    """Every field the metrics read, each once, in order."""
    return list(dict.fromkeys(name for metric in metrics for name in metric_fields(metric)))


def column_of(field: str, mapping: Mapping[str, str]) -> str:
    """The column a field is read from."""
    return mapping.get(field, field)


def missing_columns(
    columns: Sequence[str], fields: Iterable[str], mapping: Mapping[str, str]
) -> list[str]:
    """The fields (as `field` or `field=column`) whose column is not among `columns` (a
    conversation field is given by a `messages` column)."""
    found = set(columns)
    fields = list(fields)
    given = set(conversation_columns(fields, found, mapping))
    return [
        field if column_of(field, mapping) == field else f"{field}={column_of(field, mapping)}"
        for field in fields
        if column_of(field, mapping) not in found and field not in given
    ]


def conversation_columns(
    fields: Sequence[str], columns: Iterable[str], mapping: Mapping[str, str]
) -> list[str]:
    """The fields a row's `messages` column gives (a conversation field with no column of
    its own), where the row has one; none otherwise."""
    found = set(columns)
    if column_of(MESSAGES_KEY, mapping) not in found:
        return []
    return [f for f in fields if f in CONVERSATION_FIELDS and column_of(f, mapping) not in found]


def project(
    record: Mapping[str, Any], fields: Sequence[str], mapping: Mapping[str, str]
) -> dict[str, Any]:
    """The metric's `fields` read from a row, each as text (see `cell_text`); where the
    row's `messages` column gives some of them, the conversation itself (`messages`, and
    `tools` where there is such a column), read into them when judged."""
    given = conversation_columns(fields, record, mapping)
    if given:
        conversation = {MESSAGES_KEY: record[column_of(MESSAGES_KEY, mapping)]}
        if column_of(TOOLS_KEY, mapping) in record:
            conversation[TOOLS_KEY] = record[column_of(TOOLS_KEY, mapping)]
        rest = project(record, [f for f in fields if f not in given], mapping)
        return {**rest, **conversation}
    absent = [f for f in fields if column_of(f, mapping) not in record]
    if absent:
        named = ", ".join(_name(f, column_of(f, mapping)) for f in absent)
        raise InputError(f"the row has no {named}", missing=tuple(absent))
    return {f: cell_text(f, column_of(f, mapping), record[column_of(f, mapping)]) for f in fields}


def cell_text(field: str, column: str, value: Any) -> str:
    """A cell as the text a judge reads, or an `InputError` naming the field (and the
    column it was mapped from) for null, empty, a list or an object."""
    name = _name(field, column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise InputError(f"{name} is empty (null): every field the metric reads needs text")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{name} holds bytes that are not UTF-8 text") from None
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{name} is empty: every field the metric reads needs text")
        return value
    if isinstance(value, list | tuple):
        raise InputError(f"{name} is a list, not text")
    if isinstance(value, dict):
        raise InputError(f"{name} is an object, not text")
    return str(value)  # a date, a decimal: its usual text


def _name(field: str, column: str) -> str:
    """`field 'query'`, or `field 'query' (column 'question')` where it is mapped."""
    return f"field {field!r}" if column == field else f"field {field!r} (column {column!r})"
