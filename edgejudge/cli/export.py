"""`edgejudge export`: a batch's inputs joined with its verdicts, as Parquet, CSV or JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgejudge.cli import args


def add_command(commands: Any) -> None:
    """Add `export` to the main parser's subcommands."""
    export = commands.add_parser(
        "export",
        help="join a batch's inputs with its verdicts into one Parquet, CSV or JSONL table",
        description="Write IN's rows, each with its columns as they are, joined by id with "
        "the verdicts in VERDICTS.jsonl (what `edgejudge batch` wrote): one column group per "
        "metric, METRIC.score (or .label, .choice, a pair's .verdict), .feedback, "
        ".expected_score, .confidence, .probabilities, .error… A row with no verdict yet "
        "has those cells empty. The table is written whole to a temporary file and renamed "
        "over PATH, so an interrupted export leaves the old file. In CSV and Parquet a "
        "nested value (the probabilities) is JSON text. " + args.DATA_HELP,
    )
    export.add_argument("verdicts", metavar="VERDICTS.jsonl", type=Path)
    export.add_argument(
        "--inputs",
        "-i",
        required=True,
        metavar="IN",
        type=Path,
        help="the file the batch judged (read with the same --format, --map, --id-column)",
    )
    export.add_argument(
        "--to",
        required=True,
        metavar="PATH",
        type=Path,
        help="the table to write: .parquet, .csv, .tsv or .jsonl",
    )
    args.data_options(export, per_turn=True)
    export.set_defaults(func=_cmd_export)


def _cmd_export(parsed: argparse.Namespace) -> int:
    from edgejudge.errors import InputError
    from edgejudge.judging.export import export_verdicts

    if not parsed.verdicts.is_file():
        raise InputError(f"{parsed.verdicts}: no such verdicts file")
    source = args.row_source(parsed, parsed.inputs)
    written, metrics = export_verdicts(source, parsed.verdicts, parsed.to)
    print(f"exported {written} rows with {', '.join(metrics)} -> {parsed.to}", file=sys.stderr)
    return 0
