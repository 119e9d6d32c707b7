"""Meta-evaluation statistics against scipy and scikit-learn called here, independently, on
tiny labelled sets written for the tests (issue 18, first part)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from edgejudge.meta_eval.statistics import (
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


def scipy_bootstrap(
    statistic: Any, judge: list[int], human: list[int], resamples: int, *, vectorized: bool = False
) -> Any:
    """scipy's paired percentile bootstrap, called here as edgejudge is meant to call it."""
    return stats.bootstrap(
        (np.array(judge), np.array(human)),
        statistic,
        paired=True,
        vectorized=vectorized,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(0),
    )


def test_the_interval_is_scipys_paired_percentile_bootstrap_and_repeatable() -> None:
    got = estimate(lambda a, b: float(np.mean(a == b)), JUDGE, HUMAN, resamples=300)
    again = estimate(lambda a, b: float(np.mean(a == b)), JUDGE, HUMAN, resamples=300)
    assert got == again
    reference = scipy_bootstrap(lambda a, b: np.mean(a == b), JUDGE, HUMAN, 300).confidence_interval
    assert (got.low, got.high) == pytest.approx((reference.low, reference.high))


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_resamples_that_cannot_define_a_statistic_are_left_out_of_the_interval() -> None:
    # 20 rows, three of them not 1: about 4% of resamples hold only 1s (no correlation).
    judge = [1] * 17 + [2, 2, 3]
    human = [5, 1, 3, 2, 5, 1, 4, 5, 2, 3, 5, 1, 5, 3, 2, 5, 4, 1, 5, 3]
    got = correlations(judge, human, resamples=500)["pearson"]
    spread = scipy_bootstrap(
        lambda a, b, axis=-1: stats.pearsonr(a, b, axis=axis).statistic,
        judge,
        human,
        500,
        vectorized=True,
    ).bootstrap_distribution
    defined = spread[np.isfinite(spread)]
    assert 0.9 * 500 <= len(defined) < 500
    assert (got.low, got.high) == pytest.approx(tuple(np.percentile(defined, [2.5, 97.5])))
    # One row not 1 in 20: most resamples are constant, and there is no interval.
    rare = correlations([1] * 19 + [2], human, resamples=200)["pearson"]
    assert rare.value is not None and rare.low is None and rare.high is None


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


def test_pairwise_agreement_tie_rate_and_consistency() -> None:
    from edgejudge.meta_eval.statistics import pairwise_agreement

    verdicts = ["A", "B", "tie", "A", "tie", "B"]
    human = ["A", "A", "tie", "A", "B", "B"]
    consistent = [True, True, False, True, False, None]
    got = pairwise_agreement(verdicts, human, consistent, resamples=50)
    assert got["agreement"].value == pytest.approx(4 / 6)
    assert got["tie_rate"].value == pytest.approx(2 / 6)
    assert (got["consistency"].value, got["consistency"].n) == (pytest.approx(3 / 5), 5)


def test_labels_are_read_strictly_for_the_metrics_kind() -> None:
    from edgejudge.core import get_preset
    from edgejudge.core.presets import PAIRWISE_PRESETS
    from edgejudge.meta_eval.labels import LabelError, read_label

    five, binary = get_preset("response-faithfulness-5point"), get_preset("hallucination-detection")
    assert [read_label(v, five) for v in (4, "4", 4.0, " 2 ")] == [4, 4, 4, 2]
    assert [read_label(v, binary) for v in ("PASS", "no", True, 0, "1")] == [1, 0, 1, 0, 1]
    assert read_label(" a ", PAIRWISE_PRESETS["pairwise-helpfulness"]) == "A"
    for value, metric, message in [
        (7, five, "label 7 is not a score on the rubric (1, 2, 3, 4, 5)"),
        ("maybe", binary, "label 'maybe' is not a score on the rubric (0, 1 or pass/fail, yes/no)"),
        (True, five, "label True is not a score on the rubric (1-5)"),
        (3.5, five, "label 3.5 is not a score"),
        ("C", PAIRWISE_PRESETS["pairwise-helpfulness"], "label 'C' is not A, B or tie"),
    ]:
        with pytest.raises(LabelError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_label(value, metric)


def test_baselines_majority_mean_and_the_best_length_cut() -> None:
    from edgejudge.meta_eval.baselines import best_length_cut, majority, mean_score

    assert majority(["FAIL", "PASS", "FAIL"]) == "FAIL" and mean_score([1, 2, 6]) == 3.0
    lengths = [10, 40, 12, 55, 60, 8, 45, 20]
    hallucinated = [False, True, False, True, True, False, False, True]
    cut = best_length_cut(lengths, hallucinated)
    # By brute force over every cut and both directions.
    best = max(
        np.mean([(length >= t) == h for length, h in zip(lengths, hallucinated, strict=True)])
        for t in [*lengths, max(lengths) + 1]
    )
    shorter = max(
        np.mean([(length <= t) == h for length, h in zip(lengths, hallucinated, strict=True)])
        for t in [*lengths, min(lengths) - 1]
    )
    assert cut.accuracy == pytest.approx(max(best, shorter)) and cut.longer
    assert cut.accuracy == pytest.approx(7 / 8) and cut.threshold == 20
    assert best_length_cut([5, 50], [False, False]).accuracy == 1.0


def test_the_batched_binary_forms_equal_scikit_learn_on_every_resample() -> None:
    from edgejudge.meta_eval.statistics import batched_binary

    rng = np.random.default_rng(3)
    labels = ["Yes", "No"]
    judge, human = rng.choice(labels, size=40), rng.choice(labels, size=40)
    rows = rng.integers(0, 40, size=(6, 40))  # six resamples at once
    a, b = judge[rows], human[rows]
    nan = {"zero_division": np.nan}
    for index in range(6):
        y, p = b[index], a[index]  # scikit-learn: truth first
        expected = {
            "accuracy": metrics.accuracy_score(y, p),
            "cohen_kappa": metrics.cohen_kappa_score(y, p),
            "precision_first": metrics.precision_score(y, p, pos_label="Yes", **nan),
            "recall_second": metrics.recall_score(y, p, pos_label="No", **nan),
            "f1_first": metrics.f1_score(y, p, pos_label="Yes", **nan),
            "precision_macro": metrics.precision_score(y, p, average="macro", **nan),
            "f1_macro": metrics.f1_score(y, p, labels=labels, average="macro", **nan),
        }
        for key, value in expected.items():
            batched = batched_binary(key, a == "Yes", b == "Yes", axis=-1)
            assert batched[index] == pytest.approx(value, nan_ok=True), key
