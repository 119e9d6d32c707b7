"""`edgejudge prompt` and `edgejudge grammar`: exactly what a judge would be sent, for any
model or family, without loading anything."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgejudge.cli import args
from edgejudge.core.formats import bind
from edgejudge.core.pairs import PairInput
from edgejudge.judging.choices import format_for

_SHOW_MODEL_HELP = (
    "a catalog name: show what that model is sent, in its judge format (nothing is loaded)"
)


def add_commands(commands: Any) -> None:
    """Add `prompt` and `grammar` to the main parser's subcommands."""
    prompt = commands.add_parser(
        "prompt",
        help="print the exact prompt the judge is given",
        description="Print what the judge would be sent: the user message, or, for a family "
        "with a system prompt (root-judge), each message under a `--- ROLE message ---` line. "
        "The model's chat template is applied to these when judging. With a pairwise metric "
        "the input is a pair, shown in the order given (--swapped: the other order, the "
        "judgment a swap adds).",
    )
    args.input_option(prompt)
    prompt.add_argument(
        "--swapped", action="store_true", help="a pair: show it with the responses swapped"
    )
    args.metric_options(prompt)
    args.format_options(prompt, _SHOW_MODEL_HELP)
    prompt.set_defaults(func=_cmd_prompt)

    grammar = commands.add_parser(
        "grammar",
        help="print the GBNF grammar for a metric",
        description="Print the GBNF grammar that forces the verdict (with a pairwise metric, "
        "the A/B choice of the family's pairwise format).",
    )
    args.metric_options(grammar)
    args.format_options(grammar, _SHOW_MODEL_HELP)
    args.max_tokens_option(grammar, "feedback budget the grammar is sized for")
    grammar.set_defaults(func=_cmd_grammar)


def _cmd_prompt(parsed: argparse.Namespace) -> int:
    bound = bind(format_for(parsed.model, parsed.family), args.any_metric(parsed))
    item = bound.read(args.read_input(parsed.input))
    if isinstance(item, PairInput) and parsed.swapped:
        item = item.swapped()
    messages = bound.messages(item)
    if len(messages) == 1:
        sys.stdout.write(messages[0].content + "\n")
        return 0
    # Several messages: each under a line naming its role, so none is mistaken for another.
    for message in messages:
        sys.stdout.write(f"--- {message.role} message ---\n{message.content}\n")
    return 0


def _cmd_grammar(parsed: argparse.Namespace) -> int:
    bound = bind(format_for(parsed.model, parsed.family), args.any_metric(parsed))
    sys.stdout.write(bound.grammar(parsed.max_tokens))
    return 0
