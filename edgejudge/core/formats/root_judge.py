"""Root Judge (root-signals/RootSignals-Judge-Llama-70B): hallucination detection, the one
task its model card documents.

Prompt. The card's system message (templates/root-judge/hallucination-system.txt: it starts
and ends with a newline and holds literal braces, so it is sent exactly as it is, never
formatted) and its user message `<QUESTION>: … </QUESTION>` / `<DOCUMENT>: … </DOCUMENT>` /
`<ANSWER>: … </ANSWER>`, as system and user messages through the GGUF's chat template.

Metrics. The prompt carries its own instructions and no rubric, so it can only ask its own
question: Root Judge takes `hallucination-detection` (edgejudge's preset for that question)
and `response-faithfulness-binary` (the same question in Flow-Judge's words), and refuses
others in one line. The query is the question, the context the document, the judged output
the answer. PASS is the metric's higher row, FAIL the lower; the verdict keeps both.

Answer. `{"REASONING": "…", "VERDICT": "PASS"}`: the grammar writes the object in that one
spelling (the key order of the card's pydantic model) and allows any JSON escape in the
reasoning, so the output is always valid JSON; the parser reads it with `json` and requires
exactly those two keys.
"""

from __future__ import annotations

import json
from typing import Any

from edgejudge.core.formats.base import Message, Verdict, row_verdict
from edgejudge.core.formats.shape import AnswerShape, JsonText, Label, Lit, ShapedFormat
from edgejudge.core.formats.slots import slot_names, slot_values
from edgejudge.core.formats.templates import fill, template
from edgejudge.core.inputs import EvalInput
from edgejudge.core.metrics import Metric
from edgejudge.errors import FamilyError, ParseError

SHAPE = AnswerShape(
    Lit('{"REASONING": "'),
    JsonText("feedback"),
    Lit('", "VERDICT": "'),
    Label("verdict", ("PASS", "FAIL")),
    Lit('"}'),
)
METRICS = ("hallucination-detection", "response-faithfulness-binary")
KEYS = ("REASONING", "VERDICT")


class RootJudgeFormat(ShapedFormat):
    """Root Judge's hallucination detection: system and user messages, JSON PASS/FAIL."""

    family = "root-judge"
    shape = SHAPE
    close_out_reserve = 8  # the verdict and `"}`
    any_scale = False

    def check(self, metric: Metric) -> None:
        """Only the one question Root Judge's published prompt asks."""
        slots = slot_names(metric)
        if metric.name not in METRICS or slots.query is None or slots.context is None:
            raise FamilyError(
                f"root-judge detects hallucinations only (its one published prompt), and "
                f"metric {metric.name!r} asks something else: use "
                f"{' or '.join(METRICS)}, or another family for other metrics"
            )

    def render_prompt(self, metric: Metric, eval_input: EvalInput) -> str:
        """The user message: question, document and answer in the card's tags."""
        self.check(metric)
        slots = slot_values(eval_input)
        values = {
            "question": slots.query or "",
            "document": slots.context or "",
            "answer": eval_input.output_value,
        }
        return fill(template("root-judge/hallucination-user.txt"), values)

    def messages(self, metric: Metric, eval_input: EvalInput) -> list[Message]:
        """The card's system message, as it is, then the user message."""
        system = template("root-judge/hallucination-system.txt")
        return [Message("system", system), Message("user", self.render_prompt(metric, eval_input))]

    def parse(self, raw: str, metric: Metric) -> Verdict:
        """Read the answer with `json`: an object with exactly REASONING and VERDICT."""
        try:
            data = json.loads(raw, object_pairs_hook=_no_repeats)
        except json.JSONDecodeError as exc:
            raise ParseError(f"the answer is not valid JSON: {exc.msg}", raw) from None
        if not isinstance(data, dict) or tuple(sorted(data)) != KEYS:
            raise ParseError(
                "the answer is not a JSON object with exactly REASONING and VERDICT", raw
            )
        reasoning, verdict = data["REASONING"], data["VERDICT"]
        if not isinstance(reasoning, str) or not reasoning.strip():
            raise ParseError("the REASONING is not a text, or it is empty", raw)
        if verdict not in ("PASS", "FAIL"):
            raise ParseError(f"the VERDICT {verdict!r} is not PASS or FAIL", raw)
        return row_verdict(reasoning.strip(), verdict, verdict == "PASS", metric)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise json.JSONDecodeError(f"the key {repeated[0]} appears twice", "", 0)
    return dict(pairs)
