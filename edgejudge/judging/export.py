"""A batch's inputs joined with their verdicts: one table, a column group per metric.

Each input row keeps its columns as they are in its file; each metric the verdicts hold
adds `METRIC.score` (or `.label`, `.choice`, a pair's `.verdict`), `.feedback`,
`.expected_score`, `.probabilities`, `.error`… A row with no verdict for a metric has those
cells empty. Rows come in the input's order, read as a stream and written atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgejudge.errors import InputError
from edgejudge.io.writers import export_format, write_table
from edgejudge.judging import batch
from edgejudge.judging.records import TURN_KEY, UNNAMED, column_groups, verdict_types
from edgejudge.judging.rows import RowSource


def export_verdicts(source: RowSource, verdicts: Path, to: Path) -> tuple[int, list[str]]:
    """Write `source`'s rows joined with the verdicts in the JSONL file `verdicts` to `to`
    (.parquet, .csv, .tsv or .jsonl by its extension); (rows written, metrics)."""
    export_format(to)  # a name it cannot write is refused before anything is read
    records = batch.read_records(verdicts)
    if not records:
        raise InputError(f"{verdicts} holds no verdicts: give the file `edgejudge batch` wrote")
    groups = column_groups(records.values())
    inputs = _input_columns(source)
    lead = [] if source.id_column in inputs else [source.id_column]
    lead += [TURN_KEY] if source.per_turn else []
    columns = [*lead, *inputs] + [f"{m}.{k}" for m, ks in groups.items() for k in ks]
    types = dict(source.table.types)
    if to.suffix.lower() == ".parquet":
        kinds = verdict_types()
        for name, found_keys in groups.items():
            types.update({f"{name}.{k}": kinds[k] for k in found_keys if k in kinds})
    rows = _joined(source, records, groups, lead)
    written = write_table(to, columns, rows, types=types, inputs=[source.path, verdicts])
    return written, list(groups)


def _input_columns(source: RowSource) -> list[str]:
    """The input's columns: a table's header or schema, or every key its JSON rows use."""
    if source.table.columns is not None:
        return list(source.table.columns)
    names: dict[str, None] = {}
    for row in source.rows():
        if isinstance(row.data, dict):
            names.update(dict.fromkeys(row.data))
    return list(names)


def _joined(
    source: RowSource,
    records: dict[batch.Done, dict[str, Any]],
    groups: dict[str, list[str]],
    lead: list[str],
) -> Iterator[dict[str, Any]]:
    for row in source.rows():
        out: dict[str, Any] = (
            dict(row.data) if isinstance(row.data, dict) else {source.id_column: row.id}
        )
        for name in lead:
            out[name] = row.turn if name == TURN_KEY else row.id
        for metric, found in groups.items():
            record = records.get((row.key, None if metric == UNNAMED else metric))
            if record is None:
                record = records.get((row.key, None), {})
            out.update({f"{metric}.{k}": record.get(k) for k in found})
        yield out
