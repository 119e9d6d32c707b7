"""How well a judge agrees with people: the statistics of meta-evaluation, each with a 95%
bootstrap confidence interval.

Numeric scales: Pearson, Spearman and Kendall's tau-b (scipy.stats), exact agreement,
agreement within one point, and quadratic-weighted Cohen's kappa (scikit-learn). Two-way
labels: accuracy, precision, recall and F1 for each class and their macro averages (the
layout of the model cards), Cohen's kappa, and the confusion matrix (scikit-learn).

Every interval is scipy.stats.bootstrap over the rows, paired (a row's verdict and label stay
together), percentile method, `RESAMPLES` resamples from a fixed seed: the same rows always
give the same interval. A statistic a resample cannot define (a correlation of a constant)
is left out of the percentiles; where more than a tenth of the resamples cannot define it,
the interval is undefined (None), never a made-up number.

`edgejudge.meta_eval.evaluation` puts them together into a report, beside the baselines.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0
# The least share of resamples on which a statistic must be defined to have an interval.
DEFINED = 0.9


@dataclass(frozen=True)
class Estimate:
    """A statistic over `n` rows and its 95% bootstrap interval; None where undefined."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    def fields(self) -> dict[str, Any]:
        """JSON-ready: `value`, `low`, `high`, `n`."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def estimate(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    judge: Sequence[Any] | np.ndarray,
    human: Sequence[Any] | np.ndarray,
    *,
    resamples: int = RESAMPLES,
    batched: Callable[..., Any] | None = None,
) -> Estimate:
    """`statistic(judge, human)` over the rows, with its paired bootstrap interval.

    `batched(judge, human, axis=-1)`, where given, is the same statistic over a whole batch
    of resamples at once (scipy's vectorized form), for a statistic whose library function
    is too slow to call thousands of times; the point value is always `statistic`'s."""
    from scipy.stats import bootstrap

    a, b = np.asarray(judge), np.asarray(human)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} verdicts against {len(b)} labels")
    n = len(a)
    if n == 0:
        return Estimate(None, None, None, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant inputs: the statistic is NaN, said as None
        value = _finite(statistic(a, b))
        if value is None or n < 2:
            return Estimate(value, None, None, n)
        result = bootstrap(
            (a, b),
            statistic if batched is None else batched,
            paired=True,
            vectorized=batched is not None,
            n_resamples=resamples,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(SEED),
        )
    # The percentile interval over the resamples where the statistic is defined (a
    # correlation is not, on a resample where one side is constant), provided nearly all are:
    # scipy's own interval is NaN as soon as one is not.
    spread = np.asarray(result.bootstrap_distribution, dtype=float)
    defined = spread[np.isfinite(spread)]
    if len(defined) < DEFINED * len(spread):
        return Estimate(value, None, None, n)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.percentile(defined, [100 * alpha, 100 * (1 - alpha)])
    return Estimate(value, _finite(low), _finite(high), n)


# -- numeric scales -------------------------------------------------------------------------


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import pearsonr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(pearsonr(a, b).statistic)


def batched_pearson(a: Any, b: Any, axis: int = -1) -> Any:
    """Pearson over every resample at once (scipy's `axis`); NaN where one side is constant."""
    from scipy.stats import pearsonr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return pearsonr(a, b, axis=axis).statistic


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _kendall(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b, variant="b").statistic)


def _exact(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def _within_one(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b) <= 1))


def _quadratic_kappa(scale: Sequence[int] | None) -> Callable[[np.ndarray, np.ndarray], float]:
    """scikit-learn's quadratic-weighted kappa. Its weights are distances between positions
    in the list of labels, so the rubric's whole scale is passed: without it a resample that
    lacks a score would move the others closer together."""

    def statistic(a: np.ndarray, b: np.ndarray) -> float:
        from sklearn.metrics import cohen_kappa_score

        labels = None if scale is None else list(scale)
        return float(cohen_kappa_score(a, b, weights="quadratic", labels=labels))

    return statistic


