"""The files teams keep their data in, read as a stream of records: JSONL, a JSON array,
CSV / TSV, Parquet, and a Hugging Face dataset saved with `save_to_disk` (a folder).

A `Table` knows its format, its columns where the file declares them (a header, a schema)
and, where that is cheap, its row count; `records()` yields one `Record` at a time, so a
file of a million rows is never held whole: Parquet is read in record batches, a dataset's
Arrow files through a memory map, CSV and JSONL a bounded line at a time. A record that
cannot be read (a line that is not JSON, a CSV line with the wrong number of fields, bytes
that are not UTF-8) carries a `problem` and the rest are still read; a file that is not
what its name says is an `InputError` before any row.

pyarrow reads Parquet and the dataset's Arrow files; CSV and JSONL need nothing beyond the
standard library (a CSV cell is text, as the user wrote it: nothing is guessed as a number).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from edgejudge.errors import InputError
from edgejudge.io.files import (
    MAX_LINE_BYTES,
    bounded_lines,
    decode_utf8,
    open_input,
    parse_json,
    read_bounded,
)
from edgejudge.util.sizes import human_size

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "dataset")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# A dataset saved with `Dataset.save_to_disk` / `DatasetDict.save_to_disk`.
_DATASET_STATE = "state.json"
_DATASET_SPLITS = "dataset_dict.json"
# Rows per Parquet / Arrow batch turned into Python objects at a time.
BATCH_ROWS = 1024
_LONGEST = human_size(MAX_LINE_BYTES)


@dataclass
class Record:
    """One row of a file: its 1-based number (the line it starts on, for a text file), the
    object read, or why it could not be read."""

    number: int
    data: Any = None
    problem: str | None = None
    where: str = field(default="")

    def __post_init__(self) -> None:
        if not self.where:
            self.where = f"row {self.number}"


def detect_format(path: Path, given: str | None = None) -> str:
    """The format to read `path` as: `given` (--format), else a folder is a dataset and a
    file goes by its extension (a name edgejudge does not know, a pipe included, is JSONL,
    as before there were other formats)."""
    if given is not None:
        if given not in FORMATS:
            raise InputError(f"unknown --format {given!r}: choose one of {', '.join(FORMATS)}")
        return given
    if path.is_dir():
        return "dataset"
    return _SUFFIXES.get(path.suffix.lower(), "jsonl")


class Table:
    """A file of rows, opened by format; `columns` and `count` where the file says them."""

    def __init__(self, path: Path, fmt: str | None = None, split: str | None = None) -> None:
        self.path = path
        self.format = detect_format(path, fmt)
        self.split = split
        if split is not None and self.format != "dataset":
            raise InputError(f"--split is for a dataset folder; {path} is read as {self.format}")
        self.columns: tuple[str, ...] | None = None
        self.count: int | None = None
        # Each column's Arrow type, where the file declares one (Parquet, a dataset).
        self.types: dict[str, Any] = {}
        self._files: list[Path] = []
        if self.format == "dataset":
            self._files = dataset_files(path, split)
        self._describe()

    def _describe(self) -> None:
        """Read the columns and row count the file declares (tables only), checking that it
        is the format it claims to be."""
        if self.format in ("csv", "tsv"):
            records = self.records()
            next(records, None)  # the header is read (and checked) on the way to a row
            records.close()
        elif self.format == "parquet":
            with open_input(self.path, what="input file") as handle:
                parquet = _parquet_file(handle, self.path)
                self.columns = tuple(parquet.schema_arrow.names)
                self.types = {f.name: f.type for f in parquet.schema_arrow}
                self.count = parquet.metadata.num_rows
        elif self.format == "dataset":
            count = 0
            for file in self._files:
                schema, rows = _arrow_shape(file)
                self.columns = tuple(schema.names)
                self.types = {f.name: f.type for f in schema}
                count += rows
            self.count = count

    def records(self, columns: list[str] | None = None) -> Generator[Record, None, None]:
        """Every row, in order, one at a time; blank lines are passed over. With `columns`,
        a Parquet or dataset file reads only those (the others are never decoded)."""
        if self.format == "jsonl":
            yield from _jsonl_records(self.path)
        elif self.format == "json":
            yield from _json_records(self.path)
        elif self.format in ("csv", "tsv"):
            yield from self._csv_records("\t" if self.format == "tsv" else ",")
        elif self.format == "parquet":
            yield from _parquet_records(self.path, columns)
        else:
            number = 0
            for file in self._files:
                for row in _arrow_rows(file, columns):
                    number += 1
                    yield Record(number, row)

    def _csv_records(self, delimiter: str) -> Iterator[Record]:
        """A CSV or TSV file's rows as objects keyed by its header (cells are text)."""
        with open_input(self.path, what="input file") as handle:
            long_lines: set[int] = set()
            lines = _text_lines(handle, long_lines)
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            header = self._header(reader)
            end = reader.line_num
            while True:
                start = end + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    end = reader.line_num
                    yield Record(
                        start,
                        problem=f"line {start} is not valid {self.format.upper()}: {exc}",
                        where=f"line {start}",
                    )
                    continue
                end = reader.line_num
                if not cells:
                    continue  # a blank line
                yield self._csv_record(start, end, cells, header, long_lines)

    def _header(self, reader: Any) -> tuple[str, ...]:
        """The first line of a CSV file: its column names, each given once."""
        try:
            header = tuple(next(reader))
        except StopIteration:
            raise InputError(
                f"{self.path} is empty: a CSV file starts with a line of column names"
            ) from None
        except csv.Error as exc:
            raise InputError(
                f"{self.path}: its first line is not {self.format.upper()}: {exc}"
            ) from None
        if any(char < " " and char != "\t" for name in header for char in name):
            raise InputError(
                f"{self.path} is not {self.format.upper()} text: it holds binary bytes (is it "
                "another format? give --format)"
            )
        if any(_not_utf8(name) for name in header):
            raise InputError(f"{self.path} is not UTF-8 text (its header line); save it as UTF-8")
        if any(name.startswith(("{", "[")) for name in header[:1]):
            raise InputError(
                f"{self.path} looks like JSON, not {self.format.upper()}: give "
                "--format json (or jsonl), or rename it"
            )
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated or not all(name.strip() for name in header):
            what = (
                f"names {', '.join(map(repr, repeated))} twice"
                if repeated
                else "has an empty column name"
            )
            raise InputError(f"{self.path}: the header {what}; give each column a name of its own")
        self.columns = header
        return header

    def _csv_record(
        self, start: int, end: int, cells: list[str], header: tuple[str, ...], long: set[int]
    ) -> Record:
        where = f"line {start}"
        if any(start <= line <= end for line in long):
            return Record(start, problem=f"{where} is longer than {_LONGEST}", where=where)
        if len(cells) != len(header):
            return Record(
                start,
                problem=f"{where} has {len(cells)} fields; the header has {len(header)}",
                where=where,
            )
        if any(_not_utf8(cell) for cell in cells):
            return Record(
                start, problem=f"{where} is not UTF-8 text; save the file as UTF-8", where=where
            )
        return Record(start, dict(zip(header, cells, strict=True)), where=where)


