"""A judge on a busy machine: alone, beside a busy core, and two judges at once.

    python scripts/busy_bench.py [--model demo] [--max-tokens 64] [--configs default,threads1]
    python scripts/busy_bench.py --workload multi --ctx 8192 --rows 2

Each judgment is a whole edgejudge process (start, load, judge, exit), timed from outside, as
a user or a CI job meets it: `--workload one` judges `examples/faithful.json` once (`edgejudge
judge`); `--workload multi` judges the first `--rows` rows of `examples/rag.jsonl` on three
metrics each (`edgejudge batch`, the prefix cache at work). For each configuration:
- alone;
- beside one busy core (a process spinning in a loop);
- two judges started together (the later of the two to finish), against the same two one
  after the other (their sum).
A configuration is a set of environment variables and arguments (see CONFIGS). Nothing else
may run beside it: the point is what the judges do to each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name -> (environment, extra arguments)
# edgejudge's default is OpenMP's passive waiting (runtime/inprocess/openmp.py); "spinning" is
# libgomp's own default (spin 300,000 turns, then sleep), which edgejudge ran with before.
CONFIGS: dict[str, tuple[dict[str, str], list[str]]] = {
    "default": ({}, []),
    "spinning": ({"GOMP_SPINCOUNT": "300000"}, []),
    "threads1": ({}, ["--threads", "1"]),
    "active": ({"OMP_WAIT_POLICY": "active"}, []),
}
METRICS = ("response-faithfulness-5point", "response-relevance-5point",
           "response-faithfulness-3point")  # fmt: skip
OUTPUTS = count()
SPIN = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"


def judge_command(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """One judgment (or batch) as a user runs it; each call a new output file."""
    common = ["--model", args.model, "--max-tokens", str(args.max_tokens), *extra]
    if args.ctx:
        common += ["--ctx", str(args.ctx)]
    if args.workload == "one":
        return [sys.executable, "-m", "edgejudge", "judge", "--metric", METRICS[0],
                "--input", str(ROOT / "examples/faithful.json"), *common]  # fmt: skip
    metrics = [part for metric in METRICS for part in ("--metric", metric)]
    output = Path(args.scratch) / f"out-{next(OUTPUTS)}.jsonl"
    return [sys.executable, "-m", "edgejudge", "batch", str(args.rows_file), "-o", str(output),
            *metrics, *common]  # fmt: skip


def run(commands: list[list[str]], env: dict[str, str]) -> list[float]:
    """Start every command at once; each one's seconds to exit."""
    started = time.perf_counter()
    environment = {**os.environ, **env}
    logs = [tempfile.TemporaryFile() for _ in commands]
    procs = [subprocess.Popen(c, env=environment, stdout=subprocess.DEVNULL, stderr=log)
             for c, log in zip(commands, logs, strict=True)]  # fmt: skip
    seconds = []
    for proc, log in zip(procs, logs, strict=True):
        if proc.wait() != 0:
            log.seek(0)
            raise SystemExit(f"a judgment failed: {proc.args}\n{log.read().decode()[-2000:]}")
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(args: argparse.Namespace, name: str) -> dict[str, float]:
    """The four figures of one configuration."""
    env, extra = CONFIGS[name]

    def command() -> list[str]:
        return judge_command(args, extra)

    alone = run([command()], env)[0]
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        busy = run([command()], env)[0]
    finally:
        spinner.kill()
        spinner.wait()
    together = max(run([command(), command()], env))
    sequence = run([command()], env)[0] + run([command()], env)[0]
    return {"alone": alone, "busy": busy, "together": together, "sequence": sequence}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--workload", choices=("one", "multi"), default="one")
    parser.add_argument("--rows", type=int, default=2, help="rag rows for --workload multi")
    parser.add_argument("--ctx", type=int, help="--ctx for every judgment (default: edgejudge's)")
    parser.add_argument("--configs", default="spinning,default",
                        help=f"comma-separated, of: {', '.join(CONFIGS)}")  # fmt: skip
    args = parser.parse_args()
    names = args.configs.split(",")
    args.scratch = tempfile.mkdtemp(prefix="busy-bench-")
    args.rows_file = Path(args.scratch) / "rows.jsonl"
    rag = (ROOT / "examples/rag.jsonl").read_text().splitlines()
    args.rows_file.write_text("\n".join(rag[: args.rows]) + "\n")
    work = ("one judgment of examples/faithful.json" if args.workload == "one" else
            f"{args.rows} rows of examples/rag.jsonl x {len(METRICS)} metrics")  # fmt: skip
    print(f"model {args.model}, {work}, --max-tokens {args.max_tokens}"
          f"{f', --ctx {args.ctx}' if args.ctx else ''}, {os.cpu_count()} logical cores; "
          "seconds, whole processes")  # fmt: skip
    print("| configuration | alone | one busy core | two at once | two one after the other "
          "| together / after each other |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in names:
        m = measure(args, name)
        print(f"| {name} | {m['alone']:.1f} | {m['busy']:.1f} ({m['busy'] / m['alone']:.1f}x) | "
              f"{m['together']:.1f} | {m['sequence']:.1f} | {m['together'] / m['sequence']:.2f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
