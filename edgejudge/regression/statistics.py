"""Did NEW get worse than BASE? Paired statistics over the rows both runs judged.

Every quantity is over the same rows in both runs, kept together: an interval resamples
rows (scipy.stats.bootstrap, paired, percentile, a fixed seed: `meta_eval.statistics`'s
`estimate`), never each run's scores apart. Each says on how many rows it stands, and one
that the data cannot define (no row changed) is None with the reason, never NaN.

* Scores (a numeric scale; also the expected score, where probabilities were measured):
  each run's mean, the mean change NEW - BASE with its interval, how many rows got better,
  stayed, got worse and by how many points, the share that got worse (with its interval),
  and Wilcoxon's signed-rank test of the shift (scipy.stats.wilcoxon): rows that did not
  change are dropped first (Wilcoxon's own rule); the p-value is exact where at most 50
  rows changed and no two by the same amount, else the normal approximation (with scipy's
  tie correction); the method is named with the result.
* Labels (PASS/FAIL, Yes/No: passed or not): each run's pass rate, the change with its
  interval, the rows that went from pass to fail and back, and McNemar's test on those
  discordant rows: exact (the binomial test, scipy.stats.binomtest) for fewer than 25 of
  them, else the chi-square statistic with the continuity correction.

`p_worse` is always the one-sided p-value of "NEW is worse": Wilcoxon's with the
alternative that the changes lean below zero; McNemar's exact binomial one that more rows
went from pass to fail than back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgejudge.meta_eval.statistics import Estimate, estimate

# Up to this many changed rows, with no two changed by the same amount, Wilcoxon's p is
# exact; McNemar's is exact below `MCNEMAR_EXACT_BELOW` discordant rows.
WILCOXON_EXACT_UP_TO = 50
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class Test:
    """A hypothesis test's outcome: its two-sided p, its one-sided `p_worse`, the method,
    the rows it stands on, and why it is undefined where it is."""

    name: str
    method: str
    p: float | None
    p_worse: float | None
    n: int
    why: str | None = None

    def fields(self) -> dict[str, Any]:
        return {"test": self.name, "method": self.method, "p": self.p,
                "p_worse": self.p_worse, "n": self.n, "why": self.why}  # fmt: skip


@dataclass(frozen=True)
class ScoreChange:
    """How scores moved from BASE to NEW over `n` rows (see the module's docstring)."""

    n: int
    base_mean: float | None
    new_mean: float | None
    mean_change: Estimate
    better: int
    same: int
    worse: int
    worse_share: Estimate
    by_points: dict[float, int] = field(default_factory=dict)
    wilcoxon: Test | None = None


@dataclass(frozen=True)
class PairChange:
    """How a pairwise verdict moved from BASE to NEW over `n` pairs: A's win rate (its
    share of the decided pairs, ties left out, as `batch --a/--b` reports it) in each run,
    the change with its paired interval, and the pairs whose verdict moved against A
    (A to tie or B, tie to B: `worse`) or for it (`better`)."""

    n: int
    base_win_rate: float | None
    new_win_rate: float | None
    win_rate_change: Estimate
    better: int
    worse: int


@dataclass(frozen=True)
class LabelChange:
    """How a pass/fail label moved from BASE to NEW over `n` rows."""

    n: int
    base_pass_rate: float | None
    new_pass_rate: float | None
    pass_rate_change: Estimate
    passed_to_failed: int
    failed_to_passed: int
    mcnemar: Test


def _mean_change(base: np.ndarray, new: np.ndarray) -> float:
    return float(np.mean(new - base))


def _batched_mean_change(base: Any, new: Any, axis: int = -1) -> Any:
    return np.mean(new - base, axis=axis)


def _worse_share(base: np.ndarray, new: np.ndarray) -> float:
    return float(np.mean(new < base))


def _batched_worse_share(base: Any, new: Any, axis: int = -1) -> Any:
    return np.mean(new < base, axis=axis)


def score_change(base: Sequence[float], new: Sequence[float]) -> ScoreChange:
    """The paired change of a score (or an expected score) from `base` to `new`, row by row."""
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} base scores against {len(b)} new ones")
    n = len(a)
    change = b - a
    steps = Counter(_number(float(d)) for d in change)
    return ScoreChange(
        n=n,
        base_mean=float(np.mean(a)) if n else None,
        new_mean=float(np.mean(b)) if n else None,
        mean_change=estimate(_mean_change, a, b, batched=_batched_mean_change),
        better=int(np.sum(change > 0)),
        same=int(np.sum(change == 0)),
        worse=int(np.sum(change < 0)),
        worse_share=estimate(_worse_share, a, b, batched=_batched_worse_share),
        by_points=dict(sorted(steps.items())),
        wilcoxon=wilcoxon(change),
    )


