"""`edgejudge judge` and `edgejudge batch`: one input, or a JSONL file, through a `Judge`."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from edgejudge.cli import args
from edgejudge.cli.progress import batch_bar
from edgejudge.cli.report import report
from edgejudge.core.metrics import AnyMetric, Metric, PairwiseMetric
from edgejudge.errors import InputError
from edgejudge.io.writers import export_format
from edgejudge.judging.judge import Judge
from edgejudge.judging.pair_stats import PairTally
from edgejudge.judging.result import JudgeResult
from edgejudge.models.resolve import ResolvedModel


def add_commands(commands: Any) -> None:
    """Add `judge` and `batch` to the main parser's subcommands."""
    judge = commands.add_parser(
        "judge",
        help="judge one input and print feedback and score",
        description="Judge one input file and print the verdict.",
    )
    args.input_option(judge)
    judge.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (feedback, score, tokens, seconds...); one line per "
        "metric with several",
    )
    args.metric_options(judge, several=True)
    args.model_options(judge)
    judge.set_defaults(func=_cmd_judge)

    batch = commands.add_parser(
        "batch",
        help="judge a file of rows (JSONL, CSV, Parquet, a dataset…) into a JSONL file, resumably",
        description="Judge every row of IN; each verdict is appended to OUT.jsonl as one "
        "whole line as it finishes, so any stop leaves OUT valid. "
        + args.DATA_HELP
        + " IN is read as a stream, never held whole. "
        "Rerun the same command to resume: judgments already in OUT are skipped. "
        "With several --metric, each row is judged on each, one line per (id, metric), a "
        "row's metrics one after another so the text their prompts share is evaluated once; "
        "a rerun judges only the (id, metric) pairs OUT lacks. "
        'A failing row is written as {"id": ..., "error": ...} and the batch goes on: a row '
        "that cannot be read (not JSON, a CSV line with the wrong number of fields, not "
        "UTF-8), an empty (null) field, a list where the metric wants text. A number becomes "
        "its text. Rows are identified by their id column (a string or an integer; "
        "--id-column), or by their number; an id given twice, or a mapped column the file "
        "lacks, stops the batch before the model loads. "
        "OUT.lock beside OUT keeps a second run off the same file while this one runs. "
        "OUT must be a regular file (a link is followed and its target written); a device, "
        "a pipe, or the input file itself under any name is refused. A line of IN longer "
        "than 8 MiB, or JSON no one writes (a 5,000-digit number, nesting thousands deep), "
        "is an error row. --export writes IN joined with its verdicts (one column group "
        "per metric) as .parquet, .csv or .jsonl. "
        "With a pairwise metric each row is a pair (the metric's inputs, response_a, "
        "response_b), or --a/--b give two JSONL files of answers joined by id; it ends with "
        "wins, ties, the win rate with its 95%% confidence interval and the consistency rate.",
    )
    batch.add_argument("input", metavar="IN", type=Path, nargs="?")
    batch.add_argument("-o", "--output", required=True, metavar="OUT.jsonl", type=Path)
    batch.add_argument(
        "--export",
        metavar="PATH",
        type=Path,
        help="then write IN joined with every verdict OUT holds to PATH (.parquet, .csv, "
        ".tsv or .jsonl), replacing it whole (see `edgejudge export`)",
    )
    batch.add_argument(
        "--retry-errors",
        action="store_true",
        help="judge again the rows that OUT records as errors",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    pairs = batch.add_argument_group(
        "pairwise",
        "With a pairwise metric: two systems' answers, one JSONL file each, joined by id "
        '(each line {"id": ..., the metric\'s inputs, "response": ...}; the inputs may be in '
        "either file and must agree where both give them), in place of IN.jsonl.",
    )
    pairs.add_argument("--a", metavar="A.jsonl", type=Path, help="system A's answers")
    pairs.add_argument("--b", metavar="B.jsonl", type=Path, help="system B's answers")
    pairs.add_argument("--a-name", metavar="NAME", help="system A's name in rows and summary")
    pairs.add_argument("--b-name", metavar="NAME", help="system B's name in rows and summary")
    args.swap_option(pairs)
    args.data_options(batch, per_turn=True)
    args.metric_options(batch, several=True)
    args.model_options(batch)
    batch.set_defaults(func=_cmd_batch)


def open_judge(parsed: argparse.Namespace, metric: AnyMetric | list[AnyMetric]) -> Judge:
    """The `Judge` the model options describe (the model loads here)."""
    if not parsed.model and not parsed.server_url:
        raise InputError("name a model with --model (or use a server with --server-url)")
    judge = Judge(
        model=parsed.model,
        metric=metric,
        max_tokens=parsed.max_tokens,
        temperature=parsed.temperature,
        seed=parsed.seed,
        grammar=not parsed.no_grammar,
        sampling=parsed.sampling,
        probabilities=not parsed.no_probabilities,
        family=parsed.family,
        download=parsed.pull,
        runtime=args.parsed_runtime(parsed),
    )
    if parsed.sampling != "greedy":
        print(f"sampling: {judge.sampling_note}", file=sys.stderr)
    return judge


def decision_line(result: JudgeResult, values: tuple[int | str, ...], metric: Metric) -> str:
    """`Score: 4 (scale 1-5)`, `Label: PASS (PASS or FAIL)`, `Choice: A (A or B)`."""
    kind = result.verdict.decision_kind
    if kind == "score":
        return f"Score: {result.decision} (scale {metric.scale})"
    return f"{kind.capitalize()}: {result.decision} ({' or '.join(map(str, values))})"


def probability_line(result: JudgeResult) -> str | None:
    """`Probabilities: 1 0.05 · 2 0.05 · 3 0.20 · 4 0.60 · 5 0.10 (expected 3.65, confidence
    0.60)`; None where they were not measured."""
    distribution = result.distribution
    if distribution is None:
        return None
    values = " · ".join(f"{v} {p:.2f}" for v, p in distribution.probabilities.items())
    expected = distribution.expected_score
    about = [f"expected {expected:.2f}"] if expected is not None else []
    about.append(f"confidence {distribution.confidence:.2f}")
    if not distribution.complete:
        about.append("incomplete: the server did not report every value")
    return f"Probabilities: {values} ({', '.join(about)})"


def _cmd_judge(parsed: argparse.Namespace) -> int:
    from edgejudge.core import coerce_input
    from edgejudge.io.metric_files import resolve_metric

    metrics = [resolve_metric(metric) for metric in args.metrics(parsed)]  # pairwise: compare
    data = args.read_input(parsed.input)
    items = [coerce_input(data, metric) for metric in metrics]  # fails before the load
    with open_judge(parsed, list(metrics)) as whole:
        for index, (metric, item) in enumerate(zip(metrics, items, strict=True)):
            judge = whole.for_metric(metric.name)
            if parsed.json:
                print(json.dumps(judge.evaluate(item).to_dict(), ensure_ascii=False), flush=True)
                continue
            if len(metrics) > 1:
                print(f"{chr(10) if index else ''}== {metric.name} ==")
            _print_judgment(judge, item, metric)
        cache_line(whole, parsed)
        trial_line(whole.model)
    return 0


def trial_line(model: ResolvedModel | None) -> None:
    """Under a trial model's verdicts (the demos), one line on stderr: what it is, and the
    command that gets a real judge."""
    from edgejudge.constants import FIRST_JUDGE
    from edgejudge.models.catalog import find_entry

    entry = model.entry if model is not None else None
    if entry is None or not entry.trial:
        return
    real = find_entry(FIRST_JUDGE)
    size = f" ({real.size_gb} GB, once)" if real.size_gb else ""
    print(
        f"{entry.name} is {entry.description}. A real judge reads the rubric and explains "
        f"its score: edgejudge models pull {FIRST_JUDGE}{size}, then --model {FIRST_JUDGE}",
        file=sys.stderr,
    )


def cache_line(judge: Judge, parsed: argparse.Namespace) -> None:
    """With --verbose, what the runtime's prefix cache did (in-process), on stderr."""
    stats = judge.runtime.prefix_cache
    if parsed.verbose and stats is not None:
        print(stats.line(), file=sys.stderr)


def _print_judgment(judge: Judge, item: Any, metric: Metric) -> None:
    """Stream one judgment's feedback, then its decision, probabilities and stats."""
    result: JudgeResult | None = None
    print("Feedback:")
    for piece in judge.stream(item):
        if isinstance(piece, JudgeResult):
            result = piece
        else:
            print(piece, end="", flush=True)
    assert result is not None
    print()
    for name, text in result.extras.items():
        print(f"\n{name.capitalize()}: {text}")
    print(f"\n{decision_line(result, judge.format.decision_values(metric), metric)}")
    line = probability_line(result)
    if line:
        print(line)
    print(f"[{result.stats()}]", file=sys.stderr, flush=True)


def _cmd_batch(parsed: argparse.Namespace) -> int:
    from edgejudge.judging import batch

    metrics = args.metrics(parsed)  # a bad metric fails before anything else
    metric = metrics[0]
    names_of = [m.name for m in metrics]
    source = _batch_rows(parsed, metric)
    names = (parsed.a_name or "A", parsed.b_name or "B")
    named = names if parsed.a_name or parsed.b_name else None
    if parsed.export is not None:  # fails now, not after the batch
        if isinstance(source, list):
            raise InputError(
                "--export joins IN with its verdicts: with --a and --b, OUT is the table"
            )
        export_format(parsed.export)
    # The rows' ids (read once: the file is streamed), the lock, the repair of a torn line
    # and a writable output all come before the model.
    count = len(source) if isinstance(source, list) else source.scan(metrics)
    inputs = [p for p in (parsed.input, parsed.a, parsed.b) if p is not None]
    inputs += [m for m in parsed.metrics or [] if isinstance(m, Path)]
    with batch.BatchOutput(
        parsed.output, retry_errors=parsed.retry_errors, inputs=inputs
    ) as output:
        rows = source if isinstance(source, list) else source.ids()
        tasks = count * len(metrics)
        remaining = sum(output.missing(row, names_of) for row in rows) if output.done else tasks
        if not isinstance(source, list):
            rows = source.rows(source.columns_for(metrics))
        todo = output.waiting(rows, names_of)
        skipped = tasks - remaining
        if not remaining:
            what = f"{count} rows" if len(metrics) == 1 else f"{tasks} (row, metric) pairs"
            print(f"nothing to do: all {what} are already in {parsed.output}", file=sys.stderr)
            return _export(parsed, source)
        failed = 0

        def saved() -> str:
            total = skipped + output.written
            return (
                f"{output.written} new rows saved in {parsed.output} ({total} of {tasks}); "
                "run the same command to resume"
            )

        try:
            with (
                open_judge(parsed, metrics) as judge,
                batch_bar(not parsed.no_progress, remaining, skipped) as step,
                # Closed first on any stop: the judgments in flight end before the model is
                # freed and before the error is reported.
                closing(
                    batch.run_batch(judge, todo, output, swap=not parsed.no_swap, names=named)
                ) as records,
            ):
                for record in records:
                    failed += batch.ERROR_KEY in record
                    step(record)
                cache_line(judge, parsed)
        except KeyboardInterrupt:
            print(f"edgejudge: interrupted: {saved()}", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - any stop says what was saved
            return report(exc, parsed, f"; {saved()}" if output.written else "")
        written = output.written
    # One line, whatever the outcome: a run with failed rows exits 1, and a failure is one
    # line on stderr.
    found = batch.read_records(parsed.output).values()
    if isinstance(metric, PairwiseMetric):
        means: str | None = PairTally.of(found).describe(names)
    elif parsed.per_turn:
        means = batch.turn_summary(found)
    else:
        means = batch.summaries(found)
    print(
        f"{written - failed} judged, {failed} failed, {skipped} already done -> {parsed.output}"
        + (f"; {means}" if means else ""),
        file=sys.stderr,
    )
    exported = _export(parsed, source)
    return 1 if failed else exported


def _export(parsed: argparse.Namespace, source: Any) -> int:
    """With --export, IN joined with its verdicts written to the path it names."""
    if parsed.export is None:
        return 0
    from edgejudge.judging.export import export_verdicts

    written, metrics = export_verdicts(source, parsed.output, parsed.export)
    print(f"exported {written} rows with {', '.join(metrics)} -> {parsed.export}", file=sys.stderr)
    return 0


def _batch_rows(parsed: argparse.Namespace, metric: AnyMetric) -> Any:
    """The rows to judge: IN (a `RowSource`, read as a stream), or with a pairwise metric
    --a and --b joined by id (a list)."""
    from edgejudge.judging import batch

    joined = parsed.a is not None or parsed.b is not None
    if joined and not isinstance(metric, PairwiseMetric):
        raise InputError(f"--a and --b compare two systems: metric {metric.name!r} is not pairwise")
    if joined and parsed.input is not None:
        raise InputError("give IN, or --a and --b, not both")
    if joined:
        given = [name for name, value in (("--format", parsed.data_format),
                 ("--split", parsed.split), ("--map", parsed.mapping),
                 ("--id-column", parsed.id_column)) if value]  # fmt: skip
        if given:
            raise InputError(
                f"{', '.join(given)} read IN; --a and --b are JSONL files of answers joined by id"
            )
        if parsed.a is None or parsed.b is None:
            raise InputError("--a and --b go together: one JSONL file of answers each")
        return batch.joined_pairs(parsed.a, parsed.b, metric.required_inputs)
    if parsed.input is None:
        raise InputError("name the input: IN (or, with a pairwise metric, --a and --b)")
    return args.row_source(parsed, parsed.input)
