"""Judge a JSONL file into a JSONL file, resumably.

Each finished row is appended as one line in one write, so the output is valid after any
interruption (Ctrl-C, kill -9, a power cut between rows); a write that a full disk cuts short
is taken back off the file. Rerunning skips the judgments already in the output, keyed by
(id, metric): a batch with several metrics resumes each row's missing metrics; a torn last
line, the mark of a kill mid-write, is dropped first. A run holds a lock beside its
output (`BatchOutput`), so two runs never write one file. A row that fails, or an input line
that cannot be a row, becomes an error row (`{"id": …, "error": …}`) and the batch goes on. A
server that dies mid-batch is restarted once and the rows in flight are retried; if it dies
again they become error rows and the batch stops, its unstarted rows left for a rerun.
"""

from __future__ import annotations

import json
from collections.abc import Container, Generator, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from edgejudge.core.formats.base import DECISION_KINDS
from edgejudge.core.inputs import ID_KEY
from edgejudge.errors import InputError, OutputError
from edgejudge.io.atomic import write_text_atomic
from edgejudge.io.files import (
    MAX_LINE_BYTES,
    JsonlAppender,
    bounded_lines,
    decode_utf8,
    open_input,
    output_lock,
    output_target,
    parse_json,
)
from edgejudge.judging.judge import Judge
from edgejudge.judging.pairs import PairResult
from edgejudge.judging.result import JudgeResult
from edgejudge.util.sizes import human_size

ERROR_KEY = "error"
METRIC_KEY = "metric"
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    float: "a number with a fraction",
    bool: "true or false",
    type(None): "null",
}


def id_key(row_id: Any) -> str:
    """An id as a comparable string: ids may be strings or integers, and "1" is not 1."""
    return json.dumps(row_id, sort_keys=True)


# A judgment in an output: its row's id key and its metric (None: an output line that names
# no metric, from before several metrics were judged at once; it stands for every metric).
Done = tuple[str, str | None]


def done_key(record: dict[str, Any]) -> Done:
    """What an output line records as judged."""
    metric = record.get(METRIC_KEY)
    return id_key(record[ID_KEY]), metric if isinstance(metric, str) else None


@dataclass
class Row:
    """One input line: its id, and the parsed object or why it could not be parsed."""

    line: int
    id: Any
    data: Any = None
    problem: str | None = None

    @property
    def key(self) -> str:
        """The id as a comparable string (see `id_key`)."""
        return id_key(self.id)


def read_rows(path: Path) -> list[Row]:
    """Every non-blank line of a JSONL input; ids default to the 1-based line number.

    A line that is not UTF-8, not JSON, or whose id is neither a string nor an integer
    becomes a row with a `problem` (an error row when judged), keyed by its line number.
    """
    rows: list[Row] = []
    seen: dict[str, int] = {}
    with open_input(path, what="input file") as handle:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            row = _parse_line(number, raw)
            if row is None:
                continue
            if row.key in seen:
                raise InputError(
                    f"{path}: id {row.id!r} appears on line {seen[row.key]} and line {number}"
                )
            seen[row.key] = number
            rows.append(row)
    if not rows:
        raise InputError(f"{path} holds no rows: give one JSON object per line")
    return rows


def _parse_line(number: int, raw: bytes | None) -> Row | None:
    """One input line as a row (with a problem if it is not a usable object); None if blank."""
    if raw is None:
        return Row(number, number, problem=f"line {number} is longer than {_LONGEST}")
    try:
        line = decode_utf8(raw, f"line {number}")
    except InputError as exc:
        return Row(number, number, problem=str(exc))
    if not line.strip():
        return None
    try:
        data = parse_json(line)
    except json.JSONDecodeError as exc:
        return Row(number, number, problem=f"line {number} is not JSON: {exc.msg}")
    except ValueError as exc:  # a 5,000-digit number, nesting 100,000 deep
        return Row(number, number, problem=f"line {number} cannot be read as JSON: {exc}")
    if not isinstance(data, dict) or ID_KEY not in data:
        return Row(number, number, data=data)
    row_id = data[ID_KEY]
    if isinstance(row_id, bool) or not isinstance(row_id, (str, int)):
        kind = _JSON_TYPES.get(type(row_id), type(row_id).__name__)
        return Row(
            number,
            number,
            problem=f"line {number}: the id must be a string or an integer, not {kind}",
        )
    return Row(number, row_id, data=data)


