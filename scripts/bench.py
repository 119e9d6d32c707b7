"""In-process judging speed: the plain llama-cpp-python loop against edgejudge, in one run.

The baseline is the loop a user would write: `Llama.create_completion(prompt,
grammar=LlamaGrammar.from_string(gbnf), temperature=0, max_tokens=N)` for each input. It
gets exactly the prompt tokens and the grammar edgejudge uses, so the two differ only in
how they run llama.cpp. edgejudge is measured judging one input at a time (`evaluate` in a
loop) and as a batch (`evaluate_many`, several judgments decoded together).

    python scripts/bench.py [--model demo] [--n 20] [--threads T] [--max-tokens 128]

It prints what machine and which llama.cpp build ran it, then a table (judgments/min, decode
tokens/s with and without the grammar, prompt tokens/s, peak RSS), the ratios against the
baseline, and whether the verdicts are the same. Machines are noisy: compare the ratios of
one run, not the absolute figures of two.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgejudge import Judge
from edgejudge.core import Metric
from edgejudge.core.formats.base import JudgeFormat
from edgejudge.errors import EdgeJudgeError, ParseError
from edgejudge.hardware import physical_cores
from edgejudge.judge import JudgeResult
from edgejudge.runtime.base import Finished, Sampling
from edgejudge.runtime.gguf import read_gguf
from edgejudge.runtime.llama_cpp import build_info
from edgejudge.store import resolve_model

ROOT = Path(__file__).resolve().parent.parent
RATE_PROMPTS = 3  # inputs whose generations measure decode and prompt speed
MIB = 1024 * 1024


@dataclass
class Rates:
    """Token speeds summed over a few generations."""

    prompt_tokens: int = 0
    prompt_seconds: float = 0.0
    decoded: int = 0
    decode_seconds: float = 0.0

    def add(self, prompt: int, pieces: Iterable[Any]) -> None:
        """Time one streamed generation: until its first piece, then the rest."""
        started = time.perf_counter()
        first = last = None
        n = 0
        for _ in pieces:
            last = time.perf_counter()
            first = first or last
            n += 1
        assert first is not None and last is not None
        self.prompt_tokens += prompt
        self.prompt_seconds += first - started
        self.decoded += n - 1
        self.decode_seconds += last - first

    @property
    def prompt_rate(self) -> float:
        return self.prompt_tokens / self.prompt_seconds

    @property
    def decode_rate(self) -> float:
        return self.decoded / self.decode_seconds


@dataclass
class Run:
    """One way of judging the inputs."""

    name: str
    per_minute: float = 0.0
    free: Rates = field(default_factory=Rates)
    grammar: Rates = field(default_factory=Rates)
    peak_rss: int = 0
    answers: list[Any] = field(default_factory=list)


@contextmanager
def peak_rss(into: Run) -> Iterator[None]:
    """Record the process's peak resident memory during the block, in bytes.

    On Linux the high-water mark is reset first (`/proc/self/clear_refs`), so the figure is
    this block's own; elsewhere it is the process's peak so far.
    """
    status = Path("/proc/self/status")
    try:
        Path("/proc/self/clear_refs").write_text("5")
        resettable = True
    except OSError:
        resettable = False
    yield
    if resettable:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                into.peak_rss = int(line.split()[1]) * 1024
                return
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB here
    into.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def machine_line(threads: int) -> str:
    """What ran the benchmark: CPU, cores, OS, and the llama.cpp build."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = build_info()
    backends = ", ".join(info["backends"]) or "CPU"
    return (
        f"machine: {cpu}, {os.cpu_count()} logical / {physical_cores()} physical cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"llama-cpp-python {info['version']} ({backends}); {threads} threads"
    )


def kv_bytes(path: Path, n_ctx: int) -> int:
    """The f16 KV cache llama.cpp allocates for `n_ctx` cells of this model."""
    meta = read_gguf(path).metadata
    arch = meta["general.architecture"]
    layers = int(meta[f"{arch}.block_count"])
    heads = meta[f"{arch}.attention.head_count"]
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    per_layer = sum(kv_heads) if isinstance(kv_heads, list) else int(kv_heads) * layers
    width = int(meta[f"{arch}.embedding_length"]) // (
        max(heads) if isinstance(heads, list) else int(heads)
    )
    k = int(meta.get(f"{arch}.attention.key_length", width))
    v = int(meta.get(f"{arch}.attention.value_length", width))
    return n_ctx * per_layer * (k + v) * 2


