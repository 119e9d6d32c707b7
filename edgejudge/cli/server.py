"""The `edgejudge server ...` commands: a shell over `runtime/server_build` (build) and
`runtime/engines` (engines: what each serving engine is sent).

Registered on the main parser by `add_commands`; errors propagate to `cli.main`, which turns
them into one line and an exit code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

SERVER_EPILOG = """\
examples:
  edgejudge server build            # once: ~10 minutes on 2 cores; prints the binary's path
  edgejudge server engines          # what --engine sends each serving engine, and from where
  edgejudge judge --model demo -m response-faithfulness-5point -i case.json --runtime server
"""


def add_commands(commands: Any) -> None:
    """Add `server` to the main parser's subcommands."""
    server = commands.add_parser(
        "server",
        help="build the llama-server the server runtime runs; the serving engines it speaks",
        description="The server runtime runs llama.cpp's llama-server: --llama-server PATH, "
        "$EDGEJUDGE_LLAMA_SERVER, llama-server on PATH, else the one `server build` makes.",
        epilog=SERVER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = server.add_subparsers(title="commands", metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="build llama-server from llama-cpp-python's own sources into the cache",
        description="Build llama.cpp's llama-server from the llama-cpp-python sdist (the same "
        "llama.cpp version as the in-process runtime, so the same verdicts) into edgejudge's "
        "cache, and print its path. A working build is reused. Needs cmake and a C++ "
        "compiler; the build's own output goes to stderr.",
    )
    build.add_argument("--force", action="store_true", help="build again even if one works")
    build.set_defaults(func=_cmd_build)
    engines = sub.add_parser(
        "engines",
        help="what each --engine is sent: endpoint, grammar field, probabilities, detection",
        description="The engine profiles --server-url uses, with the versions whose source "
        "they were read from: the endpoint, the request field that carries the verdict "
        "grammar (and its dialect), how token probabilities are asked for (and the cap), "
        "and how the engine is recognised.",
    )
    engines.set_defaults(func=_cmd_engines)
    server.set_defaults(func=lambda _args: server.print_help() or 2)


def _cmd_build(args: argparse.Namespace) -> int:
    from edgejudge.runtime.llama_server.build import build_server

    path = build_server(force=args.force, say=lambda text: print(text, file=sys.stderr))
    print(path)
    return 0


def _cmd_engines(_args: argparse.Namespace) -> int:
    from edgejudge.runtime.serving.profiles import FACTS

    for name, facts in FACTS.items():
        print(f"{name}: {facts.title} (read from {facts.read_from})")
        print(f"  request:       {facts.endpoint}")
        print(f"  grammar:       {facts.grammar}")
        print(f"  probabilities: {facts.probabilities}")
        print(f"  detected by:   {facts.detect}")
    return 0