def wilcoxon(change: np.ndarray) -> Test:
    """Wilcoxon's signed-rank test of the changes (see the module's docstring)."""
    from scipy.stats import wilcoxon as scipy_wilcoxon

    name = "Wilcoxon signed-rank"
    moved = change[change != 0]
    n = len(moved)
    if n == 0:
        return Test(name, "", None, None, 0, "no row changed")
    tied = len(np.unique(np.abs(moved))) < n
    method = "exact" if n <= WILCOXON_EXACT_UP_TO and not tied else "asymptotic"
    shown = "exact" if method == "exact" else "normal approx., tie-corrected"
    both = scipy_wilcoxon(moved, method=method)
    worse = scipy_wilcoxon(moved, method=method, alternative="less")
    return Test(name, shown, _finite(both.pvalue), _finite(worse.pvalue), n)


def _win_rate(values: Any, axis: int = -1) -> Any:
    """A's share of the decided pairs (1: A, 0: B, NaN: a tie), NaN where none is decided."""
    decided = np.sum(~np.isnan(values), axis=axis)
    wins = np.nansum(values, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / decided


def _win_rate_change(base: np.ndarray, new: np.ndarray) -> float:
    return float(_win_rate(new) - _win_rate(base))


def _batched_win_rate_change(base: Any, new: Any, axis: int = -1) -> Any:
    return _win_rate(new, axis) - _win_rate(base, axis)


# A pairwise verdict as A's standing: won, tied (the two orders disagreed), lost.
STANDING = {"A": 1.0, "tie": 0.5, "B": 0.0}


def pair_change(base: Sequence[str], new: Sequence[str]) -> PairChange:
    """The paired change of pairwise verdicts ("A", "tie", "B") from `base` to `new`."""
    if len(base) != len(new):
        raise ValueError(f"{len(base)} base verdicts against {len(new)} new ones")
    wins = [np.asarray([np.nan if v == "tie" else STANDING[v] for v in run]) for run in (base, new)]
    standing = [np.asarray([STANDING[v] for v in run]) for run in (base, new)]
    rates = [_finite(_win_rate(run)) if len(run) else None for run in wins]
    return PairChange(
        n=len(base),
        base_win_rate=rates[0],
        new_win_rate=rates[1],
        win_rate_change=estimate(
            _win_rate_change, wins[0], wins[1], batched=_batched_win_rate_change
        ),
        better=int(np.sum(standing[1] > standing[0])),
        worse=int(np.sum(standing[1] < standing[0])),
    )


def label_change(base: Sequence[bool], new: Sequence[bool]) -> LabelChange:
    """The paired change of a pass/fail label from `base` to `new`, row by row."""
    a, b = np.asarray(base, dtype=bool), np.asarray(new, dtype=bool)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} base labels against {len(b)} new ones")
    n = len(a)
    lost = int(np.sum(a & ~b))
    gained = int(np.sum(~a & b))
    return LabelChange(
        n=n,
        base_pass_rate=float(np.mean(a)) if n else None,
        new_pass_rate=float(np.mean(b)) if n else None,
        pass_rate_change=estimate(
            _mean_change, a.astype(float), b.astype(float), batched=_batched_mean_change
        ),
        passed_to_failed=lost,
        failed_to_passed=gained,
        mcnemar=mcnemar(lost, gained),
    )


def mcnemar(lost: int, gained: int) -> Test:
    """McNemar's test on the discordant rows: `lost` passed in BASE and failed in NEW,
    `gained` the other way (see the module's docstring)."""
    from scipy.stats import binomtest, chi2

    name = "McNemar"
    n = lost + gained
    if n == 0:
        return Test(name, "", None, None, 0, "no row changed its label")
    worse = binomtest(lost, n, 0.5, alternative="greater").pvalue
    if n < MCNEMAR_EXACT_BELOW:
        both = binomtest(lost, n, 0.5).pvalue
        return Test(name, "exact (binomial)", _finite(both), _finite(worse), n)
    statistic = (abs(lost - gained) - 1) ** 2 / n
    both = chi2.sf(statistic, 1)
    method = "chi-square, continuity-corrected (p_worse: exact binomial)"
    return Test(name, method, _finite(both), _finite(worse), n)


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _number(value: float) -> float:
    """A change as an int where it is whole (the steps of an integer scale)."""
    return int(value) if value == int(value) else value
