"""`edgejudge metrics list` and `edgejudge metrics show`: the presets and your saved metrics."""

from __future__ import annotations

import argparse
from typing import Any

from edgejudge.core import PRESETS
from edgejudge.core.metrics import AnyMetric, PairwiseMetric, describe, describe_pairwise
from edgejudge.core.presets import PAIRWISE_PRESETS
from edgejudge.io.metric_files import resolve_any_metric


def add_commands(commands: Any) -> None:
    """Add `metrics` (list, show) to the main parser's subcommands."""
    metrics = commands.add_parser(
        "metrics",
        help="list or show metrics",
        description="List the preset metrics or show one in full.",
    )
    metric_commands = metrics.add_subparsers(title="commands", metavar="COMMAND")
    listing = metric_commands.add_parser(
        "list", help="list the preset metrics and yours (saved in CONFIG/metrics/)"
    )
    listing.set_defaults(func=_cmd_list)
    show = metric_commands.add_parser(
        "show", help="show a metric's criteria and rubric (a pairwise metric: its criteria)"
    )
    show.add_argument("name", help="a metric's name or a path to a metric .toml file")
    show.set_defaults(func=_cmd_show)
    metrics.set_defaults(func=_cmd_list)


def _cmd_list(_: argparse.Namespace) -> int:
    from edgejudge.io.metric_files import user_metrics, user_metrics_dir

    saved = user_metrics()
    width = max(len(name) for name in [*PRESETS, *PAIRWISE_PRESETS, *(m.name for m in saved)])
    listed: list[tuple[str, AnyMetric]] = [*PRESETS.items(), *PAIRWISE_PRESETS.items()]
    for name, metric in listed:
        print(f"{name:<{width}}  {metric.scale:<5}  inputs: {', '.join(metric.required_inputs)}")
    if saved:
        print(f"\nyour metrics ({user_metrics_dir()}):")
    for found in saved:
        if found.metric is None:
            print(f"{found.name:<{width}}  ?      {found.problem}")
        else:
            inputs = ", ".join(found.metric.required_inputs)
            print(f"{found.name:<{width}}  {found.metric.scale:<5}  inputs: {inputs}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    metric = resolve_any_metric(args.name)
    if isinstance(metric, PairwiseMetric):
        print(describe_pairwise(metric))
    else:
        print(describe(metric))
    return 0
