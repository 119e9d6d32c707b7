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

from collections.abc import Container, Generator, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from edgejudge.core.formats.base import DECISION_KINDS
from edgejudge.core.inputs import ID_KEY
from edgejudge.io.files import (
    JsonlAppender,
    output_lock,
    output_target,
)

# Output lines are made in judging/records.py, read back in judging/journal.py, and rows
# read in judging/rows.py; batch's callers find them here too.
from edgejudge.judging.journal import Done as Done
from edgejudge.judging.journal import DoneKeys as DoneKeys
from edgejudge.judging.journal import done_key as done_key
from edgejudge.judging.journal import finished_keys as finished_keys
from edgejudge.judging.journal import read_records as read_records
from edgejudge.judging.journal import read_results as read_results
from edgejudge.judging.judge import Judge
from edgejudge.judging.pairs import PairResult
from edgejudge.judging.records import ERROR_KEY as ERROR_KEY
from edgejudge.judging.records import METRIC_KEY as METRIC_KEY
from edgejudge.judging.records import TURN_KEY
from edgejudge.judging.records import error_row as error_row
from edgejudge.judging.records import pair_row as pair_row
from edgejudge.judging.records import result_row as result_row
from edgejudge.judging.result import JudgeResult
from edgejudge.judging.rows import Row as Row
from edgejudge.judging.rows import id_key as id_key
from edgejudge.judging.rows import read_rows as read_rows

ANSWER_KEY = "response"


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


def turn_summary(records: Iterable[dict[str, Any]]) -> str | None:
    """For a `--per-turn` output: each metric's conversations, the mean of each one's
    turn scores, and the worst turn (`conversations: 3 · mean 3.42 · worst turn: 'run-2'
    turn 3, score 1`); None when no turn has a score."""
    by: dict[str, dict[str, list[tuple[int, int, Any]]]] = {}
    for record in records:
        score, turn = record.get("score"), record.get(TURN_KEY)
        if isinstance(score, int) and isinstance(turn, int):
            chats = by.setdefault(str(record.get(METRIC_KEY, "")), {})
            chats.setdefault(id_key(record[ID_KEY]), []).append((score, turn, record[ID_KEY]))
    parts = []
    for metric, chats in by.items():
        means = [sum(s for s, _, _ in turns) / len(turns) for turns in chats.values()]
        score, turn, row_id = min(
            (found for turns in chats.values() for found in turns), key=lambda f: f[:2]
        )
        parts.append(
            f"{metric}: {len(chats)} conversations · mean {sum(means) / len(means):.2f} · "
            f"worst turn: {row_id!r} turn {turn}, score {score}"
        )
    return "; ".join(parts) or None


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
        # What the file held when the run began. A row written now is not added: a run
        # never meets an id twice (the rows are checked first), and a million rows' keys
        # would be held for nothing.
        self.done = DoneKeys()
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
        return list(self.waiting(rows, metrics))

    def waiting(self, rows: Iterable[Row], metrics: Iterable[str] = ()) -> Iterator[Row]:
        """`pending` as `rows` are read, for a stream of rows never held whole."""
        names = list(metrics)
        if not names:
            ids = self.done.ids()
            return (row for row in rows if row.key not in ids)
        return (row for row in rows if not all(self.has(row, name) for name in names))

    def missing(self, row: Row, metrics: Iterable[str]) -> int:
        """How many of `metrics` the file does not hold for `row`."""
        return sum(not self.has(row, name) for name in metrics)

    def pending_pairs(
        self,
        rows: Iterable[Row],
        metrics: Iterable[str],
        wanted: Container[tuple[Any, str]] | None = None,
    ) -> list[tuple[Row, str]]:
        """The (row, metric) pairs this run still has to judge: not in the file, and, with
        `wanted`, among its (row key, metric name) pairs."""
        return list(self.waiting_pairs(rows, metrics, wanted))

    def waiting_pairs(
        self,
        rows: Iterable[Row],
        metrics: Iterable[str],
        wanted: Container[tuple[Any, str]] | None = None,
    ) -> Iterator[tuple[Row, str]]:
        """`pending_pairs` as `rows` are read."""
        names = list(metrics)
        return (
            (row, name)
            for row in rows
            for name in names
            if not self.has(row, name) and (wanted is None or (row.key, name) in wanted)
        )

    def append(self, record: dict[str, Any]) -> None:
        """Write one finished row as a whole line (see `JsonlAppender`)."""
        if self._sink is None:
            raise RuntimeError("BatchOutput.append outside its `with` block")
        self._sink.append(record)


def run_batch(
    judge: Judge,
    todo: Iterable[Row],
    output: BatchOutput,
    *,
    swap: bool = True,
    names: tuple[str, str] | None = None,
    wanted: Container[tuple[Any, str]] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Judge `todo`, appending each outcome to `output` as it finishes; yields each row.

    `todo` is read as the judge takes rows (a stream: only the rows in flight are held).
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
    started: dict[int, Row] = {}

    def inputs() -> Iterator[Any]:
        for index, row in enumerate(todo):
            started[index] = row
            yield row.input_for(judge.metric)

    outcomes: Generator[tuple[int, Any], None, None] = (
        judge.compare_as_completed(inputs(), swap=swap)
        if judge.pairwise
        else judge.evaluate_as_completed(inputs())
    )
    identity = judge.identity()
    try:
        for index, outcome in outcomes:
            row = started.pop(index)
            if isinstance(outcome, JudgeResult):
                record = result_row(row.id, outcome, row.turn, identity)
            elif isinstance(outcome, PairResult):
                record = pair_row(row.id, outcome, names, identity)
            else:
                record = error_row(row.id, outcome, judge.metric.name, row.turn)
            output.append(record)
            yield record
    finally:
        outcomes.close()


def _run_metrics(
    judge: Judge,
    todo: Iterable[Row],
    output: BatchOutput,
    wanted: Container[tuple[Any, str]] | None,
) -> Generator[dict[str, Any], None, None]:
    """`run_batch` for a judge with several metrics: one line per (row, metric)."""
    started: dict[int, tuple[Row, str]] = {}

    def items() -> Iterator[tuple[Any, str]]:
        for index, (row, name) in enumerate(output.waiting_pairs(todo, judge.judges, wanted)):
            started[index] = (row, name)
            yield row.input_for(judge.judges[name].metric), name

    identities = {name: one.identity() for name, one in judge.judges.items()}
    outcomes = judge.tasks_as_completed(items())
    try:
        for index, outcome in outcomes:
            row, name = started.pop(index)
            if isinstance(outcome, JudgeResult):
                record = result_row(row.id, outcome, row.turn, identities[name])
            else:
                record = error_row(row.id, outcome, name, row.turn)
            output.append(record)
            yield record
    finally:
        outcomes.close()
