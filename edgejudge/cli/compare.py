"""`edgejudge compare`: which of a pair's two responses is better, judged in both orders."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgejudge.cli import args
from edgejudge.cli.judging import open_judge
from edgejudge.cli.progress import working
from edgejudge.core.formats import PAIRWISE_FORMATS, listed
from edgejudge.core.metrics import PairwiseMetric
from edgejudge.errors import MetricError


def add_command(commands: Any) -> None:
    """Add `compare` to the main parser's subcommands."""
    compare = commands.add_parser(
        "compare",
        help="judge which of two responses is better, in both orders",
        description="Judge a pair (a JSON object with the metric's inputs, response_a and "
        "response_b) with a pairwise metric (see `edgejudge metrics list`), once as given and "
        "once with the responses swapped, so the judge's taste for whichever comes first "
        "cancels out: the verdict is the response both orders prefer, or a tie when they "
        f"disagree. Pairwise prompts exist for {listed(list(PAIRWISE_FORMATS))} (--family).",
    )
    args.input_option(compare)
    compare.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (verdict, consistent, p_a_better, each order's result)",
    )
    args.swap_option(compare)
    args.metric_options(compare)
    args.model_options(compare)
    compare.set_defaults(func=_cmd_compare)


def pairwise_metric(parsed: argparse.Namespace) -> PairwiseMetric:
    """The pairwise metric the options name; `MetricError` for a single-answer one."""
    metric = args.any_metric(parsed)
    if not isinstance(metric, PairwiseMetric):
        raise MetricError(
            f"metric {metric.name!r} scores one response: compare needs a pairwise metric "
            "(edgejudge metrics list shows them), or use `edgejudge judge`"
        )
    return metric


def _cmd_compare(parsed: argparse.Namespace) -> int:
    from edgejudge.core.pairs import coerce_pair

    metric = pairwise_metric(parsed)
    pair = coerce_pair(args.read_input(parsed.input), metric)  # before the model loads
    swap = not parsed.no_swap
    with open_judge(parsed, metric) as judge:
        together = "side by side" if judge.slots > 1 else "one after the other"
        what = f"judging both orders, {together}" if swap else "judging the order given"
        with working(not parsed.json, what):
            result = judge.compare(pair, swap=swap)
    if parsed.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print("\n".join(result.lines()))
        print(f"[{result.stats()}]", file=sys.stderr)
    return 0
