"""Metrics on disk: TOML files given by path, and the user's own in `CONFIG/metrics/`.

A metric saved as `CONFIG/metrics/NAME.toml` (the TUI's "save metric" writes there) can be
named like a preset: `--metric NAME`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgejudge.atomic import write_text_atomic
from edgejudge.core import PRESETS, Metric, get_preset, metric_from_dict
from edgejudge.errors import MetricError
from edgejudge.files import read_text
from edgejudge.paths import metrics_dir
from edgejudge.toml_compat import tomllib


def load_metric_file(path: str | os.PathLike[str]) -> Metric:
    """Load a custom metric from TOML; errors name the file and the field."""
    path = Path(path)
    text = read_text(path, MetricError, what="metric file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MetricError(f"{path}: not valid TOML: {exc}") from None
    return metric_from_dict(data, source=str(path))


def user_metrics_dir() -> Path:
    """Where the user's own metrics live: `CONFIG/metrics/*.toml`."""
    return metrics_dir()


@dataclass(frozen=True)
class UserMetric:
    """One TOML file in the user's metrics folder: its metric, or why it does not load."""

    path: Path
    metric: Metric | None
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


def metric_toml(metric: Metric) -> str:
    """A metric as TOML that `load_metric_file` reads back to an equal `Metric`."""
    import tomli_w

    data = metric.model_dump(mode="json", exclude_none=True)
    rubric = data.pop("rubric")  # tables last, as TOML needs
    return tomli_w.dumps({**data, "rubric": rubric}, multiline_strings=True)


def save_metric(metric: Metric, path: Path | None = None) -> Path:
    """Write `metric` as TOML (default: `CONFIG/metrics/NAME.toml`); returns the path."""
    if path is None:
        if metric.name in PRESETS:
            raise MetricError(
                f"{metric.name!r} is a preset's name; give your metric a name of its own"
            )
        path = user_metrics_dir() / f"{metric.name}.toml"
    write_text_atomic(path, metric_toml(metric))  # never a half-written metric file
    return path


def resolve_metric(metric: Metric | str | os.PathLike[str]) -> Metric:
    """A `Metric` from a `Metric`, a preset name, a saved metric's name, or a `.toml` path."""
    if isinstance(metric, Metric):
        return metric
    text = os.fspath(metric)
    if isinstance(metric, os.PathLike) or text.endswith(".toml"):
        return load_metric_file(text)
    if text not in PRESETS:
        saved = user_metrics_dir() / f"{text}.toml"
        if saved.is_file():
            return load_metric_file(saved)
    return get_preset(text)
