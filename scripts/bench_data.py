"""Memory of a big input: what a 1,000,000-row Parquet file costs a batch, side by side
with a 20-row one, in one run.

1. The real thing: `edgejudge batch FILE -o OUT --model demo` as a process, stopped once it
   has written its first verdicts (the demo judges a row a second: a million rows would take
   days). By then it has loaded the model, read every id of the file once (the scan that
   counts rows and finds duplicate ids) and started streaming rows to the judge. Its peak RSS
   (VmHWM) on the big file, minus the same on the small one, is what the million rows cost.
2. The whole stream: every row of the big file through `RowSource` -> `BatchOutput` ->
   `run_batch` on a scripted runtime that answers at once (tests/support/fake_runtime.py:
   the model is not what is measured here, and a million real judgments cannot run here),
   in a process of its own, with RSS sampled as it goes.
3. The resume: `edgejudge batch` again on the journal step 2 wrote, which holds every row
   ("nothing to do"): it keeps a million (id, metric) keys in memory while it reads the ids.

    python scripts/bench_data.py [--rows 1000000] [--model demo]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/support's scripted runtime, for the whole-stream pass

METRIC = "response-faithfulness-5point"
MIB = 1024 * 1024


def make_parquet(path: Path, rows: int) -> None:
    """`rows` rows of id, query, context, response (short, varied texts), in row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = 100_000
    schema = pa.schema([(name, pa.string()) for name in ("id", "query", "context", "response")])
    with pq.ParquetWriter(str(path), schema) as writer:
        for start in range(0, rows, chunk):
            ids = range(start, min(rows, start + chunk))
            writer.write_table(
                pa.table(
                    {
                        "id": [f"row-{i:07d}" for i in ids],
                        "query": [f"What is the capital of country number {i}?" for i in ids],
                        "context": [f"Country {i} has its capital in City {i % 977}." for i in ids],
                        "response": [f"City {(i * 7) % 977}." for i in ids],
                    }
                ),
                row_group_size=chunk,
            )


