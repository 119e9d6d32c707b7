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
from edgejudge.core.formats.bound import CHARS_PER_TOKEN_BOUND, Bound, BoundPair, BoundSingle
from edgejudge.core.formats.flow_judge import FLOW_JUDGE, FlowJudgeFormat, FlowJudgeHarnessFormat
from edgejudge.core.formats.glider import GliderFormat
from edgejudge.core.formats.pairwise import PairwiseFormat
from edgejudge.core.formats.prometheus import PrometheusFormat, PrometheusRelativeFormat
from edgejudge.core.formats.root_judge import RootJudgeFormat
from edgejudge.core.formats.selene import SeleneFormat, SelenePairwiseFormat
from edgejudge.core.metrics import AnyMetric, PairwiseMetric
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


def bind(judge_format: JudgeFormat, metric: AnyMetric) -> Bound:
    """`metric` bound to `judge_format` (to its family's pairwise format for a pairwise
    metric), once the family is checked against it: `FamilyError` in one line if it cannot
    express the metric. Called before any model loads."""
    if isinstance(metric, PairwiseMetric):
        return BoundPair(checked_pairwise(judge_format, metric), metric)
    judge_format.check(metric)
    return BoundSingle(judge_format, metric)


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
    "Bound",
    "BoundPair",
    "BoundSingle",
    "bind",
    "checked_pairwise",
    "get_format",
    "get_pairwise_format",
    "listed",
    "published_sampling",
]
