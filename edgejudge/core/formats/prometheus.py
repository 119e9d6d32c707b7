"""Prometheus 2 (prometheus-7b-v2.0, prometheus-8x7b-v2.0): absolute grading on 1-5, with or
without a reference answer.

Prompt. The templates are the authors' files (templates/prometheus/, see SOURCES.md). The
default, family `prometheus`, is the training-era wording (step 3 reads `"Feedback: (write
a feedback for criteria) [RESULT] ..."`, as in the paper's evaluation data); the library
wording of prometheus-eval (`"(write a feedback ...) [RESULT] ..."`) is the variant
`prometheus@library`. Mistral's chat template has no system role, so, as in training, the
system prompt and the filled template are one user turn joined by a blank line (the library
variant keeps that join; only its wording differs). The training file without a reference
starts with a newline (it comes from a Python literal); it is left out, as the README's
training recipe and the with-reference file have none.

Fields. The instruction slot takes the metric's query; any other input but a reference (a
context, a document) is added to the instruction under its name (`Context:` then the text),
which the template allows for ("An instruction (might include an Input inside it)"). A
reference fills `###Reference Answer (Score 5):` and selects the with-reference template.
The judged output is the response. The rubric is the authors' `[criteria]` then `Score N:`
lines, so a metric must have exactly the scores 1 to 5: any other scale is refused.

Answer. `{feedback} [RESULT] {n}`: the grammar keeps `[` out of the feedback, so the first
`[` opens `[RESULT]`; the parser leaves out a leading `Feedback:`, which the model sometimes
writes because the training wording shows it.
"""

from __future__ import annotations

from edgejudge.core.formats.base import Message, PublishedSampling
from edgejudge.core.formats.shape import AnswerShape, Lit, Score, ShapedFormat, Text
from edgejudge.core.formats.slots import instruction_of, require_instruction, slot_values
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric
from edgejudge.errors import FamilyError

SHAPE = AnswerShape(
    Lit(""),
    Text("feedback", stop="[", drop="Feedback:"),
    Lit(" "),
    Lit("[RESULT] "),
    Score(),
)
SCALE = (1, 2, 3, 4, 5)
# Families that take a metric Prometheus cannot: any integer scale.
ANY_SCALE = "flow-judge, glider"


class PrometheusFormat(ShapedFormat):
    """Prometheus 2 absolute grading, in the training-era or the library wording."""

    shape = SHAPE
    close_out_reserve = 8  # the score after `[RESULT] `
    authors_sampling: PublishedSampling | None = PublishedSampling(
        temperature=1.0,
        top_p=0.9,
        repeat_penalty=1.03,
        source="prometheus-eval's defaults (utils.py) and the paper's evaluation: "
        "temperature 1.0, top_p 0.9, repetition_penalty 1.03",
    )

    def __init__(self, wording: str = "training") -> None:
        if wording not in ("training", "library"):
            raise ValueError(f"unknown Prometheus wording {wording!r}")
        self.wording = wording
        self.family = "prometheus" if wording == "training" else f"prometheus@{wording}"

    def check(self, metric: Metric) -> None:
        """Prometheus was trained on 1-5 rubrics with an instruction: refuse anything else."""
        if metric.scores != SCALE:
            raise FamilyError(
                f"{self.family} grades on a 1-5 scale only, and metric {metric.name!r} is "
                f"{metric.scale}: use a 5-point metric, or a family that takes any scale "
                f"({ANY_SCALE})"
            )
        require_instruction(self.family, metric)

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The one user turn: the system prompt, a blank line, the filled template."""
        self.check(metric)
        slots = slot_values(eval_input)
        instruction = instruction_of(slots)
        rubric = fill(
            template("prometheus/score-rubric.txt"),
            {
                "criteria": metric.criteria,
                **{f"score{item.score}_description": item.description for item in metric.rubric},
            },
        )
        reference = slots.reference
        name = "absolute" if reference is None else "absolute-with-reference"
        text = template(f"prometheus/{name}.{self.wording}.txt")
        values = {
            "instruction": instruction,
            "orig_instruction": instruction,
            "response": eval_input.output_value,
            "orig_response": eval_input.output_value,
            "rubric": rubric,
            "score_rubric": rubric,
            "reference_answer": reference or "",
        }
        system = template("prometheus/system-absolute.txt")
        # The training file without a reference comes from a Python literal that starts with
        # a newline (eval/prompts.py); the training join is the blank line alone, as in the
        # README's recipe and for the with-reference file, so that newline is left out.
        return system + "\n\n" + fill(text, values).lstrip("\n")

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """One user turn (Mistral's template has no system role), as in training."""
        return [Message("user", self.render_prompt(metric, eval_input))]
