"""Meta-evaluation: a judge's verdicts against people's labels, beside the baselines it must
beat, every statistic with its 95% bootstrap interval and the rows it stands on.

Pure: rows in (labelled inputs, each judge's verdict records by id), numbers out. Reading
files and judging are the callers' (`edgejudge.meta_eval.run`, the CLI).

A metric's kind decides the statistics (see `agreement`):

* `numeric` (a rubric of three or more scores): Pearson, Spearman, Kendall's tau-b, exact
  agreement, agreement within one point, quadratic-weighted kappa; with the judge's score
  probabilities, the correlations of its expected score too;
* `binary` (two rows: pass/fail, yes/no, 0/1): accuracy, each class's precision, recall and
  F1, their macro averages, Cohen's kappa; the classes are the rubric's two scores;
* `pairwise`: agreement with the human preference (A, B or tie), tie rate, consistency.

Every judge also gets a confusion matrix (rows: the human label, columns: the judge's), the
mean of its decision and of its expected value (expected score, P(higher row), P(A better))
for each human label, and, with probabilities, a calibration curve. A row whose label cannot
be read, or that a judge did not judge (an error row, a row missing from its verdicts), is
listed with its id and why; no row is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgejudge.core.conversation import MESSAGES_KEY, TOOLS_KEY, Conversation, fields
from edgejudge.core.metrics import RESPONSE_A, RESPONSE_B, AnyMetric, PairwiseMetric
from edgejudge.core.pairs import OTHER, VERDICTS
from edgejudge.meta_eval.baselines import best_length_cut, majority, mean_score
from edgejudge.meta_eval.labels import LabelError, read_label
from edgejudge.meta_eval.statistics import (
    CORRELATIONS,
    NUMERIC,
    RESAMPLES,
    Estimate,
    binary_agreement,
    numeric_agreement,
    pairwise_agreement,
)

KINDS = ("numeric", "binary", "pairwise")
CALIBRATION_BINS = 10


class LabelledRow(Protocol):
    """An input row as read from a JSONL file (`edgejudge.judging.batch.Row`)."""

    @property
    def id(self) -> Any: ...

    @property
    def key(self) -> str: ...

    @property
    def data(self) -> Any: ...

    @property
    def problem(self) -> str | None: ...


def kind_of(metric: AnyMetric) -> str:
    """`numeric`, `binary` or `pairwise`."""
    if isinstance(metric, PairwiseMetric):
        return "pairwise"
    return "binary" if len(metric.scores) == 2 else "numeric"


def values_of(metric: AnyMetric) -> tuple[int | str, ...]:
    """The values a label or a verdict can take, in the order tables show them."""
    return VERDICTS if isinstance(metric, PairwiseMetric) else metric.scores


@dataclass(frozen=True)
class Labelled:
    """A row's human label (None, with the `problem`, where it cannot be read), and the
    length in characters of its response, or of a pair's two."""

    id: Any
    key: str
    label: int | str | None
    lengths: tuple[int, ...] = ()
    problem: str | None = None


def read_labels(rows: Sequence[LabelledRow], metric: AnyMetric, label_key: str) -> list[Labelled]:
    """Each row's label read strictly for `metric` (see `labels.read_label`)."""
    out = []
    for row in rows:
        data = row.data
        if row.problem is not None or not isinstance(data, dict):
            problem = row.problem or "the line is not a JSON object"
            out.append(Labelled(row.id, row.key, None, problem=problem))
            continue
        if label_key not in data:
            out.append(Labelled(row.id, row.key, None, problem=f"no {label_key!r} key"))
            continue
        try:
            label = read_label(data[label_key], metric)
        except LabelError as exc:
            out.append(Labelled(row.id, row.key, None, problem=str(exc)))
            continue
        out.append(Labelled(row.id, row.key, label, _lengths(data, metric)))
    return out


def _lengths(data: Mapping[str, Any], metric: AnyMetric) -> tuple[int, ...]:
    names = (
        (RESPONSE_A, RESPONSE_B)
        if isinstance(metric, PairwiseMetric)
        else (metric.required_output,)
    )
    if MESSAGES_KEY in data and not all(name in data for name in names):
        data = {**data, **_turn_judged(data, names)}
    return tuple(len(str(data.get(name, ""))) for name in names)


