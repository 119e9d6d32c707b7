"""Flow-Judge-v0.1: its trained prompt, the grammar for its answer, and a strict parser.

The prompt must be byte-identical to what the reference `flow-judge` 0.1.2 package renders
(`flow_judge.utils.prompt_formatter.format_user_prompt`), typos included ("criterion,decide"):
a judge given a different prompt is a different judge. tests/test_prompt_reference.py holds
this to the reference package itself.

The answer is ``<feedback>BODY</feedback>\\n<score>N</score>``, declared once as an
`AnswerShape` (core/formats/shape.py), from which its grammar, parser, streaming filter and
close-out derive. The shape keeps `<` out of the body, which makes the end of the feedback
unambiguous for both llama.cpp's grammar engine and the parser: nothing inside the feedback
can look like a closing tag or a score.
"""

from __future__ import annotations

import re

from edgejudge.core.formats.base import Message, PublishedSampling
from edgejudge.core.formats.shape import AnswerShape, Lit, Score, ShapedFormat, Text
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric, RubricItem, tag_name

_GOAL_WITH_INPUTS = (
    "# GOAL\n"
    "Your job is to evaluate a task carried out by an AI system powered by a large language "
    "model.\n\n"
    "You will be provided with the inputs and output of the task, as well as the evaluation "
    "criteria and scoring rubric. Your task is to evaluate the output of the AI system based on "
    "the evaluation criteria and scoring rubric provided.\n\n"
    "# INPUT\n"
    "Below are the inputs required for performing the task:\n"
    "<inputs>\n{INPUTS}\n</inputs>\n\n"
)
_GOAL_NO_INPUTS = (
    "# GOAL\n"
    "Your job is to evaluate a task carried out by an AI system powered by a large language "
    "model.\n\n"
    "You will be provided the output of the task, as well as the evaluation criteria and "
    "scoring rubric. Your task is to evaluate the output of the AI system based on the "
    "evaluation criteria and scoring rubric provided.\n\n"
)
_BODY = (
    "# OUTPUT\n"
    "Below is the output of the task:\n"
    "<output>\n{OUTPUT}\n</output>\n\n"
    "# EVALUATION CRITERIA AND SCORING RUBRIC\n"
    "Here are the evaluation criteria and the rubric that you need to use for evaluating the "
    "task:\n"
    "<evaluation_criteria>\n{EVALUATION_CRITERIA}\n</evaluation_criteria>\n\n"
    "<scoring_rubric>\n{RUBRIC}\n</scoring_rubric>\n\n"
    "# INSTRUCTIONS FOR THE EVALUATION\n"
    "1. Understand the task and criteria: Familiarize yourself with the task to be evaluated. "
    "Review the evaluation criteria and scoring rubric to understand the different levels of "
    "performance and the descriptions for each score.\n"
)
_STEP2_WITH_INPUTS = (
    "2. Review the inputs and output: Look at the inputs provided for the task. Examine the "
    "output generated from completing the task.\n"
)
_STEP2_NO_INPUTS = "2. Review the output: Examine the output generated from completing the task.\n"
_REST = (
    "3. Compare output to score descriptions: Compare the output against the criteria and score "
    "descriptions in the scoring rubric. For each criterion,decide which description best "
    "matches the output.\n"
    "4. After comparing the output to the score descriptions, pay attention to the small details "
    "that might impact the final score that you assign. Sometimes a small difference can "
    "dictate the final score.\n"
    "5. Write verbal feedback justifying your evaluation that includes a detailed rationale, "
    "referring to specific aspects of the output and comparing them to the rubric.\n"
    "6. Assign a final score based on the scoring rubric.\n\n"
    "## FORMAT FOR THE EVALUATION\n"
    "- Write the verbal feedback inside <feedback> tags without any additional surrounding "
    "text.\n"
    "- Write the numeric score inside <score> tags, without any additional surrounding text and "
    "always after the feedback.\n\n"
    "Please accurately evaluate the task. Strictly adhere to the evaluation criteria and rubric."
)

