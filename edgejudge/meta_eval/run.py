"""Meta-evaluation from files: judge a labelled JSONL file (resumably, through the batch
machinery) and compare each judge's verdicts with the labels (`edgejudge.meta_eval.evaluation`).

Each judge's verdicts go to a file beside the labels, `LABELS.<judge>.<metric>.verdicts.jsonl`,
one line per row as it finishes: a rerun judges only the rows not yet there, and verdict
files judged before (or by `edgejudge batch`) can be read back instead, joined by id.

    from edgejudge import Judge
    from edgejudge.meta_eval.run import meta_evaluate

    with Judge(model="demo", metric="response-faithfulness-5point") as judge:
        report = meta_evaluate("labelled.jsonl", judge.metric, judges=[judge])
    print(report.fields()["judges"][0]["statistics"]["spearman"])

Several metrics in one pass: a judge with all of them, one label key each, a report each.

    metrics = ["response-faithfulness-5point", "response-relevance-5point"]
    with Judge(model="demo", metric=metrics) as judge:
        faithfulness, relevance = meta_evaluate(
            "labelled.jsonl", metrics, judges=[judge], label_key=["faith", "rel"]
        )
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

from edgejudge.core.metrics import AnyMetric
from edgejudge.errors import InputError
from edgejudge.io.metric_files import resolve_any_metric
from edgejudge.judging import batch
from edgejudge.judging.choices import MetricArg, resolve_metrics
from edgejudge.judging.judge import Judge
from edgejudge.meta_eval.evaluation import Labelled, MetaEvaluation, compare, read_labels
from edgejudge.models.resolve import identify

LABEL_KEY = "label"


def judge_name(judge: Judge) -> str:
    """`demo · flow-judge`: the model and the judge format a column stands for."""
    return f"{judge.runtime.model_name} · {judge.format.family}"


def expected_name(model: str | os.PathLike[str], family: str | None) -> str:
    """The `judge_name` a judge opened on `model` with `family` will have, before it loads:
    a catalog name, or a file's name, and the family it gets."""
    resolved = identify(model, family=family)
    return f"{resolved.name} · {resolved.family}"