def _turn_judged(data: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """A conversation's `response` or `tool_call`, the turn its judge reads (none where the
    conversation cannot be read: that row is an error row when judged)."""
    try:
        conversation = Conversation.read(data[MESSAGES_KEY], data.get(TOOLS_KEY))
        return fields(conversation, names)
    except ValueError:
        return {}


@dataclass(frozen=True)
class Judged:
    """What a verdict record says, read for meta-evaluation: its decision (a score on the
    rubric, or a pair's A/tie/B), its expected value where probabilities were measured
    (expected score; P(the higher row); P(A better)), its top probability, and for a pair
    whether its two orders agreed."""

    value: int | str
    expected: float | None = None
    confidence: float | None = None
    consistent: bool | None = None


def read_verdict(record: Mapping[str, Any], metric: AnyMetric) -> Judged:
    """A verdict record as `Judged`; a ValueError says why it cannot be read."""
    if "error" in record:
        raise ValueError(f"error row: {record['error']}")
    if isinstance(metric, PairwiseMetric):
        verdict = record.get("verdict")
        if verdict not in VERDICTS:
            raise ValueError(f"no pairwise verdict (A, B or tie): {verdict!r}")
        p = record.get("p_a_better")
        consistent = record.get("consistent")
        return Judged(
            str(verdict),
            float(p) if isinstance(p, int | float) else None,
            None,
            consistent if isinstance(consistent, bool) else None,
        )
    score = record.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or score not in metric.scores:
        raise ValueError(f"no score on the rubric ({metric.scale}): {score!r}")
    confidence = record.get("confidence")
    return Judged(
        score,
        _expected(record, metric.scores),
        float(confidence) if isinstance(confidence, int | float) else None,
    )


def _expected(record: Mapping[str, Any], scores: tuple[int, ...]) -> float | None:
    """The expected score; on two rows, the probability of the higher one (a label's
    probabilities are keyed by its words, the record's `label` standing for its `score`)."""
    odds = record.get("probabilities")
    if not isinstance(odds, dict) or not odds:
        return None
    if len(scores) > 2:
        expected = record.get("expected_score")
        return float(expected) if isinstance(expected, int | float) else None
    if str(scores[-1]) in odds:
        return float(odds[str(scores[-1])])
    label, score = record.get("label"), record.get("score")
    if label in odds and len(odds) == 2:
        p = float(odds[label])
        return p if score == scores[-1] else 1.0 - p
    return None


@dataclass(frozen=True)
class Skipped:
    """A row left out of a statistic, and why."""

    id: Any
    problem: str

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "problem": self.problem}


@dataclass(frozen=True)
class Confusion:
    """Counts of (human label, judge decision); rows follow `human`, columns `judge`."""

    human: tuple[int | str, ...]
    judge: tuple[int | str, ...]
    counts: tuple[tuple[int, ...], ...]

    def fields(self) -> dict[str, Any]:
        return {
            "human": list(self.human),
            "judge": list(self.judge),
            "counts": [list(row) for row in self.counts],
        }


@dataclass(frozen=True)
class ByLabel:
    """For one human label: how many rows, and the judge's mean decision (numeric scales)
    and mean expected value there."""

    label: int | str
    n: int
    mean_decision: float | None
    mean_expected: float | None

    def fields(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n": self.n,
            "mean_decision": self.mean_decision,
            "mean_expected": self.mean_expected,
        }


@dataclass(frozen=True)
class Calibration:
    """How often what the judge's probability predicts comes true, in equal-width bins
    (scikit-learn's `calibration_curve`): `predicted` is each non-empty bin's mean
    probability, `observed` the share of its rows where it came true, `counts` its rows;
    `brier` is the mean squared error of the probability (scikit-learn's)."""

    what: str
    predicted: tuple[float, ...]
    observed: tuple[float, ...]
    counts: tuple[int, ...]
    brier: float
    n: int

    def fields(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "predicted": list(self.predicted),
            "observed": list(self.observed),
            "counts": list(self.counts),
            "brier": self.brier,
            "n": self.n,
        }


