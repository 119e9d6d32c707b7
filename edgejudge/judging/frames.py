"""A pandas DataFrame or a pyarrow Table judged row by row: `Judge.evaluate_frame`.

Each row gives the judge's metrics their fields (through `map`, as `--map` does for a
file), and the frame comes back with the verdict columns added, in row order: a column
group per metric, named as `edgejudge export` names them (`METRIC.score`,
`METRIC.feedback`, `METRIC.expected_score`, `METRIC.probabilities`, `METRIC.error`…). A row
that cannot be judged (an empty field, a list where text is wanted) fills its metric's
`error` column and the rest go on. Judgments run `slots` at a time, as in `evaluate_many`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from edgejudge.core.rows import every_field, missing_columns
from edgejudge.errors import InputError
from edgejudge.judging.records import column_groups, error_row, result_row, verdict_types
from edgejudge.judging.rows import Row


def evaluate_frame(
    judge: Any,  # a Judge (judge.py imports this module: no import back)
    frame: Any,
    *,
    map: Mapping[str, str] | None = None,  # noqa: A002 - the word the CLI's --map uses
    progress: bool | None = None,
) -> Any:
    """`frame` (a pandas DataFrame or a pyarrow Table) with the verdict columns added."""
    records, columns = _records(frame)
    mapping = dict(map or {})
    absent = missing_columns(columns, every_field(judge.metrics), mapping)
    if absent:
        raise InputError(
            f"the frame has no column for {', '.join(absent)} (its columns: "
            f"{', '.join(columns)}); name the column with map={{FIELD: COLUMN}}"
        )
    rows = [Row(i + 1, i, data=record, mapping=mapping) for i, record in enumerate(records)]
    names = list(judge.judges)
    verdicts: dict[tuple[int, str], dict[str, Any]] = {}
    tasks = [(row, name) for row in rows for name in names]
    with _bar(progress, len(tasks)) as step:
        items = ((row.input_for(judge.judges[name].metric), name) for row, name in tasks)
        for index, outcome in judge.tasks_as_completed(items):
            row, name = tasks[index]
            if isinstance(outcome, BaseException):
                verdicts[row.id, name] = error_row(row.id, outcome, name)
            else:
                verdicts[row.id, name] = result_row(row.id, outcome)
            step()
    groups = column_groups(verdicts.values())
    added = {
        f"{metric}.{key}": [verdicts.get((row.id, metric), {}).get(key) for row in rows]
        for metric, keys in groups.items()
        for key in keys
    }
    return _with_columns(frame, added)


def _records(frame: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """A frame's rows as objects, and its column names."""
    if hasattr(frame, "to_pylist") and hasattr(frame, "schema"):  # a pyarrow Table
        return frame.to_pylist(), list(frame.column_names)
    if hasattr(frame, "to_dict") and hasattr(frame, "columns"):  # a pandas DataFrame
        columns = [str(c) for c in frame.columns]
        records = frame.to_dict(orient="records")
        return [{str(k): v for k, v in r.items()} for r in records], columns
    raise InputError(
        f"evaluate_frame takes a pandas DataFrame or a pyarrow Table, not {type(frame).__name__}"
    )


def _with_columns(frame: Any, added: dict[str, list[Any]]) -> Any:
    """`frame` with `added` as new columns (a copy; the frame given is left as it was)."""
    if hasattr(frame, "append_column"):
        import pyarrow as pa

        types = verdict_types()
        for name, values in added.items():
            kind = types.get(name.rsplit(".", 1)[-1])
            try:
                column = pa.array(values, type=kind)
            except (pa.ArrowException, TypeError, ValueError):
                column = pa.array([_json(v) for v in values], type=pa.string())
            frame = frame.append_column(name, column)
        return frame
    import pandas as pd
    import pyarrow as pa

    # pandas' nullable dtypes keep a score an integer beside the rows that have none.
    nullable = {pa.int64(): "Int64", pa.float64(): "Float64", pa.bool_(): "boolean"}
    types = verdict_types()
    out = frame.copy()
    for name, values in added.items():
        kind = types.get(name.rsplit(".", 1)[-1])
        out[name] = pd.array(values, dtype=nullable[kind]) if kind else values
    return out


def _json(value: Any) -> str | None:
    import json

    return None if value is None else json.dumps(value, ensure_ascii=False)


class _Bar:
    """A rich progress bar on stderr (a terminal or a notebook), or nothing."""

    def __init__(self, shown: bool, total: int) -> None:
        self.progress: Any = None
        if shown:
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True))
            self.task = self.progress.add_task("judging", total=total)

    def __enter__(self) -> Any:
        if self.progress is not None:
            self.progress.start()
        return self.step

    def step(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _bar(progress: bool | None, total: int) -> _Bar:
    """The bar: shown when asked, or (None) where stderr is a terminal or in a notebook."""
    if progress is None:
        progress = sys.stderr.isatty() or "ipykernel" in sys.modules
    return _Bar(bool(progress), total)
