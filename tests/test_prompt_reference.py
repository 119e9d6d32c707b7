"""The Flow-Judge prompt must be byte-identical to the reference `flow-judge` 0.1.2 package."""

from __future__ import annotations

import pytest

flow_judge = pytest.importorskip("flow_judge", reason="install flow-judge==0.1.2 (see .ci/run)")
from flow_judge import metrics as ref_metrics  # noqa: E402
from flow_judge.utils.prompt_formatter import (  # noqa: E402
    USER_PROMPT_NO_INPUTS_TEMPLATE,
    USER_PROMPT_TEMPLATE,
    format_rubric,
    format_user_prompt,
    format_vars,
)

from edgejudge.core import PRESETS, EvalInput, Metric, RubricItem, coerce_input  # noqa: E402
from edgejudge.core.formats.flow_judge import FLOW_JUDGE  # noqa: E402
from edgejudge.core.formats.templates import template  # noqa: E402
from edgejudge.core.presets import CONVERSATION_PRESETS, FLOW_JUDGE_PRESETS  # noqa: E402
from tests.support.cases import CORRECTNESS, FAITHFUL, TRICKY  # noqa: E402

REFERENCE_NAMES = {
    f"response-{kind.lower()}-{scale}": f"RESPONSE_{kind}_{ref_scale}"
    for kind in ("CORRECTNESS", "FAITHFULNESS", "RELEVANCE")
    for scale, ref_scale in (("binary", "BINARY"), ("3point", "3POINT"), ("5point", "5POINT"))
}


def reference_prompt(metric: Metric, eval_input: EvalInput) -> str:
    """What flow_judge.FlowJudge._format_prompt renders for the same metric and input."""
    ref_rubric = [
        ref_metrics.RubricItem(score=i.score, description=i.description) for i in metric.rubric
    ]
    return format_user_prompt(
        {
            "INPUTS": format_vars([dict(item) for item in eval_input.inputs]),
            "OUTPUT": format_vars([dict(eval_input.output)]),
            "EVALUATION_CRITERIA": metric.criteria,
            "RUBRIC": format_rubric(ref_rubric),
        }
    )


def test_nine_presets_match_reference_definitions() -> None:
    assert set(FLOW_JUDGE_PRESETS) == set(REFERENCE_NAMES)
    # edgejudge's own: hallucination-detection and the conversation metrics.
    assert set(PRESETS) - set(FLOW_JUDGE_PRESETS) == {
        "hallucination-detection",
        *CONVERSATION_PRESETS,
    }
    for name, ref_name in REFERENCE_NAMES.items():
        ours, ref = PRESETS[name], getattr(ref_metrics, ref_name)
        assert ours.title == ref.name
        assert ours.criteria == ref.criteria
        assert list(ours.required_inputs) == ref.required_inputs
        assert ours.required_output == ref.required_output
        assert [(i.score, i.description) for i in ours.rubric] == [
            (i.score, i.description) for i in ref.rubric
        ]


@pytest.mark.parametrize("name", sorted(REFERENCE_NAMES))
@pytest.mark.parametrize("case", ["plain", "tricky"])
def test_preset_prompts_are_byte_identical(name: str, case: str) -> None:
    metric = PRESETS[name]
    base = CORRECTNESS if "reference_answer" in metric.required_inputs else FAITHFUL
    data = dict(base)
    if case == "tricky":
        data = {
            key: f"{TRICKY['context']}\n{value}\n{TRICKY['response']}"
            for key, value in base.items()
        }
    eval_input = coerce_input(data, metric)
    assert FLOW_JUDGE.render_prompt(metric, eval_input) == reference_prompt(metric, eval_input)


def _custom(inputs: tuple[str, ...]) -> Metric:
    return Metric(
        name="helpfulness-0-10",
        criteria="How helpful is the answer?\n\nConsider {braces} and <tags>.",
        # deliberately out of order: the prompt lists scores lowest first
        rubric=tuple(
            RubricItem(score=s, description=f"Level {s}: ünïcode ✓")
            for s in (10, 0, 5, 3, 7, 1, 2, 4, 6, 8, 9)
        ),
        required_inputs=inputs,
        required_output="Final Answer",
    )


def test_custom_metric_with_inputs_matches_reference() -> None:
    metric = _custom(("User Question", "context"))
    eval_input = EvalInput(
        inputs=({"User Question": "Is it\n\nsafe?"}, {"context": TRICKY["context"]}),
        output={"Final Answer": TRICKY["response"]},
    )
    ours = FLOW_JUDGE.render_prompt(metric, eval_input)
    assert ours == reference_prompt(metric, eval_input)
    assert "<user_question>\nIs it\n\nsafe?\n</user_question>" in ours


def test_custom_metric_without_inputs_matches_reference() -> None:
    metric = _custom(())
    eval_input = coerce_input({"Final Answer": "Just an answer {OUTPUT}."}, metric)
    ours = FLOW_JUDGE.render_prompt(metric, eval_input)
    assert ours == reference_prompt(metric, eval_input)
    assert "<inputs>" not in ours and "2. Review the output:" in ours


def test_the_flow_judge_templates_are_the_packages_own() -> None:
    assert template("flow-judge/user.txt") == USER_PROMPT_TEMPLATE
    assert template("flow-judge/user-no-inputs.txt") == USER_PROMPT_NO_INPUTS_TEMPLATE
