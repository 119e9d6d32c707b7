"""Verdict equality (in-process vs server) and judgments per minute with 1 and 4 server slots.

One run judges the same inputs, with the same greedy settings, in three configurations,
one after another on this machine: the in-process runtime; llama-server with 1 slot; and
llama-server with 4 slots (`-np 4`, `-c` four times the per-slot context). `--rounds N`
repeats the three in turn and reports the median rate of each, so a noisy moment on the
machine hurts one sample, not one configuration.

    python scripts/server_throughput.py [--model demo] [--max-tokens 128] [--rounds 1]

It needs a llama-server: $EDGEJUDGE_LLAMA_SERVER, one on PATH, or the one
`edgejudge server build` builds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from edgejudge import Judge
from edgejudge.judging.judge import JudgeResult

ROOT = Path(__file__).resolve().parent.parent


def run(args: argparse.Namespace, rows: list[dict[str, Any]], **how: Any) -> tuple[list, float]:
    """Judge `rows` once; returns the verdicts and judgments per minute (model load excluded)."""
    with Judge(args.model, args.metric, max_tokens=args.max_tokens, n_threads=args.threads,
               context_length=args.ctx, **how) as judge:  # fmt: skip
        started = time.perf_counter()
        results = list(judge.evaluate_many(rows, return_exceptions=True))
        seconds = time.perf_counter() - started
    return results, 60 * len(rows) / seconds


def verdict(result: Any) -> tuple[Any, ...]:
    if isinstance(result, JudgeResult):
        return result.score, result.feedback, result.raw
    return ("error", type(result).__name__, str(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--metric", default="response-faithfulness-5point")
    parser.add_argument("--input", type=Path, default=ROOT / "examples/faithfulness.jsonl")
    parser.add_argument("--n", type=int, default=10, help="judge the first N inputs")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=2048, help="context per slot")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    lines = args.input.read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()][: args.n]
    configs: dict[str, dict[str, Any]] = {
        "in-process": {"runtime": "inprocess", "slots": 1},
        "server, 1 slot": {"runtime": "server", "slots": 1},
        "server, 4 slots": {"runtime": "server", "slots": 4},
    }
    print(
        f"model {args.model}, {len(rows)} inputs from {args.input.name}, metric {args.metric}, "
        f"max_tokens {args.max_tokens}, context {args.ctx} per slot, {args.rounds} round(s)"
    )
    rates: dict[str, list[float]] = {name: [] for name in configs}
    verdicts: dict[str, list[tuple[Any, ...]]] = {}
    for round_number in range(args.rounds):
        for name, how in configs.items():
            results, rate = run(args, rows, **how)
            rates[name].append(rate)
            verdicts.setdefault(name, [verdict(r) for r in results])
            print(f"  round {round_number + 1}: {name:<16} {rate:6.1f} judgments/min")

    base = verdicts["in-process"]
    print("\nverdicts identical to in-process (score, feedback and raw text):")
    for name in list(configs)[1:]:
        same = sum(a == b for a, b in zip(base, verdicts[name], strict=True))
        print(f"  {name:<16} {same} of {len(rows)}")
        for index, (a, b) in enumerate(zip(base, verdicts[name], strict=True)):
            if a != b:
                print(f"    row {index + 1}: in-process {a[:2]!r}\n    {' ' * len(str(index + 1))}"
                      f"      {name}: {b[:2]!r}")  # fmt: skip
    median = {name: statistics.median(values) for name, values in rates.items()}
    print("\njudgments per minute (median of rounds):")
    for name, value in median.items():
        print(f"  {name:<16} {value:6.1f}")
    print(f"\n4 slots / 1 slot:      {median['server, 4 slots'] / median['server, 1 slot']:.2f}x")
    print(f"server 1 slot / in-process: {median['server, 1 slot'] / median['in-process']:.2f}x")


if __name__ == "__main__":
    main()