def timed(run: Run, n: int, judge_all: Callable[[], list[Any]]) -> None:
    with peak_rss(run):
        started = time.perf_counter()
        run.answers = judge_all()
        run.per_minute = 60 * n / (time.perf_counter() - started)


def edgejudge_runs(args: argparse.Namespace, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """edgejudge one at a time and batched; also the prompts and grammar for the baseline."""
    with Judge(args.model, args.metric, max_tokens=args.max_tokens, n_threads=args.threads,
               context_length=args.ctx, slots=args.slots) as judge:  # fmt: skip
        runtime = judge.runtime
        prompts = [runtime.chat_tokens(judge.prompt(row)) for row in rows]
        one, many = Run("edgejudge, one at a time"), Run(f"edgejudge, batch of {judge.slots}")
        for tokens in prompts[:RATE_PROMPTS]:
            for rates, grammar in ((one.free, None), (one.grammar, judge.grammar)):
                pieces = runtime.generate(
                    tokens, grammar=grammar, max_tokens=args.max_tokens, sampling=Sampling()
                )
                rates.add(len(tokens), (p for p in pieces if not isinstance(p, Finished)))
        timed(one, len(rows), lambda: [_outcome(judge.evaluate, row) for row in rows])
        timed(many, len(rows), lambda: list(judge.evaluate_many(rows, return_exceptions=True)))
        return {
            "runs": [one, many],
            "prompts": prompts,
            "grammar": judge.grammar,
            "format": judge.format,
            "metric": judge.metric,
            "n_ctx": runtime.context_length,
            "slots": judge.slots,
        }


def _outcome(evaluate: Callable[[Any], JudgeResult], row: Any) -> JudgeResult | EdgeJudgeError:
    try:
        return evaluate(row)
    except EdgeJudgeError as exc:
        return exc


def baseline_runs(
    args: argparse.Namespace, path: Path, prompts: list[list[int]], gbnf: str
) -> tuple[Run, list[str]]:
    """The plain loop; then, for its answers only, the loop as edgejudge evaluates a prompt:
    flash attention on and no cache carried from one input to the next."""
    from llama_cpp import Llama, LlamaGrammar

    llm = Llama(str(path), n_ctx=args.ctx, n_threads=args.threads,
                n_threads_batch=args.threads, verbose=False)  # fmt: skip
    grammar = LlamaGrammar.from_string(gbnf, verbose=False)
    run = Run("llama-cpp-python loop (baseline)")

    def complete(tokens: list[int], **extra: Any) -> Any:
        return llm.create_completion(tokens, temperature=0, max_tokens=args.max_tokens, **extra)

    for tokens in prompts[:RATE_PROMPTS]:
        for rates, extra in ((run.free, {}), (run.grammar, {"grammar": grammar})):
            llm.reset()
            rates.add(len(tokens), complete(tokens, stream=True, **extra))
    llm.reset()
    timed(
        run,
        len(prompts),
        lambda: [
            complete(t, grammar=grammar)["choices"][0]["text"]
            for t in prompts  # fmt: skip
        ],
    )
    llm.close()
    fresh = []
    if not args.skip_fresh:
        llm = Llama(str(path), n_ctx=args.ctx, n_threads=args.threads, flash_attn=True,
                    n_threads_batch=args.threads, verbose=False)  # fmt: skip
        for tokens in prompts:
            llm.reset()
            fresh.append(complete(tokens, grammar=grammar)["choices"][0]["text"])
        llm.close()
    return run, fresh


def same(result: Any, text: str, judge_format: JudgeFormat, metric: Metric) -> bool:
    """Whether edgejudge's verdict is the one in the baseline's text.

    The baseline stops at max_tokens wherever it is; edgejudge then closes the feedback and
    generates the score. Such a row counts as the same when the feedback is.
    """
    if not isinstance(result, JudgeResult):
        return False
    try:
        verdict = judge_format.parse(text, metric)
        return (verdict.score, verdict.feedback) == (result.score, result.feedback)
    except ParseError:
        closed = judge_format.close_out(text)
        if closed is None:
            return False
        return judge_format.parse(closed[0] + f"{result.score}</score>", metric).feedback == (
            result.feedback
        )


def table(runs: list[Run]) -> str:
    head = ("", "judgments/min", "decode tok/s", "decode tok/s", "prompt tok/s", "peak RSS")
    sub = ("", "", "no grammar", "grammar", "", "MiB")
    lines = [head, sub]
    for run in runs:
        rates = run.grammar if run.grammar.decoded else None
        lines.append((
            run.name,
            f"{run.per_minute:.1f}",
            f"{run.free.decode_rate:.1f}" if run.free.decoded else "",
            f"{rates.decode_rate:.1f}" if rates else "",
            f"{run.grammar.prompt_rate:.0f}" if rates else "",
            f"{run.peak_rss / MIB:.0f}",
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("| " + " | ".join(cells) + " |")
        if i == 1:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo", help="catalog name or GGUF path")
    parser.add_argument("--metric", default="response-faithfulness-5point")
    parser.add_argument("--input", type=Path, default=ROOT / "examples/faithfulness.jsonl")
    parser.add_argument("--n", type=int, default=20, help="judge the first N inputs")
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, help="context length (default: the catalog's)")
    parser.add_argument("--slots", type=int, help="judgments per batch (default: edgejudge's)")
    parser.add_argument("--skip-fresh", action="store_true",
                        help="skip the second baseline pass (flash attention, no cache carried "
                        "between inputs) that shows where verdicts differ and why")  # fmt: skip
    args = parser.parse_args()
    lines = args.input.read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()][: args.n]
    path = resolve_model(args.model).path
    print(machine_line(args.threads))
    print(f"model {args.model} ({path.name}, {path.stat().st_size / MIB:.0f} MiB), "
          f"{len(rows)} inputs from {args.input.name}, metric {args.metric}, "
          f"max_tokens {args.max_tokens}, greedy")  # fmt: skip
    ours = edgejudge_runs(args, rows)
    one, many = ours["runs"]
    args.ctx = args.ctx or ours["n_ctx"]
    base, fresh = baseline_runs(args, path, ours["prompts"], ours["grammar"])
    print()
    print(table([base, one, many]))
    print()
    ratios = [
        ("edgejudge decode speed, grammar / no grammar", one.grammar.decode_rate
         / one.free.decode_rate, "target >= 0.90"),
        ("  (baseline: grammar / no grammar)", base.grammar.decode_rate
         / base.free.decode_rate, ""),
        ("edgejudge one at a time / baseline, judgments/min", one.per_minute
         / base.per_minute, "target >= 2.5"),
        ("edgejudge batch / edgejudge one at a time", many.per_minute / one.per_minute,
         "target >= 1.5"),
        ("edgejudge batch / baseline", many.per_minute / base.per_minute, ""),
    ]  # fmt: skip
    for name, value, target in ratios:
        print(f"{name:52} {value:5.2f}x  {target}")
    kv = kv_bytes(path, ours["n_ctx"])
    budget = path.stat().st_size + kv + 400 * MIB
    print(
        f"\npeak RSS of the batch: {many.peak_rss / MIB:.0f} MiB; budget = model file "
        f"{path.stat().st_size / MIB:.0f} + KV cache {kv / MIB:.0f} ({ours['n_ctx']} cells) "
        f"+ 400 = {budget / MIB:.0f} MiB: {'within' if many.peak_rss <= budget else 'OVER'}"
    )
    print("\nsame verdicts (score and feedback):")
    fmt, metric = ours["format"], ours["metric"]
    references = [("the baseline loop", base.answers)]
    if fresh:
        references.append(("the baseline with flash attention, fresh per input", fresh))
    for ref_name, texts in references:
        for run in (one, many):
            hits = [same(r, t, fmt, metric) for r, t in zip(run.answers, texts, strict=True)]
            pairs = enumerate(zip(rows, hits, strict=True))
            differ = [str(row.get("id", i + 1)) for i, (row, ok) in pairs if not ok]
            print(f"  {run.name} vs {ref_name}: {sum(hits)} of {len(hits)}"
                  + (f" (differ: ids {', '.join(differ)})" if differ else ""))  # fmt: skip
    if fresh:
        loop_vs_fresh = sum(a == b for a, b in zip(base.answers, fresh, strict=True))
        print(f"  the baseline loop vs the baseline with flash attention, fresh per input: "
              f"{loop_vs_fresh} of {len(fresh)} identical texts")  # fmt: skip
    truncated = sum(1 for r in one.answers if isinstance(r, JudgeResult) and r.truncated)
    print(
        f"  ({truncated} of {len(rows)} feedbacks reached max_tokens: the baseline stops "
        f"there without a score, edgejudge closes the feedback and adds the score)"
    )


if __name__ == "__main__":
    main()
