"""The multi-metric part of scripts/bench.py: three metrics over examples/rag.jsonl.

Three ways judge every (row, metric), a row's metrics one after another:
- edgejudge with its prefix cache (the default),
- (a) edgejudge evaluating each prompt in full (`prefix_cache_mib=0`, as before the cache),
- (b) the plain llama-cpp-python loop, `create_completion(tokens, grammar=…)`, whose own
  cache reuses the previous prompt's head (which is how it changes floats).
All three run one judgment at a time, with the same prompts, grammar and max_tokens.

It also measures what the in-process slots default rests on (long feedbacks decoded one at
a time against four side by side) and edgejudge's milliseconds per written token against
llama-server's own decode (its `timings`) on the same prompts.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgejudge import Judge, JudgeResult, RuntimeOptions
from edgejudge.runtime.base import Finished, Sampling, token_ids
from edgejudge.runtime.gguf import read_gguf
from edgejudge.runtime.inprocess.llama_cpp import plain_llama
from edgejudge.runtime.inprocess.prefix import common_prefix
from edgejudge.system.memory import shape_from_gguf

MIB = 1024 * 1024
METRICS = ("response-faithfulness-5point", "response-relevance-5point",
           "response-faithfulness-3point")  # fmt: skip


@dataclass
class MultiRun:
    """One way of judging every (row, metric)."""

    name: str
    per_minute: float = 0.0
    seconds: float = 0.0
    evaluated: int | None = None  # prompt tokens evaluated
    peak_rss: int = 0
    texts: list[str] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    prompts: list[list[int]] = field(default_factory=list)  # every prompt generated from
    cache_line: str = ""
    cache_budget: int = 0  # the prefix cache's budget, bytes
    n_ctx: int = 0
    evaluation_seconds: float = 0.0  # evaluating prompt tokens
    generated: int = 0  # tokens generated, close-outs included


def rag_rows(path: Path, n: int) -> list[dict[str, Any]]:
    """The first `n` rows, without their ids."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in row.items() if k != "id"} for row in rows[:n]]


def ours(args: argparse.Namespace, rows: list[dict[str, Any]], mib: int | None, name: str,
         peak_rss: Any) -> tuple[MultiRun, Any]:  # fmt: skip
    """edgejudge over every (row, metric), one at a time; also its cache's figures."""
    run = MultiRun(name)
    with Judge(
        args.model,
        list(METRICS),
        max_tokens=args.max_tokens,
        runtime=RuntimeOptions(
            n_threads=args.threads, context_length=args.ctx, slots=1, prefix_cache_mib=mib
        ),
    ) as judge:
        tasks = [(row, metric) for row in rows for metric in METRICS]
        runtime: Any = judge.runtime
        generate = runtime.generate

        def recording(prompt: Any, **options: Any) -> Any:
            run.prompts.append(token_ids(prompt))
            return generate(prompt, **options)

        runtime.generate = recording  # every prompt, close-out passes included
        with peak_rss(run):
            started = time.perf_counter()
            found = dict(judge.tasks_as_completed(tasks))
            run.seconds = time.perf_counter() - started
        run.results = [found[i] for i in range(len(tasks))]
        run.texts = [getattr(r, "raw", str(r)) for r in run.results]
        stats = judge.runtime.prefix_cache
        run.evaluated = stats.evaluated_tokens if stats else None
        run.evaluation_seconds = stats.evaluation_seconds if stats else 0.0
        run.generated = sum(getattr(r, "completion_tokens", 0) for r in run.results)
        run.cache_line = stats.line() if stats else ""
        run.cache_budget = runtime.prefix_cache_bytes
        run.n_ctx = runtime.context_length
        prompts = [
            [judge.runtime.chat_tokens(judge.for_metric(m).prompt(row)) for m in METRICS]
            for row in rows
        ]
        grammars = {m: judge.for_metric(m).grammar for m in METRICS}
    run.per_minute = 60 * len(tasks) / run.seconds
    return run, (stats, prompts, grammars)