@dataclass(frozen=True)
class JudgeAgreement:
    """One judge against the labels."""

    name: str
    statistics: dict[str, Estimate]
    confusion: Confusion
    by_label: tuple[ByLabel, ...]
    calibration: Calibration | None
    skipped: tuple[Skipped, ...]
    source: str = ""

    @property
    def n(self) -> int:
        """The rows with both a readable label and a verdict."""
        return sum(sum(row) for row in self.confusion.counts)

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "n": self.n,
            "statistics": {name: e.fields() for name, e in self.statistics.items()},
            "confusion": self.confusion.fields(),
            "by_label": [entry.fields() for entry in self.by_label],
            "calibration": None if self.calibration is None else self.calibration.fields(),
            "not_judged": [entry.fields() for entry in self.skipped],
        }


@dataclass(frozen=True)
class Baseline:
    """A judge that knows nothing of the task, on the same labelled rows."""

    name: str
    about: str
    statistics: dict[str, Estimate]

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "about": self.about,
            "statistics": {name: e.fields() for name, e in self.statistics.items()},
        }


@dataclass(frozen=True)
class MetaEvaluation:
    """The whole report: every judge and baseline against the labels (`fields()` is the
    JSON the CLI's `--json` prints)."""

    metric: str
    kind: str
    values: tuple[int | str, ...]
    rows: int
    unreadable: tuple[Skipped, ...]
    judges: tuple[JudgeAgreement, ...]
    baselines: tuple[Baseline, ...]
    label_key: str = "label"
    resamples: int = RESAMPLES

    @property
    def labelled(self) -> int:
        """The rows whose label could be read."""
        return self.rows - len(self.unreadable)

    @property
    def counts(self) -> list[int]:
        """The rows each column of the table stands on: each judge's, then the labelled rows
        for each baseline."""
        return [judge.n for judge in self.judges] + [self.labelled for _ in self.baselines]

    def table(self) -> list[tuple[str, list[Estimate | None]]]:
        """The statistics table the terminal and the HTML page show: a row for every
        statistic some column has, in the order they first give them, and in it each
        column's estimate (None where it has none), the judges then the baselines."""
        parts: list[JudgeAgreement | Baseline] = [*self.judges, *self.baselines]
        names = dict.fromkeys(name for part in parts for name in part.statistics)
        return [(name, [part.statistics.get(name) for part in parts]) for name in names]

    def fields(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "values": list(self.values),
            "label_key": self.label_key,
            "rows": self.rows,
            "labelled": self.labelled,
            "unreadable_labels": [entry.fields() for entry in self.unreadable],
            "confidence_level": 0.95,
            "resamples": self.resamples,
            "judges": [judge.fields() for judge in self.judges],
            "baselines": [baseline.fields() for baseline in self.baselines],
        }


def compare(
    labelled: Sequence[Labelled],
    verdicts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    metric: AnyMetric,
    *,
    label_key: str = "label",
    sources: Mapping[str, str] | None = None,
    resamples: int = RESAMPLES,
) -> MetaEvaluation:
    """Each judge's verdicts (`verdicts[name]`: records by id key, as a batch writes them)
    against the labels, and the baselines on the labelled rows."""
    kind = kind_of(metric)
    readable = [row for row in labelled if row.label is not None]
    judges = tuple(
        _judge(name, readable, records, metric, resamples, (sources or {}).get(name, ""))
        for name, records in verdicts.items()
    )
    unreadable = tuple(Skipped(row.id, row.problem or "") for row in labelled if row.label is None)
    return MetaEvaluation(
        metric=metric.name,
        kind=kind,
        values=values_of(metric),
        rows=len(labelled),
        unreadable=unreadable,
        judges=judges,
        baselines=baselines(readable, metric, resamples) if readable else (),
        label_key=label_key,
        resamples=resamples,
    )


