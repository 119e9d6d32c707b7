"""Write rows of a table to `.jsonl`, `.csv` / `.tsv` or `.parquet`, whole or not at all.

Rows come as a stream of objects over known columns and are written a chunk at a time into
a temporary file beside the target, renamed over it at the end (`atomic_file`): an
interrupted export leaves the old file, or none. JSONL keeps nested values (a verdict's
probabilities) as JSON; CSV and Parquet hold them as JSON text. Parquet columns take the
types given (`types`: an Arrow type per column), else text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from edgejudge.errors import InputError
from edgejudge.io.atomic import atomic_file

EXPORT_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
_CHUNK = 1024


def export_format(path: Path) -> str:
    """The format an export is written in, from its extension."""
    found = EXPORT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise InputError(
            f"cannot tell what to write from the name {path.name}: end it in "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    return found


def write_table(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    types: Mapping[str, Any] | None = None,
    inputs: Iterable[Path] = (),
) -> int:
    """Write `rows` (each holding some of `columns`) to `path` in the format its extension
    names, atomically; the number of rows written."""
    fmt = export_format(path)
    with atomic_file(path, inputs) as temporary:
        if fmt == "jsonl":
            return _write_jsonl(temporary, columns, rows)
        if fmt == "parquet":
            return _write_parquet(temporary, columns, rows, types or {})
        return _write_csv(temporary, columns, rows, "\t" if fmt == "tsv" else ",")


def _write_jsonl(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {name: row[name] for name in columns if name in row}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _write_csv(
    path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]], delimiter: str
) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text(row.get(name)) for name in columns])
            count += 1
    return count


def _text(value: Any) -> Any:
    """A cell for CSV: text as it is, a nested value as JSON, None as an empty cell."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def _write_parquet(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    types: Mapping[str, Any],
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(name, types.get(name, pa.string())) for name in columns])
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for chunk in _chunks(rows):
            arrays = [
                pa.array(
                    [_cell(row.get(name), schema.field(name).type) for row in chunk],
                    type=schema.field(name).type,
                )
                for name in columns
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(chunk)
    return count


def _cell(value: Any, kind: Any) -> Any:
    """A value for a Parquet column of type `kind`: text columns take other values as JSON
    text (a number as its digits)."""
    import pyarrow as pa

    if value is None or not pa.types.is_string(kind) or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _chunks(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    found = iter(rows)
    while chunk := list(islice(found, _CHUNK)):
        yield chunk
