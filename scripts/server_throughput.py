"""Verdict equality (in-process vs server) and judgments per minute with 1 and 4 server slots.

One run judges the same inputs, with the same greedy settings, in three configurations,
one after another on this machine: the in-process runtime; llama-server with 1 slot; and
llama-server with 4 slots (`-np 4`, `-c` four times the per-slot context). `--rounds N`
repeats the three in turn and reports the median rate of each, so a noisy moment on the
machine hurts one sample, not one configuration.

    python scripts/server_throughput.py [--model demo] [--max-tokens 128] [--rounds 1]

`--connected` measures servers someone else runs, reached with --server-url, instead: one
llama-server with `--parallel 4` judged with `--concurrency 1` and with `--concurrency 4`,
and two llama-servers on two ports (`--parallel 2`, half the cores each) sharing one batch
through two --server-url. The script starts those servers by hand, as their owner would.

It needs a llama-server: $EDGEJUDGE_LLAMA_SERVER, one on PATH, or the one
`edgejudge server build` builds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgejudge import Judge, RuntimeOptions
from edgejudge.judging.judge import JudgeResult
from edgejudge.models.resolve import resolve
from edgejudge.runtime.llama_server.process import find_llama_server, free_port
from edgejudge.runtime.numerics import PARITY_ARGS
from edgejudge.system.hardware import avoid_weight_repacking, physical_cores

ROOT = Path(__file__).resolve().parent.parent


def run(
    args: argparse.Namespace, rows: list[dict[str, Any]], how: RuntimeOptions
) -> tuple[list, float]:
    """Judge `rows` once; returns the verdicts and judgments per minute (model load excluded)."""
    with Judge(
        args.model,
        args.metric,
        max_tokens=args.max_tokens,
        runtime=replace(how, n_threads=args.threads, context_length=args.ctx),
    ) as judge:
        started = time.perf_counter()
        results = list(judge.evaluate_many(rows, return_exceptions=True))
        seconds = time.perf_counter() - started
    return results, 60 * len(rows) / seconds


@contextlib.contextmanager
def servers(model: str, ctx: int, shapes: list[tuple[int, int]]) -> Iterator[list[str]]:
    """llama-servers on `model`, one per (parallel, threads), started by hand; their URLs."""
    path = resolve(model).path
    binary = find_llama_server(None)
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for parallel, threads in shapes:
            port = free_port()
            command = [
                str(binary),
                "-m",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "-c",
                str(ctx * parallel),
                "-np",
                str(parallel),
                "-t",
                str(threads),
                *PARITY_ARGS,
            ]
            if avoid_weight_repacking():
                command.append("--no-repack")
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            started.append((process, f"http://127.0.0.1:{port}"))
        for _, url in started:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(10)


def connected(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """The --connected measurements (see the module's docstring)."""
    cores = physical_cores()
    half = max(1, cores // 2)
    with servers(args.model, args.ctx, [(4, cores), (2, half), (2, half)]) as urls:
        configs: dict[str, RuntimeOptions] = {
            "1 server -np 4, --concurrency 1": RuntimeOptions(server_url=urls[0], concurrency=1),
            "1 server -np 4, --concurrency 4": RuntimeOptions(server_url=urls[0], concurrency=4),
            f"2 servers -np 2 -t {half}, 2 URLs": RuntimeOptions(server_url=urls[1:]),
        }
        print(
            f"model {args.model}, {len(rows)} inputs from {args.input.name}, metric "
            f"{args.metric}, max_tokens {args.max_tokens}, {cores} cores, {args.rounds} round(s)"
        )
        rates: dict[str, list[float]] = {name: [] for name in configs}
        verdicts: dict[str, list[tuple[Any, ...]]] = {}
        for round_number in range(args.rounds):
            for name, how in configs.items():
                with Judge(
                    args.model, args.metric, max_tokens=args.max_tokens, runtime=how
                ) as judge:
                    started = time.perf_counter()
                    results = list(judge.evaluate_many(rows, return_exceptions=True))
                    rate = 60 * len(rows) / (time.perf_counter() - started)
                rates[name].append(rate)
                verdicts.setdefault(name, [verdict(r) for r in results])
                print(f"  round {round_number + 1}: {name:<34} {rate:6.1f} judgments/min")
    names = list(configs)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print("\njudgments per minute (median of rounds), and verdicts equal to --concurrency 1:")
    for name in names:
        same = sum(a == b for a, b in zip(verdicts[names[0]], verdicts[name], strict=True))
        ratio = median[name] / median[names[0]]
        print(f"  {name:<34} {median[name]:6.1f}  {ratio:4.2f}x  {same} of {len(rows)} equal")


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
    parser.add_argument("--connected", action="store_true", help="servers at URLs (see above)")
    args = parser.parse_args()
    lines = args.input.read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()][: args.n]
    if args.connected:
        connected(args, rows)
        return
    configs: dict[str, RuntimeOptions] = {
        "in-process": RuntimeOptions(runtime="inprocess", slots=1),
        "server, 1 slot": RuntimeOptions(runtime="server", slots=1),
        "server, 4 slots": RuntimeOptions(runtime="server", slots=4),
    }
    print(
        f"model {args.model}, {len(rows)} inputs from {args.input.name}, metric {args.metric}, "
        f"max_tokens {args.max_tokens}, context {args.ctx} per slot, {args.rounds} round(s)"
    )
    rates: dict[str, list[float]] = {name: [] for name in configs}
    verdicts: dict[str, list[tuple[Any, ...]]] = {}
    for round_number in range(args.rounds):
        for name, how in configs.items():
            results, rate = run(args, rows, how)
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
                print(
                    f"    row {index + 1}: in-process {a[:2]!r}\n    {' ' * len(str(index + 1))}"
                    f"      {name}: {b[:2]!r}"
                )
    median = {name: statistics.median(values) for name, values in rates.items()}
    print("\njudgments per minute (median of rounds):")
    for name, value in median.items():
        print(f"  {name:<16} {value:6.1f}")
    print(f"\n4 slots / 1 slot:      {median['server, 4 slots'] / median['server, 1 slot']:.2f}x")
    print(f"server 1 slot / in-process: {median['server, 1 slot'] / median['in-process']:.2f}x")


if __name__ == "__main__":
    main()
