"""What the commands share: argparse types (whole numbers of at least 1, a sampling
temperature), the option groups (input, metric, model, runtime), and reading what they parsed.

Each type turns a bad value into argparse's own error, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgejudge.constants import DEFAULT_CONCURRENCY, DEFAULT_MAX_TOKENS
from edgejudge.core.formats import DEFAULT_FAMILY, KNOWN_FAMILIES, published_sampling
from edgejudge.core.metrics import AnyMetric, Metric
from edgejudge.errors import InputError
from edgejudge.io.metric_files import resolve_any_metric, resolve_metric
from edgejudge.judging.choices import SAMPLINGS, resolve_metrics
from edgejudge.paths import API_KEY_ENV, SERVER_ENV
from edgejudge.runtime.limits import MIN_CONTEXT, max_slots
from edgejudge.runtime.options import RUNTIMES, RuntimeOptions
from edgejudge.runtime.serving.profiles import ENGINE_NAMES
from edgejudge.system.memory import KV_TYPES


def _whole(text: str, least: int, too_small: str, unit: str = "") -> int:
    """`text` as a whole number of at least `least`, or argparse's error: `too_small` (with
    `{value}` for the number given) below it, and a word on `unit` if it is no number."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{unit}") from None
    if value < least:
        raise argparse.ArgumentTypeError(too_small.format(value=value))
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    return _whole(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of at least 0."""
    return _whole(text, 0, "{value} is negative: give 0 or more")


def mebibytes(text: str) -> int:
    """argparse type: an amount of memory in MiB, 0 or more."""
    return _whole(text, 0, "must be 0 (off) or more", " of MiB")


def temperature(text: str) -> float:
    """argparse type: a sampling temperature, 0 (greedy) or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError("must be 0 (greedy) or a positive number")
    return value


# -- option groups ------------------------------------------------------------------------


def input_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        required=True,
        metavar="FILE.json",
        help="the input as a JSON object ('-' reads standard input)",
    )


def metric_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """--metric / --metric-file: one of them, or with `several`, any number of both."""
    if several:
        group = parser.add_argument_group("metrics")
        group.add_argument(
            "--metric",
            "-m",
            dest="metrics",
            action="append",
            metavar="NAME",
            help="a preset or one of your saved metrics (see `edgejudge metrics list`). "
            "Repeat it (and --metric-file) to judge each input on several metrics in one "
            "pass: in-process, the text their prompts share is evaluated once",
        )
        group.add_argument(
            "--metric-file",
            dest="metrics",
            action="append",
            type=Path,
            metavar="FILE.toml",
            help="a custom metric in TOML (see README); repeatable",
        )
        return
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


DATA_HELP = (
    "IN is .jsonl (one JSON object per line), .json (an array of objects), .csv / .tsv "
    "(a header line of column names), .parquet, or a Hugging Face dataset folder written by "
    "save_to_disk; the extension (a folder: a dataset) says which, or --format. A table's "
    "row gives each metric the fields it names (other columns are kept for --export); "
    "--map FIELD=COLUMN reads a field from a column of another name. A row may carry a "
    "conversation: `messages` (and `tools`), the OpenAI chat shape, which fills the fields "
    "conversation, response, tool_call and tools (the conversation-*, tool-choice-* and "
    "task-completion-5point metrics; see README, 'Conversations, tool calls, agent runs')."
)


def data_options(parser: argparse.ArgumentParser, *, per_turn: bool = False) -> None:
    """--format, --split, --map, --id-column, --last-turns (and with `per_turn`,
    --per-turn): how a file of rows is read."""
    from edgejudge.io.tables import FORMATS

    group = parser.add_argument_group("your data", DATA_HELP)
    group.add_argument(
        "--format",
        dest="data_format",
        choices=FORMATS,
        metavar="F",
        help=f"read IN as this format: {', '.join(FORMATS)} (default: by its extension; "
        "a folder is a dataset; another name is JSONL)",
    )
    group.add_argument(
        "--split", metavar="NAME", help="which split of a dataset folder that holds several"
    )
    group.add_argument(
        "--map",
        dest="mapping",
        action="append",
        metavar="FIELD=COLUMN",
        help="read the metric's FIELD from the file's COLUMN (repeatable): --map "
        "query=question --map response=answer",
    )
    group.add_argument(
        "--id-column",
        metavar="COLUMN",
        help="the column that holds each row's id (default: id, where there is one; "
        "else the row's number)",
    )
    group.add_argument(
        "--last-turns",
        type=non_negative_int,
        metavar="N",
        help="a conversation (a messages column) keeps only its last N messages before "
        "the turn judged, after a line saying how many were left out (system messages "
        "stay); default: all of them, and one longer than the context is an error row",
    )
    if per_turn:
        group.add_argument(
            "--per-turn",
            action="store_true",
            help="judge each assistant turn of a conversation in the context of the turns "
            "before it: one verdict per (id, metric, turn), resumable like rows; the summary "
            "gives each conversation's mean and its worst turn",
        )


