# ruff: noqa: E501  (the sha256 table)
"""Each judge family's prompt, byte for byte: against the authors' own package where one is on
PyPI (prometheus-eval 0.1.20, installed --no-deps by scripts/test.sh), and against the
workplace's research files (shared/research/prompts/), which the package's templates are
copies of.

The research files are not in this repository, so their sha256 sums are written here (taken
from shared/research/prompts/ when the templates were copied); the packaged templates must
hash to them. Where the research folder is beside the repository, the bytes are compared too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from edgejudge.core import EvalInput, Message, Metric, RubricItem, get_preset
from edgejudge.core.formats import ANY_SCALE, FORMATS, get_format
from edgejudge.core.formats.templates import template
from edgejudge.core.presets import FLOW_JUDGE_PRESETS
from edgejudge.errors import FamilyError, ParseError
from tests.support.references import reference_module

TEMPLATES = Path(__file__).resolve().parent.parent / "edgejudge/core/formats/templates"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared/research/prompts"
SHA256 = {
    "flow-judge/harness-user-no-inputs.txt": "14e74bc5cc222d66f10ce76af389437f203626b551fabf28927c8b6705da434d",
    "flow-judge/harness-user.txt": "5a21105590cf57daaedb27895227906cb6b9bec6903219f5f6fbfae7f130701e",
    "glider/prompt.txt": "8f5ddc27dec4c9b855f5382ac20f73a2239de50518124bf5e95b4be88cf4e65a",
    "prometheus/absolute-with-reference.library.txt": "edf9508ea2ca3c4f624938634990e8df0e89dba337b3e15311166ff2e3c6c67a",
    "prometheus/absolute-with-reference.training.txt": "fdc61c777c8d5b9d1b281ffa08eec03787d17469074cea1410afe4f153f5d469",
    "prometheus/absolute.library.txt": "f4358c8f7953f324df3d70c86bc483d29eb8016567f1b1571cfbe6dee6722656",
    "prometheus/absolute.training.txt": "f2be92f22d3ba7231e5fac4f484283212a33584534c0d9f8dd48abe33146f898",
    "prometheus/relative-with-reference.library.txt": "b63ae34a2bac0ce12ea5270c2f6adefcf631832c89d6f284d25f7707ba445d45",
    "prometheus/relative.library.txt": "ca920719db01d48a23abefa2fde5f1810e50f7bd551dfcddcf87b53dd68941a9",
    "prometheus/relative.training.txt": "21aa5c504dea0ca6d3ec98c3adf7b3abc476763469dd135b88fef56d4ecaae25",
    "prometheus/score-rubric.txt": "a4c75273d26b02112e2149674ba34ed103da82fa8a5c39c477f76f0292099352",
    "prometheus/system-absolute.txt": "526b5b77a2d7eeaf33b21720197b6be536710d867d22cb468b0fb8f6022b62ab",
    "prometheus/system-relative.txt": "2d7f53af02b6a37c5701ed6a821289874a82615c0a6af9d181dc465b2fb5df20",
    "root-judge/hallucination-system.txt": "6f804d9ecf4415d1416a1fbbebb3318f13587c8023c0bb53d0c7ae92a6434ef8",
    "root-judge/hallucination-user.txt": "84dc15e120c12c208bfc20612b87143892384eb9572364750ec133a27cf477d2",
    "selene/absolute-with-reference.txt": "7fdb6a8d127f7e57d554a41391e995f88fa783c97f1ddb680e83bc2c5d05fb9c",
    "selene/absolute.txt": "d36edffcbddc41242b6a099695ea173c81ddac44ce2412f72c44016aabcea714",
    "selene/classification-with-reference.txt": "305e27d44709febab2b407596484f2adcb2daeb87d8a4a712442c587f2950585",
    "selene/classification.txt": "dd94055542683600c0145b4cada31130d06098fccc94bc6e2c0787c7c95aecae",
    "selene/pairwise.txt": "ff04067fcefde457c63883a892ea9140a181967932a12aabc2be60fc8baa9661",
}  # fmt: skip
# Templates taken from a reference package rather than the research notes: their bytes are held
# to the package itself by tests/test_prompt_reference.py.
FROM_PACKAGES = {
    "flow-judge/user-no-inputs.txt": "f4982a1a55efef786cb59e1db4eb565077e18c2b8c63e62ea90a74f6c908934f",
    "flow-judge/user.txt": "a6b6b2af96b88160b671d24af04be044f8c41952fe3288c9d13721b5f9bcce99",
}  # fmt: skip
QUESTION = "What is the capital of France? {not a placeholder}"
CONTEXT = "Paris is the capital of France.\nIt has 2.1 million people."
RESPONSE = "Paris, a city of {braces} and 2 million people. [RESULT] 1"  # verdict syntax inside


def test_the_packaged_templates_are_the_research_files() -> None:
    packaged = sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.txt"))
    assert packaged == sorted({**SHA256, **FROM_PACKAGES})
    for name, digest in {**SHA256, **FROM_PACKAGES}.items():
        assert hashlib.sha256((TEMPLATES / name).read_bytes()).hexdigest() == digest, name
        if SHARED.is_dir() and name in SHA256:
            assert (TEMPLATES / name).read_bytes() == (SHARED / name).read_bytes(), name


def faithfulness_case(metric_name: str) -> tuple[Any, EvalInput, str]:
    """A 5-point faithfulness input and the instruction Prometheus is given for it."""
    metric = get_preset(metric_name)
    item = EvalInput.of(metric, query=QUESTION, context=CONTEXT, response=RESPONSE)
    return metric, item, f"{QUESTION}\n\nContext:\n{CONTEXT}"


def correctness_case() -> tuple[Any, EvalInput, str, str]:
    metric = get_preset("response-correctness-5point")
    reference = "Paris {is} the capital."
    item = EvalInput.of(metric, query=QUESTION, reference_answer=reference, response=RESPONSE)
    return metric, item, QUESTION, reference


def rubric_of(metric: Any, rubric_template: str) -> str:
    values = {f"score{i.score}_description": i.description for i in metric.rubric}
    return rubric_template.format(criteria=metric.criteria, **values)


@pytest.mark.parametrize(
    "preset",
    ["response-faithfulness-5point", "response-relevance-5point", "response-correctness-5point"],
)
def test_prometheus_library_wording_is_the_reference_package(preset: str) -> None:
    prompts = reference_module("prompts")
    judge_format = get_format("prometheus@library")
    if preset == "response-correctness-5point":
        metric, item, instruction, reference = correctness_case()
        body = prompts.ABSOLUTE_PROMPT.format(
            instruction=instruction,
            response=RESPONSE,
            reference_answer=reference,
            rubric=rubric_of(metric, prompts.SCORE_RUBRIC_TEMPLATE),
        )
    else:
        metric, item, instruction = faithfulness_case(preset)
        body = prompts.ABSOLUTE_PROMPT_WO_REF.format(
            instruction=instruction,
            response=RESPONSE,
            rubric=rubric_of(metric, prompts.SCORE_RUBRIC_TEMPLATE),
        )
    expected = prompts.ABS_SYSTEM_PROMPT + "\n\n" + body
    assert judge_format.render_prompt(metric, item) == expected
    [message] = judge_format.messages(metric, item)
    assert (message.role, message.content) == ("user", expected)


def test_prometheus_training_wording_is_the_research_files() -> None:
    judge_format = get_format("prometheus")
    system = template("prometheus/system-absolute.txt")
    rubric_template = template("prometheus/score-rubric.txt")

    metric, item, instruction = faithfulness_case("response-faithfulness-5point")
    body = template("prometheus/absolute.training.txt").format(
        orig_instruction=instruction,
        orig_response=RESPONSE,
        score_rubric=rubric_of(metric, rubric_template),
    )
    assert body.startswith("\n###Task Description:")  # the literal's newline, left out
    assert judge_format.render_prompt(metric, item) == system + "\n\n" + body[1:]
    assert '"Feedback: (write a feedback for criteria) [RESULT]' in body

    metric, item, instruction, reference = correctness_case()
    body = template("prometheus/absolute-with-reference.training.txt").format(
        instruction=instruction,
        response=RESPONSE,
        reference_answer=reference,
        rubric=rubric_of(metric, rubric_template),
    )
    assert judge_format.render_prompt(metric, item) == system + "\n\n" + body
    assert body.endswith("###Feedback: ")


@pytest.mark.parametrize("family", ["prometheus", "prometheus@library"])
def test_prometheus_refuses_a_scale_it_was_not_trained_on(family: str) -> None:
    judge_format = get_format(family)
    for preset in ("response-faithfulness-3point", "response-correctness-binary"):
        with pytest.raises(FamilyError, match=r"1-5 scale only.*\(flow-judge, glider\)"):
            judge_format.check(get_preset(preset))
    judge_format.check(get_preset("response-faithfulness-5point"))


def test_prometheus_answers_parse_stream_and_close_out() -> None:
    judge_format = get_format("prometheus")
    metric = get_preset("response-faithfulness-5point")
    verdict = judge_format.parse("The response is faithful. [RESULT] 5", metric)
    assert (verdict.feedback, verdict.score) == ("The response is faithful.", 5)
    verdict = judge_format.parse("Feedback: Mostly right.\n[RESULT] 4", metric)
    assert (verdict.feedback, verdict.score) == ("Mostly right.", 4)
    raw = "Feedback: Quotes it. [RESULT] 3"
    for size in (1, 2, 4):
        stream = judge_format.feedback_stream()
        text = "".join(stream.feed(raw[i : i + size]) for i in range(0, len(raw), size))
        assert text.strip() == "Quotes it."
    assert judge_format.close_out("A long feedback that was cut ") == (
        "A long feedback that was cut [RESULT] ",
        True,
    )
    assert judge_format.close_out("Whole. [RES") == ("Whole. [RESULT] ", False)
    assert judge_format.decision_values(metric) == (1, 2, 3, 4, 5)


def selene_expected(name: str, metric: Any, instruction: str, reference: str | None) -> str:
    """Atla's template for `name`, filled with str.format from the metric, as its cookbooks do."""
    rows = sorted(metric.rubric, key=lambda item: item.score)
    values = {
        "user_input": instruction,
        "assistant_response": RESPONSE,
        "rubric_objective": metric.criteria,
        "reference_response": reference or "",
    }
    if name.startswith("classification"):
        values |= {"rubric_yes_description": rows[1].description}
        values |= {"rubric_no_description": rows[0].description}
    else:
        values |= {f"rubric_score_{i.score}_description": i.description for i in rows}
    return template(f"selene/{name}.txt").format(**values)


