"""Meta-evaluation from files: judge a labelled JSONL file (resumably, through the batch
machinery) and compare each judge's verdicts with the labels (`edgejudge.core.meta_eval`).

Each judge's verdicts go to a file beside the labels, `LABELS.<judge>.<metric>.verdicts.jsonl`,
one line per row as it finishes: a rerun judges only the rows not yet there, and verdict
files judged before (or by `edgejudge batch`) can be read back instead, joined by id.

    from edgejudge import Judge
    from edgejudge.judging.meta_eval import meta_evaluate

    with Judge(model="demo", metric="response-faithfulness-5point") as judge:
        report = meta_evaluate("labelled.jsonl", judge.metric, judges=[judge])
    print(report.fields()["judges"][0]["statistics"]["spearman"])
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgejudge.core.meta_eval import Labelled, MetaEvaluation, read_labels
from edgejudge.core.meta_eval import meta_evaluate as compare_with_labels
from edgejudge.core.metrics import AnyMetric
from edgejudge.errors import InputError
from edgejudge.judging import batch
from edgejudge.judging.judge import Judge, format_for
from edgejudge.metric_files import resolve_any_metric
from edgejudge.models.resolve import looks_like_path

LABEL_KEY = "label"


def judge_name(judge: Judge) -> str:
    """`demo · flow-judge`: the model and the judge format a column stands for."""
    return f"{judge.runtime.model_name} · {judge.format.family}"


def expected_name(model: str | os.PathLike[str], family: str | None) -> str:
    """The `judge_name` a judge opened on `model` with `family` will have, before it loads:
    a catalog name, or a file's name, and the family it gets."""
    name = Path(model).name if looks_like_path(model) else os.fspath(model)
    return f"{name} · {format_for(model, family).family}"


def verdicts_path(labels: Path, name: str, metric: str, *, swap: bool = True) -> Path:
    """Where a judge's verdicts on `labels` go: beside it, named for the judge and metric."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace(" · ", ".")).strip("-.")
    once = ".one-order" if not swap else ""
    return labels.with_name(f"{labels.stem}.{slug}.{metric}{once}.verdicts.jsonl")


def read_labelled(
    path: Path, metric: AnyMetric, label_key: str = LABEL_KEY
) -> tuple[list[batch.Row], list[Labelled]]:
    """The rows of a labelled JSONL file, and each one's label read for `metric`."""
    rows = batch.read_rows(path)
    return rows, read_labels(rows, metric, label_key)


def read_verdicts(path: Path, metric: AnyMetric) -> dict[str, dict[str, Any]]:
    """A verdict file's rows for `metric` by id key (a file `batch` wrote with several
    metrics holds them all); an InputError if it is missing or holds none of `metric`'s."""
    if not path.is_file():
        raise InputError(f"{path}: no such verdicts file")
    every = batch.read_records(path)
    if not every:
        raise InputError(
            f"{path} holds no verdicts: give a file `edgejudge batch` or `meta-eval` wrote"
        )
    named = {str(r["metric"]) for r in every.values() if "metric" in r}
    if named and metric.name not in named:
        others = ", ".join(sorted(named))
        raise InputError(f"{path} holds verdicts for metric {others}, not {metric.name}")
    found = batch.read_results(path, metric.name)
    return found


def to_judge(
    rows: Sequence[batch.Row], labelled: Sequence[Labelled], label_key: str
) -> list[batch.Row]:
    """The rows whose label could be read, as the judge sees them: without the label."""
    readable = {row.key for row in labelled if row.label is not None}
    return [
        replace(row, data={k: v for k, v in row.data.items() if k != label_key})
        for row in rows
        if row.key in readable
    ]


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
    paths: Sequence[str | os.PathLike[str]], metric: AnyMetric
) -> list[tuple[Path, dict[str, dict[str, Any]]]]:
    """Each verdicts file given, with its rows read and checked (`read_verdicts`)."""
    return [(Path(path), read_verdicts(Path(path), metric)) for path in paths]


def meta_evaluate(
    labels: str | os.PathLike[str],
    metric: AnyMetric | str | os.PathLike[str],
    *,
    judges: Sequence[Judge] = (),
    verdicts: Sequence[str | os.PathLike[str]] = (),
    label_key: str = LABEL_KEY,
    swap: bool = True,
    resamples: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> MetaEvaluation:
    """Every judge in `judges` on the labelled rows of `labels` (resuming its verdict file
    beside them), and every verdict file in `verdicts`, against the labels; the baselines
    beside them. `fields()` of the result is JSON-ready; `progress` is called with each row
    as it is judged."""
    metric = resolve_any_metric(metric)
    path = Path(labels)
    rows, labelled = read_labelled(path, metric, label_key)
    given = read_given(verdicts, metric)
    columns = Columns()
    todo = to_judge(rows, labelled, label_key)
    for judge in judges:
        name = judge_name(judge)
        target = verdicts_path(path, name, metric.name, swap=swap)
        with batch.BatchOutput(target) as output:
            pending = output.pending(todo)
            with closing(batch.run_batch(judge, pending, output, swap=swap)) as judged:
                for record in judged:
                    if progress is not None:
                        progress(record)
        columns.add(name, target, read_verdicts(target, metric))
    for source, records in given:
        columns.add_file(source, records)
    options = {} if resamples is None else {"resamples": resamples}
    return compare_with_labels(
        labelled,
        columns.verdicts,
        metric,
        label_key=label_key,
        sources=columns.sources,
        **options,
    )


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
