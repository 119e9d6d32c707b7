"""Resolve a metric given as a preset name, a `Metric`, or a path to a TOML file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from edgejudge.core import Metric, get_preset, metric_from_dict
from edgejudge.errors import MetricError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_metric_file(path: str | os.PathLike[str]) -> Metric:
    """Load a custom metric from TOML; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetricError(f"metric file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricError(f"cannot read metric file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MetricError(f"{path}: not valid TOML: {exc}") from None
    return metric_from_dict(data, source=str(path))


def resolve_metric(metric: Metric | str | os.PathLike[str]) -> Metric:
    """A `Metric` from a `Metric`, a preset name, or a `.toml` path."""
    if isinstance(metric, Metric):
        return metric
    text = os.fspath(metric)
    if isinstance(metric, os.PathLike) or text.endswith(".toml"):
        return load_metric_file(text)
    return get_preset(text)
