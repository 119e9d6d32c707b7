"""Errors as one line on stderr and an exit code: the CLI's last word on anything that stops it."""

from __future__ import annotations

import argparse
import sys
import traceback

from edgejudge.errors import EdgeJudgeError
from edgejudge.paths import DEBUG_ENV, env_flag


def report(error: Exception, args: argparse.Namespace, after: str = "") -> int:
    """Print `error` as one line on stderr (debugging: after its traceback); its exit code.

    Errors edgejudge raises on purpose carry their words and exit code; anything else is an
    internal error, exit 1, and the line says how to see where it came from.
    """
    if debugging(args):
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


def debugging(args: argparse.Namespace) -> bool:
    """--debug, --verbose or EDGEJUDGE_DEBUG=1: tracebacks are shown."""
    return env_flag(DEBUG_ENV) or bool(
        getattr(args, "debug", False) or getattr(args, "verbose", False)
    )
