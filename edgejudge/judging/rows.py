"""The rows a batch judges, from any file `io.tables` reads: each row's id, and what the
judge is given for each metric.

A JSONL or JSON row without `--map` is given to the judge as it is, as `judge -i` would
read it (a key the metric does not name is an error). A row of a table (CSV, TSV, Parquet,
a dataset) or of any file read with `--map` gives each metric the fields it names, read
through the mapping (`core.rows.project`); its other columns are kept for the export.

`RowSource.scan` reads the ids once before the model loads (the batch's size, a duplicate
id, a mapped column no row has); `RowSource.rows` then streams the rows, so a file of a
million rows is never held whole.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgejudge.core.conversation import (
    MESSAGES_KEY,
    TOOLS_KEY,
    Conversation,
    assistant_turns,
    has_conversation,
)
from edgejudge.core.inputs import ID_KEY, with_conversation
from edgejudge.core.metrics import AnyMetric, PairwiseMetric
from edgejudge.core.rows import (
    DEFAULT_ID_COLUMN,
    every_field,
    metric_fields,
    missing_columns,
    project,
)
from edgejudge.errors import InputError
from edgejudge.io.tables import Record, Table

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    float: "a number with a fraction",
    bool: "true or false",
    type(None): "null",
}
# The most distinct keys a scan of JSON rows remembers, to list the ones found.
_MAX_NAMES = 200


def id_key(row_id: Any) -> str:
    """An id as a comparable string: ids may be strings or integers, and "1" is not 1."""
    return json.dumps(row_id, sort_keys=True)


def turn_key(key: str, turn: Any) -> str:
    """A row's key with its turn (`--per-turn`): `"run-1"#2`; the key alone without one.
    An id key ends in a quote or a digit, so no id's key looks like another's with a turn."""
    return f"{key}#{turn}" if isinstance(turn, int) and not isinstance(turn, bool) else key


@dataclass
class Row:
    """One input row: its id, and the object read or why it could not be read. `mapping`
    is None for a row given to the judge as it is; otherwise each metric reads its fields
    from `data` through it."""

    line: int
    id: Any
    data: Any = None
    problem: str | None = None
    mapping: Mapping[str, str] | None = field(default=None, repr=False)
    place: str = field(default="", repr=False)
    # `--per-turn`: the assistant turn (1-based) this row judges; its data ends there.
    turn: int | None = None
    # `--last-turns N`: a conversation's earlier messages are cut to its last N.
    last_turns: int | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """Where the row is in its file: `line 3`, `row 3`, `item 3`."""
        return self.place or f"line {self.line}"

    @property
    def key(self) -> str:
        """The id as a comparable string (see `id_key`), with its turn where it has one."""
        return turn_key(id_key(self.id), self.turn)

    def input_for(self, metric: AnyMetric) -> Any:
        """What the judge is given for `metric`: the row's input (a conversation read into
        the fields it names), or the `InputError` that becomes its error row."""
        if self.problem is not None:
            return InputError(self.problem)
        data = self.data
        try:
            if self.mapping is not None and isinstance(data, dict):
                data = project(data, metric_fields(metric), self.mapping)
            if has_conversation(data) and not isinstance(metric, PairwiseMetric):
                return with_conversation(
                    dict(data),
                    list(metric_fields(metric)),
                    last_turns=self.last_turns,
                    judged_last=self.turn is not None,
                )
        except InputError as exc:
            return exc
        return data


class RowSource:
    """A file of rows and how to read them: its format, the id column, the mapping."""

    def __init__(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        split: str | None = None,
        mapping: Mapping[str, str] | None = None,
        id_column: str | None = None,
        per_turn: bool = False,
        last_turns: int | None = None,
    ) -> None:
        self.path = path
        self.per_turn = per_turn
        self.last_turns = last_turns
        self.table = Table(path, fmt, split)
        self.mapping = dict(mapping or {})
        self.id_column = id_column or DEFAULT_ID_COLUMN
        self.id_given = id_column is not None
        # A table's row (or any row read with --map) gives each metric its own fields.
        self.projected = self.table.format not in ("jsonl", "json") or bool(self.mapping)

    @property
    def count(self) -> int | None:
        """The number of rows, where the file declares it (Parquet, a dataset)."""
        return self.table.count

    def check(self, metrics: Sequence[AnyMetric]) -> None:
        """Before the model loads: each metric's fields (through the mapping) and the id
        column are columns of a table that declares its columns; an `InputError` listing
        the columns found if not."""
        columns = self.table.columns
        if columns is None or not self.projected:
            return
        self._check_columns(columns, metrics)

    def _check_columns(self, columns: Sequence[str], metrics: Sequence[AnyMetric]) -> None:
        fields = every_field(metrics) if self.projected else []  # --map makes it projected
        absent = missing_columns(columns, fields, self.mapping)
        if self.id_given and self.id_column not in columns:
            absent.append(f"--id-column {self.id_column}")
        if absent:
            found = ", ".join(columns) if columns else "none"
            raise InputError(
                f"{self.path} has no column for {', '.join(absent)} (its columns: {found}); "
                "name the column with --map FIELD=COLUMN"
                + (" or --id-column" if self.id_given else "")
            )

    def scan(self, metrics: Sequence[AnyMetric]) -> int:
        """Read every row's id once, before the model loads: the number of rows. An
        `InputError` for an id that appears twice, an empty file, or (JSON rows read with
        --map or --id-column) a column no row has."""
        self.check(metrics)
        # Each id's hash, 8 bytes in an array, not its text in a set: a million ids take
        # 8 MB. Equal hashes are looked at again (`_duplicates`): two ids may share one.
        hashes = array("q")
        names: dict[str, None] = {}
        rows = 0
        for row in self.ids():
            rows += 1
            hashes.append(hash(row.key))
            if isinstance(row.data, dict) and len(names) < _MAX_NAMES:
                names.update(dict.fromkeys(row.data))
        if not rows:
            raise InputError(f"{self.path} holds no rows: give one object (or line) per row")
        self._duplicates(hashes)
        if self.table.columns is None and (self.mapping or self.id_given):
            self._check_columns(list(names), metrics)
        return rows

    def ids(self) -> Iterator[Row]:
        """Every row, reading no more than its id where the file is columnar (and, with
        --per-turn, its conversation: a row per assistant turn)."""
        if self.table.columns is None:
            return self.rows()
        return self.rows([self.id_column, *(self._conversation_columns() if self.per_turn else [])])

    def _conversation_columns(self) -> list[str]:
        return [
            self.mapping.get(MESSAGES_KEY, MESSAGES_KEY),
            self.mapping.get(TOOLS_KEY, TOOLS_KEY),
        ]

    def _duplicates(self, hashes: array[int]) -> None:
        """Raise the error for the first id met twice, naming the two rows: the rows whose
        hash another row shares are read again and their ids compared."""
        import numpy as np

        found = np.frombuffer(hashes, dtype=np.int64)
        values, counts = np.unique(found, return_counts=True)
        shared = set(values[counts > 1].tolist())
        if not shared:
            return
        first: dict[str, Row] = {}
        for row in self.ids():
            if hash(row.key) not in shared:
                continue
            if row.key in first:
                raise InputError(
                    f"{self.path}: id {row.id!r} appears on {first[row.key].where} and {row.where}"
                )
            first[row.key] = row

    def columns_for(self, metrics: Sequence[AnyMetric]) -> list[str] | None:
        """The columns judging `metrics` reads from a table (the id's and each field's);
        None where every column is read (JSON rows, or a file that declares none)."""
        if not self.projected or self.table.columns is None:
            return None
        names = [self.id_column, *(self.mapping.get(f, f) for f in every_field(metrics))]
        return list(dict.fromkeys([*names, *self._conversation_columns()]))

    def rows(self, columns: list[str] | None = None) -> Iterator[Row]:
        """Every row in order; with `columns`, a Parquet file or a dataset reads only those
        (the others are never decoded)."""
        mapping = self.mapping if self.projected else None
        for record in self.table.records(columns):
            row = self._row(record, mapping)
            row.last_turns = self.last_turns
            if self.per_turn:
                yield from per_turn(row, mapping or {})
            else:
                yield row

    def _row(self, record: Record, mapping: Mapping[str, str] | None) -> Row:
        """A record as a row: its id from the id column (else its number)."""
        number = record.number
        if record.problem is not None:
            return Row(number, number, problem=record.problem, place=record.where)
        data = record.data
        if not isinstance(data, dict) or self.id_column not in data:
            return Row(number, number, data=data, mapping=mapping, place=record.where)
        row_id = data[self.id_column]
        if isinstance(row_id, float) and row_id.is_integer():
            row_id = int(row_id)  # an integer column with nulls, as pandas writes it
        if isinstance(row_id, str) and self.projected and not row_id.strip():
            return Row(
                number, number, problem=f"{record.where} has an empty id", place=record.where
            )
        if isinstance(row_id, bool) or not isinstance(row_id, str | int):
            kind = _JSON_TYPES.get(type(row_id), type(row_id).__name__)
            return Row(
                number,
                number,
                problem=f"{record.where}: the id must be a string or an integer, not {kind}",
                place=record.where,
            )
        if not self.projected and self.id_column != ID_KEY:
            data = {k: v for k, v in data.items() if k != self.id_column}
        return Row(number, row_id, data=data, mapping=mapping, place=record.where)


def per_turn(row: Row, mapping: Mapping[str, str]) -> Iterator[Row]:
    """`--per-turn`: a row of a conversation as one row per assistant turn, each holding the
    messages up to that turn (judged in the context of those before it) and keyed by
    (id, turn); a row that cannot be split is given back as it is, to be its error row."""
    column = mapping.get(MESSAGES_KEY, MESSAGES_KEY)
    if row.problem is not None or not isinstance(row.data, dict) or column not in row.data:
        yield row
        return
    messages = row.data[column]
    try:
        if isinstance(messages, str):
            messages = json.loads(messages)
        turns = assistant_turns(Conversation.read(messages))
    except (InputError, ValueError) as exc:
        yield replace(row, problem=str(exc))
        return
    if not turns:
        yield replace(row, problem="the conversation has no assistant message to judge")
        return
    for number, index in enumerate(turns, start=1):
        yield replace(row, data={**row.data, column: messages[: index + 1]}, turn=number)


def read_rows(
    path: Path,
    *,
    fmt: str | None = None,
    split: str | None = None,
    mapping: Mapping[str, str] | None = None,
    id_column: str | None = None,
    last_turns: int | None = None,
    per_turn: bool = False,
) -> list[Row]:
    """Every row of a file, held whole (for inputs of a few thousand rows: meta-evaluation,
    the TUI); ids default to the 1-based row number; with `per_turn`, a row per assistant
    turn of each conversation. A row that cannot be read has a `problem` (an error row when
    judged); an id given twice is an `InputError`."""
    source = RowSource(
        path,
        fmt=fmt,
        split=split,
        mapping=mapping,
        id_column=id_column,
        last_turns=last_turns,
        per_turn=per_turn,
    )
    rows: list[Row] = []
    seen: dict[str, Row] = {}
    for row in source.rows():
        if row.key in seen:
            raise InputError(
                f"{path}: id {row.id!r} appears on {seen[row.key].where} and {row.where}"
            )
        seen.setdefault(row.key, row)
        rows.append(row)
    if not rows:
        raise InputError(f"{path} holds no rows: give one JSON object per line")
    return rows