@pytest.mark.parametrize(
    ("preset", "template_name"),
    [
        ("response-faithfulness-5point", "absolute"),
        ("response-correctness-5point", "absolute-with-reference"),
        ("response-faithfulness-binary", "classification"),
        ("response-correctness-binary", "classification-with-reference"),
    ],
)
def test_selene_prompts_are_atlas_templates(preset: str, template_name: str) -> None:
    judge_format = get_format("selene")
    metric = get_preset(preset)
    if "correctness" in preset:
        reference = "Paris {is} the capital."
        item = EvalInput.of(metric, query=QUESTION, reference_answer=reference, response=RESPONSE)
        instruction = QUESTION
    else:
        reference = None
        item = EvalInput.of(metric, query=QUESTION, context=CONTEXT, response=RESPONSE)
        instruction = f"{QUESTION}\n\nContext:\n{CONTEXT}"
    expected = selene_expected(template_name, metric, instruction, reference)
    assert judge_format.messages(metric, item) == [Message("user", expected)]
    assert not expected.endswith("\n")  # a YAML |- block: no final newline


def test_selene_maps_yes_and_no_to_the_rubric_rows_and_keeps_both() -> None:
    judge_format = get_format("selene")
    binary = get_preset("response-faithfulness-binary")
    yes = judge_format.parse("**Reasoning:** Supported.\n\n**Result:** Yes", binary)
    no = judge_format.parse("**Reasoning:** Invented.\n\n**Result:** No", binary)
    assert (yes.label, yes.score, no.label, no.score) == ("Yes", 1, "No", 0)
    assert yes.fields() == {"feedback": "Supported.", "label": "Yes", "score": 1}
    assert judge_format.decision_values(binary) == ("Yes", "No")
    five = get_preset("response-faithfulness-5point")
    scored = judge_format.parse("**Reasoning:** Mostly.\n\n**Result:** 4", five)
    assert (scored.score, scored.label) == (4, None)
    with pytest.raises(FamilyError, match="selene scores on 1-5 or classifies Yes/No"):
        judge_format.check(get_preset("response-faithfulness-3point"))
    assert judge_format.close_out("**Reasoning:** Cut here") == (
        "**Reasoning:** Cut here\n\n**Result:** ",
        True,
    )
    raw = "**Reasoning:** One paragraph.\n\n**Result:** Yes"
    stream = judge_format.feedback_stream()
    assert "".join(stream.feed(raw[i : i + 3]) for i in range(0, len(raw), 3)) == ("One paragraph.")


