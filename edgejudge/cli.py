"""The `edgejudge` command: a thin shell over `edgejudge.judge` and the core.

Exit codes: 0 ok, 2 bad usage or input, 1 a failure at run time, 130 interrupted.
Every error is one line on stderr; `--verbose` adds the traceback and llama.cpp's log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from edgejudge import __version__
from edgejudge.cli_args import positive_int, temperature
from edgejudge.cli_progress import batch_bar
from edgejudge.core import PRESETS
from edgejudge.core.formats import DEFAULT_FAMILY, KNOWN_FAMILIES, verdict_grammar
from edgejudge.core.metrics import Metric, describe
from edgejudge.errors import EdgeJudgeError, InputError
from edgejudge.judge import DEFAULT_MAX_TOKENS, Judge, JudgeResult, format_for
from edgejudge.metric_files import resolve_metric
from edgejudge.paths import API_KEY_ENV, DEBUG_ENV, SERVER_ENV
from edgejudge.runtime_choice import RUNTIMES, RuntimeOptions

_SHOW_MODEL_HELP = (
    "a catalog name: show what that model is sent, in its judge format (nothing is loaded)"
)

EXAMPLES = """\
examples:
  edgejudge                        # in a terminal: the TUI (judge, batch, models)
  edgejudge judge --model demo --metric response-faithfulness-5point --input case.json
  edgejudge batch cases.jsonl -o verdicts.jsonl --model flow-judge-v0.1 \\
      --metric response-correctness-3point
  edgejudge batch cases.jsonl -o verdicts.jsonl --model demo -m response-faithfulness-5point \\
      --runtime server --slots 4   # llama-server with 4 judgments in flight
  edgejudge judge --server-url http://gpu-box:8080 -m response-faithfulness-5point -i case.json
  edgejudge prompt --metric response-relevance-binary --input case.json
  edgejudge metrics list
  edgejudge models list            # judge models: pull, path, rm, verify, import
  edgejudge doctor                 # is llama.cpp using the GPU? what fits here?
  edgejudge server build           # build llama-server for --runtime server (once)

input JSON: {"query": "...", "context": "...", "response": "..."} (keys as the metric names
them), or the flow-judge shape {"inputs": [{"query": "..."}], "output": {"response": "..."}}.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
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


def report(error: Exception, args: argparse.Namespace, after: str = "") -> int:
    """Print `error` as one line on stderr (debugging: after its traceback); its exit code.

    Errors edgejudge raises on purpose carry their words and exit code; anything else is an
    internal error, exit 1, and the line says how to see where it came from.
    """
    if _debugging(args):
        traceback.print_exception(error)
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, EdgeJudgeError):
        print(f"edgejudge: error: {message}{after}", file=sys.stderr)
        return error.exit_code
    print(
        f"edgejudge: internal error: {type(error).__name__}: {message}{after}; "
        "rerun with --debug for the traceback",
        file=sys.stderr,
    )
    return 1


def _debugging(args: argparse.Namespace) -> bool:
    """--debug, --verbose or EDGEJUDGE_DEBUG=1: tracebacks are shown."""
    flag = os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no"}
    return flag or bool(getattr(args, "debug", False) or getattr(args, "verbose", False))