def _judge(
    name: str,
    readable: Sequence[Labelled],
    records: Mapping[str, Mapping[str, Any]],
    metric: AnyMetric,
    resamples: int,
    source: str,
) -> JudgeAgreement:
    kept: list[tuple[Labelled, Judged]] = []
    skipped: list[Skipped] = []
    for row in readable:
        record = records.get(row.key)
        if record is None:
            skipped.append(Skipped(row.id, "not judged: no verdict for this id"))
            continue
        try:
            kept.append((row, read_verdict(record, metric)))
        except ValueError as exc:
            skipped.append(Skipped(row.id, str(exc)))
    human = [row.label for row, _ in kept]
    decided = [judged.value for _, judged in kept]
    values = values_of(metric)
    return JudgeAgreement(
        name=name,
        statistics=_statistics(decided, human, [j for _, j in kept], metric, resamples),
        confusion=confusion(human, decided, values),
        by_label=_by_label(kept, values, numeric=kind_of(metric) != "pairwise"),
        calibration=_calibration(kept, metric),
        skipped=tuple(skipped),
        source=source,
    )


def _statistics(
    decided: Sequence[int | str],
    human: Sequence[Any],
    judged: Sequence[Judged],
    metric: AnyMetric,
    resamples: int,
) -> dict[str, Estimate]:
    if isinstance(metric, PairwiseMetric):
        consistent = [j.consistent for j in judged]
        return pairwise_agreement(
            [str(d) for d in decided], [str(h) for h in human], consistent, resamples=resamples
        )
    if len(metric.scores) == 2:
        return _binary(decided, human, metric.scores, resamples)
    out = numeric_agreement(decided, human, scale=metric.scores, resamples=resamples)
    expected = [j.expected for j in judged]
    if decided and all(e is not None for e in expected):
        soft = numeric_agreement(expected, human, names=CORRELATIONS, resamples=resamples)
        out.update({f"expected_{name}": e for name, e in soft.items()})
    return out


def _binary(
    decided: Sequence[Any], human: Sequence[Any], scores: tuple[int, ...], resamples: int
) -> dict[str, Estimate]:
    labels = (str(scores[0]), str(scores[1]))
    return binary_agreement(
        [str(d) for d in decided], [str(h) for h in human], labels, resamples=resamples
    ).statistics


def confusion(
    human: Sequence[Any], judge: Sequence[Any], values: tuple[int | str, ...]
) -> Confusion:
    """The confusion matrix over `values` (scikit-learn's)."""
    from sklearn.metrics import confusion_matrix

    if not human:
        empty = tuple(tuple(0 for _ in values) for _ in values)
        return Confusion(values, values, empty)
    text = [str(v) for v in values]
    matrix = confusion_matrix([str(h) for h in human], [str(j) for j in judge], labels=text)
    return Confusion(values, values, tuple(tuple(int(c) for c in row) for row in matrix))


def _by_label(
    kept: Sequence[tuple[Labelled, Judged]], values: tuple[int | str, ...], *, numeric: bool
) -> tuple[ByLabel, ...]:
    out = []
    for value in values:
        here = [judged for row, judged in kept if row.label == value]
        decisions = [float(j.value) for j in here if isinstance(j.value, int)]
        expected = [j.expected for j in here if j.expected is not None]
        out.append(
            ByLabel(
                value,
                len(here),
                float(np.mean(decisions)) if numeric and decisions else None,
                float(np.mean(expected)) if expected else None,
            )
        )
    return tuple(out)


def _calibration(kept: Sequence[tuple[Labelled, Judged]], metric: AnyMetric) -> Calibration | None:
    """Numeric scales: the top probability against whether the decision was the human's;
    two rows: P(the higher row) against the human's row; pairs: P(A better) against the
    human preferring A (over pairs the human did not call a tie). None where fewer than half
    the judged rows carry probabilities (verdicts judged with --no-probabilities)."""
    kind = kind_of(metric)
    probability: list[float] = []
    truth: list[bool] = []
    for row, judged in kept:
        if kind == "numeric" and judged.confidence is not None:
            probability.append(judged.confidence)
            truth.append(judged.value == row.label)
        elif kind == "binary" and judged.expected is not None:
            probability.append(judged.expected)
            truth.append(row.label == values_of(metric)[-1])
        elif kind == "pairwise" and judged.expected is not None and row.label != "tie":
            probability.append(judged.expected)
            truth.append(row.label == "A")
    if not probability or len(probability) < len(kept) // 2:
        return None
    what = {
        "numeric": "confidence (the top probability) against the judge's score being the label",
        "binary": f"P(score {values_of(metric)[-1]}) against the human label being it",
        "pairwise": "P(A better) against the human preferring A (pairs not labelled tie)",
    }[kind]
    return calibration(probability, truth, what)