def test_glider_prompt_is_the_model_cards_with_tagged_data() -> None:
    judge_format = get_format("glider")
    metric = get_preset("response-correctness-3point")
    reference = "Paris {is} the capital."
    item = EvalInput.of(metric, query=QUESTION, reference_answer=reference, response=RESPONSE)
    data = (
        f"<USER INPUT>\n{QUESTION}\n</USER INPUT>\n"
        f"<MODEL OUTPUT>\n{RESPONSE}\n</MODEL OUTPUT>\n"
        f"<REFERENCE>\n{reference}\n</REFERENCE>"
    )
    rubric = "\n".join(f"{i.score}: {i.description}" for i in metric.rubric)
    expected = template("glider/prompt.txt").format(
        data=data, pass_criteria=metric.criteria, rubric=rubric
    )
    assert judge_format.messages(metric, item) == [Message("user", expected)]
    assert "Your output must in the following format:" in expected  # the card's words
    assert expected.endswith("</score>\n")

    metric = get_preset("response-faithfulness-5point")
    item = EvalInput.of(metric, query=QUESTION, context=CONTEXT, response=RESPONSE)
    prompt = judge_format.render_prompt(metric, item)
    assert f"</USER INPUT>\n<CONTEXT>\n{CONTEXT}\n</CONTEXT>\n<MODEL OUTPUT>" in prompt


