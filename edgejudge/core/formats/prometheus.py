"""Prometheus 2 (prometheus-7b-v2.0, prometheus-8x7b-v2.0): absolute grading on 1-5, with or
without a reference answer, and relative grading (which of two responses is better).

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

Relative grading (`PrometheusRelativeFormat`). The system prompt is the relative one, joined
the same way. The rubric is the criteria line alone in brackets, the first line of the
authors' rubric template (what `eval/run_evaluate.py` and the library's `load_rubric(...,
"relative")` pass). Without a reference: the Preference-Collection training prompt (default)
or the library's rewrite (`prometheus@library`). With a reference: the authors published
no training-era relative prompt with one, so both wordings use the library's (its only
relative prompt with a `###Reference Answer:`). The answer is `{feedback} [RESULT] A` or
`B`, parsed as absolute grading's, the choice in place of the score.
"""

from __future__ import annotations

from edgejudge.core.formats.base import ANY_SCALE, Message, PublishedSampling
from edgejudge.core.formats.pairwise import PairwiseFormat
from edgejudge.core.formats.shape import AnswerShape, Choice, Lit, Score, ShapedFormat, Text
from edgejudge.core.formats.slots import (
    instruction_of,
    pair_slots,
    require_instruction,
    slot_values,
)
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric, PairwiseMetric
from edgejudge.core.pairs import PairInput
from edgejudge.errors import FamilyError

SHAPE = AnswerShape(
    Lit(""),
    Text("feedback", stop="[", drop="Feedback:"),
    Lit(" "),
    Lit("[RESULT] "),
    Score(),
)
RELATIVE = AnswerShape(
    Lit(""),
    Text("feedback", stop="[", drop="Feedback:"),
    Lit(" "),
    Lit("[RESULT] "),
    Choice(),
)
SCALE = (1, 2, 3, 4, 5)
WORDINGS = ("training", "library")
SAMPLING = PublishedSampling(
    temperature=1.0,
    top_p=0.9,
    repeat_penalty=1.03,
    source="prometheus-eval's defaults (utils.py) and the paper's evaluation: "
    "temperature 1.0, top_p 0.9, repetition_penalty 1.03",
)


def _family(wording: str) -> str:
    if wording not in WORDINGS:
        raise ValueError(f"unknown Prometheus wording {wording!r}")
    return "prometheus" if wording == "training" else f"prometheus@{wording}"


class PrometheusFormat(ShapedFormat):
    """Prometheus 2 absolute grading, in the training-era or the library wording."""

    shape = SHAPE
    close_out_reserve = 8  # the score after `[RESULT] `
    authors_sampling: PublishedSampling | None = SAMPLING
    any_scale = False

    def __init__(self, wording: str = "training") -> None:
        self.family = _family(wording)
        self.wording = wording

    def check(self, metric: Metric) -> None:
        """Prometheus was trained on 1-5 rubrics with an instruction: refuse anything else."""
        if metric.scores != SCALE:
            raise FamilyError(
                f"{self.family} grades on a 1-5 scale only, and metric {metric.name!r} is "
                f"{metric.scale}: use a 5-point metric, or a family that takes any scale "
                f"({', '.join(ANY_SCALE)})"
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


class PrometheusRelativeFormat(PairwiseFormat):
    """Prometheus 2 relative grading: which of two responses is better, A or B."""

    shape = RELATIVE
    close_out_reserve = 8  # the choice after `[RESULT] `
    authors_sampling: PublishedSampling | None = SAMPLING

    def __init__(self, wording: str = "training") -> None:
        self.family = _family(wording)
        self.wording = wording

    def check(self, metric: PairwiseMetric) -> None:
        """Prometheus needs the instruction both responses answer."""
        require_instruction(self.family, metric)

    def render_prompt(self, metric: PairwiseMetric, pair: PairInput) -> str:
        """The one user turn: the relative system prompt, a blank line, the filled template."""
        self.check(metric)
        slots = pair_slots(pair)
        instruction = instruction_of(slots)
        # Relative grading takes the rubric's first line only: the bracketed criteria.
        criteria_line = template("prometheus/score-rubric.txt").split("\n")[0]
        rubric = fill(criteria_line, {"criteria": metric.criteria})
        if slots.reference is None:
            name = f"relative.{self.wording}.txt"
        else:  # the only relative prompt with a reference answer is the library's
            name = "relative-with-reference.library.txt"
        values = {
            "instruction": instruction,
            "orig_instruction": instruction,
            "response_A": pair.response_a,
            "response_B": pair.response_b,
            "rubric": rubric,
            "score_rubric": rubric,
            "reference_answer": slots.reference or "",
        }
        system = template("prometheus/system-relative.txt")
        # As for absolute grading, the training file's leading newline is left out.
        return system + "\n\n" + fill(template(f"prometheus/{name}"), values).lstrip("\n")

    def messages(self, metric: PairwiseMetric, pair: PairInput) -> list[Message]:
        """One user turn (Mistral's template has no system role), as in training."""
        return [Message("user", self.render_prompt(metric, pair))]
