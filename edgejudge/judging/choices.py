"""What a judge is built from, before any model loads: its metrics resolved, its format
(prompt, grammar, parser) and its sampling. The API, the CLI's `prompt` and `grammar`, the
TUI and meta-evaluation ask here, so they agree on what a model is sent."""

from __future__ import annotations

import os
from collections.abc import Sequence

from edgejudge.core import JudgeFormat, Metric, get_format
from edgejudge.core.formats import DEFAULT_FAMILY
from edgejudge.core.metrics import AnyMetric, PairwiseMetric
from edgejudge.errors import MetricError
from edgejudge.io.metric_files import resolve_any_metric
from edgejudge.models.catalog import ModelEntry
from edgejudge.models.resolve import identify
from edgejudge.runtime.base import Sampling

SAMPLINGS = ("greedy", "authors")


def sampling_for(
    judge_format: JudgeFormat, choice: str, *, temperature: float, seed: int
) -> tuple[Sampling, str]:
    """The sampler settings for `choice`, and a line that says what they are."""
    published = judge_format.authors_sampling if choice == "authors" else None
    if choice == "authors" and published is None:
        note = f"{judge_format.family} publishes no sampling settings: greedy"
        return Sampling(temperature=0.0, seed=seed), note
    if published is None:
        return Sampling(temperature=temperature, seed=seed), (
            "greedy" if temperature == 0 else f"temperature {temperature:g}"
        )
    if temperature != 0:
        raise ValueError("sampling='authors' sets the temperature: give one or the other")
    settings = Sampling(
        temperature=published.temperature,
        seed=seed,
        top_p=published.top_p,
        repeat_penalty=published.repeat_penalty,
    )
    return settings, f"the authors' sampling ({published.source})"


def format_for(
    model: str | os.PathLike[str] | None,
    family: str | None = None,
    catalog: dict[str, ModelEntry] | None = None,
) -> JudgeFormat:
    """The judge format (prompt, grammar, parser) for `model`: `family` if given, else the
    one its catalog entry names, else Flow-Judge's. The API, the CLI's `prompt`/`grammar` and
    the TUI all ask here, so they agree on what a model is sent."""
    if family or model is None:
        return get_format(family or DEFAULT_FAMILY)
    return get_format(identify(model, catalog=catalog).family)


MetricArg = AnyMetric | str | os.PathLike[str]


def resolve_metrics(metric: MetricArg | Sequence[MetricArg]) -> list[AnyMetric]:
    """One metric, or several (a list or tuple): each resolved, names distinct, and several
    only of single-answer metrics."""
    given: list[MetricArg]
    if isinstance(metric, str | os.PathLike | Metric | PairwiseMetric):
        given = [metric]
    else:
        given = list(metric)
    if not given:
        raise MetricError("name at least one metric")
    metrics = [resolve_any_metric(one) for one in given]
    names = [m.name for m in metrics]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise MetricError(f"metric {doubled[0]!r} is named twice")
    pairwise = [m.name for m in metrics if isinstance(m, PairwiseMetric)]
    if pairwise and len(metrics) > 1:
        raise MetricError(
            f"{pairwise[0]!r} compares two responses: several metrics at once are for "
            "single answers; compare with one pairwise metric at a time"
        )
    return metrics