def batched_quadratic_kappa(scale: Sequence[int] | None) -> Callable[..., Any]:
    """The same kappa over every resample at once: with x and y each row's position on the
    scale, 1 - n·Σ(x-y)² / Σᵢ Σⱼ (xᵢ-yⱼ)², the closed form of 1 - Σ w·O / Σ w·E for
    quadratic weights. Tests hold it to scikit-learn's."""

    def statistic(a: Any, b: Any, axis: int = -1) -> Any:
        positions = np.asarray(
            sorted(set(np.ravel(a)) | set(np.ravel(b))) if scale is None else scale
        )
        x = np.searchsorted(positions, a).astype(float)
        y = np.searchsorted(positions, b).astype(float)
        n = x.shape[axis]
        observed = np.sum((x - y) ** 2, axis=axis)
        chance = (
            n * np.sum(x**2, axis=axis)
            + n * np.sum(y**2, axis=axis)
            - 2 * np.sum(x, axis=axis) * np.sum(y, axis=axis)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 - n * observed / chance

    return statistic


NUMERIC = (
    "pearson",
    "spearman",
    "kendall_tau_b",
    "exact_agreement",
    "within_one",
    "quadratic_kappa",
)
# The correlations, for a continuous judge score (the expected score) against the labels.
CORRELATIONS = ("pearson", "spearman", "kendall_tau_b")


def _numeric_statistics(
    scale: Sequence[int] | None,
) -> dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], Callable[..., Any] | None]]:
    """Each numeric statistic, and its batched form where the library call is slow."""
    return {
        "pearson": (_pearson, batched_pearson),
        "spearman": (_spearman, None),
        "kendall_tau_b": (_kendall, None),
        "exact_agreement": (_exact, None),
        "within_one": (_within_one, None),
        "quadratic_kappa": (_quadratic_kappa(scale), batched_quadratic_kappa(scale)),
    }


def numeric_agreement(
    judge: Sequence[Any],
    human: Sequence[Any],
    *,
    scale: Sequence[int] | None = None,
    names: Sequence[str] = NUMERIC,
    resamples: int = RESAMPLES,
) -> dict[str, Estimate]:
    """The numeric statistics `names` of the judge's scores against the human scores;
    `scale` is the rubric's scores, lowest first (the kappa's weights)."""
    statistics = _numeric_statistics(scale)
    return {
        name: estimate(
            statistics[name][0], judge, human, resamples=resamples, batched=statistics[name][1]
        )
        for name in names
    }


def correlations(
    judge: Sequence[float], human: Sequence[float], *, resamples: int = RESAMPLES
) -> dict[str, Estimate]:
    """The correlations alone: for a judge score that is not on the scale (expected score)."""
    return numeric_agreement(judge, human, names=CORRELATIONS, resamples=resamples)


# -- two-way labels -------------------------------------------------------------------------


def _per_class(
    metric: Callable[..., Any], label: str, labels: tuple[str, str]
) -> Callable[[np.ndarray, np.ndarray], float]:
    def statistic(a: np.ndarray, b: np.ndarray) -> float:
        return float(metric(b, a, labels=list(labels), pos_label=label, zero_division=np.nan))

    return statistic


def _macro(metric: Callable[..., Any], labels: tuple[str, str]) -> Callable[..., float]:
    def statistic(a: np.ndarray, b: np.ndarray) -> float:
        return float(metric(b, a, labels=list(labels), average="macro", zero_division=np.nan))

    return statistic


def _accuracy(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(b, a))


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(b, a))


@dataclass(frozen=True)
class BinaryAgreement:
    """A two-way judge against two-way labels: the statistics and the confusion matrix
    (rows: the human label, columns: the judge's, both in `labels` order)."""

    labels: tuple[str, str]
    statistics: dict[str, Estimate]
    confusion: tuple[tuple[int, int], tuple[int, int]]

    def fields(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "labels": list(self.labels),
            "statistics": {name: e.fields() for name, e in self.statistics.items()},
            "confusion": [list(row) for row in self.confusion],
        }