def verdicts_path(labels: Path, name: str, metric: str, *, swap: bool = True) -> Path:
    """Where a judge's verdicts on `labels` go: beside it, named for the judge and metric."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace(" · ", ".")).strip("-.")
    once = ".one-order" if not swap else ""
    return labels.with_name(f"{labels.stem}.{slug}.{metric}{once}.verdicts.jsonl")


@dataclass(frozen=True)
class MetricLabels:
    """One metric's human labels: the key they are read from, and each row's label."""

    metric: AnyMetric
    key: str
    labelled: list[Labelled]

    @property
    def readable(self) -> int:
        """Rows whose label could be read."""
        return sum(row.label is not None for row in self.labelled)


def label_keys(metrics: Sequence[AnyMetric], keys: Sequence[str] | None) -> list[str]:
    """The key each metric's labels are read from: `LABEL_KEY` for one metric given none;
    otherwise one key per metric, in order."""
    given = list(keys or [])
    if not given and len(metrics) == 1:
        return [LABEL_KEY]
    if len(given) != len(metrics):
        raise InputError(
            f"{len(metrics)} metrics and {len(given)} --label-key options: give one "
            "--label-key per --metric, in the same order (the key holding that metric's "
            "human label in each row)"
        )
    return given


def read_labelled_metrics(
    path: Path,
    metrics: Sequence[AnyMetric],
    keys: Sequence[str],
    reading: Mapping[str, Any] | None = None,
) -> tuple[list[batch.Row], list[MetricLabels]]:
    """The rows of a labelled file (JSONL, or as `reading` says: `read_rows`' keywords),
    and each metric's labels read from its key."""
    rows = batch.read_rows(path, **(reading or {}))
    # Labels and answer lengths read by field name: a mapped row's fields under their names.
    named = [
        replace(
            row,
            data={**row.data, **{f: row.data[c] for f, c in row.mapping.items() if c in row.data}},
        )  # fmt: skip
        if row.mapping and isinstance(row.data, dict)
        else row
        for row in rows
    ]
    labels = [
        MetricLabels(metric, key, read_labels(named, metric, key))
        for metric, key in zip(metrics, keys, strict=True)
    ]
    return rows, labels


def read_verdicts_metrics(
    path: Path, metrics: Sequence[AnyMetric]
) -> dict[str, dict[str, dict[str, Any]]]:
    """A verdict file's rows by id key, for each of `metrics` it holds; an InputError if
    it is missing or holds none of them (or, for several, names no metric at all)."""
    if not path.is_file():
        raise InputError(f"{path}: no such verdicts file")
    every = batch.read_records(path)
    if not every:
        raise InputError(
            f"{path} holds no verdicts: give a file `edgejudge batch` or `meta-eval` wrote"
        )
    named = {str(r["metric"]) for r in every.values() if "metric" in r}
    if not named:  # written before verdicts named their metric: one metric's, unsaid
        if len(metrics) > 1:
            raise InputError(
                f"{path}: its verdicts do not name their metric; give it with one --metric"
            )
        return {metrics[0].name: batch.read_results(path, metrics[0].name)}
    held = [metric.name for metric in metrics if metric.name in named]
    if not held:
        wanted = " or ".join(metric.name for metric in metrics)
        raise InputError(
            f"{path} holds verdicts for metric {', '.join(sorted(named))}, not {wanted}"
        )
    return {name: batch.read_results(path, name) for name in held}


def to_judge(
    rows: Sequence[batch.Row], labels: Sequence[MetricLabels]
) -> tuple[list[batch.Row], set[tuple[Any, str]]]:
    """The rows with a label that could be read for some metric, as the judge sees them
    (without any label key), and the (row key, metric name) pairs to judge: only those
    whose label could be read."""
    wanted = {
        (row.key, each.metric.name)
        for each in labels
        for row in each.labelled
        if row.label is not None
    }
    keys = {each.key for each in labels}
    readable = {key for key, _ in wanted}
    todo = [
        replace(row, data={k: v for k, v in row.data.items() if k not in keys})
        for row in rows
        if row.key in readable
    ]
    return todo, wanted


class Columns:
    """The verdicts of each judge the report compares, by column name, and the file each
    came from. A name already taken gets ` (2)`, ` (3)`... (see `unique`)."""

    def __init__(self) -> None:
        self.verdicts: dict[str, dict[str, dict[str, Any]]] = {}
        self.sources: dict[str, str] = {}

    def add(self, name: str, path: Path, records: dict[str, dict[str, Any]]) -> None:
        """A column of `records`, read from `path`."""
        key = unique(name, self.verdicts)
        self.verdicts[key], self.sources[key] = records, str(path)

    def add_file(self, path: Path, records: dict[str, dict[str, Any]]) -> None:
        """A verdicts file given as it is: its column is named for its model (`verdicts_name`)."""
        self.add(verdicts_name(path, records), path, records)


def read_given(
    paths: Sequence[str | os.PathLike[str]], metrics: Sequence[AnyMetric]
) -> dict[str, list[tuple[Path, dict[str, dict[str, Any]]]]]:
    """Each verdicts file given, read and checked (`read_verdicts_metrics`), by metric:
    the files that hold its verdicts, with them."""
    found: dict[str, list[tuple[Path, dict[str, dict[str, Any]]]]] = {m.name: [] for m in metrics}
    for path in map(Path, paths):
        for name, records in read_verdicts_metrics(path, metrics).items():
            found[name].append((path, records))
    return found


def metrics_slug(metrics: Sequence[AnyMetric]) -> str:
    """The metric part of a verdicts file's name: the metric's, or several joined by `+`."""
    return "+".join(metric.name for metric in metrics)


@overload
def meta_evaluate(
    labels: str | os.PathLike[str],
    metric: MetricArg,
    *,
    judges: Sequence[Judge] = (),
    verdicts: Sequence[str | os.PathLike[str]] = (),
    label_key: str | None = None,
    swap: bool = True,
    resamples: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    reading: Mapping[str, Any] | None = None,
) -> MetaEvaluation: ...


@overload
def meta_evaluate(
    labels: str | os.PathLike[str],
    metric: list[MetricArg] | tuple[MetricArg, ...],
    *,
    judges: Sequence[Judge] = (),
    verdicts: Sequence[str | os.PathLike[str]] = (),
    label_key: Sequence[str] | None = None,
    swap: bool = True,
    resamples: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    reading: Mapping[str, Any] | None = None,
) -> list[MetaEvaluation]: ...


def meta_evaluate(
    labels: str | os.PathLike[str],
    metric: MetricArg | list[MetricArg] | tuple[MetricArg, ...],
    *,
    judges: Sequence[Judge] = (),
    verdicts: Sequence[str | os.PathLike[str]] = (),
    label_key: str | Sequence[str] | None = None,
    swap: bool = True,
    resamples: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    reading: Mapping[str, Any] | None = None,
) -> MetaEvaluation | list[MetaEvaluation]:
    """Every judge in `judges` on the labelled rows of `labels` (resuming its verdict file
    beside them), and every verdict file in `verdicts`, against the labels; the baselines
    beside them. `fields()` of the result is JSON-ready; `progress` is called with each row
    as it is judged.

    With a list of metrics (each judge then applies them all: `Judge(metric=[...])`), each
    row is judged on every metric in one pass, each metric's labels are read from its own
    key (`label_key`, a list in the same order), and a list of reports comes back, one per
    metric.

    `reading` says how to read a file of labels that is not plain JSONL, as `batch`'s
    options do: {"fmt": "csv", "split": "test", "mapping": {"query": "question"},
    "id_column": "qid"} (each optional; see `judging.rows.RowSource`).
    """
    if isinstance(metric, (list, tuple)):
        several, metrics = True, resolve_metrics(list(metric))
    else:
        several, metrics = False, [resolve_any_metric(metric)]
    names = [m.name for m in metrics]
    keys = label_keys(metrics, [label_key] if isinstance(label_key, str) else label_key)
    path = Path(labels)
    rows, labelled = read_labelled_metrics(path, metrics, keys, reading)
    given = read_given(verdicts, metrics)
    columns = {m.name: Columns() for m in metrics}
    todo, wanted = to_judge(rows, labelled)
    for judge in judges:
        if [m.name for m in judge.metrics] != names:
            raise InputError(
                f"a judge applying {', '.join(m.name for m in judge.metrics)} cannot be "
                f"meta-evaluated on {', '.join(m.name for m in metrics)}: give it those "
                "metrics (Judge(metric=[...]) or judge.with_metrics([...]))"
            )
        name = judge_name(judge)
        target = verdicts_path(path, name, metrics_slug(metrics), swap=swap)
        with batch.BatchOutput(target, inputs=[path]) as output:
            pending = output.pending(todo, names if several else ())
            run = batch.run_batch(judge, pending, output, swap=swap, wanted=wanted)
            with closing(run) as judged:
                for record in judged:
                    if progress is not None:
                        progress(record)
        add_judged(columns, name, target, metrics)
    reports = compare_each(labelled, columns, given, resamples)
    return reports if several else reports[0]


def add_judged(
    columns: dict[str, Columns], name: str, path: Path, metrics: Sequence[AnyMetric]
) -> None:
    """A judge's column, read from its verdicts file, for each metric."""
    for metric_name, records in read_verdicts_metrics(path, metrics).items():
        columns[metric_name].add(name, path, records)


def compare_each(
    labels: Sequence[MetricLabels],
    columns: dict[str, Columns],
    given: dict[str, list[tuple[Path, dict[str, dict[str, Any]]]]],
    resamples: int | None,
) -> list[MetaEvaluation]:
    """For each metric, its judges' columns and the verdict files `given` for it against
    its labels (`edgejudge.meta_eval.evaluation.compare`)."""
    for metric_name, files in given.items():
        for source, records in files:
            columns[metric_name].add_file(source, records)
    options = {} if resamples is None else {"resamples": resamples}
    return [
        compare(
            each.labelled,
            columns[each.metric.name].verdicts,
            each.metric,
            label_key=each.key,
            sources=columns[each.metric.name].sources,
            **options,
        )
        for each in labels
    ]


def verdicts_name(path: Path, records: dict[str, dict[str, Any]]) -> str:
    """A verdict file's column: the model its rows name, else the file's name."""
    models = {str(r["model"]) for r in records.values() if "model" in r}
    return models.pop() if len(models) == 1 else path.name


def unique(name: str, taken: dict[str, Any]) -> str:
    """`name`, or `name (2)`, `name (3)`... when a column has it already."""
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name} ({count})"
    return candidate
