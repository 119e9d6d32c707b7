"""A judge on a busy machine: alone, beside a busy core, and two judges at once.

    python scripts/busy_bench.py [--model demo] [--max-tokens 64] [--configs default,threads1]

Each judgment is a whole `edgejudge judge` process (start, load, judge `examples/faithful.json`
once, exit), timed from outside, as a user or a CI job meets it. For each configuration:
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name -> (environment, extra arguments)
CONFIGS: dict[str, tuple[dict[str, str], list[str]]] = {
    "default": ({}, []),
    "threads1": ({}, ["--threads", "1"]),
    "passive": ({"OMP_WAIT_POLICY": "passive"}, []),
    "active": ({"OMP_WAIT_POLICY": "active"}, []),
    "spin10k": ({"GOMP_SPINCOUNT": "10000"}, []),
}
SPIN = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"


def judge_command(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """One judgment as a user runs it."""
    return [sys.executable, "-m", "edgejudge", "judge", "--model", args.model,
            "--metric", "response-faithfulness-5point",
            "--input", str(ROOT / "examples/faithful.json"), "--max-tokens",
            str(args.max_tokens), *extra]  # fmt: skip


def run(commands: list[list[str]], env: dict[str, str]) -> list[float]:
    """Start every command at once; each one's seconds to exit."""
    started = time.perf_counter()
    environment = {**os.environ, **env}
    procs = [subprocess.Popen(c, env=environment, stdout=subprocess.DEVNULL) for c in commands]
    seconds = []
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a judgment failed: {proc.args}")
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(args: argparse.Namespace, name: str) -> dict[str, float]:
    """The four figures of one configuration."""
    env, extra = CONFIGS[name]
    command = judge_command(args, extra)
    alone = run([command], env)[0]
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        busy = run([command], env)[0]
    finally:
        spinner.kill()
        spinner.wait()
    together = max(run([command, command], env))
    sequence = run([command], env)[0] + run([command], env)[0]
    return {"alone": alone, "busy": busy, "together": together, "sequence": sequence}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--configs", default="default,threads1,passive",
                        help=f"comma-separated, of: {', '.join(CONFIGS)}")  # fmt: skip
    args = parser.parse_args()
    names = args.configs.split(",")
    print(f"model {args.model}, one judgment of examples/faithful.json, --max-tokens "
          f"{args.max_tokens}, {os.cpu_count()} logical cores; seconds, whole "
          "processes")  # fmt: skip
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
