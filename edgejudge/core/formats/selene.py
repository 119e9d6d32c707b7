"""Selene-1-Mini (AtlaAI/Selene-1-Mini-Llama-3.1-8B): absolute scoring on 1-5 and Yes/No
classification, each with or without a reference answer, and pairwise preference (A or B).

Prompt. The templates are Atla's training prompts (templates/selene/, the parsed YAML
values of atla-ai/selene-mini's prompt-templates, not the cookbooks' indented copies), sent
as the one user message, with no system prompt, through the GGUF's own chat template (Llama
3.1's, which may add its date header: whatever the model's template renders is what it was
trained with).

Which template. A metric scored 1 to 5 uses absolute scoring. A metric with two rubric rows
(a binary metric: 0/1, or any two scores) uses classification: the higher row is `Yes`, the
lower `No`, and the verdict keeps both the label and the score of its row. Any other scale
is refused.

Fields. As for Prometheus: the query fills `Instruction:`, other inputs but a reference (a
context) are added to it under their names; a reference selects the with-reference template
(`Reference answer:`); the judged output is `Response:`.

Answer. `**Reasoning:** {one paragraph}\\n\\n**Result:** {1-5 | Yes | No}`. The reasoning is
one paragraph, the shape every published Selene output has (the reference parser reads one
line): the grammar keeps newlines out of it, which makes the end of the reasoning
unambiguous.

Pairwise (`SelenePairwiseFormat`). Atla's pairwise template: the query (and a context, as
above) fills `Instruction:`, the two responses `Response A:` and `Response B:`, the metric's
criteria the rubric objective. The template has no reference answer, so a pairwise metric
with one is refused (Prometheus takes it). The answer is `**Result:** A` or `B`.
"""

from __future__ import annotations

from edgejudge.core.formats.base import ANY_SCALE, Message, PublishedSampling, Verdict, row_verdict
from edgejudge.core.formats.pairwise import PairwiseFormat
from edgejudge.core.formats.shape import (
    AnswerShape,
    Choice,
    Label,
    Lit,
    Score,
    ShapedFormat,
    Text,
)
from edgejudge.core.formats.slots import (
    instruction_of,
    pair_slots,
    require_instruction,
    slot_names,
    slot_values,
)
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric, PairwiseMetric
from edgejudge.core.pairs import PairInput
from edgejudge.errors import FamilyError

_HEAD = (Lit("**Reasoning:** "), Text("feedback", stop="\n"), Lit("\n\n**Result:** "))
ABSOLUTE = AnswerShape(*_HEAD, Score("result"))
CLASSIFICATION = AnswerShape(*_HEAD, Label("result", ("Yes", "No")))
PAIRWISE = AnswerShape(*_HEAD, Choice("result"))
SAMPLING = PublishedSampling(
    temperature=0.01, source="Atla's Selene cookbooks: temperature 0.01, do_sample"
)
SCALE = (1, 2, 3, 4, 5)


class SeleneFormat(ShapedFormat):
    """Selene-1-Mini: absolute 1-5 or Yes/No classification, chosen by the metric's rubric."""

    family = "selene"
    shape = ABSOLUTE  # the stream and close-out, the same for both kinds
    close_out_reserve = 8  # the result after `**Result:** `
    authors_sampling: PublishedSampling | None = SAMPLING
    any_scale = False

    def shape_for(self, metric: Metric) -> AnswerShape:
        """Absolute scoring for a 1-5 metric, Yes/No classification for a two-row one."""
        return CLASSIFICATION if len(metric.rubric) == 2 else ABSOLUTE

    def check(self, metric: Metric) -> None:
        """Selene was trained on 1-5 scores and on Yes/No: refuse other scales."""
        if metric.scores != SCALE and len(metric.scores) != 2:
            raise FamilyError(
                f"selene scores on 1-5 or classifies Yes/No (a two-row rubric), and metric "
                f"{metric.name!r} is {metric.scale}: use a 5-point or a binary metric, or a "
                f"family that takes any scale ({', '.join(ANY_SCALE)})"
            )
        require_instruction(self.family, metric)

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The one user message: Atla's template for the metric's kind, filled."""
        self.check(metric)
        slots = slot_values(eval_input)
        values = {
            "user_input": instruction_of(slots),
            "assistant_response": eval_input.output_value,
            "rubric_objective": metric.criteria,
            "reference_response": slots.reference or "",
        }
        rows = sorted(metric.rubric, key=lambda item: item.score)
        if len(rows) == 2:
            name = "classification"
            values["rubric_yes_description"] = rows[1].description
            values["rubric_no_description"] = rows[0].description
        else:
            name = "absolute"
            for item in rows:
                values[f"rubric_score_{item.score}_description"] = item.description
        if slots.reference is not None:
            name += "-with-reference"
        return fill(template(f"selene/{name}.txt"), values)

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """The user message alone: Selene was trained with no system prompt."""
        return [Message("user", self.render_prompt(metric, eval_input))]

    def parse(self, raw: str, metric: Metric) -> Verdict:
        """The reasoning and the result; a Yes/No keeps the score of its rubric row."""
        verdict = self.shape_for(metric).verdict(raw, metric)
        if verdict.label is None:
            return verdict
        return row_verdict(verdict.feedback, verdict.label, verdict.label == "Yes", metric)


class SelenePairwiseFormat(PairwiseFormat):
    """Selene-1-Mini's pairwise preference: which response is better, A or B."""

    family = "selene"
    shape = PAIRWISE
    close_out_reserve = 8  # the choice after `**Result:** `
    authors_sampling: PublishedSampling | None = SAMPLING

    def check(self, metric: PairwiseMetric) -> None:
        """An instruction is needed, and the template has no place for a reference."""
        require_instruction(self.family, metric)
        reference = slot_names(metric).reference
        if reference is not None:
            raise FamilyError(
                f"selene's pairwise prompt has no reference answer, and metric "
                f"{metric.name!r} has {reference!r}: use prometheus or prometheus@library"
            )

    def render_prompt(self, metric: PairwiseMetric, pair: PairInput) -> str:
        """The one user message: Atla's pairwise template, filled."""
        self.check(metric)
        values = {
            "user_input": instruction_of(pair_slots(pair)),
            "assistant_response_a": pair.response_a,
            "assistant_response_b": pair.response_b,
            "rubric_objective": metric.criteria,
        }
        return fill(template("selene/pairwise.txt"), values)

    def messages(self, metric: PairwiseMetric, pair: PairInput) -> list[Message]:
        """The user message alone: Selene was trained with no system prompt."""
        return [Message("user", self.render_prompt(metric, pair))]