def _text_lines(handle: BinaryIO, long_lines: set[int]) -> Iterator[str]:
    """`handle`'s lines as text for the csv module: bytes that are not UTF-8 kept as
    surrogates (the record holding them becomes a problem, not the whole file), a line over
    the bound given as empty and noted in `long_lines`."""
    csv.field_size_limit(MAX_LINE_BYTES)
    for number, raw in enumerate(bounded_lines(handle), start=1):
        if raw is None:
            long_lines.add(number)
            yield "\n"
            continue
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        yield raw.decode("utf-8", errors="surrogateescape")


def _not_utf8(text: str) -> bool:
    """Whether a cell read with `surrogateescape` held bytes that are not UTF-8."""
    return any("\udc80" <= char <= "\udcff" for char in text)


def _jsonl_records(path: Path) -> Iterator[Record]:
    """A JSONL file's lines as records (blank lines passed over)."""
    with open_input(path, what="input file") as handle:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            record = jsonl_record(number, raw)
            if record is not None:
                yield record


def jsonl_record(number: int, raw: bytes | None) -> Record | None:
    """One JSONL line as a record (with a problem if it cannot be read); None if blank."""
    where = f"line {number}"
    if raw is None:
        return Record(number, problem=f"{where} is longer than {_LONGEST}", where=where)
    try:
        line = decode_utf8(raw, where)
    except InputError as exc:
        return Record(number, problem=str(exc), where=where)
    if not line.strip():
        return None
    try:
        return Record(number, parse_json(line), where=where)
    except json.JSONDecodeError as exc:
        return Record(number, problem=f"{where} is not JSON: {exc.msg}", where=where)
    except ValueError as exc:  # a 5,000-digit number, nesting 100,000 deep
        return Record(number, problem=f"{where} cannot be read as JSON: {exc}", where=where)


def _json_records(path: Path) -> Iterator[Record]:
    """A `.json` file: an array of objects (read whole, within the bound), or JSONL under a
    .json name (a file that does not start with `[`)."""
    with open_input(path, what="input file") as handle:
        head = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"["):
        yield from _jsonl_records(path)
        return
    with open_input(path, what="input file") as handle:
        text = decode_utf8(read_bounded(handle, str(path)), str(path))
    try:
        rows = parse_json(text)
    except ValueError as exc:
        raise InputError(
            f"{path} is not JSON ({exc}); give an array of objects, or JSONL"
        ) from None
    for number, row in enumerate(rows, start=1):
        yield Record(number, row, where=f"item {number}")