# -- arguments ----------------------------------------------------------------------------


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

    judge = commands.add_parser(
        "judge",
        help="judge one input and print feedback and score",
        description="Judge one input file and print the verdict.",
    )
    _input_option(judge)
    judge.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (feedback, score, tokens, seconds...)",
    )
    _metric_options(judge)
    _model_options(judge)
    judge.set_defaults(func=_cmd_judge)

    batch = commands.add_parser(
        "batch",
        help="judge a JSONL file into a JSONL file, resumably",
        description="Judge every line of IN.jsonl (one JSON object per line, UTF-8); each "
        "verdict is appended to OUT.jsonl as one whole line as it finishes, so any stop leaves "
        "OUT valid. Rerun the same command to resume: ids already in OUT are skipped. "
        'A failing row is written as {"id": ..., "error": ...} and the batch goes on. '
        'Rows are identified by their "id" key (a string or an integer), or by line number. '
        "OUT.lock beside OUT keeps a second run off the same file while this one runs.",
    )
    batch.add_argument("input", metavar="IN.jsonl", type=Path)
    batch.add_argument("-o", "--output", required=True, metavar="OUT.jsonl", type=Path)
    batch.add_argument(
        "--retry-errors",
        action="store_true",
        help="judge again the rows that OUT records as errors",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    _metric_options(batch)
    _model_options(batch)
    batch.set_defaults(func=_cmd_batch)

    prompt = commands.add_parser(
        "prompt",
        help="print the exact prompt the judge is given",
        description="Print the user message that would be sent.",
    )
    _input_option(prompt)
    _metric_options(prompt)
    _format_options(prompt, _SHOW_MODEL_HELP)
    prompt.set_defaults(func=_cmd_prompt)

    grammar = commands.add_parser(
        "grammar",
        help="print the GBNF grammar for a metric",
        description="Print the GBNF grammar that forces the verdict.",
    )
    _metric_options(grammar)
    _format_options(grammar, _SHOW_MODEL_HELP)
    _max_tokens_option(grammar, "feedback budget the grammar is sized for")
    grammar.set_defaults(func=_cmd_grammar)

    metrics = commands.add_parser(
        "metrics",
        help="list or show metrics",
        description="List the preset metrics or show one in full.",
    )
    metric_commands = metrics.add_subparsers(title="commands", metavar="COMMAND")
    listing = metric_commands.add_parser(
        "list", help="list the preset metrics and yours (saved in CONFIG/metrics/)"
    )
    listing.set_defaults(func=_cmd_metrics_list)
    show = metric_commands.add_parser("show", help="show a metric's criteria and rubric")
    show.add_argument("name", help="a metric's name or a path to a metric .toml file")
    show.set_defaults(func=_cmd_metrics_show)
    metrics.set_defaults(func=_cmd_metrics_list)

    from edgejudge import cli_models, cli_server

    cli_models.add_commands(commands)
    cli_server.add_commands(commands)

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
    _add_runtime_options(tui)
    tui.set_defaults(func=_cmd_tui)
    return parser


def _cmd_tui(args: argparse.Namespace) -> int:
    from edgejudge.tui import run_tui

    return run_tui(model=args.model, metric=args.metric, options=_runtime_options(args))


def _input_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        required=True,
        metavar="FILE.json",
        help="the input as a JSON object ('-' reads standard input)",
    )


def _metric_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--metric",
        "-m",
        metavar="NAME",
        help="a preset or one of your saved metrics (see `edgejudge metrics list`)",
    )
    group.add_argument(
        "--metric-file", metavar="FILE.toml", type=Path, help="a custom metric in TOML (see README)"
    )


def _max_tokens_option(parser: argparse.ArgumentParser, meaning: str) -> None:
    parser.add_argument(
        "--max-tokens",
        type=positive_int,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"{meaning} (default {DEFAULT_MAX_TOKENS})",
    )


def _format_options(parser: argparse.ArgumentParser, model_help: str) -> None:
    """--model and --family: which judge format (prompt, grammar, parser) applies."""
    parser.add_argument("--model", metavar="M", help=model_help)
    parser.add_argument(
        "--family",
        choices=KNOWN_FAMILIES,
        metavar="F",
        help=f"judge format: prompt, grammar, parser; one of {', '.join(KNOWN_FAMILIES)} "
        f"(default: the catalog's for --model, else {DEFAULT_FAMILY})",
    )


def _model_options(parser: argparse.ArgumentParser) -> None:
    _format_options(
        parser,
        "a catalog name (see `edgejudge models list`), or a path to a .gguf file or a "
        "llamafile; optional with --server-url",
    )
    parser.add_argument(
        "--pull",
        action="store_true",
        help="download the model first if it is not installed (default: say how)",
    )
    _max_tokens_option(parser, "most tokens the judge may write")
    parser.add_argument(
        "--ctx",
        type=positive_int,
        metavar="N",
        help="context length (default: the catalog's, capped by the model's)",
    )
    parser.add_argument(
        "--threads", type=positive_int, metavar="N", help="CPU threads (default: physical cores)"
    )
    parser.add_argument(
        "--gpu-layers",
        type=int,
        metavar="N",
        help="layers to offload to the GPU (default: all if the build has one)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="sampling seed (default 0)"
    )
    parser.add_argument(
        "--temperature",
        type=temperature,
        default=0.0,
        metavar="T",
        help="0 is greedy and deterministic (default 0)",
    )
    parser.add_argument(
        "--no-grammar",
        action="store_true",
        help="do not force the verdict format (for comparison only)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show llama.cpp's log and tracebacks"
    )
    _add_runtime_options(parser)


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "runtime",
        "Where llama.cpp runs: in this process (llama-cpp-python), or as a llama.cpp "
        "server that edgejudge starts on 127.0.0.1 and stops (llama-server for a .gguf, the "
        "file itself for a llamafile), or one someone else runs (--server-url).",
    )
    group.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help="default: server for a llamafile, inprocess for a .gguf",
    )
    group.add_argument(
        "--slots",
        type=positive_int,
        metavar="N",
        help="judgments at once in a batch. In-process: decoded together in one llama.cpp "
        "batch, sharing the model's one --ctx (default 4). Server: llama.cpp's -np; each "
        "slot gets the full --ctx, so the server holds N times that (default 1)",
    )
    group.add_argument(
        "--server-url",
        metavar="URL",
        help="use the llama.cpp server at URL (e.g. http://gpu-box:8080); its own slots set "
        "how many judgments run at once",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"bearer token for --server-url (default: ${API_KEY_ENV})",
    )
    group.add_argument(
        "--llama-server",
        metavar="PATH",
        help=f"the llama-server binary (default: ${SERVER_ENV}, then llama-server on PATH, "
        "then one built by `edgejudge server build`)",
    )


