"""The `edgejudge` command: a thin shell over `edgejudge.judging` and the core.

This module builds the parser and runs a command; each command group is a module that adds
its own subcommands: `judging` (judge, batch), `export`, `compare`, `meta_eval`, `diff`,
`show` (prompt, grammar), `metrics`, `models` (models, doctor), `server`, `traces` (traces
import). `args` holds the options they share, `progress` the bars, and `report` turns any
error into one line and an exit code.

Exit codes: 0 ok, 2 bad usage or input, 1 a failure at run time, 3 a gate of `diff`
failed, 130 interrupted.
Every error is one line on stderr; `--verbose` adds the traceback and llama.cpp's log.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from edgejudge import __version__
from edgejudge.cli import (
    args,
    compare,
    diff,
    export,
    judging,
    meta_eval,
    metrics,
    models,
    server,
    show,
    traces,
)
from edgejudge.cli.report import report
from edgejudge.paths import DEBUG_ENV

EXAMPLES = """\
examples:
  edgejudge                        # in a terminal: the TUI (judge, batch, models)
  edgejudge judge --model demo --metric response-faithfulness-5point --input case.json
  edgejudge batch cases.jsonl -o verdicts.jsonl --model flow-judge-v0.1 \\
      --metric response-correctness-3point
  edgejudge batch cases.jsonl -o verdicts.jsonl --model demo -m response-faithfulness-5point \\
      --runtime server --slots 4   # llama-server with 4 judgments in flight
  edgejudge judge --server-url http://gpu-box:8080 -m response-faithfulness-5point -i case.json
  edgejudge batch cases.jsonl -o verdicts.jsonl --server-url http://gpu-box:8000 \
      --family flow-judge -m response-faithfulness-5point   # vLLM, SGLang, TGI: detected
  edgejudge batch answers.parquet -o verdicts.jsonl --model demo -m response-faithfulness-5point \
      --map query=question --map response=answer --export judged.parquet   # your table
  edgejudge export verdicts.jsonl --inputs answers.csv --to judged.csv
  edgejudge traces import traces.jsonl -o calls.jsonl   # LLM spans of OpenTelemetry traces
  edgejudge compare --model prometheus-7b-v2.0 -m pairwise-helpfulness -i pair.json
  edgejudge batch --a new.jsonl --b old.jsonl --a-name new --b-name old -o vs.jsonl \
      --model prometheus-7b-v2.0 -m pairwise-faithfulness   # win rate, ties, consistency
  edgejudge meta-eval labelled.jsonl --model demo --model demo-instruct \
      -m response-faithfulness-5point --html report.html   # agreement with your labels
  edgejudge diff before.verdicts.jsonl after.verdicts.jsonl --fail-if "mean_change < -0.2"
  edgejudge prompt --metric response-relevance-binary --input case.json
  edgejudge metrics list
  edgejudge models list            # judge models: pull, path, rm, verify, import
  edgejudge doctor                 # is llama.cpp using the GPU? what fits here?
  edgejudge server build           # build llama-server for --runtime server (once)
  edgejudge server engines         # what --server-url sends vLLM, SGLang, TGI, Ollama

input JSON: {"query": "...", "context": "...", "response": "..."} (keys as the metric names
them), or the flow-judge shape {"inputs": [{"query": "..."}], "output": {"response": "..."}};
a pair: {"query": "...", "response_a": "...", "response_b": "..."}.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    warnings.showwarning = _warning_line
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if argv is None and sys.stdin.isatty() and sys.stdout.isatty():
            args = parser.parse_args(["tui"])  # plain `edgejudge` in a terminal opens the TUI
        else:
            parser.print_help()
            return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("edgejudge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - ours in words; the last resort for the rest
        return report(exc, args)


def _warning_line(message: Warning | str, *_: Any, **__: Any) -> None:
    """A warning as one line on stderr, without the file and line it was raised at."""
    print(f"edgejudge: warning: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error in one line that points at --help, and --debug everywhere."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,  # a subcommand's parser must not reset `edgejudge --debug`
            help=f"on an error, print the traceback too (also {DEBUG_ENV}=1)",
        )

    def error(self, message: str) -> NoReturn:
        """Exit 2 with one line: what is wrong and where help is."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgejudge",
        description="Run small LLM-as-a-judge models locally through llama.cpp.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgejudge {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    judging.add_commands(commands)
    export.add_command(commands)
    compare.add_command(commands)
    meta_eval.add_command(commands)
    diff.add_command(commands)
    show.add_commands(commands)
    metrics.add_commands(commands)
    models.add_commands(commands)
    server.add_commands(commands)
    traces.add_commands(commands)

    tui = commands.add_parser(
        "tui",
        help="the terminal UI: judge, batch and models in one app",
        description="Open the Textual app: try a rubric on an example and watch the judge "
        "write, run a JSONL file with a live table and histogram, pull and check models. "
        "Plain `edgejudge` in a terminal does the same. Your last model, metric, tab and "
        "theme are remembered in the config directory (tui.json).",
    )
    tui.add_argument("--model", metavar="M", help="preselect a catalog model")
    tui.add_argument("--metric", "-m", metavar="NAME", help="preselect a metric")
    args.runtime_options(tui)
    tui.set_defaults(func=_cmd_tui)
    return parser


def _cmd_tui(parsed: argparse.Namespace) -> int:
    from edgejudge.tui import run_tui

    return run_tui(model=parsed.model, metric=parsed.metric, options=args.parsed_runtime(parsed))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