def calibration(probability: Sequence[float], truth: Sequence[bool], what: str) -> Calibration:
    """The calibration curve and Brier score (scikit-learn's) of `probability` for `truth`."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    y = np.asarray(truth, dtype=bool)
    observed, predicted = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="uniform")
    # The rows in each non-empty bin, binned exactly as calibration_curve bins them.
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=CALIBRATION_BINS)
    return Calibration(
        what=what,
        predicted=tuple(float(v) for v in predicted),
        observed=tuple(float(v) for v in observed),
        counts=tuple(int(c) for c in counts if c),
        brier=float(brier_score_loss(y, p, pos_label=True)),
        n=len(p),
    )


# -- baselines ------------------------------------------------------------------------------


def baselines(
    readable: Sequence[Labelled], metric: AnyMetric, resamples: int = RESAMPLES
) -> tuple[Baseline, ...]:
    """The judges that know nothing (see `baselines`): the majority label always, a mean
    score on numeric scales, and one that reads only the response's length."""
    human = [row.label for row in readable]
    kind = kind_of(metric)
    top = majority(human)
    n = len(human)
    if isinstance(metric, PairwiseMetric):
        consistent: list[bool | None] = [None] * n
        chosen = [_longer(row.lengths) for row in readable]
        shorter = [OTHER.get(c, c) for c in chosen]
        agree = sum(c == h for c, h in zip(chosen, human, strict=True))
        better_short = sum(c == h for c, h in zip(shorter, human, strict=True)) > agree
        direction = "shorter" if better_short else "longer"
        return (
            Baseline(
                "majority label",
                f"always {top}, the most common human preference",
                pairwise_agreement(
                    [str(top)] * n, [str(h) for h in human], consistent, resamples=resamples
                ),
            ),
            Baseline(
                "length",
                f"prefers the {direction} response (tie when equal), the better direction on "
                "these rows",
                pairwise_agreement(
                    [str(c) for c in (shorter if better_short else chosen)],
                    [str(h) for h in human],
                    consistent,
                    resamples=resamples,
                ),
            ),
        )
    scores = metric.scores
    lengths = [row.lengths[0] for row in readable]
    if kind == "binary":
        high = scores[-1]
        cut = best_length_cut(lengths, [label == high for label in human])
        predicted = [
            high
            if (length >= cut.threshold if cut.longer else length <= cut.threshold)
            else scores[0]
            for length in lengths
        ]
        sign = "≥" if cut.longer else "≤"
        return (
            Baseline(
                "majority label",
                f"always {top}, the most common human label",
                _binary([top] * n, human, scores, resamples),
            ),
            Baseline(
                "length",
                f"{high} when the response has {sign} {cut.threshold:g} characters, the best "
                "cut on these rows (an upper bound)",
                _binary(predicted, human, scores, resamples),
            ),
        )
    mean = mean_score([float(h) for h in human if isinstance(h, int)])
    nearest = min(scores, key=lambda s: (abs(s - mean), s))
    every = [name for name in NUMERIC if name not in CORRELATIONS]
    return (
        Baseline(
            "majority label",
            f"always {top}, the most common human label",
            numeric_agreement([top] * n, human, scale=scores, names=every, resamples=resamples),
        ),
        Baseline(
            "mean score",
            f"always {nearest}, the human mean {mean:.2f} on the scale",
            numeric_agreement([nearest] * n, human, scale=scores, names=every, resamples=resamples),
        ),
        Baseline(
            "length",
            "the response's length in characters as the score (its correlations)",
            numeric_agreement(lengths, human, names=CORRELATIONS, resamples=resamples),
        ),
    )


def _longer(lengths: tuple[int, ...]) -> str:
    a, b = lengths
    return "A" if a > b else "B" if b > a else "tie"
