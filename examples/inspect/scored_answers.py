"""Answers an LLM app gave, scored by a local judge in an Inspect task.

    pip install 'edgejudge[inspect,demo]'
    inspect eval examples/inspect/scored_answers.py --model mockllm/model \
        -T judge_model=demo --log-dir logs

Each sample holds the question, the context and the answer the app gave (recorded earlier);
the solver hands that answer on as the model's output, so Inspect's own model is not asked
(`mockllm/model` is Inspect's built-in offline stand-in). With your app wired in as the
solver instead, the same scorer grades live answers. `judge_model` defaults to `demo` (a
tiny base model: it proves the wiring, not the verdicts); use `flow-judge-v0.1` for real
verdicts. Nothing leaves the machine.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput
from inspect_ai.solver import Generate, Solver, TaskState, solver

from edgejudge.integrations.inspect_ai import edgejudge_scorer

CONTEXT = "Paris is the capital and most populous city of France."
ANSWERS = [
    "The capital of France is Paris, which is also its largest city.",
    "The capital of France is Lyon, home to the Eiffel Tower.",
]


@solver
def recorded_answer() -> Solver:
    """The answer the app gave, from the sample's metadata, as the model's output."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.output = ModelOutput.from_content("recorded", state.metadata["response"])
        return state

    return solve


@task
def scored_answers(judge_model: str = "demo") -> Task:
    return Task(
        dataset=[
            Sample(
                input="What is the capital of France?",
                id=f"answer-{i}",
                metadata={"context": CONTEXT, "response": answer},
            )  # fmt: skip
            for i, answer in enumerate(ANSWERS, start=1)
        ],
        solver=recorded_answer(),
        scorer=edgejudge_scorer(
            model=judge_model, metric="response-faithfulness-5point", max_tokens=64
        ),  # fmt: skip
    )
