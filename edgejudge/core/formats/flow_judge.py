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

from edgejudge.core.formats.base import Message, PublishedSampling
from edgejudge.core.formats.shape import AnswerShape, Lit, Score, ShapedFormat, Text
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric, RubricItem, tag_name

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

    # The user message's templates, with inputs and without (templates/flow-judge/).
    templates = ("user.txt", "user-no-inputs.txt")

    def rubric(self, metric: Metric) -> str:
        """The rubric as the reference package writes it (`format_rubric`)."""
        return format_rubric(metric.rubric)

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message, byte-identical to the reference package's."""
        values = {
            "INPUTS": format_vars(eval_input.pairs()),
            "OUTPUT": format_vars([(eval_input.output_name, eval_input.output_value)]),
            "EVALUATION_CRITERIA": metric.criteria,
            "RUBRIC": self.rubric(metric),
        }
        name = self.templates[0] if values["INPUTS"] else self.templates[1]
        return fill(template(f"flow-judge/{name}"), values)

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

    templates = ("harness-user.txt", "harness-user-no-inputs.txt")

    def rubric(self, metric: Metric) -> str:
        """The rubric as the harness writes it: only a two-row rubric sorted by score."""
        rubric = list(metric.rubric)
        if len(rubric) == 2:
            rubric.sort(key=lambda item: item.score)
        return "\n".join(f"- Score {item.score}: {item.description}" for item in rubric)