def row_source(args: argparse.Namespace, path: Path) -> Any:
    """The `RowSource` the data options describe for the file `path`."""
    from edgejudge.core.rows import parse_map
    from edgejudge.judging.rows import RowSource

    return RowSource(
        path,
        fmt=args.data_format,
        split=args.split,
        mapping=parse_map(args.mapping),
        id_column=args.id_column,
        per_turn=getattr(args, "per_turn", False),
        last_turns=args.last_turns,
    )


def swap_option(parser: Any) -> None:
    """--no-swap, for pairwise judging (a parser or an argument group)."""
    parser.add_argument(
        "--no-swap",
        action="store_true",
        help="judge each pair in the order given only (half the work; the order bias stays)",
    )


def max_tokens_option(parser: argparse.ArgumentParser, meaning: str) -> None:
    parser.add_argument(
        "--max-tokens",
        type=positive_int,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"{meaning} (default {DEFAULT_MAX_TOKENS})",
    )


def format_options(parser: argparse.ArgumentParser, model_help: str, *, many: str = "") -> None:
    """--model and --family: which judge format (prompt, grammar, parser) applies. With
    `many` (what giving several means), each may be given several times (a list)."""
    action = "append" if many else "store"
    parser.add_argument("--model", metavar="M", action=action, help=model_help + many)
    parser.add_argument(
        "--family",
        choices=KNOWN_FAMILIES,
        metavar="F",
        action=action,
        help=f"judge format: prompt, grammar, parser; one of {', '.join(KNOWN_FAMILIES)} "
        f"(default: the catalog's for --model, else {DEFAULT_FAMILY}){many}",
    )


def model_options(parser: argparse.ArgumentParser, *, many: str = "") -> None:
    format_options(
        parser,
        "a catalog name (see `edgejudge models list`), or a path to a .gguf file or a "
        "llamafile; optional with --server-url",
        many=many,
    )
    parser.add_argument(
        "--pull",
        action="store_true",
        help="download the model first if it is not installed (default: say how)",
    )
    max_tokens_option(parser, "most tokens the judge may write")
    parser.add_argument(
        "--ctx",
        type=positive_int,
        metavar="N",
        help=f"context length, at least {MIN_CONTEXT} (default: the catalog's, capped by the "
        "model's; a model given by path: 8192 or its trained context if shorter, halved "
        "while it and its KV cache would take over 80%% of the memory free)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="CPU threads (default: physical cores; more than the CPUs here are cut to "
        "them, with a warning)",
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
        "--sampling",
        choices=SAMPLINGS,
        default="greedy",
        help="greedy (the default: deterministic), or the judge family's published settings: "
        f"{published_sampling()}",
    )
    parser.add_argument(
        "--no-grammar",
        action="store_true",
        help="do not force the verdict format (for comparison only)",
    )
    parser.add_argument(
        "--no-probabilities",
        action="store_true",
        help="do not measure the judge's probability for each value of its decision "
        "(measured by default: probabilities, expected score and confidence; a few token "
        "evaluations per judgment)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show llama.cpp's log and tracebacks"
    )
    runtime_options(parser)


def runtime_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "runtime",
        "Where the model runs: in this process (llama-cpp-python), or as a llama.cpp "
        "server that edgejudge starts on 127.0.0.1 and stops (llama-server for a .gguf, the "
        "file itself for a llamafile), or on servers someone else runs (--server-url): "
        "llama-server, vLLM, SGLang, TGI, Ollama, with the verdict grammar checked on connect.",
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
        "batch, sharing the model's one --ctx (default by backend: 1 on a CPU, where side "
        "by side decodes slower than one at a time (measured by scripts/bench.py); 4 where "
        "layers run on a GPU). Server: llama.cpp's -np; each slot gets the full --ctx, so "
        "the server holds N times that (default 1). At most "
        f"{max_slots(in_process=True)} in-process, {max_slots(in_process=False)} for a server",
    )
    group.add_argument(
        "--prefix-cache",
        type=mebibytes,
        metavar="MIB",
        help="in-process: memory for prompt heads kept between judgments, so a row's "
        "other metrics and rows sharing a context evaluate only what differs; verdicts "
        "stay bit for bit those of each prompt evaluated alone (default: room for one head "
        "as long as --ctx, from the model's KV size per token, within a quarter of the "
        "memory free once the model is in; 0: off, every prompt evaluated in full)",
    )
    group.add_argument(
        "--kv-type",
        choices=tuple(KV_TYPES),
        help="the KV cache's type in a runtime edgejudge starts (default f16): q8_0 takes "
        "about half the memory, so a longer --ctx fits, but it changes the computation, so "
        "verdicts may differ from f16's; the journal records it, and `edgejudge diff` keeps "
        "such runs apart",
    )
    group.add_argument(
        "--server-url",
        metavar="URL",
        action="append",
        help="judge through the server at URL (e.g. http://gpu-box:8080): a llama.cpp server "
        "or a serving engine (see --engine). Repeat it for several servers serving the same "
        "model: one batch is spread over all of them",
    )
    group.add_argument(
        "--engine",
        choices=("auto", *ENGINE_NAMES),
        default="auto",
        help="what serves --server-url (default: auto, detected from the endpoints it "
        "answers). llama-server speaks llama.cpp's native API; llama-server-chat its "
        "OpenAI chat endpoint; openai any other OpenAI-compatible server (no grammar field "
        "known: needs --allow-unconstrained)",
    )
    group.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="requests in flight per --server-url (default: the slots the server reports; "
        f"{DEFAULT_CONCURRENCY} for engines that report none)",
    )
    group.add_argument(
        "--served-model",
        metavar="NAME",
        help="the engine's name for the model (the `model` field of its API; default: the "
        "one model it serves)",
    )
    group.add_argument(
        "--allow-unconstrained",
        action="store_true",
        help="judge through an engine that does not apply the verdict grammar (Ollama, an "
        "unknown OpenAI-compatible server, one whose probe failed); answers are still parsed "
        "strictly, and every result says enforced: false",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"bearer token for --server-url, sent to those URLs only and never written "
        f"anywhere (default: ${API_KEY_ENV})",
    )
    group.add_argument(
        "--llama-server",
        metavar="PATH",
        help=f"the llama-server binary (default: ${SERVER_ENV}, then llama-server on PATH, "
        "then one built by `edgejudge server build`)",
    )


