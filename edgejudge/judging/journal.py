"""The journal a batch writes (OUT.jsonl), read back: which (id, metric) judgments it
holds, the rows themselves, and the repair a kill leaves for (a torn last line dropped;
error rows dropped to judge them again). Every read streams the file a line at a time, so a
journal of a million rows costs its keys, not its text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from edgejudge.core.inputs import ID_KEY
from edgejudge.errors import InputError, OutputError
from edgejudge.io.atomic import atomic_file
from edgejudge.io.files import bounded_lines, open_input, parse_json
from edgejudge.judging.records import ERROR_KEY, METRIC_KEY, TURN_KEY
from edgejudge.judging.rows import id_key, turn_key

T = TypeVar("T")

# A judgment in an output: its row's id key and its metric (None: an output line that names
# no metric, from before several metrics were judged at once; it stands for every metric).
Done = tuple[str, str | None]


def done_key(record: dict[str, Any]) -> Done:
    """What an output line records as judged: its row's key (with its `turn`, for a line
    `--per-turn` wrote) and its metric."""
    metric = record.get(METRIC_KEY)
    key = turn_key(id_key(record[ID_KEY]), record.get(TURN_KEY))
    return key, metric if isinstance(metric, str) else None


def finished_keys(path: Path, *, retry_errors: bool = False) -> DoneKeys:
    """Judgments already in the output, read a line at a time; repairs a torn last line and
    drops error rows if asked (the file rewritten, streamed, only then)."""
    keys = DoneKeys()
    if not path.exists():
        return keys
    changed = False
    with _open_output(path) as handle:
        for index, raw, last in _with_last(bounded_lines(handle)):
            data = _output_line(raw)
            if raw is None or data is None:
                if last:  # torn by a kill mid-write: the row is redone
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
            changed = changed or not raw.endswith(b"\n")  # the next row needs a line of its own
    if changed:
        _rewrite(path, retry_errors=retry_errors)
    return keys


def _open_output(path: Path) -> BinaryIO:
    return open_input(path, lambda text: OutputError(text, str(path), exit_code=2))


def _with_last(items: Iterable[T]) -> Iterator[tuple[int, T, bool]]:
    """(index, item, whether it is the last) for each item."""
    found = iter(items)
    try:
        previous = next(found)
    except StopIteration:
        return
    index = 0
    for item in found:
        yield index, previous, False
        previous, index = item, index + 1
    yield index, previous, True


def _rewrite(path: Path, *, retry_errors: bool) -> None:
    """The output again without a torn last line (and its error rows, with `retry_errors`),
    every line ending in a newline: streamed to a temporary file renamed over it."""
    with atomic_file(path) as temporary, _open_output(path) as handle:
        with temporary.open("wb") as sink:
            for raw in bounded_lines(handle):
                data = _output_line(raw)
                if raw is None or data is None or (retry_errors and ERROR_KEY in data):
                    continue
                sink.write(raw if raw.endswith(b"\n") else raw + b"\n")


class DoneKeys:
    """The (id key, metric) pairs an output holds, kept as one set of id keys per metric
    (a metric of None: a line that names none, from before rows named their metric): a
    million rows' keys in about 100 MB, where a set of pairs takes half as much again."""

    def __init__(self, pairs: Iterable[Done] = ()) -> None:
        self._by: dict[str | None, set[str]] = {}
        for pair in pairs:
            self.add(pair)

    def add(self, pair: Done) -> None:
        """Record one judgment."""
        key, metric = pair
        self._by.setdefault(metric, set()).add(key)

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        keys = self._by.get(pair[1])
        return keys is not None and pair[0] in keys

    def __iter__(self) -> Iterator[Done]:
        for metric, keys in self._by.items():
            for key in keys:
                yield key, metric

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._by.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DoneKeys | set | frozenset):
            return set(self) == set(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def ids(self) -> set[str]:
        """The id keys with any judgment."""
        return set().union(*self._by.values())


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


def read_journal(path: Path) -> dict[Done, dict[str, Any]]:
    """A whole journal, strictly, for reading a finished run: by (id key, metric). A torn
    last line (a kill mid-write: no newline at its end) is passed over, as `batch` passes
    over it; any other line that is not a verdict row is an `InputError` naming it, as is a
    file with no verdicts."""
    found: dict[Done, dict[str, Any]] = {}
    with open_input(path) as handle:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            if raw is not None and not raw.strip():
                continue
            data = _output_line(raw)
            if data is not None:
                found[done_key(data)] = data
            elif raw is None or raw.endswith(b"\n"):
                raise InputError(
                    f"{path}: line {number} is not a verdict row (a JSON object with an id): "
                    "give a journal `edgejudge batch` wrote"
                )
    if not found:
        raise InputError(f"{path} holds no verdicts: give a journal `edgejudge batch` wrote")
    return found


def read_results(path: Path, metric: str | None = None) -> dict[str, dict[str, Any]]:
    """The rows an output file holds so far, by id key: those of `metric` (and rows that
    name none), or with None every row (one per id where the file holds one metric)."""
    return {
        key: data
        for (key, named), data in read_records(path).items()
        if metric is None or named in (metric, None)
    }