def test_glider_keeps_the_highlight_and_its_tail_writes_one_after_a_cut() -> None:
    judge_format = get_format("glider")
    metric = get_preset("response-faithfulness-3point")
    raw = (
        "<reasoning>\n- Supported by the context.\n</reasoning>\n<highlight>\n"
        "[Paris, capital]\n</highlight>\n<score>\n3\n</score>"
    )
    verdict = judge_format.parse(raw, metric)
    assert (verdict.feedback, verdict.score) == ("- Supported by the context.", 3)
    assert verdict.extras == {"highlight": "[Paris, capital]"}
    loose = "<reasoning>ok</reasoning> <highlight>x</highlight><score> 2 </score>\n"
    assert judge_format.parse(loose, metric).score == 2  # whitespace around tags is allowed
    stream = judge_format.feedback_stream()
    assert "".join(stream.feed(raw[i : i + 5]) for i in range(0, len(raw), 5)).strip() == (
        "- Supported by the context."
    )
    closed = judge_format.close_out("<reasoning>\n- A long point")
    assert closed == ("<reasoning>\n- A long point</reasoning>\n<highlight>\n", True)
    tail = judge_format.tail_grammar(metric, closed[0])
    assert tail.startswith('root ::= highlight "</highlight>\\n<score>\\n" score "\\n</score>"\n')
    assert "highlight-rest-0 ::= highlight-char{0,119}" in tail
    assert judge_format.close_out("<reasoning>\nWhole.\n</reasoning>\n<highlight>\nPar") == (
        "<reasoning>\nWhole.\n</reasoning>\n<highlight>\nPar</highlight>\n<score>\n",
        True,
    )
    assert judge_format.tail_grammar(metric, "x").startswith('root ::= score "\\n</score>"')


def test_root_judge_sends_the_cards_system_and_user_messages() -> None:
    judge_format = get_format("root-judge")
    metric = get_preset("hallucination-detection")
    item = EvalInput.of(metric, query=QUESTION, context=CONTEXT, response=RESPONSE)
    system = (TEMPLATES / "root-judge/hallucination-system.txt").read_bytes().decode()
    user = template("root-judge/hallucination-user.txt").format(
        question=QUESTION, document=CONTEXT, answer=RESPONSE
    )
    assert judge_format.messages(metric, item) == [
        Message("system", system),
        Message("user", user),
    ]
    assert system.startswith("\n<TASK>") and system.endswith("</OUTPUT_EXAMPLE>\n")
    assert '{"REASONING": "Your reasoning here' in system  # braces sent as they are
    judge_format.check(get_preset("response-faithfulness-binary"))
    with pytest.raises(FamilyError, match="root-judge detects hallucinations only"):
        judge_format.check(get_preset("response-relevance-binary"))


