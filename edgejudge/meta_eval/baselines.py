"""The judges a real judge must beat, computed on the same labelled rows.

* the majority label: every row gets the most common human label;
* the mean score: every row gets the human scores' mean (its correlations are undefined; its
  exact agreement is that of the mean rounded to the scale);
* the length judge: the response's length alone, as a score (its correlation with the human
  scores) or, for two-way labels, cut at the best threshold in the better direction (its
  accuracy, chosen on the same rows, so an upper bound). On HaluEval's QA set "the longer
  answer is the hallucinated one" scores about 93%: a judge that does not beat length has
  learnt nothing.

The thresholds come from scikit-learn's `roc_curve` (every cut that changes a prediction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

Label = TypeVar("Label", bound=Hashable)


def majority(human: Sequence[Label]) -> Label:
    """The most common label (the first met among equals)."""
    if not human:
        raise ValueError("no labels")
    return Counter(human).most_common(1)[0][0]


def mean_score(human: Sequence[float]) -> float:
    """The human scores' mean."""
    if not human:
        raise ValueError("no labels")
    return float(np.mean(human))


@dataclass(frozen=True)
class LengthCut:
    """The length judge for two-way labels: `positive` where the length is at least
    `threshold` (`longer`) or at most it (not `longer`), and the accuracy that reaches."""

    accuracy: float
    threshold: float
    longer: bool


def best_length_cut(lengths: Sequence[float], positive: Sequence[bool]) -> LengthCut:
    """The threshold on length, in the better direction, with the highest accuracy."""
    from sklearn.metrics import roc_curve

    if not lengths or len(lengths) != len(positive):
        raise ValueError("need one length per label")
    truth = np.asarray(positive, dtype=bool)
    count, pos = len(truth), int(truth.sum())
    if pos in (0, count):  # one class only: every row the same, whatever the length
        return LengthCut(1.0, float("inf"), True)
    best: LengthCut | None = None
    for longer in (True, False):
        score = np.asarray(lengths, dtype=float) * (1 if longer else -1)
        fpr, tpr, thresholds = roc_curve(truth, score)
        accuracy = (tpr * pos + (1 - fpr) * (count - pos)) / count
        index = int(np.argmax(accuracy))
        cut = LengthCut(
            float(accuracy[index]), float(thresholds[index]) * (1 if longer else -1), longer
        )
        if best is None or cut.accuracy > best.accuracy:
            best = cut
    assert best is not None
    return best
