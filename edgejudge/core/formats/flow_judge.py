"""Flow-Judge-v0.1: its trained prompt, the grammar for its answer, and a strict parser.

The prompt must be byte-identical to what the reference `flow-judge` 0.1.2 package renders
(`flow_judge.utils.prompt_formatter.format_user_prompt`), typos included ("criterion,decide"):
a judge given a different prompt is a different judge. tests/test_prompt_reference.py holds
this to the reference package itself.

The answer is ``<feedback>BODY</feedback>\\n<score>N</score>``. The grammar keeps `<` out of
the body, which makes the end of the feedback unambiguous for both llama.cpp's grammar engine
and the parser: nothing inside the feedback can look like a closing tag or a score.
"""

from __future__ import annotations

import re

from edgejudge.core.formats.base import Message, Verdict
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric, RubricItem, tag_name
from edgejudge.errors import ParseError

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
_CLOSING = FEEDBACK_CLOSE + "\n" + SCORE_OPEN  # what ends a feedback, up to the score

# llama.cpp expands `x{0,n}` into n nested helper rules and refuses n >= 2000 (a maximum above
# 2000 silently becomes "unbounded"), so long bounds are built from blocks of this size.
_REPEAT_BLOCK = 1000

_PLACEHOLDER_RE = re.compile(r"\{(INPUTS|OUTPUT|EVALUATION_CRITERIA|RUBRIC)\}")
_VERDICT_RE = re.compile(
    r"\A\s*<feedback>(?P<feedback>.*?)</feedback>\s*<score>(?P<score>.*?)</score>\s*\Z",
    re.DOTALL,
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


class FlowJudgeFormat:
    """The Flow-Judge-v0.1 prompt, grammar and parser."""

    family = "flow-judge"

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

    def grammar(self, metric: Metric, *, max_feedback_chars: int) -> str:
        """GBNF: `<feedback>`, a body of 1..max chars with no `<` that is not blank, the score."""
        if max_feedback_chars < 1:
            raise ValueError("max_feedback_chars must be at least 1")
        rules = [
            f'root ::= "{FEEDBACK_OPEN}" feedback "{FEEDBACK_CLOSE}\\n" tail',
            "feedback ::= lead first-char rest-0",
            r"lead ::= [ \t\r\n]{0,8}",
            r"first-char ::= [^<\x00-\x20]",
            r"char ::= [^<]",
            *_bounded_repeat("rest", "char", max_feedback_chars - 1),
        ]
        return "\n".join(rules) + "\n" + _tail_rules(metric)

    def tail_grammar(self, metric: Metric) -> str:
        """GBNF for what follows `close_out`: the score and `</score>`."""
        return f'root ::= score "{SCORE_CLOSE}"\n' + _tail_rules(metric)

    def close_out(self, partial: str) -> tuple[str, bool] | None:
        """Cut an answer stopped by the token budget back to its feedback, and close it.

        Returns the answer up to `<score>`, ready for the score alone, and whether the
        feedback itself was cut short; None when there is no feedback to keep. The body
        cannot contain `<`, so the first `<` after `<feedback>` is where the feedback ended,
        whatever part of the closing tags the budget stopped in.
        """
        text = partial.lstrip()
        if not text.startswith(FEEDBACK_OPEN):
            return None
        body = text[len(FEEDBACK_OPEN) :]
        end = body.find("<")
        feedback = body if end < 0 else body[:end]
        if not feedback.strip():
            return None
        cut = end < 0 or not _CLOSING.startswith(body[end : end + len(FEEDBACK_CLOSE)])
        return FEEDBACK_OPEN + feedback + _CLOSING, cut

    def parse(self, raw: str, metric: Metric) -> Verdict:
        """Strictly parse `<feedback>…</feedback>` then `<score>N</score>` and nothing else."""
        match = _VERDICT_RE.match(raw)
        if match is None:
            raise ParseError(_shape_problem(raw), raw)
        feedback = match.group("feedback").strip()
        if not feedback:
            raise ParseError("the feedback is empty", raw)
        text = match.group("score").strip()
        if not re.fullmatch(r"0|[1-9][0-9]*", text):
            raise ParseError(f"the score {text!r} is not a whole number", raw)
        score = int(text)
        if score not in metric.scores:
            allowed = ", ".join(str(s) for s in metric.scores)
            raise ParseError(f"the score {score} is not on the rubric (allowed: {allowed})", raw)
        return Verdict(feedback=feedback, score=score)

    def feedback_stream(self) -> FeedbackFilter:
        """A filter that yields only the feedback body from streamed raw text."""
        return FeedbackFilter()


def _tail_rules(metric: Metric) -> str:
    choices = " | ".join(f'"{s}"' for s in metric.scores)
    return f'tail ::= "{SCORE_OPEN}" score "{SCORE_CLOSE}"\nscore ::= {choices}\n'


def _bounded_repeat(name: str, item: str, maximum: int) -> list[str]:
    """Rules `name-0` ... that match 0..maximum copies of `item` without huge repetitions."""
    rules: list[str] = []
    level = 0
    remaining = maximum
    while remaining >= _REPEAT_BLOCK:
        # Either finish within this block, or take a whole block and go on.
        rules.append(
            f"{name}-{level} ::= {item}{{0,{_REPEAT_BLOCK - 1}}} | {name}-block {name}-{level + 1}"
        )
        remaining -= _REPEAT_BLOCK
        level += 1
    rules.append(f"{name}-{level} ::= {item}{{0,{remaining}}}")
    if level:
        rules.append(f"{name}-block ::= {item}{{{_REPEAT_BLOCK}}}")
    return rules


def _shape_problem(raw: str) -> str:
    text = raw.strip()
    if not text:
        return "the judge wrote nothing"
    if not text.startswith(FEEDBACK_OPEN):
        return "the answer does not start with <feedback>"
    if FEEDBACK_CLOSE not in text:
        return "the feedback is never closed with </feedback>"
    if SCORE_OPEN not in text.split(FEEDBACK_CLOSE, 1)[1]:
        return "no <score> after the feedback"
    if not text.endswith(SCORE_CLOSE):
        return "the answer does not end with </score>"
    return "the answer is not <feedback>…</feedback> then <score>N</score>"


class FeedbackFilter:
    """Streams the feedback body: drops `<feedback>`, stops at `</feedback>`.

    A chunk may end in the middle of a tag, so text that could still turn out to be the start
    of `</feedback>` is held back until the next chunk decides it.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._opened = False
        self._closed = False

    def feed(self, chunk: str) -> str:
        """Take the next raw chunk; return the feedback text that is now certain."""
        if self._closed:
            return ""
        self._buffer += chunk
        if not self._opened:
            stripped = self._buffer.lstrip()
            if len(stripped) < len(FEEDBACK_OPEN):
                return ""
            if not stripped.startswith(FEEDBACK_OPEN):
                self._closed = True  # not a Flow-Judge answer; the parser will say so
                return ""
            self._opened = True
            self._buffer = stripped[len(FEEDBACK_OPEN) :]
        end = self._buffer.find(FEEDBACK_CLOSE)
        if end >= 0:
            self._closed = True
            out, self._buffer = self._buffer[:end], ""
            return out
        keep = _partial_suffix(self._buffer, FEEDBACK_CLOSE)
        out = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(out) :]
        return out


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


FLOW_JUDGE = FlowJudgeFormat()