def _parquet_file(handle: BinaryIO, path: Path) -> Any:
    """`pyarrow.parquet.ParquetFile` over an open file, or an InputError saying it is not
    Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not handle.seekable():
        raise InputError(f"{path}: a Parquet file is read from a file, not a pipe")
    try:
        return pq.ParquetFile(handle)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{path} is not a Parquet file ({_first_line(exc)}); give --format for what it is"
        ) from None


def _parquet_records(path: Path, columns: list[str] | None) -> Iterator[Record]:
    """A Parquet file's rows, `BATCH_ROWS` at a time."""
    import pyarrow as pa

    with open_input(path, what="input file") as handle:
        parquet = _parquet_file(handle, path)
        wanted = _present(columns, parquet.schema_arrow.names)
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
                for row in batch.to_pylist():
                    number += 1
                    yield Record(number, row)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                f"{path}: cannot read row {number + 1} on: {_first_line(exc)}"
            ) from None


def _present(columns: list[str] | None, names: list[str]) -> list[str] | None:
    """The asked-for columns the file has, in its order; None (all of them) where it has
    none of them (a batch of no columns would lose its row count)."""
    found = [name for name in names if name in (columns or ())]
    return found if columns is not None and found else None


def dataset_files(path: Path, split: str | None) -> list[Path]:
    """The Arrow files of a dataset saved with `save_to_disk`: its one split, or `split` of
    a `DatasetDict`. Names read from its JSON files are checked to stay inside `path`."""
    if not path.is_dir():
        raise InputError(f"{path} is not a folder: a dataset is the folder save_to_disk wrote")
    folder = path
    if (path / _DATASET_SPLITS).is_file():
        splits = _json_file(path / _DATASET_SPLITS).get("splits")
        if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
            raise InputError(f"{path / _DATASET_SPLITS} does not list the splits")
        if split is None and len(splits) != 1:
            raise InputError(
                f"{path} holds the splits {', '.join(splits)}: choose one with --split"
            )
        chosen = split if split is not None else splits[0]
        if chosen not in splits:
            raise InputError(f"{path} has no split {chosen!r}; it holds {', '.join(splits)}")
        folder = _inside(path, chosen)
    elif split is not None:
        raise InputError(f"{path} is a dataset of one split: leave out --split {split}")
    state = folder / _DATASET_STATE
    if not state.is_file():
        raise InputError(
            f"{folder} is a folder, not a file, and not a dataset saved with save_to_disk "
            f"(it has no {_DATASET_STATE})"
        )
    found = _json_file(state).get("_data_files")
    if not isinstance(found, list) or not found:
        raise InputError(f"{state} lists no data files")
    names = [item.get("filename") if isinstance(item, dict) else None for item in found]
    if not all(isinstance(name, str) for name in names):
        raise InputError(f"{state}: a data file without a filename")
    return [_inside(folder, str(name)) for name in names]


def _inside(folder: Path, name: str) -> Path:
    """`folder / name`, refused unless it is a plain name that stays inside `folder`."""
    target = folder / name
    if (
        "/" in name
        or "\\" in name
        or name in ("", ".", "..")
        or not target.resolve().is_relative_to(folder.resolve())
    ):
        raise InputError(f"{folder}: {name!r} is not a file name inside the dataset")
    return target


def _json_file(path: Path) -> dict[str, Any]:
    """A small JSON file of a dataset's folder, as an object."""
    with open_input(path) as handle:
        text = decode_utf8(read_bounded(handle, str(path)), str(path))
    try:
        data = parse_json(text)
    except ValueError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object")
    return data


def _arrow_reader(file: Path) -> Any:
    """An Arrow stream reader over a memory map of `file` (what save_to_disk writes)."""
    import pyarrow as pa

    try:
        return pa.ipc.open_stream(pa.memory_map(str(file)))
    except FileNotFoundError:
        raise InputError(f"{file} is missing from the dataset") from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{file} is not an Arrow file ({_first_line(exc)})") from None


def _arrow_shape(file: Path) -> tuple[Any, int]:
    """An Arrow file's schema and row count (its batches are mapped, not read)."""
    reader = _arrow_reader(file)
    return reader.schema, sum(batch.num_rows for batch in reader)


def _arrow_rows(file: Path, columns: list[str] | None) -> Iterator[dict[str, Any]]:
    """An Arrow file's rows, a batch at a time."""
    reader = _arrow_reader(file)
    wanted = _present(columns, reader.schema.names)
    for batch in reader:
        if wanted is not None:
            batch = batch.select(wanted)
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield from batch.slice(start, BATCH_ROWS).to_pylist()


def _first_line(exc: BaseException) -> str:
    """An error's message, its first line only."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
