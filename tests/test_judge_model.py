"""The whole judge path on a real model in real llama.cpp: gemma-3-270m (the `demo` model).

The demo is a tiny base model, not a judge: its opinions are noise. What these tests prove is
the machinery: the real chat template, the real grammar engine, the real parser.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgejudge import ContextOverflowError, EvalInput, Judge, JudgeResult, Metric, RubricItem
from edgejudge.core import get_preset
from edgejudge.errors import InputError, ModelLoadError
from tests.support.cases import CORRECTNESS, FAITHFUL, TEN_FAITHFULNESS, TRICKY

pytestmark = pytest.mark.model

ZERO_TO_TEN = Metric(
    name="overall-0-10",
    criteria="How good is the response overall?",
    rubric=tuple(RubricItem(score=s, description=f"Quality level {s} of 10.") for s in range(11)),
    required_inputs=("query",),
    required_output="response",
)


def judge_for(runtime: object, metric: Metric | str, **options: object) -> Judge:
    return Judge(model="demo", metric=metric, runtime=runtime, **options)  # type: ignore[arg-type]


def check(result: JudgeResult, metric: Metric) -> None:
    assert result.score in metric.scores
    assert result.feedback.strip()
    assert result.raw.lstrip().startswith("<feedback>")
    assert result.raw.rstrip().endswith("</score>")
    assert result.prompt_tokens > 500 and result.completion_tokens > 0 and result.seconds > 0


@pytest.mark.parametrize(
    ("metric", "data"),
    [
        (get_preset("response-faithfulness-binary"), FAITHFUL),
        (get_preset("response-correctness-3point"), CORRECTNESS),
        (get_preset("response-relevance-5point"), FAITHFUL),
        (ZERO_TO_TEN, {"query": FAITHFUL["query"], "response": FAITHFUL["response"]}),
    ],
    ids=["binary", "3-point", "5-point", "0-10"],
)
def test_one_judgment_per_scale(demo_runtime: object, metric: Metric, data: dict) -> None:
    judge = judge_for(demo_runtime, metric, max_tokens=40)
    result = judge.evaluate(data)
    check(result, metric)
    assert (result.model, result.metric) == ("demo", metric.name)


def test_stream_yields_the_feedback_then_the_result(demo_runtime: object) -> None:
    metric = get_preset("response-faithfulness-5point")
    pieces = list(judge_for(demo_runtime, metric, max_tokens=48).stream(FAITHFUL))
    *text, result = pieces
    assert isinstance(result, JudgeResult) and all(isinstance(t, str) for t in text)
    assert len(text) > 1
    assert "".join(text).strip() == result.feedback


def test_greedy_is_deterministic(demo_runtime: object) -> None:
    judge = judge_for(demo_runtime, "response-faithfulness-5point", max_tokens=24)
    judge.evaluate(TEN_FAITHFULNESS[3])  # something else in the cache first
    first, second = judge.evaluate(TEN_FAITHFULNESS[1]), judge.evaluate(TEN_FAITHFULNESS[1])
    assert first.raw == second.raw


def test_evaluate_many_in_order_and_a_bad_row_does_not_sink_the_rest(demo_runtime: object) -> None:
    metric = get_preset("response-faithfulness-3point")
    judge = judge_for(demo_runtime, metric, max_tokens=24)
    items: list[object] = [TEN_FAITHFULNESS[0], {"query": "only a query"}, TEN_FAITHFULNESS[2]]
    results = list(judge.evaluate_many(items, return_exceptions=True))  # type: ignore[arg-type]
    assert isinstance(results[1], InputError)
    for index in (0, 2):
        check(results[index], metric)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        list(judge.evaluate_many(items))  # type: ignore[arg-type]


# Gemma 3's chat template, reduced to what a single user message uses. The demo GGUF is a base
# model and ships no template, so this tests the chat path with the demo's real tokenizer.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
    "{{ message['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def chat_runtime(demo_path: Path) -> object:
    from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

    runtime = LlamaCppRuntime(demo_path, context_length=4096, chat_template=GEMMA_TEMPLATE)
    yield runtime
    runtime.close()


def test_the_chat_template_wraps_one_user_message(chat_runtime: object) -> None:
    runtime = chat_runtime
    tokens = runtime.chat_tokens("hello")  # type: ignore[attr-defined]
    pieces = runtime._model.detokenize(tokens, special=True).decode()  # type: ignore[attr-defined]
    assert pieces == "<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n"
    bos = runtime._model.token_bos()  # type: ignore[attr-defined]
    assert tokens.count(bos) == 1  # BOS once, not twice


def test_tricky_input_cannot_break_out_of_the_prompt(chat_runtime: object) -> None:
    metric = get_preset("response-faithfulness-5point")
    judge = judge_for(chat_runtime, metric, max_tokens=32)
    end_of_turn = chat_runtime.chat_tokens("x")[-5]  # type: ignore[attr-defined]
    assert chat_runtime._model.detokenize([end_of_turn], special=True) == b"<end_of_turn>"  # type: ignore[attr-defined]
    tokens = chat_runtime.chat_tokens(judge.prompt(TRICKY))  # type: ignore[attr-defined]
    # The template's own <end_of_turn> appears once: the one in the judged text is plain text.
    assert tokens.count(end_of_turn) == 1
    check(judge.evaluate(TRICKY), metric)


def test_a_feedback_cut_by_the_budget_is_closed_and_still_parses(demo_runtime: object) -> None:
    metric = get_preset("response-relevance-5point")
    result = judge_for(demo_runtime, metric, max_tokens=6).evaluate(FAITHFUL)
    assert result.truncated
    check(result, metric)
    assert result.completion_tokens <= 6 + 16


def test_too_long_input_raises_context_overflow(demo_runtime: object) -> None:
    judge = judge_for(demo_runtime, "response-faithfulness-5point")
    long = dict(FAITHFUL, context="The sky is blue. " * 2000)
    with pytest.raises(ContextOverflowError) as info:
        judge.evaluate(long)
    error = info.value
    assert error.context_length == 4096
    assert error.prompt_tokens > 4096
    assert str(error.prompt_tokens) in str(error) and "4096" in str(error)


def test_judge_by_name_through_the_store(use_demo_cache: Path) -> None:
    with Judge(model="demo", metric="response-faithfulness-binary", max_tokens=32) as judge:
        assert judge.runtime.context_length == 4096  # the catalog's, under the trained 32768
        check(judge.evaluate(EvalInput.of(judge.metric, **FAITHFUL)), judge.metric)


def test_truncated_gguf_gives_a_clear_error(demo_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with demo_path.open("rb") as source, cut.open("wb") as target:
        target.write(source.read(demo_path.stat().st_size // 2))
    # Cut in its tensors' data: found from the header, before llama.cpp reads a byte.
    with pytest.raises(ModelLoadError, match="is truncated: it is .* its tensors' data runs"):
        Judge(model=cut, metric="response-faithfulness-binary")
    header_only = tmp_path / "header.gguf"
    shutil.copyfile(cut, header_only)
    with header_only.open("r+b") as handle:
        handle.truncate(200_000)
    with pytest.raises(ModelLoadError, match="truncated"):
        Judge(model=header_only, metric="response-faithfulness-binary")


def test_with_metric_shares_the_loaded_model_and_cancel_stops_a_judgment(
    demo_runtime: object,
) -> None:
    import threading

    from edgejudge.errors import Cancelled

    five = judge_for(demo_runtime, "response-faithfulness-5point", max_tokens=96)
    binary = five.with_metric("response-faithfulness-binary")
    assert binary.runtime is five.runtime and binary.metric.scores == (0, 1)
    assert "<score>" in binary.grammar and binary.grammar != five.grammar
    check(binary.evaluate(FAITHFUL), binary.metric)

    stream = five.stream(FAITHFUL)
    next(stream)  # generating now
    threading.Thread(target=binary.cancel).start()  # the shared cancel, from another thread
    with pytest.raises(Cancelled):
        for _ in stream:
            pass
    check(five.evaluate(FAITHFUL), five.metric)  # the next judgment runs normally
    binary.close()  # not its model to free: the model still works
    assert five.runtime.chat_tokens("still open?")