def binary_agreement(
    judge: Sequence[str],
    human: Sequence[str],
    labels: tuple[str, str],
    *,
    resamples: int = RESAMPLES,
) -> BinaryAgreement:
    """Accuracy, each class's precision, recall and F1, their macro averages, Cohen's kappa
    and the confusion matrix of the judge's labels against the human ones."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

    found = sorted((set(judge) | set(human)) - set(labels))
    if found:
        raise ValueError(f"labels other than {' and '.join(labels)}: {', '.join(found)}")
    # name -> (scikit-learn's statistic, the key of its batched form)
    statistics: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], str]] = {
        "accuracy": (_accuracy, "accuracy")
    }
    for label, key in zip(labels, ("first", "second"), strict=True):
        statistics[f"precision_{label}"] = (
            _per_class(precision_score, label, labels),
            f"precision_{key}",
        )
        statistics[f"recall_{label}"] = (_per_class(recall_score, label, labels), f"recall_{key}")
        statistics[f"f1_{label}"] = (_per_class(f1_score, label, labels), f"f1_{key}")
    statistics["precision_macro"] = (_macro(precision_score, labels), "precision_macro")
    statistics["recall_macro"] = (_macro(recall_score, labels), "recall_macro")
    statistics["f1_macro"] = (_macro(f1_score, labels), "f1_macro")
    statistics["cohen_kappa"] = (_kappa, "cohen_kappa")
    matrix = confusion_matrix(list(human), list(judge), labels=list(labels))
    # The intervals come from the batched forms: scikit-learn's functions called 2,000 times
    # per statistic take half a minute. Tests hold each batched form to scikit-learn's value.
    positive = [label == labels[0] for label in judge], [label == labels[0] for label in human]
    return BinaryAgreement(
        labels=labels,
        statistics={
            name: _binary_estimate(f, key, judge, human, positive, resamples)
            for name, (f, key) in statistics.items()
        },
        confusion=((int(matrix[0][0]), int(matrix[0][1])), (int(matrix[1][0]), int(matrix[1][1]))),
    )


# -- pairs ----------------------------------------------------------------------------------


def _same(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def _share_true(a: np.ndarray, _: np.ndarray) -> float:
    return float(np.mean(a.astype(bool)))


def pairwise_agreement(
    verdicts: Sequence[str],
    human: Sequence[str],
    consistent: Sequence[bool | None],
    *,
    resamples: int = RESAMPLES,
) -> dict[str, Estimate]:
    """A pairwise judge against human preferences (A, B or tie): how often its verdict is the
    human's, how often it is a tie, and how often its two orders agreed (over the pairs
    judged in both orders)."""
    ties = [verdict == "tie" for verdict in verdicts]
    both = [value for value in consistent if value is not None]
    return {
        "agreement": estimate(_same, verdicts, human, resamples=resamples),
        "tie_rate": estimate(_share_true, ties, ties, resamples=resamples),
        "consistency": estimate(_share_true, both, both, resamples=resamples),
    }


def _binary_estimate(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    key: str,
    judge: Sequence[str],
    human: Sequence[str],
    positive: tuple[list[bool], list[bool]],
    resamples: int,
) -> Estimate:
    """A two-way statistic's value (scikit-learn's) and its interval (the batched form, on
    whether each row's judge and human labels are the first label)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = _finite(statistic(np.asarray(judge), np.asarray(human)))
    spread = estimate(
        lambda a, b: float(batched_binary(key, a, b)),
        positive[0],
        positive[1],
        resamples=resamples,
        batched=lambda a, b, axis=-1: batched_binary(key, a, b, axis=axis),
    )
    return Estimate(value, spread.low, spread.high, spread.n)


def batched_binary(name: str, judge: Any, human: Any, axis: int = -1) -> Any:
    """A two-way statistic from booleans (is each row's label the first one), over `axis`:
    counts of the confusion matrix, then the textbook definitions, for every resample at
    once. `name` is a key of `binary_agreement`'s statistics with the classes `first` and
    `second` in place of the labels."""
    a, b = np.asarray(judge, dtype=bool), np.asarray(human, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "accuracy":
            return np.mean(a == b, axis=axis)
        if name == "cohen_kappa":
            agree = np.mean(a == b, axis=axis)
            chance = np.mean(a, axis=axis) * np.mean(b, axis=axis) + np.mean(
                ~a, axis=axis
            ) * np.mean(~b, axis=axis)
            return (agree - chance) / (1 - chance)
        kind, _, which = name.partition("_")
        if which == "macro":
            both = [_class_score(kind, a, b, axis), _class_score(kind, ~a, ~b, axis)]
            return np.nanmean(np.stack(both), axis=0)
        first = which == "first"
        return _class_score(kind, a if first else ~a, b if first else ~b, axis)


def _class_score(kind: str, predicted: Any, true: Any, axis: int) -> Any:
    tp = np.sum(predicted & true, axis=axis)
    fp = np.sum(predicted & ~true, axis=axis)
    fn = np.sum(~predicted & true, axis=axis)
    if kind == "precision":
        return tp / (tp + fp)
    if kind == "recall":
        return tp / (tp + fn)
    return 2 * tp / (2 * tp + fp + fn)
