"""The in-process fast paths are correct, on the real demo model in real llama.cpp.

Sample-first grammar checking, several judgments decoded in one batch, the prefix cache
(tests/test_prefix_cache.py proves it bit for bit) and carrying on a stopped sequence are
all ways of doing less work. These tests prove they change nothing they shouldn't: the
grammar still holds, greedy picks the same tokens llama-cpp-python's grammar-first sampler
picks, results come back in input order, a bad row fails alone, and an input gets the same
verdict whatever was judged before it. Speed is measured by scripts/bench.py, not here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgejudge import ContextOverflowError, Judge, JudgeResult
from edgejudge.core import get_preset
from edgejudge.errors import InputError
from edgejudge.runtime.base import Finished, Sampling
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime, plain_llama
from tests.support.cases import FAITHFUL, TEN_FAITHFULNESS

pytestmark = pytest.mark.model

METRIC = get_preset("response-faithfulness-5point")


@pytest.fixture(scope="module")
def one_slot(demo_path: Path) -> Iterator[LlamaCppRuntime]:
    """A runtime that judges one at a time, and shares nothing it isn't told to."""
    runtime = LlamaCppRuntime(demo_path, context_length=4096, model_name="demo", slots=1)
    yield runtime
    runtime.close()


def text_of(runtime: LlamaCppRuntime, tokens: list[int], grammar: str | None, n: int) -> str:
    pieces = runtime.generate(tokens, grammar=grammar, max_tokens=n, sampling=Sampling())
    return "".join(p for p in pieces if not isinstance(p, Finished))


def test_sample_first_picks_what_grammar_first_picks(one_slot: LlamaCppRuntime) -> None:
    """Greedy under a grammar: the same text as llama-cpp-python's create_completion, which
    masks the whole vocabulary with the grammar before every pick (given the same attention
    kernel: edgejudge uses flash attention where llama.cpp has it, as on this CPU)."""
    from llama_cpp import LlamaGrammar

    judge = Judge(None, METRIC, runtime=one_slot, max_tokens=40)
    digits = 'root ::= [0-9]{3} "-" [0-9]{3}'  # the model's first choice is rejected at once
    prompts = [one_slot.chat_tokens(judge.prompt(row)) for row in TEN_FAITHFULNESS[:2]]
    cases = [(prompts[0], judge.grammar), (prompts[1], judge.grammar), (prompts[0], digits)]
    ours = [text_of(one_slot, tokens, grammar, 40) for tokens, grammar in cases]
    llm = plain_llama(one_slot.path, n_ctx=4096, n_threads=one_slot.n_threads, flash_attn=True,
                      verbose=False)  # fmt: skip
    try:
        theirs = []
        for tokens, grammar in cases:
            llm.reset()
            out = llm.create_completion(
                tokens,
                grammar=LlamaGrammar.from_string(grammar, verbose=False),
                temperature=0,
                max_tokens=40,
            )
            theirs.append(out["choices"][0]["text"])  # type: ignore[index]
    finally:
        llm.close()
    assert ours == theirs
    assert re.fullmatch(r"[0-9]{3}-[0-9]{3}", ours[2])
    assert ours[0].startswith("<feedback>")


def test_the_prefix_cache_and_earlier_inputs_change_no_verdict(one_slot: LlamaCppRuntime) -> None:
    judge = Judge(None, METRIC, runtime=one_slot, max_tokens=32)
    tokens = one_slot.chat_tokens(judge.prompt(TEN_FAITHFULNESS[4]))
    fresh = text_of(one_slot, tokens, judge.grammar, 32)
    first = judge.evaluate(TEN_FAITHFULNESS[4])
    reused = one_slot.prefix_cache.reused_tokens
    assert reused > 0  # its own prompt's head, from the generation before
    judge.evaluate(TEN_FAITHFULNESS[7])
    judge.evaluate(TEN_FAITHFULNESS[4] | {"response": "Another answer entirely."})
    again = judge.evaluate(TEN_FAITHFULNESS[4])
    assert first.raw == again.raw
    assert first.raw[: len(fresh)] == fresh  # fresh stopped at 32 tokens, the judge closed out


def test_a_batch_keeps_the_grammar_and_the_input_order(demo_runtime: LlamaCppRuntime) -> None:
    judge = Judge(None, METRIC, runtime=demo_runtime, max_tokens=48)
    assert judge.slots == 4  # the in-process default: four decoded together
    rows = TEN_FAITHFULNESS[:7]
    lengths = [len(demo_runtime.chat_tokens(judge.prompt(row))) for row in rows]
    assert len(set(lengths)) == len(lengths)  # so prompt_tokens tells the rows apart
    results = list(judge.evaluate_many(rows))
    assert [r.prompt_tokens for r in results] == lengths  # type: ignore[union-attr]
    for result in results:
        assert isinstance(result, JudgeResult) and result.score in METRIC.scores
        assert re.fullmatch(r"<feedback>[^<]+</feedback>\s*<score>[1-5]</score>\s*", result.raw)


def test_a_bad_row_does_not_sink_its_batch_mates(demo_runtime: LlamaCppRuntime) -> None:
    judge = Judge(None, METRIC, runtime=demo_runtime, max_tokens=24)
    too_long = dict(FAITHFUL, context="The sky is blue. " * 2000)
    rows: list[object] = [
        TEN_FAITHFULNESS[0], {"query": "no context, no response"}, TEN_FAITHFULNESS[1],
        too_long, TEN_FAITHFULNESS[2], TEN_FAITHFULNESS[3],
    ]  # fmt: skip
    results = list(judge.evaluate_many(rows, return_exceptions=True))  # type: ignore[arg-type]
    assert isinstance(results[1], InputError)
    assert isinstance(results[3], ContextOverflowError)
    for index in (0, 2, 4, 5):
        assert isinstance(results[index], JudgeResult)
        assert results[index].score in METRIC.scores  # type: ignore[union-attr]


def test_judgments_wait_for_cells_when_the_context_is_small(demo_path: Path) -> None:
    """Four slots but room in the KV cache for fewer at once: the rest wait, none fail."""
    runtime = LlamaCppRuntime(demo_path, context_length=1536, model_name="demo", slots=4)
    try:
        judge = Judge(None, METRIC, runtime=runtime, max_tokens=100)
        results = list(judge.evaluate_many(TEN_FAITHFULNESS[:4]))
        assert all(r.score in METRIC.scores for r in results)  # type: ignore[union-attr]
    finally:
        runtime.close()


def test_cut_feedbacks_are_closed_in_a_batch(
    demo_runtime: LlamaCppRuntime,
) -> None:
    """Budget-stopped judgments, several at once, each get their score afterwards."""
    judge = Judge(None, METRIC, runtime=demo_runtime, max_tokens=8)
    found: dict[int, JudgeResult] = {}

    def one(index: int) -> None:
        found[index] = judge.evaluate(TEN_FAITHFULNESS[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(found) == [0, 1, 2, 3]
    for result in found.values():
        assert result.truncated and result.score in METRIC.scores
        assert result.raw.rstrip().endswith("</score>")
