"""Every judge family on one model: one real verdict each, and how many answers parse with and
without the grammar, on the same prompts.

    python scripts/family_parse_rates.py [--model demo-instruct]
        [--input examples/faithfulness.jsonl] [--max-tokens 128] [--verdicts verdicts.json]

For each family and a metric it can take (the input file's rows read `query`, `context` and
`response`), it judges every row twice, in-process and greedy: with the family's grammar and
without it (the prompt alone), and prints the parse rates side by side. With the grammar an
answer always has the family's shape (a feedback cut by the budget is closed and still
decided); without it the model writes what it likes, and the family's strict parser says
whether it is a verdict. `--verdicts` saves the first row's verdict of each family (with
the grammar) as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from edgejudge import Judge, JudgeResult
from edgejudge.errors import EdgeJudgeError
from edgejudge.judging.runtime_choice import RuntimeOptions, open_runtime
from edgejudge.models.resolve import identify

ROOT = Path(__file__).resolve().parent.parent
# (family, metric) pairs: each family with a metric over query, context and response.
RUNS = [
    ("flow-judge", "response-faithfulness-5point"),
    ("prometheus", "response-faithfulness-5point"),
    ("prometheus@library", "response-faithfulness-5point"),
    ("selene", "response-faithfulness-5point"),
    ("selene", "response-faithfulness-binary"),
    ("glider", "response-faithfulness-3point"),
    ("root-judge", "hallucination-detection"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo-instruct")
    parser.add_argument("--input", type=Path, default=ROOT / "examples/faithfulness.jsonl")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--verdicts", type=Path, help="save one verdict per family here")
    parser.add_argument(
        "--only",
        action="append",
        metavar="FAMILY:METRIC",
        help="run only these pairs (repeatable; default: every family)",
    )
    args = parser.parse_args()
    runs = [run for run in RUNS if not args.only or ":".join(run) in args.only]
    rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
    for row in rows:
        row.pop("id", None)
    runtime = open_runtime(identify(args.model), RuntimeOptions(runtime="inprocess", slots=4))
    print(f"model {args.model}, {len(rows)} rows of {args.input.name}, "
          f"max_tokens {args.max_tokens}, greedy, in-process", file=sys.stderr)  # fmt: skip
    print(f"{'family':<20} {'metric':<30} {'grammar':>9} {'no grammar':>11} {'seconds':>8}")
    examples: dict[str, object] = {}
    try:
        for family, metric in runs:
            rates = []
            started = time.perf_counter()
            for grammar in (True, False):
                with Judge(
                    None, metric, runtime=runtime, family=family,
                    max_tokens=args.max_tokens, grammar=grammar,
                ) as judge:  # fmt: skip
                    results = list(judge.evaluate_many(rows, return_exceptions=True))
                parsed = [r for r in results if isinstance(r, JudgeResult)]
                rates.append(f"{len(parsed)}/{len(rows)}")
                if grammar and isinstance(results[0], JudgeResult):
                    examples[f"{family} / {metric}"] = results[0].to_dict()
                for result in results:
                    if not isinstance(result, (JudgeResult, EdgeJudgeError)):
                        raise TypeError(result)
            seconds = time.perf_counter() - started
            print(f"{family:<20} {metric:<30} {rates[0]:>9} {rates[1]:>11} {seconds:>8.1f}")
    finally:
        runtime.close()
    if args.verdicts:
        args.verdicts.write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
