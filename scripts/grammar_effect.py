"""How many judgments parse with the grammar and without it, and seconds per judgment.

Same model, same prompts, same greedy sampling: the only difference is the GBNF grammar.
Without it the answer is parsed by edgejudge's strict parser and, for comparison, by the
reference flow-judge package's lenient regexes (first <feedback>…</feedback>, first
<score>N</score>).

    python scripts/grammar_effect.py [--model demo] [--input examples/faithfulness.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from edgejudge import Judge, ParseError
from edgejudge.models.resolve import resolve
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

ROOT = Path(__file__).resolve().parent.parent


def lenient(raw: str) -> bool:
    """Would the reference package's regexes find a feedback and a score?"""
    return bool(
        re.search(r"<feedback>\s*(.*?)\s*</feedback>", raw, re.DOTALL)
        and re.search(r"<score>\s*(\d+)\s*</score>", raw, re.DOTALL)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--metric", default="response-faithfulness-5point")
    parser.add_argument("--input", type=Path, default=ROOT / "examples/faithfulness.jsonl")
    parser.add_argument("--n", type=int, default=10, help="judge the first N inputs")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()

    lines = args.input.read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()][: args.n]
    local = resolve(args.model)
    runtime = LlamaCppRuntime(
        local.path,
        model_name=local.name,
        n_threads=args.threads,
        context_length=local.entry.context_length if local.entry else None,
    )
    print(
        f"model {local.name} ({local.path.name}), {len(rows)} inputs, metric {args.metric}, "
        f"max_tokens {args.max_tokens}, threads {runtime.n_threads}, "
        f"gpu layers {runtime.n_gpu_layers}"
    )
    table = []
    for grammar in (True, False):
        judge = Judge(  # the same loaded model for both: only the grammar differs
            model=args.model,
            metric=args.metric,
            runtime=runtime,
            max_tokens=args.max_tokens,
            grammar=grammar,
        )
        parsed, loose, seconds, tokens = 0, 0, [], []
        for row in rows:
            data = {k: v for k, v in row.items() if k != "id"}
            started = time.perf_counter()
            try:
                result = judge.evaluate(data)
                parsed += 1
                loose += 1
                tokens.append(result.completion_tokens)
                note = f"score {result.score}" + (
                    " (feedback cut at budget)" if result.truncated else ""
                )
            except ParseError as error:
                loose += lenient(error.raw)
                note = f"ParseError: {error}; raw starts {error.raw[:60]!r}"
            seconds.append(time.perf_counter() - started)
            print(f"  grammar={'on ' if grammar else 'off'} id={row.get('id')}: {note}")
        table.append((grammar, parsed, loose, seconds, tokens))
    print()
    print(
        "| grammar | parse (strict) | parse (reference regex) | median s/judgment | median tokens |"
    )
    print("|---|---|---|---|---|")
    for grammar, parsed, loose, seconds, tokens in table:
        med = f"{statistics.median(seconds):.1f}" if seconds else "n/a"
        medt = f"{statistics.median(tokens):.0f}" if tokens else "n/a"
        print(
            f"| {'on' if grammar else 'off'} | {parsed}/{len(rows)} | {loose}/{len(rows)} | "
            f"{med} | {medt} |"
        )
    runtime.close()


if __name__ == "__main__":
    main()
