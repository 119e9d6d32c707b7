"""Judge a JSONL file into a JSONL file, resumably.

Each finished row is appended as one line and flushed at once, so the output is valid after
any interruption (Ctrl-C, a crash, a power cut between rows). Rerunning skips the ids that
are already in the output; a torn last line, the mark of a kill mid-write, is dropped first.
A row that fails becomes an error row (`{"id": …, "error": …}`) and the batch goes on. A
server that dies mid-batch is restarted once and the rows in flight are retried; if it dies
again they become error rows and the batch stops, its unstarted rows left for a rerun.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgejudge.atomic import write_text_atomic
from edgejudge.errors import InputError
from edgejudge.judge import Judge, JudgeResult

ID_KEY = "id"
ERROR_KEY = "error"


@dataclass
class Row:
    """One input line: its id, and the parsed object or why it could not be parsed."""

    line: int
    id: Any
    data: Any = None
    problem: str | None = None

    @property
    def key(self) -> str:
        """The id as a comparable string (ids may be numbers or strings)."""
        return json.dumps(self.id, sort_keys=True)


def read_rows(path: Path) -> list[Row]:
    """Every non-blank line of a JSONL input; ids default to the 1-based line number."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append(Row(number, number, problem=f"line {number} is not JSON: {exc.msg}"))
                continue
            row_id = data.get(ID_KEY, number) if isinstance(data, dict) else number
            row = Row(number, row_id, data=data)
            if row.key in seen:
                raise InputError(
                    f"{path}: id {row_id!r} appears on line {seen[row.key]} and line {number}"
                )
            seen[row.key] = number
            rows.append(row)
    return rows


def finished_keys(path: Path, *, retry_errors: bool = False) -> set[str]:
    """Ids already in the output; repairs a torn last line and drops error rows if asked."""
    if not path.exists():
        return set()
    kept: list[str] = []
    keys: set[str] = set()
    changed = False
    with path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
    for index, line in enumerate(lines):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if index == len(lines) - 1:  # torn by a kill mid-write: the row is redone
                changed = True
                continue
            raise InputError(
                f"{path} line {index + 1} is not JSON; is it an edgejudge output?"
            ) from None
        if not isinstance(data, dict) or ID_KEY not in data:
            raise InputError(f"{path} line {index + 1} has no id; is it an edgejudge output?")
        if retry_errors and ERROR_KEY in data:
            changed = True
            continue
        keys.add(json.dumps(data[ID_KEY], sort_keys=True))
        kept.append(line if line.endswith("\n") else line + "\n")
    if changed:
        write_text_atomic(path, "".join(kept))
    return keys


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """The rows an output file holds so far, by id key, without changing the file.

    Lines that are not JSON objects with an id (a torn last line) are passed over.
    """
    found: dict[str, dict[str, Any]] = {}
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return found
    with handle:
        for line in handle:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and ID_KEY in data:
                found[json.dumps(data[ID_KEY], sort_keys=True)] = data
    return found


def result_row(row_id: Any, result: JudgeResult) -> dict[str, Any]:
    """The output line for a verdict."""
    return {ID_KEY: row_id, **result.to_dict()}


def error_row(row_id: Any, error: BaseException) -> dict[str, Any]:
    """The output line for a row that failed."""
    return {ID_KEY: row_id, ERROR_KEY: str(error), "error_type": type(error).__name__}


def plan(rows: list[Row], out_path: Path, *, retry_errors: bool = False) -> list[Row]:
    """The rows a run still has to judge: those whose id is not yet in `out_path`."""
    done = finished_keys(out_path, retry_errors=retry_errors)
    return [row for row in rows if row.key not in done]


def run_batch(judge: Judge, todo: list[Row], out_path: Path) -> Iterator[dict[str, Any]]:
    """Judge `todo`, appending each outcome to `out_path` as it finishes; yields each row.

    A server runtime with N slots keeps N rows in flight, so rows land in the order they
    finish, which is input order with one slot.
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    inputs = (InputError(row.problem) if row.problem is not None else row.data for row in todo)
    with out_path.open("a", encoding="utf-8") as out:
        for index, outcome in judge.evaluate_as_completed(inputs):
            row = todo[index]
            if isinstance(outcome, JudgeResult):
                record = result_row(row.id, outcome)
            else:
                record = error_row(row.id, outcome)
            # One write of one whole line, then flush: the file is valid after any stop.
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            yield record
