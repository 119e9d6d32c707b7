"""Glider (PatronusAI/glider): pass criteria and a rubric on any integer scale; the answer
gives its reasoning, the words that decided it (the highlight), and the score.

Prompt. The model card's prompt (templates/glider/prompt.txt: its "must in the following
format" and the trailing space after item 5 kept), as the one user message with no system
prompt, through the GGUF's chat template. `{pass_criteria}` is the metric's criteria;
`{rubric}` is one `N: description` line per score, lowest first, as third-party rubrics for
Glider are written.

Fields. How `{data}` is laid out is not part of the published prompt. edgejudge follows the
tagged blocks third-party users of Glider write (one of them calls its layout "recommended
by GLIDER", and the prompt speaks of "text tags"): `<USER INPUT>` for the query,
`<CONTEXT>` for a context, `<REFERENCE>` for a reference answer, `<NAME>` (upper case) for
any other input, and `<MODEL OUTPUT>` for the judged output; each block is the tag, the
text and the closing tag on their own lines, and the blocks follow one another.

Answer. `<reasoning>\\n…\\n</reasoning>\\n<highlight>\\n…\\n</highlight>\\n<score>\\nN\\n</score>`:
the grammar writes the tags and newlines as the prompt shows them and keeps `<` out of both
texts; the parser allows any whitespace around the tags. The highlight is a verdict extra.
When the budget stops the reasoning, it is closed and the tail writes the highlight (up to
TAIL_TEXT_CHARS characters) and the score.
"""

from __future__ import annotations

from edgejudge.core.formats.base import Message
from edgejudge.core.formats.shape import (
    TAIL_TEXT_CHARS,
    AnswerShape,
    Lit,
    Score,
    ShapedFormat,
    Text,
)
from edgejudge.core.formats.slots import slot_values
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric

NL = Lit("\n")
SHAPE = AnswerShape(
    Lit("<reasoning>"),
    NL,
    Text("feedback", stop="<"),
    Lit("</reasoning>"),
    NL,
    Lit("<highlight>"),
    NL,
    Text("highlight", stop="<"),
    Lit("</highlight>"),
    NL,
    Lit("<score>"),
    NL,
    Score(),
    NL,
    Lit("</score>"),
)


def block(tag: str, text: str) -> str:
    """`<TAG>`, the text, `</TAG>`, each on its own line."""
    return f"<{tag}>\n{text}\n</{tag}>"


class GliderFormat(ShapedFormat):
    """Glider: any integer rubric; reasoning, highlight (a verdict extra), score."""

    family = "glider"
    shape = SHAPE
    # The highlight the tail may write after a cut reasoning, the tags, the score.
    close_out_reserve = TAIL_TEXT_CHARS + 24

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The one user message: the card's prompt with the data in tagged blocks."""
        slots = slot_values(eval_input)
        blocks = []
        if slots.query is not None:
            blocks.append(block("USER INPUT", slots.query))
        if slots.context is not None:
            blocks.append(block("CONTEXT", slots.context))
        for name, value in slots.others:
            blocks.append(block(name.replace("_", " ").upper(), value))
        blocks.append(block("MODEL OUTPUT", eval_input.output_value))
        if slots.reference is not None:
            blocks.append(block("REFERENCE", slots.reference))
        rubric = "\n".join(
            f"{item.score}: {item.description}"
            for item in sorted(metric.rubric, key=lambda item: item.score)
        )
        values = {"data": "\n".join(blocks), "pass_criteria": metric.criteria, "rubric": rubric}
        return fill(template("glider/prompt.txt"), values)

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """The user message alone: the card's recipe sends no system prompt."""
        return [Message("user", self.render_prompt(metric, eval_input))]
