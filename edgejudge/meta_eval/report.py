"""How meta-evaluation's statistics are shown: their titles and the text of one estimate, for
the terminal table and the HTML report alike."""

from __future__ import annotations

from edgejudge.meta_eval.statistics import Estimate

# What each statistic is called in the table and the report, in the order they are shown.
TITLES = {
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "kendall_tau_b": "Kendall τ-b",
    "exact_agreement": "exact agreement",
    "within_one": "within one point",
    "quadratic_kappa": "quadratic κ",
    "expected_pearson": "Pearson r, expected score",
    "expected_spearman": "Spearman ρ, expected score",
    "expected_kendall_tau_b": "Kendall τ-b, expected score",
    "accuracy": "accuracy",
    "precision_macro": "precision, macro",
    "recall_macro": "recall, macro",
    "f1_macro": "F1, macro",
    "cohen_kappa": "Cohen's κ",
    "agreement": "agreement",
    "tie_rate": "tie rate",
    "consistency": "consistency",
}


def title(name: str) -> str:
    """A statistic's name as the table shows it: `precision_1` is `precision, class 1`."""
    if name in TITLES:
        return TITLES[name]
    kind, _, value = name.rpartition("_")
    return f"{'F1' if kind == 'f1' else kind}, class {value}"


def cell(estimate: Estimate) -> str:
    """`0.71 [0.55, 0.83]`; `—` where undefined; the value alone where no interval is."""
    if estimate.value is None:
        return "—"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.2f}"
    return f"{estimate.value:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"
