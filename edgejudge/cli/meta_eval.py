"""`edgejudge meta-eval`: how well judges agree with a labelled JSONL file, as a terminal
table, JSON or an HTML report (`edgejudge.meta_eval.run`, `edgejudge.meta_eval.evaluation`)."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from edgejudge.cli import args
from edgejudge.cli.judging import open_judge
from edgejudge.cli.progress import batch_bar, working
from edgejudge.cli.report import report
from edgejudge.core.metrics import AnyMetric
from edgejudge.core.rows import parse_map
from edgejudge.errors import InputError
from edgejudge.io.files import output_target
from edgejudge.meta_eval.evaluation import MetaEvaluation
from edgejudge.meta_eval.report import cell, title
from edgejudge.meta_eval.statistics import RESAMPLES

DESCRIPTION = """\
Judge every row of LABELS (.jsonl, or .json, .csv/.tsv, .parquet, a dataset folder: see
"your data" below) and compare the verdicts with the human label in each row (the "label"
key or column, or --label-key): numeric scores on the metric's rubric, pass/fail, yes/no
or 0/1 for a two-row rubric, A, B or tie for a pairwise metric.

Each judge's verdicts go to LABELS.<model>.<family>.<metric>.verdicts.jsonl beside the
labels, one line per row as it finishes: rerun the same command to resume (Ctrl-C is safe),
delete the file to judge again. --verdicts reads verdict files judged before (by this
command or `edgejudge batch`), joined by id, instead of or beside judging. Several --model
or --family options give one column per judge.

Several --metric options judge each row on each metric in one pass, into one verdicts file
(LABELS.<model>.<family>.<metric>+<metric>.verdicts.jsonl); each metric reads its labels
from its own key (one --label-key per --metric, in the same order), and the report comes
once per metric (one JSON line each with --json, one section each with --html).

Statistics, each with a 95% paired bootstrap interval (2,000 resamples, fixed seed):
numeric scales: Pearson, Spearman, Kendall tau-b (scipy.stats), exact agreement,
agreement within one point, quadratic-weighted kappa (scikit-learn), and, with the
judge's probabilities, the correlations of its expected score; two rows: accuracy,
precision, recall and F1 per class and macro-averaged, Cohen's kappa, the confusion matrix
(scikit-learn); pairwise: agreement, tie rate, consistency. Beside them, always, the
baselines a judge must beat: the majority label, the mean score (numeric scales), and the
response's length alone. Rows whose label cannot be read, and rows a judge could not judge,
are counted and listed with their ids.
"""

EXAMPLES = """\
examples:
  edgejudge meta-eval labelled.jsonl --model flow-judge-v0.1 -m response-faithfulness-5point
  edgejudge meta-eval labelled.jsonl --model demo --model demo-instruct \\
      -m response-faithfulness-5point --html report.html
  edgejudge meta-eval labelled.jsonl --verdicts old.verdicts.jsonl \\
      -m response-faithfulness-5point --json
  edgejudge meta-eval labelled.jsonl --model demo -m response-faithfulness-5point \\
      -m response-relevance-5point --label-key faithfulness --label-key relevance