ANSWER_KEY = "response"
_LONGEST = human_size(MAX_LINE_BYTES)


def joined_pairs(a_path: Path, b_path: Path, inputs: tuple[str, ...]) -> list[Row]:
    """Pairs from two JSONL files of answers, one per system, joined by id: each row's
    `response` is its system's answer, and the metric's `inputs` come from either file (both
    must agree where both give one). An id in one file only, or a row that is not a usable
    object, becomes a row with a `problem` (an error row when judged); A's order is kept,
    then B's ids that A lacks."""
    sides = [{row.key: row for row in read_rows(path)} for path in (a_path, b_path)]
    keys = list(sides[0]) + [key for key in sides[1] if key not in sides[0]]
    rows = []
    for number, key in enumerate(keys, start=1):
        found = [side.get(key) for side in sides]
        row_id = next(row.id for row in found if row is not None)
        rows.append(_joined(number, row_id, found, (a_path, b_path), inputs))
    return rows


def _joined(
    number: int,
    row_id: Any,
    found: list[Row | None],
    paths: tuple[Path, Path],
    inputs: tuple[str, ...],
) -> Row:
    """One pair from its id's row in each file, or a row saying what is wrong."""
    pair: dict[str, Any] = {ID_KEY: row_id}
    for side, row, path in zip(("a", "b"), found, paths, strict=True):
        if row is None:
            return Row(number, row_id, problem=f"id {row_id!r} has no answer in {path}")
        if row.problem is not None:
            return Row(number, row_id, problem=f"{path}: {row.problem}")
        if not isinstance(row.data, dict) or ANSWER_KEY not in row.data:
            return Row(number, row_id, problem=f"{path} line {row.line} has no {ANSWER_KEY!r} key")
        pair[f"response_{side}"] = row.data[ANSWER_KEY]
        for name in inputs:
            if name not in row.data:
                continue
            if name in pair and pair[name] != row.data[name]:
                return Row(
                    number, row_id, problem=f"the two files give different {name!r} for this id"
                )
            pair[name] = row.data[name]
    return Row(number, row_id, data=pair)


def finished_keys(path: Path, *, retry_errors: bool = False) -> set[Done]:
    """Judgments already in the output; repairs a torn last line and drops error rows if
    asked."""
    if not path.exists():
        return set()
    with open_input(path, lambda text: OutputError(text, str(path), exit_code=2)) as handle:
        lines = list(bounded_lines(handle))
    kept: list[bytes] = []
    keys: set[Done] = set()
    changed = False
    for index, raw in enumerate(lines):
        data = _output_line(raw)
        if raw is None or data is None:
            if index == len(lines) - 1:  # torn by a kill mid-write: the row is redone
                changed = True
                continue
            raise InputError(
                f"{path} line {index + 1} is not a JSON object with an id; "
                "is it an edgejudge output?"
            )
        if retry_errors and ERROR_KEY in data:
            changed = True
            continue
        keys.add(done_key(data))
        if not raw.endswith(b"\n"):  # the next row must start on a line of its own
            raw, changed = raw + b"\n", True
        kept.append(raw)
    if changed:
        write_text_atomic(path, b"".join(kept).decode("utf-8"))
    return keys


def _output_line(raw: bytes | None) -> dict[str, Any] | None:
    """An output line as a row with an id, or None if it is not one (torn, foreign, or over
    the line bound: None from `bounded_lines`)."""
    if raw is None:
        return None
    try:
        data = parse_json(raw.decode("utf-8"))
    except ValueError:  # not UTF-8, not JSON, or a number or nesting no one writes
        return None
    return data if isinstance(data, dict) and ID_KEY in data else None


def read_records(path: Path) -> dict[Done, dict[str, Any]]:
    """The rows an output file holds so far, by (id key, metric), without changing the file.

    Lines that are not JSON objects with an id (a torn last line) are passed over; a file
    that cannot be read (missing, a folder) holds nothing yet.
    """
    found: dict[Done, dict[str, Any]] = {}
    try:
        handle = open_input(path)
    except InputError:
        return found
    with handle:
        for raw in bounded_lines(handle):
            data = _output_line(raw)
            if data is not None:
                found[done_key(data)] = data
    return found


