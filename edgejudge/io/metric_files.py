"""Metrics on disk: TOML files given by path, and the user's own in `CONFIG/metrics/`.

A metric saved as `CONFIG/metrics/NAME.toml` (the TUI's "save metric" writes there) can be
named like a preset: `--metric NAME`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgejudge.core import PRESETS, Metric, get_preset
from edgejudge.core.metrics import (
    METRIC_NAME_RE,
    AnyMetric,
    PairwiseMetric,
    any_metric_from_dict,
)
from edgejudge.core.presets import PAIRWISE_PRESETS
from edgejudge.errors import MetricError
from edgejudge.io.atomic import write_text_atomic
from edgejudge.io.files import read_text
from edgejudge.paths import metrics_dir
from edgejudge.util.toml_compat import tomllib


def load_metric_file(path: str | os.PathLike[str]) -> AnyMetric:
    """Load a custom metric from TOML (`kind = "pairwise"` for a pairwise one); errors name
    the file and the field."""
    path = Path(path)
    text = read_text(path, MetricError, what="metric file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MetricError(f"{path}: not valid TOML: {exc}") from None
    return any_metric_from_dict(data, source=str(path))


def user_metrics_dir() -> Path:
    """Where the user's own metrics live: `CONFIG/metrics/*.toml`."""
    return metrics_dir()


@dataclass(frozen=True)
class UserMetric:
    """One TOML file in the user's metrics folder: its metric, or why it does not load."""

    path: Path
    metric: AnyMetric | None
    problem: str | None = None

    @property
    def name(self) -> str:
        """The name it is chosen by: the file's stem."""
        return self.path.stem


def user_metrics() -> list[UserMetric]:
    """Every `*.toml` in the user's metrics folder, sorted by name; broken ones say why."""
    folder = user_metrics_dir()
    found = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            found.append(UserMetric(path, load_metric_file(path)))
        except MetricError as exc:
            found.append(UserMetric(path, None, str(exc)))
    return found


def metric_toml(metric: AnyMetric) -> str:
    """A metric as TOML that `load_metric_file` reads back to an equal `Metric`."""
    import tomli_w

    data = metric.model_dump(mode="json", exclude_none=True)
    rubric = data.pop("rubric", None)  # tables last, as TOML needs
    tables = {} if rubric is None else {"rubric": rubric}
    return tomli_w.dumps({**data, **tables}, multiline_strings=True)


def save_metric(metric: AnyMetric, path: Path | None = None) -> Path:
    """Write `metric` as TOML (default: `CONFIG/metrics/NAME.toml`); returns the path."""
    if path is None:
        if metric.name in PRESETS or metric.name in PAIRWISE_PRESETS:
            raise MetricError(
                f"{metric.name!r} is a preset's name; give your metric a name of its own"
            )
        path = user_metrics_dir() / f"{metric.name}.toml"
    write_text_atomic(path, metric_toml(metric))  # never a half-written metric file
    return path


def resolve_any_metric(metric: AnyMetric | str | os.PathLike[str]) -> AnyMetric:
    """A metric, single or pairwise, from a metric object, a preset name, a saved metric's
    name, or a `.toml` path."""
    if isinstance(metric, Metric | PairwiseMetric):
        return metric
    text = os.fspath(metric)
    if isinstance(metric, os.PathLike) or text.endswith(".toml"):
        return load_metric_file(text)
    if text in PAIRWISE_PRESETS:
        return PAIRWISE_PRESETS[text]
    if text not in PRESETS and METRIC_NAME_RE.match(text):  # a name, never a path
        saved = user_metrics_dir() / f"{text}.toml"
        if saved.is_file():
            return load_metric_file(saved)
    return get_preset(text)


def resolve_metric(metric: AnyMetric | str | os.PathLike[str]) -> Metric:
    """A single-answer `Metric`, as `resolve_any_metric` finds it; `MetricError` for a
    pairwise one."""
    found = resolve_any_metric(metric)
    if isinstance(found, PairwiseMetric):
        raise MetricError(
            f"metric {found.name!r} compares two responses: use `edgejudge compare` (or "
            "`judge.compare`), or a metric that scores one response"
        )
    return found