def vm_hwm(pid: int) -> int:
    """A process's peak resident memory so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def cli_peak(source: Path, folder: Path, model: str, verdicts: int) -> tuple[int, float]:
    """Peak RSS of `edgejudge batch` on `source` once it has written `verdicts` rows, and the
    seconds to its first verdict."""
    out = folder / f"{source.stem}.out.jsonl"
    out.unlink(missing_ok=True)
    args = [sys.executable, "-m", "edgejudge", "batch", str(source), "-o", str(out),
            "--model", model, "-m", METRIC, "--max-tokens", "4", "--slots", "1",
            "--no-progress"]  # fmt: skip
    start = time.monotonic()
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    first = 0.0
    peak = 0
    try:
        while process.poll() is None:
            peak = max(peak, vm_hwm(process.pid))
            done = out.read_text().count("\n") if out.exists() else 0
            if done and not first:
                first = time.monotonic() - start
            if done >= verdicts:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the batch ended early: {process.stderr.read()}")  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait()
    return peak, first


def stream(source: str, output: str) -> None:
    """(in a child) Every row of `source` through the batch machinery on an instant runtime,
    then again (all done); prints JSON: peaks, seconds, RSS samples."""
    from edgejudge import Judge
    from edgejudge.core.presets import PRESETS
    from edgejudge.judging import batch
    from edgejudge.judging.rows import RowSource
    from tests.support.fake_runtime import FakeRuntime

    pid = os.getpid()
    rows_of = RowSource(Path(source))
    metrics = [PRESETS[METRIC]]
    answer = "<feedback>Fine.</feedback>\n<score>4</score>"
    found: dict[str, object] = {"before": vm_hwm(pid)}
    start = time.monotonic()
    count = rows_of.scan(metrics)
    found["scan_seconds"] = time.monotonic() - start
    found["after_scan"] = vm_hwm(pid)
    samples = []
    with (
        Judge(None, METRIC, runtime=FakeRuntime(answer)) as judge,
        batch.BatchOutput(Path(output)) as out,
    ):
        todo = out.waiting(rows_of.rows(rows_of.columns_for(metrics)), [METRIC])
        for n, _ in enumerate(batch.run_batch(judge, todo, out), start=1):
            if n % 1000 == 0:
                judge.runtime.prompts.clear()  # the scripted runtime records every prompt
            if n % (count // 10 or 1) == 0:
                samples.append((n, vm_hwm(pid)))
    found.update(rows=count, seconds=time.monotonic() - start, samples=samples)
    found["peak"] = vm_hwm(pid)
    print(json.dumps(found))


def rerun_peak(source: Path, out: Path, model: str) -> tuple[int, float, str]:
    """`edgejudge batch` again on a journal that holds every row: its peak RSS, seconds and
    last line (it reads the journal's keys and the file's ids, and loads no model)."""
    args = [sys.executable, "-m", "edgejudge", "batch", str(source), "-o", str(out),
            "--model", model, "-m", METRIC, "--no-progress"]  # fmt: skip
    start = time.monotonic()
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, vm_hwm(process.pid))
        except (OSError, RuntimeError):  # it ended between the two looks
            break
        time.sleep(0.02)
    _, err = process.communicate()
    return peak, time.monotonic() - start, err.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--verdicts", type=int, default=5, help="stop the real batch after N")
    parser.add_argument("--stream", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        stream(*args.stream)
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        small, big = folder / "small.parquet", folder / "big.parquet"
        make_parquet(small, 20)
        made = time.monotonic()
        make_parquet(big, args.rows)
        print(f"{args.rows:,} rows: {big.stat().st_size / MIB:.1f} MiB of Parquet "
              f"(written in {time.monotonic() - made:.1f} s); 20 rows beside it")  # fmt: skip
        print("\n1. edgejudge batch, the real model, stopped after its first verdicts:")
        small_peak, small_first = cli_peak(small, folder, args.model, args.verdicts)
        big_peak, big_first = cli_peak(big, folder, args.model, args.verdicts)
        print(f"   20 rows:        peak RSS {small_peak / MIB:7.1f} MiB, first verdict "
              f"after {small_first:.1f} s")  # fmt: skip
        print(f"   {args.rows:,} rows: peak RSS {big_peak / MIB:7.1f} MiB, first verdict "
              f"after {big_first:.1f} s")  # fmt: skip
        print(f"   the big input costs {(big_peak - small_peak) / MIB:+.1f} MiB")
        print("\n2. every row streamed through the batch on an instant scripted runtime:")
        for source in (small, big):
            out = folder / f"{source.stem}.stream.jsonl"
            done = subprocess.run(
                [sys.executable, __file__, "--stream", str(source), str(out)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            found = json.loads(done.stdout.splitlines()[-1])
            samples = ", ".join(f"{n:,}: {rss / MIB:.0f}" for n, rss in found["samples"])
            print(f"   {found['rows']:,} rows: start {found['before'] / MIB:.0f} MiB, after "
                  f"the id scan ({found['scan_seconds']:.1f} s) {found['after_scan'] / MIB:.0f}"
                  f" MiB, peak {found['peak'] / MIB:.0f} MiB in {found['seconds']:.0f} s; "
                  f"RSS (MiB) by rows judged: {samples}")  # fmt: skip
        print("\n3. edgejudge batch again, every row already in the journal:")
        peaks = []
        for source in (small, big):
            peak, seconds, line = rerun_peak(
                source, folder / f"{source.stem}.stream.jsonl", args.model
            )
            peaks.append(peak)
            print(f"   {source.name}: peak RSS {peak / MIB:.1f} MiB in {seconds:.1f} s ({line})")
        print(f"   the big journal costs {(peaks[1] - peaks[0]) / MIB:+.1f} MiB")


if __name__ == "__main__":
    main()