def test_root_judge_answers_are_read_with_json_and_exactly_two_keys() -> None:
    judge_format = get_format("root-judge")
    metric = get_preset("hallucination-detection")
    verdict = judge_format.parse(
        '{"REASONING": "#1 \\"Paris\\" is in the document.\\n#2 ok", "VERDICT": "PASS"}', metric
    )
    assert (verdict.feedback, verdict.label, verdict.score) == (
        '#1 "Paris" is in the document.\n#2 ok',
        "PASS",
        1,
    )
    loose = '{ "VERDICT":"FAIL",\n "REASONING":"Invented." }'
    assert judge_format.parse(loose, metric).score == 0  # any key order and spacing
    bad = {
        '{"REASONING": "x"}': "exactly REASONING and VERDICT",
        '{"REASONING": "x", "VERDICT": "PASS", "SCORE": 1}': "exactly REASONING and VERDICT",
        '{"REASONING": "x", "VERDICT": "PASS", "VERDICT": "FAIL"}': "VERDICT appears twice",
        '{"REASONING": "x", "VERDICT": "MAYBE"}': "'MAYBE' is not PASS or FAIL",
        '{"REASONING": "  ", "VERDICT": "PASS"}': "REASONING is not a text, or it is empty",
        '{"REASONING": "cut': "not valid JSON",
    }
    for raw, message in bad.items():
        with pytest.raises(ParseError, match=message):
            judge_format.parse(raw, metric)
    closed = judge_format.close_out('{"REASONING": "Cut \\u00')
    assert closed == ('{"REASONING": "Cut ", "VERDICT": "', True)
    stream = judge_format.feedback_stream()
    raw = '{"REASONING": "A \\"quote\\"", "VERDICT": "FAIL"}'
    assert "".join(stream.feed(c) for c in raw) == 'A "quote"'


@pytest.mark.parametrize("preset", sorted(FLOW_JUDGE_PRESETS))
def test_flow_judge_harness_variant_differs_by_exactly_two_bytes(preset: str) -> None:
    metric = get_preset(preset)
    fields = {name: f"the {name}" for name in metric.required_inputs}
    item = EvalInput.of(metric, **fields, response=RESPONSE)
    library = get_format("flow-judge").render_prompt(metric, item)
    harness = get_format("flow-judge@harness").render_prompt(metric, item)
    assert harness == library.replace(
        "<evaluation_criteria>\n", "<evaluation_criteria> \n"
    ).replace("criterion,decide", "criterion, decide")
    assert len(harness) == len(library) + 2


def test_flow_judge_harness_renders_the_forks_templates_and_sorts_only_two_rows() -> None:
    metric = Metric(
        name="unsorted",
        criteria="Is it right?",
        rubric=(
            RubricItem(score=3, description="right"),
            RubricItem(score=1, description="wrong"),
            RubricItem(score=2, description="partly"),
        ),
        required_output="response",
    )
    item = EvalInput.of(metric, response=RESPONSE)
    expected = template("flow-judge/harness-user-no-inputs.txt").format(
        INPUTS="",
        OUTPUT=f"<response>\n{RESPONSE}\n</response>",
        EVALUATION_CRITERIA="Is it right?",
        RUBRIC="- Score 3: right\n- Score 1: wrong\n- Score 2: partly",
    )
    assert get_format("flow-judge@harness").render_prompt(metric, item) == expected
    assert "- Score 1: wrong\n- Score 2: partly\n- Score 3: right" in get_format(
        "flow-judge"
    ).render_prompt(metric, item)  # the library sorts every rubric


@pytest.mark.parametrize("family", sorted(FORMATS))
def test_a_family_takes_any_scale_exactly_when_it_says_so(family: str) -> None:
    judge_format = FORMATS[family]
    three = get_preset("response-faithfulness-3point")
    if judge_format.any_scale:
        judge_format.check(three)
        assert family.split("@")[0] in ANY_SCALE
    else:
        with pytest.raises(FamilyError):
            judge_format.check(three)
        assert family not in ANY_SCALE
