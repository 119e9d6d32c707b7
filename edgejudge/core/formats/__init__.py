"""Judge families: each a prompt template, a grammar and a parser behind `JudgeFormat`.

`base` holds the contract (`Verdict`: feedback and a score, a label or a choice, plus
extras; `Message`; the `JudgeFormat` protocol). `shape` derives a format's grammar, parser,
streaming filter and close-out from its answer declared as sections, so a family
(`flow_judge`) is its trained template plus an `AnswerShape`, on `ShapedFormat`.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgejudge.core.formats.base import (
    ANY_SCALE,
    FeedbackStream,
    JudgeFormat,
    Message,
    Verdict,
)
from edgejudge.core.formats.flow_judge import FLOW_JUDGE, FlowJudgeFormat, FlowJudgeHarnessFormat
from edgejudge.core.formats.glider import GliderFormat
from edgejudge.core.formats.pairwise import PairwiseFormat
from edgejudge.core.formats.prometheus import PrometheusFormat, PrometheusRelativeFormat
from edgejudge.core.formats.root_judge import RootJudgeFormat
from edgejudge.core.formats.selene import SeleneFormat, SelenePairwiseFormat
from edgejudge.core.metrics import AnyMetric, Metric, PairwiseMetric
from edgejudge.errors import FamilyError

FORMATS: dict[str, JudgeFormat] = {
    judge_format.family: judge_format
    for judge_format in (
        FLOW_JUDGE,
        FlowJudgeHarnessFormat(),
        PrometheusFormat("training"),
        PrometheusFormat("library"),
        SeleneFormat(),
        GliderFormat(),
        RootJudgeFormat(),
    )
}
# The families trained to compare two responses, by the same names.
PAIRWISE_FORMATS: dict[str, PairwiseFormat] = {
    pair_format.family: pair_format
    for pair_format in (
        PrometheusRelativeFormat("training"),
        PrometheusRelativeFormat("library"),
        SelenePairwiseFormat(),
    )
}
ANY_SCALE.extend(f.family for f in FORMATS.values() if f.any_scale and "@" not in f.family)
# The format a model speaks when neither the caller nor the catalog names one.
DEFAULT_FAMILY = FLOW_JUDGE.family
# Characters the grammar allows in the feedback per token of budget; generous on purpose,
# since the token budget (not this) is meant to be what ends an over-long feedback.
CHARS_PER_TOKEN_BOUND = 8
# Every family a catalog entry, --family or family= may name.
KNOWN_FAMILIES: tuple[str, ...] = tuple(FORMATS)


def listed(names: Sequence[str]) -> str:
    """`a, b and c`."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def published_sampling() -> str:
    """Each family's published sampling, families with the same settings together:
    `prometheus, prometheus@library temperature 1.0, top_p 0.9, ...; the others publish none
    (greedy)`, for `--sampling`'s help."""
    by_settings: dict[str, list[str]] = {}
    for judge_format in FORMATS.values():
        if judge_format.authors_sampling is not None:
            settings = judge_format.authors_sampling.settings()
            by_settings.setdefault(settings, []).append(judge_format.family)
    said = [f"{', '.join(families)} {settings}" for settings, families in by_settings.items()]
    return "; ".join([*said, "the others publish none (greedy)"])


def verdict_grammar(judge_format: JudgeFormat, metric: Metric, max_tokens: int) -> str:
    """The grammar for `metric`'s verdicts, its feedback bound sized to the token budget."""
    return judge_format.grammar(metric, max_feedback_chars=max_tokens * CHARS_PER_TOKEN_BOUND)


def pair_grammar(pair_format: PairwiseFormat, max_tokens: int) -> str:
    """The grammar for a pairwise format's answers, sized to the token budget."""
    return pair_format.grammar(max_feedback_chars=max_tokens * CHARS_PER_TOKEN_BOUND)


def get_pairwise_format(family: str) -> PairwiseFormat:
    """The pairwise format for a family; `FamilyError` naming those that have one if it has
    none (Flow-Judge, Glider and Root Judge publish no pairwise prompt)."""
    get_format(family)  # an unknown family is said so first
    try:
        return PAIRWISE_FORMATS[family]
    except KeyError:
        able = ", ".join(PAIRWISE_FORMATS)
        raise FamilyError(
            f"{family} publishes no pairwise prompt: compare two responses with a family "
            f"trained on pairs ({able}), e.g. --family prometheus"
        ) from None


def checked_pairwise(judge_format: JudgeFormat, metric: PairwiseMetric) -> PairwiseFormat:
    """The pairwise format of `judge_format`'s family, checked against `metric`
    (`FamilyError` in one line if the family has none or cannot express it)."""
    pair_format = get_pairwise_format(judge_format.family)
    pair_format.check(metric)
    return pair_format


def answer_grammar(judge_format: JudgeFormat, metric: AnyMetric, max_tokens: int) -> str:
    """The grammar that forces `metric`'s answers in `judge_format`'s family (its pairwise
    format's A/B grammar for a pairwise metric), once the family is checked against it."""
    if isinstance(metric, PairwiseMetric):
        return pair_grammar(checked_pairwise(judge_format, metric), max_tokens)
    judge_format.check(metric)
    return verdict_grammar(judge_format, metric, max_tokens)


def get_format(family: str) -> JudgeFormat:
    """The format for a judge family name, e.g. `flow-judge`."""
    try:
        return FORMATS[family]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise FamilyError(f"unknown judge family {family!r} (known: {known})") from None


__all__ = [
    "ANY_SCALE",
    "CHARS_PER_TOKEN_BOUND",
    "DEFAULT_FAMILY",
    "FORMATS",
    "KNOWN_FAMILIES",
    "FeedbackStream",
    "FlowJudgeFormat",
    "JudgeFormat",
    "Message",
    "PAIRWISE_FORMATS",
    "PairwiseFormat",
    "Verdict",
    "answer_grammar",
    "checked_pairwise",
    "get_format",
    "get_pairwise_format",
    "listed",
    "published_sampling",
    "pair_grammar",
    "verdict_grammar",
]