def read_results(path: Path, metric: str | None = None) -> dict[str, dict[str, Any]]:
    """The rows an output file holds so far, by id key: those of `metric` (and rows that
    name none), or with None every row (one per id where the file holds one metric)."""
    return {
        key: data
        for (key, named), data in read_records(path).items()
        if metric is None or named in (metric, None)
    }


def result_row(row_id: Any, result: JudgeResult) -> dict[str, Any]:
    """The output line for a verdict."""
    return {ID_KEY: row_id, **result.to_dict()}


def pair_row(row_id: Any, result: PairResult, names: tuple[str, str] | None) -> dict[str, Any]:
    """The output line for a pairwise verdict (`winner` names a system, given `names`)."""
    return {ID_KEY: row_id, **result.to_dict(names)}


def row_decision(record: dict[str, Any]) -> int | str | None:
    """A result row's decision: its `score`, `label` or `choice`, or a pair's `verdict`;
    None for an error row."""
    if isinstance(record.get("verdict"), str):
        return str(record["verdict"])
    for kind in DECISION_KINDS:
        if kind in record:
            value = record[kind]
            return value if isinstance(value, int | str) else str(value)
    return None


def summaries(records: Iterable[dict[str, Any]]) -> str | None:
    """`summary` for each metric in the records, `metric: …; metric: …` where they name
    more than one; None when no row has a score."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_metric.setdefault(str(record.get(METRIC_KEY, "")), []).append(record)
    parts = [(name, summary(found)) for name, found in by_metric.items()]
    named = [(name, text) for name, text in parts if text]
    if len(by_metric) < 2:
        return named[0][1] if named else None
    return "; ".join(f"{name}: {text}" for name, text in named) or None


def summary(records: Iterable[dict[str, Any]]) -> str | None:
    """`mean score 3.40 · mean expected score 3.21 (20 rows)` over the rows with a score
    (the expected score over those that have one); None when no row has a score."""
    scored = [r for r in records if isinstance(r.get("score"), int)]
    if not scored:
        return None
    text = f"mean score {sum(r['score'] for r in scored) / len(scored):.2f}"
    expected = [r["expected_score"] for r in scored if isinstance(r.get("expected_score"), float)]
    if expected:
        text += f" · mean expected score {sum(expected) / len(expected):.2f}"
    return f"{text} ({len(scored)} rows)"


def error_row(row_id: Any, error: BaseException, metric: str | None = None) -> dict[str, Any]:
    """The output line for a row that failed (on `metric`, where named)."""
    record = {ID_KEY: row_id, ERROR_KEY: str(error), "error_type": type(error).__name__}
    return record if metric is None else {ID_KEY: row_id, METRIC_KEY: metric, **record}


class BatchOutput:
    """A batch's output file, held for one run: locked, repaired, open for appending.

    Entering refuses an output that is a special file or one of `inputs` (`output_target`),
    takes the lock beside the file (a second run on the same file fails at once
    with `OutputBusyError`), drops a torn last line (and, with `retry_errors`, the error
    rows) and opens the file for whole-line appends; leaving closes it and frees the lock.
    """

    def __init__(
        self, path: Path, *, retry_errors: bool = False, inputs: Iterable[Path] = ()
    ) -> None:
        self.path = path
        self.retry_errors = retry_errors
        self.inputs = list(inputs)
        self.done: set[Done] = set()
        self._sink: JsonlAppender | None = None
        self._stack = ExitStack()

    def __enter__(self) -> BatchOutput:
        # A link is followed (its target is written, lock beside it); a special file, or
        # one of the run's inputs under another name, is refused before anything is opened.
        target = output_target(self.path, self.inputs)
        with ExitStack() as stack:
            stack.enter_context(output_lock(target))
            self.done = finished_keys(target, retry_errors=self.retry_errors)
            self._sink = JsonlAppender(target)
            stack.callback(self._sink.close)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def written(self) -> int:
        """Rows appended in this run."""
        return self._sink.lines if self._sink is not None else 0

    def has(self, row: Row, metric: str) -> bool:
        """Whether the file holds `row` judged on `metric`."""
        return (row.key, metric) in self.done or (row.key, None) in self.done

    def pending(self, rows: Iterable[Row], metrics: Iterable[str] = ()) -> list[Row]:
        """The rows this run still has to judge: those not in the file on every one of
        `metrics` (with none named: those whose id is not in the file at all)."""
        names = list(metrics)
        if not names:
            ids = {key for key, _ in self.done}
            return [row for row in rows if row.key not in ids]
        return [row for row in rows if not all(self.has(row, name) for name in names)]

    def pending_pairs(
        self,
        rows: Iterable[Row],
        metrics: Iterable[str],
        wanted: Container[tuple[Any, str]] | None = None,
    ) -> list[tuple[Row, str]]:
        """The (row, metric) pairs this run still has to judge: not in the file, and, with
        `wanted`, among its (row key, metric name) pairs."""
        names = list(metrics)
        return [
            (row, name)
            for row in rows
            for name in names
            if not self.has(row, name) and (wanted is None or (row.key, name) in wanted)
        ]

    def append(self, record: dict[str, Any]) -> None:
        """Write one finished row as a whole line (see `JsonlAppender`)."""
        if self._sink is None:
            raise RuntimeError("BatchOutput.append outside its `with` block")
        self._sink.append(record)
        self.done.add(done_key(record))


def run_batch(
    judge: Judge,
    todo: list[Row],
    output: BatchOutput,
    *,
    swap: bool = True,
    names: tuple[str, str] | None = None,
    wanted: Container[tuple[Any, str]] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Judge `todo`, appending each outcome to `output` as it finishes; yields each row.

    A server runtime with N slots keeps N rows in flight, so rows land in the order they
    finish, which is input order with one slot. However it stops (a row that cannot be
    written, the caller leaving the loop, Ctrl-C), the judgments in flight are stopped and
    their threads joined before the error goes on: nothing is still generating (or writing
    to the terminal) while the caller reports it, and the model can be freed safely. Callers
    that may leave the loop early close this generator (`contextlib.closing`) for the same.

    A pairwise judge compares each row's pair, in both orders unless `swap` is False;
    `names` are the systems A and B stand for, written as each row's `winner`. A judge with
    several metrics judges each row on each metric the output does not hold yet, a row's
    metrics one after another (the head their prompts share is then evaluated once), one
    output line each; with `wanted`, only the (row key, metric name) pairs it holds.
    """
    if len(judge.judges) > 1:
        yield from _run_metrics(judge, todo, output, wanted)
        return
    inputs = (InputError(row.problem) if row.problem is not None else row.data for row in todo)
    outcomes: Generator[tuple[int, Any], None, None] = (
        judge.compare_as_completed(inputs, swap=swap)
        if judge.pairwise
        else judge.evaluate_as_completed(inputs)
    )
    try:
        for index, outcome in outcomes:
            row = todo[index]
            if isinstance(outcome, JudgeResult):
                record = result_row(row.id, outcome)
            elif isinstance(outcome, PairResult):
                record = pair_row(row.id, outcome, names)
            else:
                record = error_row(row.id, outcome, judge.metric.name)
            output.append(record)
            yield record
    finally:
        outcomes.close()


def _run_metrics(
    judge: Judge, todo: list[Row], output: BatchOutput, wanted: Container[tuple[Any, str]] | None
) -> Generator[dict[str, Any], None, None]:
    """`run_batch` for a judge with several metrics: one line per (row, metric)."""
    tasks = output.pending_pairs(todo, judge.judges, wanted)
    items = (
        (InputError(row.problem) if row.problem is not None else row.data, name)
        for row, name in tasks
    )
    outcomes = judge.tasks_as_completed(items)
    try:
        for index, outcome in outcomes:
            row, name = tasks[index]
            if isinstance(outcome, JudgeResult):
                record = result_row(row.id, outcome)
            else:
                record = error_row(row.id, outcome, name)
            output.append(record)
            yield record
    finally:
        outcomes.close()
