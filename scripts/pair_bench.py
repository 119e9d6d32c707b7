"""Pairwise judging speed: both orders of each pair side by side (two slots) against one
order after the other (one slot), on equal work, in one run.

    python scripts/pair_bench.py [--model demo-instruct] [--family prometheus] [--n 10]
        [--max-tokens 64] [--threads T]

Both judges load the same model in-process; each pair is judged by both, the one that goes
first alternating from pair to pair, so drift in the machine's speed falls on both alike. It
prints pairs per minute for each and their ratio, and how many pairs got the same records and
the same choices (side by side, the floats of a batch can differ: README, Determinism). The
pairs are examples/faithfulness-pairs.jsonl (scripts/pairs_figure.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from edgejudge import Judge, RuntimeOptions
from edgejudge.judging.pairs import PairResult
from edgejudge.system.hardware import physical_cores

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo-instruct")
    parser.add_argument("--family", default="prometheus")
    parser.add_argument("--metric", default="pairwise-faithfulness")
    parser.add_argument("--input", type=Path, default=ROOT / "examples/faithfulness-pairs.jsonl")
    parser.add_argument("--n", type=int, default=10, help="judge the first N pairs")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=physical_cores())
    args = parser.parse_args()
    pairs = [json.loads(line) for line in args.input.read_text().splitlines()][: args.n]
    common: dict[str, Any] = dict(
        family=args.family, max_tokens=args.max_tokens, n_threads=args.threads,
        runtime="inprocess",
    )  # fmt: skip
    seconds = {"side by side (2 slots)": 0.0, "one after the other (1 slot)": 0.0}
    results: dict[str, list[PairResult]] = {name: [] for name in seconds}
    with (
        Judge(args.model, args.metric, **common, runtime=RuntimeOptions(slots=2)) as side,
        Judge(args.model, args.metric, **common, runtime=RuntimeOptions(slots=1)) as alone,
    ):
        judges = dict(zip(seconds, (side, alone), strict=True))
        for index, pair in enumerate(pairs):
            order = list(judges.items())
            for name, judge in order if index % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                results[name].append(judge.compare(pair))
                seconds[name] += time.perf_counter() - started
    print(f"{args.model} ({args.family}), {len(pairs)} pairs, both orders, "
          f"max_tokens {args.max_tokens}, {args.threads} threads")  # fmt: skip
    for name, total in seconds.items():
        print(f"  {name:<30} {len(pairs) / total * 60:6.1f} pairs/min")
    first, second = seconds.values()
    print(f"  ratio: {second / first:.2f}x the pairs per minute side by side")
    a, b = results.values()
    same = sum(
        [r.raw for r in x.results] == [r.raw for r in y.results] for x, y in zip(a, b, strict=True)
    )
    choices = sum(
        [r.choice for r in x.results] == [r.choice for r in y.results]
        for x, y in zip(a, b, strict=True)
    )
    print(f"  same records: {same} of {len(pairs)} pairs; same choices in both orders: {choices}")


if __name__ == "__main__":
    main()
