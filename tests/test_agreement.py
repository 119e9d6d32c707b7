"""Meta-evaluation statistics against scipy and scikit-learn called here, independently, on
tiny labelled sets written for the tests (issue 18, first part)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from edgejudge.core.agreement import (
    binary_agreement,
    correlations,
    estimate,
    numeric_agreement,
)

JUDGE = [1, 2, 2, 3, 4, 5, 5, 3, 2, 4, 1, 3]
HUMAN = [1, 2, 3, 3, 5, 5, 4, 2, 2, 4, 2, 3]


def test_numeric_statistics_are_scipys_and_sklearns() -> None:
    got = numeric_agreement(JUDGE, HUMAN, resamples=200)
    expected = {
        "pearson": stats.pearsonr(JUDGE, HUMAN).statistic,
        "spearman": stats.spearmanr(JUDGE, HUMAN).statistic,
        "kendall_tau_b": stats.kendalltau(JUDGE, HUMAN).statistic,  # tau-b is scipy's default
        "exact_agreement": 7 / 12,
        "within_one": 12 / 12,
        "quadratic_kappa": metrics.cohen_kappa_score(JUDGE, HUMAN, weights="quadratic"),
    }
    assert {name: e.value for name, e in got.items()} == pytest.approx(expected)
    for estimate_ in got.values():
        assert estimate_.n == 12
        if estimate_.value != 1.0:
            assert estimate_.low is not None and estimate_.high is not None
            assert estimate_.low <= estimate_.value <= estimate_.high


def test_the_interval_is_scipys_paired_percentile_bootstrap_and_repeatable() -> None:
    got = estimate(lambda a, b: float(np.mean(a == b)), JUDGE, HUMAN, resamples=300)
    again = estimate(lambda a, b: float(np.mean(a == b)), JUDGE, HUMAN, resamples=300)
    assert got == again
    reference = stats.bootstrap(
        (np.array(JUDGE), np.array(HUMAN)),
        lambda a, b: np.mean(a == b),
        paired=True,
        vectorized=False,
        n_resamples=300,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert (got.low, got.high) == pytest.approx((reference.low, reference.high))


def test_an_undefined_statistic_is_none_not_a_number() -> None:
    constant = correlations([3, 3, 3, 3], [1, 2, 3, 4], resamples=50)
    assert constant["pearson"].value is None and constant["pearson"].low is None
    assert estimate(lambda a, b: 1.0, [], []).n == 0


def test_binary_statistics_follow_the_model_cards_layout() -> None:
    judge = ["PASS", "PASS", "FAIL", "PASS", "FAIL", "FAIL", "PASS", "PASS", "FAIL", "PASS"]
    human = ["PASS", "FAIL", "FAIL", "PASS", "FAIL", "PASS", "PASS", "PASS", "FAIL", "FAIL"]
    got = binary_agreement(judge, human, ("PASS", "FAIL"), resamples=60)
    values = {name: e.value for name, e in got.statistics.items()}
    report = metrics.classification_report(human, judge, labels=["PASS", "FAIL"], output_dict=True)
    assert values["accuracy"] == pytest.approx(metrics.accuracy_score(human, judge))
    for label in ("PASS", "FAIL"):
        assert values[f"precision_{label}"] == pytest.approx(report[label]["precision"])
        assert values[f"recall_{label}"] == pytest.approx(report[label]["recall"])
        assert values[f"f1_{label}"] == pytest.approx(report[label]["f1-score"])
    assert values["f1_macro"] == pytest.approx(report["macro avg"]["f1-score"])
    assert values["cohen_kappa"] == pytest.approx(metrics.cohen_kappa_score(human, judge))
    assert got.confusion == ((4, 1), (2, 3))  # rows: the human label; columns: the judge's
    with pytest.raises(ValueError, match="labels other than PASS and FAIL: maybe"):
        binary_agreement(["PASS"], ["maybe"], ("PASS", "FAIL"))