# -- commands -----------------------------------------------------------------------------


def _metric(args: argparse.Namespace) -> Metric:
    return resolve_metric(args.metric_file or args.metric)


def _open_judge(args: argparse.Namespace, metric: Metric) -> Judge:
    if not args.model and not args.server_url:
        raise InputError("name a model with --model (or use a server with --server-url)")
    options = replace(
        _runtime_options(args),
        context_length=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        verbose=args.verbose,
    )
    return Judge(
        model=args.model,
        metric=metric,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        grammar=not args.no_grammar,
        family=args.family,
        download=args.pull,
        **options.judge_arguments(),
    )


def _runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    """What `_add_runtime_options` parsed."""
    return RuntimeOptions(
        runtime=args.runtime,
        server_url=args.server_url,
        api_key=args.api_key,
        slots=args.slots,
        llama_server=args.llama_server,
    )


def _read_input(source: str) -> Any:
    from edgejudge.files import decode_utf8, read_text

    if source == "-":
        text = decode_utf8(sys.stdin.buffer.read(), "standard input")
    else:
        text = read_text(Path(source), what="input file")
    if not text.strip():
        raise InputError(f"{source} is empty: give one JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None


def _cmd_judge(args: argparse.Namespace) -> int:
    metric = _metric(args)
    data = _read_input(args.input)
    from edgejudge.core import coerce_input

    item = coerce_input(data, metric)  # bad input fails before the model loads
    with _open_judge(args, metric) as judge:
        if args.json:
            print(json.dumps(judge.evaluate(item).to_dict(), ensure_ascii=False))
            return 0
        result: JudgeResult | None = None
        print("Feedback:")
        for piece in judge.stream(item):
            if isinstance(piece, JudgeResult):
                result = piece
            else:
                print(piece, end="", flush=True)
        assert result is not None
        print(f"\n\nScore: {result.score} (scale {metric.scale})")
        print(f"[{result.stats()}]", file=sys.stderr)
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from edgejudge import batch

    metric = _metric(args)  # a bad metric fails before anything else
    rows = batch.read_rows(args.input)
    # The lock, the repair of a torn line and a writable output all come before the model.
    with batch.BatchOutput(args.output, retry_errors=args.retry_errors) as output:
        todo = output.pending(rows)
        skipped = len(rows) - len(todo)
        if not todo:
            print(
                f"nothing to do: all {len(rows)} rows are already in {args.output}",
                file=sys.stderr,
            )
            return 0
        failed = 0

        def saved() -> str:
            total = skipped + output.written
            return (
                f"{output.written} new rows saved in {args.output} ({total} of {len(rows)}); "
                "run the same command to resume"
            )

        try:
            with (
                _open_judge(args, metric) as judge,
                batch_bar(not args.no_progress, len(todo), skipped) as step,
            ):
                for record in batch.run_batch(judge, todo, output):
                    failed += batch.ERROR_KEY in record
                    step(record)
        except KeyboardInterrupt:
            print(f"edgejudge: interrupted: {saved()}", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - any stop says what was saved
            return report(exc, args, f"; {saved()}" if output.written else "")
        written = output.written
    print(
        f"{written - failed} judged, {failed} failed, {skipped} already done -> {args.output}",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _cmd_prompt(args: argparse.Namespace) -> int:
    from edgejudge.core import coerce_input

    metric = _metric(args)
    judge_format = format_for(args.model, args.family)
    item = coerce_input(_read_input(args.input), metric)
    sys.stdout.write(judge_format.render_prompt(metric, item) + "\n")
    return 0


def _cmd_grammar(args: argparse.Namespace) -> int:
    metric = _metric(args)
    grammar = verdict_grammar(format_for(args.model, args.family), metric, args.max_tokens)
    sys.stdout.write(grammar)
    return 0


def _cmd_metrics_list(_: argparse.Namespace) -> int:
    from edgejudge.metric_files import user_metrics, user_metrics_dir

    saved = user_metrics()
    width = max(len(name) for name in [*PRESETS, *(m.name for m in saved)])
    for name, metric in PRESETS.items():
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


def _cmd_metrics_show(args: argparse.Namespace) -> int:
    print(describe(resolve_metric(args.name)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
