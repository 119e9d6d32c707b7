"""`edgejudge traces import`: the LLM calls in an OpenTelemetry trace file, as rows to judge."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

TRACES_HELP = (
    "Reads OTLP JSON (JSON Lines, one export a line, as an OpenTelemetry collector's file "
    "exporter or the Python SDK's FileSpanExporter writes them; or one pretty-printed "
    "export) and writes one JSONL row per LLM span: id (TRACE_ID:SPAN_ID, in hex), "
    "messages (the call's input, then its answer as the last assistant message) and tools, "
    "ready for `edgejudge batch` with a conversation metric. GenAI semantic conventions "
    "read: the attributes gen_ai.input.messages, gen_ai.output.messages, "
    "gen_ai.system_instructions and gen_ai.tool.definitions (v1.37.0 and later; on the span "
    "or on its gen_ai.client.inference.operation.details event); the events "
    "gen_ai.content.prompt and gen_ai.content.completion (v1.26.0; deprecated since, still "
    "written by some instrumentations); and OpenLLMetry's gen_ai.prompt.N.* and "
    "gen_ai.completion.N.* attributes. Every span that cannot be read (no answer, several "
    "answers, an image part, content not captured...) is listed on stderr with the reason; "
    "spans that are not LLM calls (HTTP, database, tool spans) are counted. The output is "
    "written whole, then renamed into place."
)


def add_commands(commands: Any) -> None:
    """Add `traces import` to the main parser's subcommands."""
    traces = commands.add_parser(
        "traces",
        help="turn OpenTelemetry traces (OTLP JSON) of LLM calls into rows to judge",
        description=textwrap.fill("Work with trace files. " + TRACES_HELP, 88),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = traces.add_subparsers(title="commands", metavar="COMMAND")
    do = verbs.add_parser(
        "import",
        help="write each LLM span of an OTLP JSON file as a JSONL row (messages, tools, ids)",
        description=textwrap.fill(TRACES_HELP, 88),
        epilog="example:\n  edgejudge traces import traces.jsonl -o calls.jsonl\n"
        "  edgejudge batch calls.jsonl -o verdicts.jsonl --model demo-instruct \\\n"
        "      -m conversation-helpfulness-5point",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    do.add_argument("file", metavar="FILE", type=Path, help="the OTLP JSON trace file")
    do.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="ROWS.jsonl",
        type=Path,
        help="the JSONL rows to write (replaced if it exists)",
    )
    do.set_defaults(func=_cmd_import)
    traces.set_defaults(func=lambda parsed: _usage(traces))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _cmd_import(parsed: argparse.Namespace) -> int:
    from edgejudge.io.traces import import_traces

    found = import_traces(parsed.file, parsed.output)
    for skipped in found.skipped:
        print(f"edgejudge: skipped {skipped.line()}", file=sys.stderr)
    kinds = ", ".join(f"{count} {name}" for name, count in sorted(found.conventions.items()))
    print(
        f"imported {found.rows} LLM spans ({kinds}) -> {parsed.output}; "
        f"{len(found.skipped)} skipped (listed above), {found.other_spans} other spans",
        file=sys.stderr,
    )
    return 0