def plain(args: argparse.Namespace, path: Path, prompts: list[list[list[int]]],
          grammars: dict[str, str], peak_rss: Any) -> MultiRun:  # fmt: skip
    """(b) the llama-cpp-python loop over the same prompts, its own prompt cache on. Run it
    on a thread of its own (bench.own_thread says why)."""
    import llama_cpp
    from llama_cpp import LlamaGrammar

    compiled = {m: LlamaGrammar.from_string(g, verbose=False) for m, g in grammars.items()}
    run = MultiRun("(b) llama-cpp-python loop")
    llm = plain_llama(path, n_ctx=args.ctx, n_threads=args.threads,
                      n_threads_batch=args.threads, verbose=False)  # fmt: skip
    try:
        generated = 0
        with peak_rss(run):
            started = time.perf_counter()
            for row_prompts in prompts:
                for metric, tokens in zip(METRICS, row_prompts, strict=True):
                    out = llm.create_completion(
                        tokens, grammar=compiled[metric], temperature=0, max_tokens=args.max_tokens
                    )
                    run.texts.append(out["choices"][0]["text"])  # type: ignore[index]
                    generated += out["usage"]["completion_tokens"]  # type: ignore[index]
            run.seconds = time.perf_counter() - started
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)  # llama.cpp's own counters
        run.evaluated = perf.n_p_eval
        run.evaluation_seconds = perf.t_p_eval_ms / 1000
        run.generated = generated
    finally:
        llm.close()
    run.per_minute = 60 * len(run.texts) / run.seconds
    return run


def minimum_tokens(prompts: list[list[int]]) -> int:
    """Prompt tokens a run needs at least: of each prompt, what no earlier prompt began
    with (a row's shared head once, each metric's tail, each close-out's new tokens)."""
    total = 0
    for index, prompt in enumerate(prompts):
        shared = max((common_prefix(prompt, earlier) for earlier in prompts[:index]), default=0)
        total += len(prompt) - shared
    return total


def decode_speeds(args: argparse.Namespace, path: Path, rows: list[dict[str, Any]],
                  server: Path | None) -> list[str]:  # fmt: skip
    """Long feedbacks: generated tok/s with 1 slot and 4 (the slots default), and ms per
    written token against llama-server's own `timings` on the same prompts."""
    lines = []
    rates = {}
    metric = "response-faithfulness-5point"
    for slots in (1, 4):
        with Judge(
            args.model,
            metric,
            max_tokens=args.long_tokens,
            runtime=RuntimeOptions(n_threads=args.threads, context_length=args.ctx, slots=slots),
        ) as judge:
            started = time.perf_counter()
            results = list(judge.evaluate_many(rows, return_exceptions=True))
            elapsed = time.perf_counter() - started
            if slots == 1:
                prompts = [judge.runtime.chat_tokens(judge.prompt(row)) for row in rows]
                grammar = judge.grammar
                ms = alone_decode_ms(judge, prompts, grammar, args.long_tokens)
                with Judge(
                    args.model,
                    metric,
                    max_tokens=8,
                    runtime=RuntimeOptions(
                        n_threads=args.threads, context_length=args.ctx, slots=1
                    ),
                ) as other:
                    other.evaluate(rows[0])  # it ran llama.cpp, and now sits idle
                    beside = alone_decode_ms(judge, prompts, grammar, args.long_tokens)
        made = sum(r.completion_tokens for r in results if isinstance(r, JudgeResult))
        rates[slots] = made / elapsed
        plural = "s" if slots > 1 else ""
        lines.append(f"  {slots} slot{plural}: {made} tokens generated over {len(rows)} "
                     f"judgments, {rates[slots]:.1f} tok/s (prompts included)")  # fmt: skip
    lines.append(f"  4 slots / 1 slot: {rates[4] / rates[1]:.2f}x (the CPU default is 1 slot)")
    lines.append(f"  edgejudge decode, one at a time: {ms:.1f} ms per written token "
                 f"({1000 / ms:.1f} tok/s)")  # fmt: skip
    lines.append(f"  the same with a second judge loaded and idle in the process: {beside:.1f} "
                 f"ms per token ({beside / ms:.2f}x; runtime/openmp.py)")  # fmt: skip
    if server is not None:
        theirs = server_decode_ms(args, path, server, prompts, grammar)
        lines.append(f"  llama-server's own decode (its timings), same prompts and grammar: "
                     f"{theirs:.1f} ms per token ({1000 / theirs:.1f} tok/s); edgejudge / "
                     f"llama-server time per token {ms / theirs:.2f}x  target <= 1.15")  # fmt: skip
    return lines


