"""Peak memory of a judging process against what `edgejudge doctor` predicts for it.

    python scripts/memory_check.py MODEL [MODEL ...] [--ctx 4096 8192] [--rows 2]

Each (model, context) runs in a fresh process: the model is loaded in-process with one slot,
and the first `--rows` rows of examples/rag.jsonl are judged on two metrics with a short
token budget, so the prefix cache saves a head or two. The table compares the process's
peak RSS (VmHWM, loading included) with edgejudge.system.memory's sum for it: the weights
(the file), the KV cache at that context, the buffers, and the prefix cache's bytes at their
peak in that run. `doctor`'s figure counts the prefix cache full, at its default budget: the
column beside it. MODEL is a catalog name or a GGUF path (the stand-ins of make_standin.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("response-faithfulness-5point", "response-relevance-5point")
GB = 1e9


def child(model: str, ctx: int, rows: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    """Judge in this process and report the figures (run by the parent, one per process)."""
    from edgejudge import Judge, RuntimeOptions
    from edgejudge.runtime.gguf import read_gguf
    from edgejudge.system.memory import buffers, shape_from_gguf

    lines = (ROOT / "examples/rag.jsonl").read_text(encoding="utf-8").splitlines()
    data = [{k: v for k, v in json.loads(line).items() if k != "id"} for line in lines[:rows]]
    options = RuntimeOptions(context_length=ctx, slots=1, n_threads=threads)
    with Judge(model, list(METRICS), max_tokens=max_tokens, runtime=options) as judge:
        runtime: Any = judge.runtime
        tasks = [(row, metric) for row in data for metric in METRICS]
        results = dict(judge.tasks_as_completed(tasks))
        stats = runtime.prefix_cache
        path = Path(runtime.path)
        budget = runtime.prefix_cache_bytes
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    shape = shape_from_gguf(read_gguf(path))
    assert shape is not None
    return {
        "model": model if not Path(model).exists() else path.name, "ctx": runtime.context_length,
        "weights": path.stat().st_size, "kv": shape.kv_bytes(ctx), "buffers": buffers(shape),
        "cache_peak": stats.peak_bytes if stats else 0, "cache_budget": budget, "peak_rss": peak,
        "judged": len(results), "prompt_tokens": stats.prompt_tokens if stats else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--ctx", type=int, nargs="+", default=[4096, 8192])
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        found = child(args.models[0], args.ctx[0], args.rows, args.max_tokens, args.threads)
        print(json.dumps(found))
        return
    print("model | ctx | weights | KV | buffers | prefix cache (peak) | predicted | peak RSS "
          "| predicted/measured | doctor (cache full)")  # fmt: skip
    print("|".join(["---"] * 10))
    for model in args.models:
        for ctx in args.ctx:
            command = [sys.executable, __file__, model, "--child", "--ctx", str(ctx),
                       "--rows", str(args.rows), "--max-tokens", str(args.max_tokens)]  # fmt: skip
            if args.threads:
                command += ["--threads", str(args.threads)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            predicted = r["weights"] + r["kv"] + r["buffers"] + r["cache_peak"]
            full = r["weights"] + r["kv"] + r["buffers"] + r["cache_budget"]
            print(f"{r['model']} | {r['ctx']} | {r['weights'] / GB:.2f} | {r['kv'] / GB:.2f} | "
                  f"{r['buffers'] / GB:.2f} | {r['cache_peak'] / GB:.2f} | {predicted / GB:.2f} | "
                  f"{r['peak_rss'] / GB:.2f} | {predicted / r['peak_rss']:.2f} | {full / GB:.2f}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
