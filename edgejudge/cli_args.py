"""argparse types the commands share: whole numbers of at least 1, a sampling temperature.

Each turns a bad value into argparse's own error, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def temperature(text: str) -> float:
    """argparse type: a sampling temperature, 0 (greedy) or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError("must be 0 (greedy) or a positive number")
    return value