# -- what they parsed ---------------------------------------------------------------------


def metric(args: argparse.Namespace) -> Metric:
    return resolve_metric(args.metric_file or args.metric)


def metrics(args: argparse.Namespace) -> list[AnyMetric]:
    """The metrics named by a command that takes several (`metric_options(several=True)`),
    in the order given; one alone may be pairwise."""
    given = args.metrics or []
    if not given:
        raise InputError("name a metric: --metric NAME (or --metric-file FILE.toml)")
    return resolve_metrics(given)


def any_metric(args: argparse.Namespace) -> AnyMetric:
    """The metric named, single-answer or pairwise."""
    return resolve_any_metric(args.metric_file or args.metric)


def parsed_runtime(args: argparse.Namespace) -> RuntimeOptions:
    """What `runtime_options` parsed, with what `model_options` parsed of the runtime (a
    command without them leaves those options at their defaults)."""
    return RuntimeOptions(
        runtime=args.runtime,
        server_url=tuple(args.server_url) if args.server_url else None,
        api_key=args.api_key,
        slots=args.slots,
        prefix_cache_mib=args.prefix_cache,
        kv_type=args.kv_type,
        llama_server=args.llama_server,
        engine=None if args.engine == "auto" else args.engine,
        concurrency=args.concurrency,
        served_model=args.served_model,
        allow_unconstrained=args.allow_unconstrained,
        context_length=getattr(args, "ctx", None),
        n_threads=getattr(args, "threads", None),
        n_gpu_layers=getattr(args, "gpu_layers", None),
        verbose=getattr(args, "verbose", False),
    )


def read_input(source: str) -> Any:
    from edgejudge.io.files import decode_utf8, parse_json, read_bounded, read_text

    if source == "-":
        text = decode_utf8(read_bounded(sys.stdin.buffer, "standard input"), "standard input")
    else:
        text = read_text(Path(source), what="input file")
    if not text.strip():
        raise InputError(f"{source} is empty: give one JSON object")
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None
    except ValueError as exc:  # a number of 5,000 digits, nesting 100,000 deep
        raise InputError(f"{source} cannot be read as JSON: {exc}") from None