FEEDBACK_OPEN = "<feedback>"
FEEDBACK_CLOSE = "</feedback>"
SCORE_OPEN = "<score>"
SCORE_CLOSE = "</score>"
SHAPE = AnswerShape(
    Lit(FEEDBACK_OPEN),
    Text("feedback", stop="<"),
    Lit(FEEDBACK_CLOSE),
    Lit("\n"),
    Lit(SCORE_OPEN),
    Score(),
    Lit(SCORE_CLOSE),
)

_PLACEHOLDER_RE = re.compile(r"\{(INPUTS|OUTPUT|EVALUATION_CRITERIA|RUBRIC)\}")


def format_vars(pairs: list[tuple[str, str]]) -> str:
    """Each named value as `<tag>\\nvalue\\n</tag>`, joined by newlines (reference format)."""
    return "\n".join(f"<{tag_name(k)}>\n{v}\n</{tag_name(k)}>" for k, v in pairs)


def format_rubric(rubric: tuple[RubricItem, ...]) -> str:
    """`- Score N: description` lines, lowest score first."""
    return "\n".join(
        f"- Score {item.score}: {item.description}"
        for item in sorted(rubric, key=lambda item: item.score)
    )


class FlowJudgeFormat(ShapedFormat):
    """The Flow-Judge-v0.1 prompt; its grammar, parser and close-out come from `SHAPE`."""

    family = "flow-judge"
    shape = SHAPE
    close_out_reserve = 16  # the score and `</score>`

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message, byte-identical to the reference package's."""
        values = {
            "INPUTS": format_vars(eval_input.pairs()),
            "OUTPUT": format_vars([(eval_input.output_name, eval_input.output_value)]),
            "EVALUATION_CRITERIA": metric.criteria,
            "RUBRIC": format_rubric(metric.rubric),
        }
        if values["INPUTS"]:
            template = _GOAL_WITH_INPUTS + _BODY + _STEP2_WITH_INPUTS + _REST
        else:
            template = _GOAL_NO_INPUTS + _BODY + _STEP2_NO_INPUTS + _REST
        # One pass over the template only: braces inside the user's text stay as they are.
        return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """Flow-Judge was trained with no system prompt: the user message alone."""
        return [Message("user", self.render_prompt(metric, eval_input))]


FLOW_JUDGE = FlowJudgeFormat()


class FlowJudgeHarnessFormat(FlowJudgeFormat):
    """`flow-judge@harness`: the Flow-Judge prompt as Flow AI's public lm-evaluation-harness
    fork renders it for its benchmarks (including, by strong inference, Phi-4's): two bytes
    differ from the library's (a space after `<evaluation_criteria>`, and `criterion, decide`),
    and only two-row rubrics are sorted. The templates are that fork's files
    (templates/flow-judge/); the answer is Flow-Judge's. Off by default."""

    family = "flow-judge@harness"
    authors_sampling: PublishedSampling | None = PublishedSampling(
        temperature=0.1,
        top_p=0.95,
        source="Flow AI's lm-evaluation-harness fork (run_vllm_eval.sh): temperature 0.1, "
        "top_p 0.95",
    )

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message as the harness renders it."""
        rubric = list(metric.rubric)
        if len(rubric) == 2:
            rubric.sort(key=lambda item: item.score)
        values = {
            "INPUTS": format_vars(eval_input.pairs()),
            "OUTPUT": format_vars([(eval_input.output_name, eval_input.output_value)]),
            "EVALUATION_CRITERIA": metric.criteria,
            "RUBRIC": "\n".join(f"- Score {item.score}: {item.description}" for item in rubric),
        }
        name = "harness-user.txt" if values["INPUTS"] else "harness-user-no-inputs.txt"
        return fill(template(f"flow-judge/{name}"), values)