"""


def add_command(commands: Any) -> None:
    """Add `meta-eval` to the main parser's subcommands."""
    parser = commands.add_parser(
        "meta-eval",
        help="how well judges agree with your labelled data, with baselines",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("labels", metavar="LABELS", type=Path)
    parser.add_argument(
        "--label-key",
        action="append",
        metavar="KEY",
        help='the key holding the human label in each row (default "label"); with several '
        "--metric, one --label-key per metric, in the same order",
    )
    parser.add_argument(
        "--verdicts",
        action="append",
        default=[],
        metavar="FILE.jsonl",
        type=Path,
        help="verdicts judged before, joined to the labels by id; one column each (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--html",
        metavar="REPORT.html",
        type=Path,
        help="also write a self-contained HTML report (works offline): the table, a heat map "
        "of each confusion matrix, the judge's score against the label, calibration curves. "
        "A regular file, replaced whole (a link's target is written); a device or a pipe is "
        "refused",
    )
    parser.add_argument(
        "--resamples",
        type=args.positive_int,
        default=RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples for the intervals (default {RESAMPLES})",
    )
    parser.add_argument(
        "--retry-errors", action="store_true", help="judge again the rows recorded as errors"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args.swap_option(parser)
    args.data_options(parser)
    args.metric_options(parser, several=True)
    args.model_options(parser, many=" (repeatable: one column per judge)")
    parser.set_defaults(func=_cmd_meta_eval)


def judge_specs(
    models: Sequence[str] | None, families: Sequence[str] | None, server: bool
) -> list[tuple[str | None, str | None]]:
    """The (model, family) of each judge to run: every model with the one family, one
    model with every family, or a family for each model, in order."""
    found_models: list[str | None] = list(models or [])
    found_families: list[str | None] = list(families or [])
    if not found_models and (server or found_families):
        found_models = [None]  # the model the server serves (or a missing --model, said later)
    if not found_models:
        return []
    if len(found_families) <= 1:
        family = found_families[0] if found_families else None
        return [(model, family) for model in found_models]
    if len(found_models) == 1:
        return [(found_models[0], family) for family in found_families]
    if len(found_models) == len(found_families):
        return list(zip(found_models, found_families, strict=True))
    raise InputError(
        f"{len(found_models)} --model and {len(found_families)} --family options: give one "
        "--family for every model, one per --model (in order), or several for one --model"
    )


def _cmd_meta_eval(parsed: argparse.Namespace) -> int:
    from edgejudge.meta_eval import run as meta_eval

    metrics = args.metrics(parsed)
    if parsed.html:  # a report that could not be written fails before any judging
        output_target(parsed.html, [parsed.labels, *parsed.verdicts])
    keys = meta_eval.label_keys(metrics, parsed.label_key)
    specs = judge_specs(parsed.model, parsed.family, bool(parsed.server_url))
    if not specs and not parsed.verdicts:
        raise InputError("name a judge with --model (or give verdicts with --verdicts FILE)")
    reading = {
        "fmt": parsed.data_format,
        "split": parsed.split,
        "mapping": parse_map(parsed.mapping),
        "id_column": parsed.id_column,
        "last_turns": parsed.last_turns,
    }
    rows, labels = meta_eval.read_labelled_metrics(parsed.labels, metrics, keys, reading)
    for each in labels:
        if not each.readable:
            first = each.labelled[0].problem if each.labelled else "the file has no rows"
            about = f" for {each.metric.name}" if len(labels) > 1 else ""
            raise InputError(
                f"{parsed.labels}: no row has a label{about} that can be read ({len(rows)} "
                f"rows; the first: {first})"
            )
    given = meta_eval.read_given(parsed.verdicts, metrics)  # bad files fail before any load
    columns = {metric.name: meta_eval.Columns() for metric in metrics}
    readable, wanted = meta_eval.to_judge(rows, labels)
    for model, family in specs:
        outcome = _judge_one(parsed, metrics, model, family, readable, wanted)
        if isinstance(outcome, int):
            return outcome
        name, path = outcome
        meta_eval.add_judged(columns, name, path, metrics)
    with working(not parsed.no_progress, "computing statistics and bootstrap intervals"):
        evaluations = meta_eval.compare_each(labels, columns, given, parsed.resamples)
    if parsed.html:
        from edgejudge.meta_eval.html import write_report

        heading = f"{parsed.labels.name} · {' · '.join(m.name for m in metrics)}"
        write_report(evaluations, parsed.html, title=heading)
        print(f"report written to {parsed.html}", file=sys.stderr)
    for index, evaluation in enumerate(evaluations):
        if parsed.json:
            print(json.dumps(evaluation.fields(), ensure_ascii=False))
        else:
            if index:
                print()
            print_table(evaluation)
    return 0


def _judge_one(
    parsed: argparse.Namespace,
    metrics: list[AnyMetric],
    model: str | None,
    family: str | None,
    readable: list[Any],
    wanted: set[tuple[Any, str]],
) -> tuple[str, Path] | int:
    """Judge the rows with a label that could be read (`readable`, as the judge sees them;
    with several metrics, only the (row, metric) pairs in `wanted`) with one judge into its
    verdicts file, resuming it: the file's judge name and path, or an exit code if it
    stopped."""
    from edgejudge.judging import batch
    from edgejudge.meta_eval import run as meta_eval

    options = copy.copy(parsed)
    options.model, options.family = model, family
    swap = not parsed.no_swap
    several = len(metrics) > 1
    names = [metric.name for metric in metrics]
    with ExitStack() as stack:
        # The lock and the repair of a torn line come before the model loads, where the
        # judge's name is known beforehand (a served model's is known once connected).
        judge = None
        opened = metrics if several else metrics[0]
        if model is None:
            judge = stack.enter_context(open_judge(options, opened))
            name = meta_eval.judge_name(judge)
        else:
            name = meta_eval.expected_name(model, family)
        path = meta_eval.verdicts_path(
            parsed.labels, name, meta_eval.metrics_slug(metrics), swap=swap
        )
        output = stack.enter_context(
            batch.BatchOutput(
                path,
                retry_errors=parsed.retry_errors,
                inputs=[parsed.labels, *parsed.verdicts],
            )
        )
        todo = output.pending(readable, names if several else ())
        pairs = len(wanted) if several else len(readable)
        left = len(output.pending_pairs(todo, names, wanted)) if several else len(todo)
        what = "rows" if not several else "(row, metric) pairs"
        if not left:
            print(f"{name}: all {pairs} labelled {what} are in {path}", file=sys.stderr)
            return name, path
        print(f"{name}: judging {left} {what} into {path}", file=sys.stderr)
        try:
            if judge is None:
                judge = stack.enter_context(open_judge(options, opened))
            step = stack.enter_context(batch_bar(not parsed.no_progress, left, pairs - left))
            records = stack.enter_context(
                closing(batch.run_batch(judge, todo, output, swap=swap, wanted=wanted))
            )
            for record in records:
                step(record)
        except KeyboardInterrupt:
            stack.close()
            print(
                f"edgejudge: interrupted: {output.written} new verdicts saved in {path}; "
                "run the same command to resume",
                file=sys.stderr,
            )
            return 130
        except Exception as exc:  # noqa: BLE001 - any stop says what was saved
            stack.close()
            return report(exc, parsed, f"; {output.written} new verdicts saved in {path}")
    return name, path


def print_table(evaluation: MetaEvaluation) -> None:
    """The report as rich tables on stdout: the statistics with a column per judge and per
    baseline, each judge's confusion matrix, and every row left out, with its id."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(
            width=max(100, 32 * (1 + len(evaluation.judges) + len(evaluation.baselines)))
        )
    table = Table(
        title=f"meta-eval · {evaluation.metric} ({evaluation.kind}) · {evaluation.labelled} of "
        f"{evaluation.rows} rows labelled · value [95% CI]",
        title_justify="left",
    )
    table.add_column("statistic")
    for judge in evaluation.judges:
        table.add_column(judge.name, justify="right")
    for baseline in evaluation.baselines:
        table.add_column(f"baseline: {baseline.name}", justify="right", style="dim")
    table.add_row("rows", *(str(count) for count in evaluation.counts))
    for name, estimates in evaluation.table():
        table.add_row(title(name), *(cell(e) if e is not None else "" for e in estimates))
    console.print(table)
    for baseline in evaluation.baselines:
        console.print(f"  baseline {baseline.name}: {baseline.about}", style="dim")
    for judge in evaluation.judges:
        console.print(_confusion_table(judge))
        if judge.calibration is not None:
            console.print(f"  Brier score {judge.calibration.brier:.3f} ({judge.calibration.what})")
    _left_out(console, evaluation)


def _confusion_table(judge: Any) -> Any:
    from rich.table import Table

    matrix = judge.confusion
    table = Table(title=f"{judge.name} · confusion", title_justify="left")
    table.add_column("human ↓ judge →")
    for value in matrix.judge:
        table.add_column(str(value), justify="right")
    for value, counts in zip(matrix.human, matrix.counts, strict=True):
        table.add_row(str(value), *(str(count) if count else "·" for count in counts))
    return table


LISTED = 20


def _left_out(console: Any, evaluation: MetaEvaluation) -> None:
    groups = [("labels that could not be read", evaluation.unreadable)]
    groups += [(f"{judge.name}: rows not judged", judge.skipped) for judge in evaluation.judges]
    for what, entries in groups:
        if not entries:
            continue
        console.print(f"{what} ({len(entries)}):", style="yellow")
        for entry in entries[:LISTED]:
            console.print(f"  id {json.dumps(entry.id)}: {entry.problem}", markup=False)
        if len(entries) > LISTED:
            console.print(f"  … and {len(entries) - LISTED} more (all of them in --json)")