def rss_budget_line(what: str, peak: int, path: Path, n_ctx: int, cache_peak: int) -> str:
    """`peak` RSS against the issue's budget: the model file + the f16 KV cache of `n_ctx`
    cells + the prefix cache's snapshots at their peak + 400 MiB."""
    shape = shape_from_gguf(read_gguf(path))
    kv = shape.kv_bytes(n_ctx) if shape else 0
    size = path.stat().st_size
    budget = size + kv + cache_peak + 400 * MIB
    return (f"{what}: {peak / MIB:.0f} MiB; budget = model file {size / MIB:.0f} + KV cache "
            f"{kv / MIB:.0f} ({n_ctx} cells) + prefix cache snapshots {cache_peak / MIB:.0f} "
            f"(peak) + 400 = {budget / MIB:.0f} MiB: "
            f"{'within' if peak <= budget else 'OVER'}")  # fmt: skip


def llama_limits(args: argparse.Namespace, path: Path, prompt: list[int],
                 decode: int = 16) -> str:  # fmt: skip
    """llama.cpp's own speed, as llama-bench measures it (pp512, tg16): 512 prompt tokens
    evaluated in one go, then `decode` tokens one at a time, no sampling, no grammar. Run
    it on a thread of its own (bench.own_thread)."""
    llm = plain_llama(path, n_ctx=args.ctx, n_threads=args.threads,
                      n_threads_batch=args.threads, flash_attn=True, verbose=False)  # fmt: skip
    try:
        tokens = (prompt * (512 // len(prompt) + 1))[:512]
        started = time.perf_counter()
        llm.eval(tokens)
        pp = 512 / (time.perf_counter() - started)
        started = time.perf_counter()
        for token in tokens[:decode]:
            llm.eval([token])
        tg = decode / (time.perf_counter() - started)
    finally:
        llm.close()
    return (f"  llama.cpp's own limit (llama-bench style, no sampling or grammar): prompt "
            f"{pp:.1f} tok/s (pp512), decode {tg:.1f} tok/s (tg{decode})")  # fmt: skip


def alone_decode_ms(judge: Judge, prompts: list[list[int]], grammar: str, n: int) -> float:
    """Milliseconds per token after the first, over plain generations of `prompts`."""
    seconds, tokens = 0.0, 0
    for prompt in prompts:
        first = last = None
        count = 0
        for piece in judge.runtime.generate(prompt, grammar=grammar, max_tokens=n,
                                            sampling=Sampling()):  # fmt: skip
            if isinstance(piece, Finished):
                break
            last = time.perf_counter()
            first = first or last
            count += 1
        if first is not None and last is not None and count > 1:
            seconds += last - first
            tokens += count - 1
    return 1000 * seconds / tokens


def server_decode_ms(args: argparse.Namespace, path: Path, binary: Path,
                     prompts: list[list[int]], grammar: str) -> float:  # fmt: skip
    """llama-server's `timings.predicted_per_token_ms`, weighted by tokens, on `prompts`."""
    from edgejudge.runtime.llama_server.process import ServerProcess
    from edgejudge.runtime.serving.http import Http

    process = ServerProcess(model=path, kind="gguf", context_per_slot=args.ctx, slots=1,
                            binary=binary, n_threads=args.threads)  # fmt: skip
    process.start()
    try:
        http = Http(process.url, api_key=None)
        ms, tokens = 0.0, 0
        for prompt in prompts:
            body = {"prompt": prompt, "n_predict": args.long_tokens, "temperature": 0,
                    "grammar": grammar, "cache_prompt": False}  # fmt: skip
            _, answer = http.call("POST", "/completion", body, timeout=600)
            ms += answer["timings"]["predicted_ms"]
            tokens += answer["timings"]["predicted_n"]
        return ms / tokens
    finally:
        process.stop()


def report(args: argparse.Namespace, path: Path, peak_rss: Any, server: Path | None,
           own_thread: Any) -> None:  # fmt: skip
    """Run the multi-metric comparison and print its table, ratios and cache figures."""
    rows = rag_rows(args.rag, args.rag_n)
    print(f"\n## Several metrics per row: {len(rows)} rows of {args.rag.name} x "
          f"{len(METRICS)} metrics ({', '.join(METRICS)}), one judgment at a time, "
          f"max_tokens {args.max_tokens}")  # fmt: skip
    cached, (stats, prompts, grammars) = ours(args, rows, args.cache_mib,
                                                 "edgejudge, prefix cache", peak_rss)  # fmt: skip
    full, _ = ours(args, rows, 0, "(a) edgejudge, each prompt in full", peak_rss)
    loop = own_thread(lambda: plain(args, path, prompts, grammars, peak_rss))
    least = minimum_tokens(cached.prompts)
    print()
    print("| | judgments/min | prompt tokens evaluated per row | seconds evaluating them | "
          "seconds for the rest | tokens generated | peak RSS MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for run in (cached, full, loop):
        evaluated = f"{run.evaluated / len(rows):.0f}" if run.evaluated is not None else "?"
        print(f"| {run.name} | {run.per_minute:.2f} | {evaluated} | "
              f"{run.evaluation_seconds:.1f} | {run.seconds - run.evaluation_seconds:.1f} | "
              f"{run.generated} | {run.peak_rss / MIB:.0f} |")  # fmt: skip
    print(f"| minimum (each row's shared head once, each metric's tail, each close-out's "
          f"new tokens) | | "
          f"{least / len(rows):.0f} | | | | |")  # fmt: skip
    print()
    print(f"edgejudge with the cache / (b) the llama-cpp-python loop  "
          f"{cached.per_minute / loop.per_minute:.2f}x  target >= 2")  # fmt: skip
    print(f"edgejudge with the cache / (a) each prompt in full        "
          f"{cached.per_minute / full.per_minute:.2f}x  target >= 1.5")  # fmt: skip
    assert cached.evaluated is not None
    print(f"prompt tokens evaluated / minimum                         "
          f"{cached.evaluated / least:.3f}   target <= 1.05")  # fmt: skip
    print(cached.cache_line)
    within = "within" if stats.peak_bytes <= cached.cache_budget else "OVER"
    print(f"cache memory peak {stats.peak_bytes / MIB:.1f} MiB, budget "
          f"{cached.cache_budget / MIB:.0f} MiB: {within}")  # fmt: skip
    print(rss_budget_line("peak RSS with the cache", cached.peak_rss, path, cached.n_ctx,
                          stats.peak_bytes))  # fmt: skip
    same = sum(a == b for a, b in zip(cached.texts, full.texts, strict=True))
    same_loop = sum(a == b for a, b in zip(cached.texts, loop.texts, strict=True))
    equal = sum(
        isinstance(a, JudgeResult) and isinstance(b, JudgeResult)
        and a.verdict == b.verdict for a, b in zip(cached.results, full.results, strict=True)
    )  # fmt: skip
    print(f"answers equal, cache vs each prompt in full: {same} of {len(full.texts)} "
          f"(verdicts with their probabilities, bit for bit: {equal}); cache vs the loop "
          f"(text until max_tokens): {same_loop} of {len(loop.texts)}")  # fmt: skip
    print(f"\n## Slots and decode speed: {args.slot_rows} rows of faithfulness.jsonl, "
          f"max_tokens {args.long_tokens}")  # fmt: skip
    faith = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    for line in decode_speeds(args, path, faith[: args.slot_rows], server):
        print(line)
    print(own_thread(lambda: llama_limits(args, path, prompts[0][0])))
