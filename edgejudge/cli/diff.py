"""`edgejudge diff BASE NEW`: did NEW get worse? Two runs of the same judge, row by row."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgejudge.cli import args

# A gate failed: not 1 (a run-time failure) nor 2 (bad usage or input).
GATE_FAILED = 3

DESCRIPTION = """\
Compare two journals of `edgejudge batch` (BASE, the run before; NEW, the run after) of the
same inputs judged by the same judge, joined by id and metric (and turn, for --per-turn
runs). Each metric's rows must name the same model in both (a different judge is not a
regression): else exit 2, unless --allow-mismatch. Rows in one run only are counted and
listed; error rows are counted apart and left out of the statistics.

For a score metric: each run's mean, the paired mean change NEW - BASE with its 95%
bootstrap interval (rows resampled, paired, 2,000 resamples, fixed seed), the same for the
expected score where probabilities were measured, the rows that got better, stayed and got
worse (and by how many points), the share that got worse, and Wilcoxon's signed-rank test
(unchanged rows dropped; exact up to 50 changed rows without ties, else the normal
approximation). For a label metric (PASS/FAIL, Yes/No): each run's pass rate, the change
with its interval, and McNemar's test on the rows that changed (exact below 25 of them).
For pairwise journals (batch --a/--b): A's win rate in each run (ties left out) and its
change with its interval, and the pairs whose verdict moved against A or for it.
Every number says how many rows it stands on; one the data cannot define prints — and why.
Then the rows that got worse, largest drop first, with both feedbacks.

Gates (--fail-if, repeatable) for CI: [METRIC.]QUANTITY[.low|.high] OP NUMBER, OP one of
< <= > >=, QUANTITY one of mean_change, expected_change, better, worse, worse_share,
pass_rate_change, win_rate_change, p_worse (the one-sided p-value that NEW is worse), the
same names as the table's rows and the --json keys. A gate fails when its comparison
holds; without METRIC it applies to every metric that has the quantity.

Outputs: the table (default), --json, --markdown (for a CI step summary or a pull-request
comment), and beside any of them --junit FILE.xml (one test case per gate and metric) and
--html FILE.html (a self-contained page: the table, the gates, a before/after chart per
metric, the worse rows with both feedbacks side by side).

Exit codes: 0 compared (every gate passed), 3 a gate failed (each gate's line on stderr
says the value measured), 2 bad input (a file that is no journal, different judges, no row
in common, a gate that does not parse or names nothing), 1 a failure at run time.
"""

EXAMPLES = """\
examples:
  edgejudge diff before.verdicts.jsonl after.verdicts.jsonl
  edgejudge diff before.jsonl after.jsonl --fail-if "mean_change.high < 0" \\
      --fail-if "worse_share > 0.1" --markdown >> "$GITHUB_STEP_SUMMARY"
  edgejudge diff before.jsonl after.jsonl -m response-faithfulness-5point --json
