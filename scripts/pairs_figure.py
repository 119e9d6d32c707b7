"""The pairwise figures of issue 17: 20 pairs from examples/faithfulness.jsonl, each the given
response against a deliberately wrong one (the next row's response: an answer to another
question), the wrong one first in the even-numbered pairs; judged with and without the swap.

    .venv/bin/python scripts/pairs_figure.py --write   # examples/faithfulness-pairs.jsonl
    .venv/bin/edgejudge batch examples/faithfulness-pairs.jsonl -o /tmp/swap.jsonl \
        --model demo-instruct --family prometheus -m pairwise-faithfulness --max-tokens 64
    .venv/bin/edgejudge batch examples/faithfulness-pairs.jsonl -o /tmp/noswap.jsonl \
        --model demo-instruct --family prometheus -m pairwise-faithfulness --max-tokens 64 \
        --no-swap
    .venv/bin/python scripts/pairs_figure.py /tmp/swap.jsonl /tmp/noswap.jsonl

prints, for each output: how often the verdict went to the given response, to the wrong one,
or was a tie, how often the first position was picked, and the consistency rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "examples/faithfulness.jsonl"
PAIRS = ROOT / "examples/faithfulness-pairs.jsonl"


def build() -> list[dict[str, object]]:
    """The pairs: the given response as A in odd ids, as B (the wrong one first) in even."""
    rows = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    pairs = []
    for index, row in enumerate(rows):
        wrong = rows[(index + 1) % len(rows)]["response"]
        given_first = row["id"] % 2 == 1
        a, b = (row["response"], wrong) if given_first else (wrong, row["response"])
        pairs.append(
            {"id": row["id"], "query": row["query"], "context": row["context"],
             "response_a": a, "response_b": b}
        )  # fmt: skip
    return pairs


def figures(path: Path) -> str:
    """The counts for one batch output of the pairs."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    judged = [r for r in rows if "verdict" in r]
    given = sum(r["verdict"] == ("A" if r["id"] % 2 else "B") for r in judged)
    ties = sum(r["verdict"] == "tie" for r in judged)
    first = sum(o["choice"] == "A" for r in judged for o in r["orders"])
    orders = sum(len(r["orders"]) for r in judged)
    swapped = [r for r in judged if "consistent" in r]
    consistent = sum(r["consistent"] for r in swapped)
    text = (
        f"{path.name}: {len(judged)} pairs, {len(rows) - len(judged)} errors; given response "
        f"preferred {given}, wrong one {len(judged) - given - ties}, ties {ties}; the first "
        f"position picked in {first} of {orders} judgments"
    )
    if swapped:
        text += f"; consistency {consistent / len(swapped):.2f} ({consistent} of {len(swapped)})"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", nargs="*", type=Path, help="batch outputs to count")
    parser.add_argument("--write", action="store_true", help=f"write {PAIRS.name}")
    parsed = parser.parse_args()
    if parsed.write:
        PAIRS.write_text("".join(json.dumps(p) + "\n" for p in build()))
        print(f"wrote {PAIRS}")
    for path in parsed.outputs:
        print(figures(path))


if __name__ == "__main__":
    main()
