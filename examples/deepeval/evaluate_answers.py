"""Two answers of an LLM app graded by a local judge, through DeepEval's `evaluate`.

    pip install 'edgejudge[deepeval,demo]'
    DEEPEVAL_TELEMETRY_OPT_OUT=1 python examples/deepeval/evaluate_answers.py [MODEL]

MODEL defaults to `demo` (a tiny base model: it proves the wiring, not the verdicts); use
`flow-judge-v0.1` for real ones. Nothing leaves the machine.
"""

import os
import sys

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")  # before deepeval is imported

from deepeval import evaluate  # noqa: E402
from deepeval.evaluate.configs import AsyncConfig  # noqa: E402
from deepeval.test_case import LLMTestCase  # noqa: E402

from edgejudge.integrations.deepeval import EdgeJudgeMetric  # noqa: E402

CONTEXT = "Paris is the capital and most populous city of France."
CASES = [
    LLMTestCase(
        input="What is the capital of France?",
        actual_output="The capital of France is Paris, which is also its largest city.",
        retrieval_context=[CONTEXT],
    ),
    LLMTestCase(
        input="What is the capital of France?",
        actual_output="The capital of France is Lyon, home to the Eiffel Tower.",
        retrieval_context=[CONTEXT],
    ),
]


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "demo"
    faithful = EdgeJudgeMetric("response-faithfulness-5point", judge_model=model, at_least=4,
                               max_tokens=64)  # fmt: skip
    result = evaluate(CASES, [faithful], async_config=AsyncConfig(run_async=False))
    for test in result.test_results:
        for data in test.metrics_data or []:
            verdict = "pass" if data.success else "fail"
            print(f"{test.name}: {data.name} score {data.score:.2f} ({verdict}): {data.reason}")


if __name__ == "__main__":
    main()