"""


def add_command(commands: Any) -> None:
    """Add `diff` to the main parser's subcommands."""
    parser = commands.add_parser(
        "diff",
        help="did it get worse? two runs of the same judge compared row by row, with gates",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base", metavar="BASE", type=Path, help="the journal of the run before")
    parser.add_argument("new", metavar="NEW", type=Path, help="the journal of the run after")
    parser.add_argument(
        "--metric",
        "-m",
        action="append",
        default=[],
        metavar="NAME",
        help="compare only this metric (repeatable; default: every metric in the runs)",
    )
    parser.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="EXPR",
        help="a gate, e.g. 'mean_change < -0.2' or 'faithfulness.p_worse < 0.05' "
        f"(repeatable): exit {GATE_FAILED} when it holds",
    )
    parser.add_argument(
        "--top",
        type=args.non_negative_int,
        default=5,
        metavar="N",
        help="how many rows that got worse to show per metric (default 5)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the diff as one JSON document")
    shown.add_argument(
        "--markdown",
        action="store_true",
        help="print a Markdown summary (for a CI step summary or a pull-request comment)",
    )
    parser.add_argument(
        "--inputs",
        "-i",
        action="append",
        default=[],
        type=Path,
        metavar="IN",
        help="the file the runs judged, to show each worse row's inputs; twice (BASE's, "
        "then NEW's) where each run judged its own (both responses are then shown); read "
        "with --format, --map, --id-column, --per-turn as batch read it",
    )
    args.data_options(parser, per_turn=True)
    parser.add_argument(
        "--junit",
        type=Path,
        metavar="FILE.xml",
        help="also write the gates as JUnit XML (one test case per gate and metric; a failed "
        "gate a failure), for any CI's test report",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE.html",
        help="also write a self-contained HTML page: the table, the gates, a before/after "
        "chart per metric and the worse rows with both feedbacks side by side",
    )
    parser.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs whose rows name different models",
    )
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(parsed: argparse.Namespace) -> int:
    from edgejudge.errors import InputError
    from edgejudge.regression import report
    from edgejudge.regression.compare import diff
    from edgejudge.regression.gates import parse_gate

    gates = [parse_gate(text) for text in parsed.fail_if]  # checked before any reading
    if len(parsed.inputs) > 2:
        raise InputError("--inputs is given once (both runs judged it) or twice (BASE's, NEW's)")
    sources = [args.row_source(parsed, path) for path in parsed.inputs]
    found = diff(
        parsed.base,
        parsed.new,
        parsed.metric,
        allow_mismatch=parsed.allow_mismatch,
        top=parsed.top,
        inputs=(sources[0], sources[-1]) if sources else None,
    )
    results = found.check(gates)
    if parsed.junit is not None:
        from edgejudge.io.atomic import write_text_atomic

        target = parsed.junit
        if target.suffix.lower() != ".xml":
            raise InputError(f"--junit {target}: name the report .xml")
        write_text_atomic(target, report.junit(found, results))
    if parsed.html is not None:
        from edgejudge.io.atomic import write_text_atomic
        from edgejudge.regression.html import render

        if parsed.html.suffix.lower() not in (".html", ".htm"):
            raise InputError(f"--html {parsed.html}: name the page .html")
        write_text_atomic(parsed.html, render(found, results))
    if parsed.json:
        print(json.dumps(report.to_json(found, results), ensure_ascii=False))
    elif parsed.markdown:
        sys.stdout.write(report.markdown(found, results))
    else:
        _print_table(found)
    for result in results:
        print(f"edgejudge: gate {result.line()}", file=sys.stderr)
    return GATE_FAILED if any(r.failed for r in results) else 0


def _print_table(found: Any) -> None:
    from rich.console import Console

    from edgejudge.regression.report import as_text, rich_table

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(width=max(120, 24 + 76 * len(found.metrics)))
    console.print(rich_table(found))
    for metric in found.metrics:
        if metric.only_base or metric.only_new:
            console.print(
                f"  {metric.metric}: only in base: {_ids(metric.only_base)}; only in new: "
                f"{_ids(metric.only_new)}",
                style="dim",
            )
        if not metric.worst:
            continue
        console.print(f"\ngot worse, {metric.metric} (largest drop first):")
        for row in metric.worst:
            console.print(f"  {row.label}: {row.base} → {row.new}", markup=False)
            for name, value in (row.inputs or {}).items():
                console.print(f"    {name}: {_first(as_text(value))}", markup=False, style="dim")
            for name, value in (row.new_inputs or {}).items():
                console.print(f"    {name} (new): {_first(as_text(value))}", markup=False)
            console.print(f"    base: {_first(row.base_feedback)}", markup=False, style="dim")
            console.print(f"    new:  {_first(row.new_feedback)}", markup=False)


def _ids(ids: list[Any], most: int = 10) -> str:
    if not ids:
        return "none"
    shown = ", ".join(map(str, ids[:most]))
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _first(text: str) -> str:
    from edgejudge.regression.report import one_line

    return one_line(text, 100)
